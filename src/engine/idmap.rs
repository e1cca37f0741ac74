//! A map from task ids to values, laid out for ids that come in order.
//!
//! Task ids are handed out one after another, and the pool touches them in
//! nearly that order: queued, started, finished. A hash table scatters
//! neighbouring ids across memory, so with 100,000 tasks every lookup missed
//! the cache — the largest single cost per task in profiles. Here ids are
//! grouped in blocks of [`BLOCK`] consecutive ids, stored side by side, so
//! neighbours share cache lines; the table of blocks is small. A block is
//! freed once all its values are removed, so a task that runs for days keeps
//! one block alive, not everything submitted after it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::events::TaskId;

/// Ids per block.
const BLOCK: u64 = 64;

struct Block<V> {
    values: [Option<V>; BLOCK as usize],
    /// How many of `values` are set.
    len: u32,
}

impl<V> Block<V> {
    fn empty() -> Box<Block<V>> {
        Box::new(Block {
            values: std::array::from_fn(|_| None),
            len: 0,
        })
    }
}

/// Values keyed by [`TaskId`].
pub struct IdMap<V> {
    blocks: HashMap<u64, Box<Block<V>>, BuildHasherDefault<BlockHasher>>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            blocks: HashMap::default(),
            len: 0,
        }
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for IdMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdMap").field("len", &self.len).finish()
    }
}

fn split(id: TaskId) -> (u64, usize) {
    (id.0 / BLOCK, (id.0 % BLOCK) as usize)
}

impl<V> IdMap<V> {
    /// Sets the value of `id`; returns the one it replaces. (The pool
    /// inserts through [`IdMap::extend`]; this one is the tests' yardstick.)
    #[cfg(test)]
    pub fn insert(&mut self, id: TaskId, value: V) -> Option<V> {
        let (block, i) = split(id);
        let block = self.blocks.entry(block).or_insert_with(Block::empty);
        let old = block.values[i].replace(value);
        if old.is_none() {
            block.len += 1;
            self.len += 1;
        }
        old
    }

    /// Sets the values of ids that mostly come in order (a submission):
    /// one lookup per block rather than per id. Values it replaces are dropped.
    pub fn extend(&mut self, items: impl IntoIterator<Item = (TaskId, V)>) {
        let mut items = items.into_iter().peekable();
        while let Some((id, value)) = items.next() {
            let (key, i) = split(id);
            let block = self.blocks.entry(key).or_insert_with(Block::empty);
            let mut added = 0;
            let mut put = |i: usize, value: V| {
                if block.values[i].replace(value).is_none() {
                    added += 1;
                }
            };
            put(i, value);
            while let Some((id, value)) = items.next_if(|(id, _)| split(*id).0 == key) {
                put(split(id).1, value);
            }
            block.len += added;
            self.len += added as usize;
        }
    }

    /// Takes the value of `id` out.
    pub fn remove(&mut self, id: TaskId) -> Option<V> {
        self.remove_if(id, |_| true)
    }

    /// Takes the value of `id` out if `wanted` says so (one lookup for both).
    pub fn remove_if(&mut self, id: TaskId, wanted: impl FnOnce(&V) -> bool) -> Option<V> {
        let (key, i) = split(id);
        let block = self.blocks.get_mut(&key)?;
        if !wanted(block.values[i].as_ref()?) {
            return None;
        }
        let old = block.values[i].take()?;
        block.len -= 1;
        self.len -= 1;
        if block.len == 0 {
            self.blocks.remove(&key);
        }
        Some(old)
    }

    pub fn get(&self, id: TaskId) -> Option<&V> {
        let (block, i) = split(id);
        self.blocks.get(&block)?.values[i].as_ref()
    }

    /// The values of ids `first`, `first + 1`, … (`len` of them) in order,
    /// none for an id without one: one lookup per block, not per id.
    pub fn range(&self, first: TaskId, len: usize) -> impl Iterator<Item = Option<&V>> {
        let end = first.0 + len as u64;
        (first.0 / BLOCK..end.div_ceil(BLOCK)).flat_map(move |key| {
            let block = self.blocks.get(&key);
            let ids = first.0.max(key * BLOCK)..end.min((key + 1) * BLOCK);
            ids.map(move |id| block.and_then(|b| b.values[(id % BLOCK) as usize].as_ref()))
        })
    }

    pub fn get_mut(&mut self, id: TaskId) -> Option<&mut V> {
        let (block, i) = split(id);
        self.blocks.get_mut(&block)?.values[i].as_mut()
    }

    pub fn contains(&self, id: TaskId) -> bool {
        self.get(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Makes room for the blocks of `more` ids about to be inserted.
    pub fn reserve(&mut self, more: usize) {
        self.blocks.reserve(more.div_ceil(BLOCK as usize) + 1);
    }
}

/// Block numbers are ours (consecutive), not an adversary's: a
/// multiplicative hash spreads them well at a fraction of SipHash's cost.
#[derive(Default)]
struct BlockHasher(u64);

impl Hasher for BlockHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_map_across_blocks() {
        let mut m = IdMap::default();
        let mut reference = std::collections::HashMap::new();
        let mut x: u64 = 11;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let id = TaskId((x >> 33) % 1000);
            match (x >> 20) % 4 {
                0 => assert_eq!(m.insert(id, x), reference.insert(id, x)),
                1 => {
                    // A few ids in order from `id`, crossing blocks now and then.
                    let items: Vec<(TaskId, u64)> =
                        (0..x % 90).map(|k| (TaskId(id.0 + k), x + k)).collect();
                    reference.extend(items.iter().copied());
                    m.extend(items);
                }
                2 => {
                    let wanted = x & 1 == 0;
                    let expected = reference.get(&id).filter(|_| wanted).copied();
                    if expected.is_some() {
                        reference.remove(&id);
                    }
                    assert_eq!(m.remove_if(id, |_| wanted), expected);
                }
                _ => assert_eq!(m.remove(id), reference.remove(&id)),
            }
            assert_eq!(m.len(), reference.len());
            assert_eq!(m.get(id), reference.get(&id));
        }
        for (first, len) in [(0, 0), (0, 1100), (5, 59), (63, 2), (100, 300), (1050, 60)] {
            let got: Vec<Option<&u64>> = m.range(TaskId(first), len).collect();
            let want: Vec<Option<&u64>> = (first..first + len as u64)
                .map(|i| reference.get(&TaskId(i)))
                .collect();
            assert_eq!(got, want, "range({first}, {len})");
        }
        for i in 0..1100 {
            assert_eq!(m.contains(TaskId(i)), reference.contains_key(&TaskId(i)));
        }
    }

    #[test]
    fn a_block_is_freed_with_its_last_value() {
        let mut m = IdMap::default();
        for i in 0..3 * BLOCK {
            m.insert(TaskId(i), i);
        }
        assert_eq!(m.blocks.len(), 3);
        for i in BLOCK..3 * BLOCK {
            m.remove(TaskId(i));
        }
        assert_eq!(m.blocks.len(), 1, "only the block of ids still held stays");
        *m.get_mut(TaskId(5)).unwrap() += 1;
        assert_eq!(m.get(TaskId(5)), Some(&6));
        assert_eq!(m.len(), BLOCK as usize);
    }
}
