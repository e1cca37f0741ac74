//! The queue of tasks waiting for a worker, and the accounting of every task's
//! fate. Pure: no I/O, unit-tested.
//!
//! The invariant: every submitted task is, at every moment, in exactly one of
//! these places — waiting in the queue, held by a worker, or counted in a
//! terminal state — and it moves between them only through these methods.

use std::collections::{BTreeMap, VecDeque};

use super::events::{Counts, Task, TaskId, TaskState};
use super::idmap::IdMap;

/// A task the pool knows about and has not finished.
#[derive(Debug)]
pub struct Entry {
    pub task: Task,
    /// How many times it has been started.
    pub attempts: u32,
}

/// Waiting tasks in dispatch order, and every unfinished task's entry.
#[derive(Debug, Default)]
pub struct Queue {
    waiting: Runs,
    live: IdMap<Entry>,
    held: usize,
    counts: Counts,
    /// Tasks that ended failed, timed out or cancelled, kept so that they
    /// can be retried (`Queue::retry`) until they are.
    retryable: BTreeMap<TaskId, (Task, TaskState)>,
}

impl Queue {
    /// Makes room for `more` tasks about to be submitted (one growth instead
    /// of one per doubling).
    pub fn reserve(&mut self, more: usize) {
        self.live.reserve(more);
    }

    /// Adds a newly submitted task at the back.
    #[cfg(test)]
    pub fn submit(&mut self, id: TaskId, task: Task) {
        self.submit_all(vec![(id, task)]);
    }

    /// Adds newly submitted tasks at the back, in order.
    pub fn submit_all(&mut self, tasks: Vec<(TaskId, Task)>) {
        self.counts.submitted += tasks.len() as u64;
        for (id, _) in &tasks {
            self.waiting.push_back(*id);
        }
        let entries = tasks
            .into_iter()
            .map(|(id, task)| (id, Entry { task, attempts: 0 }));
        self.live.extend(entries);
    }

    /// Takes the next waiting task for a worker (it is then held).
    pub fn take(&mut self) -> Option<TaskId> {
        let id = self.waiting.pop_front()?;
        self.held += 1;
        Some(id)
    }

    /// A held task goes back to the front of the queue: it is to be retried,
    /// or it was handed out but never started.
    pub fn put_back(&mut self, id: TaskId) {
        debug_assert!(self.live.contains(id));
        self.held -= 1;
        self.waiting.push_front(id);
    }

    /// A held task reached its terminal state. Returns its entry.
    pub fn finish(&mut self, id: TaskId, state: TaskState) -> Option<Entry> {
        self.finish_if(id, state, |_| true)
    }

    /// Like [`Queue::finish`], if `wanted` says so of its entry.
    pub fn finish_if(
        &mut self,
        id: TaskId,
        state: TaskState,
        wanted: impl FnOnce(&Entry) -> bool,
    ) -> Option<Entry> {
        let entry = self.live.remove_if(id, wanted)?;
        self.held -= 1;
        self.counts.record(state);
        self.keep_for_retry(id, &entry, state);
        Some(entry)
    }

    /// Keeps what a task that did not end done ran, for a retry.
    fn keep_for_retry(&mut self, id: TaskId, entry: &Entry, state: TaskState) {
        if state != TaskState::Done {
            self.retryable.insert(id, (entry.task.clone(), state));
        }
    }

    /// Cancels every waiting task; returns them in queue order.
    pub fn cancel_waiting(&mut self) -> Vec<(TaskId, Entry)> {
        let ids: Vec<TaskId> = self.waiting.drain();
        ids.into_iter()
            .filter_map(|id| {
                let entry = self.live.remove(id)?;
                self.counts.record(TaskState::Cancelled);
                self.keep_for_retry(id, &entry, TaskState::Cancelled);
                Some((id, entry))
            })
            .collect()
    }

    /// Cancels one waiting task; none if `id` is not waiting.
    pub fn cancel_one(&mut self, id: TaskId) -> Option<Entry> {
        if !self.waiting.remove(id) {
            return None;
        }
        let entry = self.live.remove(id)?;
        self.counts.record(TaskState::Cancelled);
        self.keep_for_retry(id, &entry, TaskState::Cancelled);
        Some(entry)
    }

    /// Moves a waiting task to the front of the queue; false if it is not waiting.
    pub fn move_to_front(&mut self, id: TaskId) -> bool {
        if !self.waiting.remove(id) {
            return false;
        }
        self.waiting.push_front(id);
        true
    }

    /// How task `id` ended, if it ended failed, timed out or cancelled and
    /// has not been retried yet.
    pub fn retryable_state(&self, id: TaskId) -> Option<TaskState> {
        self.retryable.get(&id).map(|(_, state)| *state)
    }

    /// The tasks that ended failed or timed out and were not retried yet, in order.
    pub fn failed_ids(&self) -> Vec<TaskId> {
        self.retryable
            .iter()
            .filter(|(_, (_, s))| matches!(s, TaskState::Failed | TaskState::TimedOut))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Runs the ended task `old` again as the new task `new`, at the back of
    /// the queue. `old` keeps its terminal state; `new` counts as submitted,
    /// and `Counts::retried` says how many submissions are such retries.
    /// Returns the new task's line; none if `old` cannot be retried.
    pub fn retry(&mut self, old: TaskId, new: TaskId) -> Option<std::sync::Arc<str>> {
        let (task, _) = self.retryable.remove(&old)?;
        let line = task.line.clone();
        self.submit_all(vec![(new, task)]);
        self.counts.retried += 1;
        Some(line)
    }

    /// The entries of tasks `first`, `first + 1`, … (`len` of them), in order.
    pub fn entries(&self, first: TaskId, len: usize) -> impl Iterator<Item = Option<&Entry>> {
        self.live.range(first, len)
    }

    pub fn entry(&self, id: TaskId) -> Option<&Entry> {
        self.live.get(id)
    }

    pub fn entry_mut(&mut self, id: TaskId) -> Option<&mut Entry> {
        self.live.get_mut(id)
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether nothing is waiting and nothing is held.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.held == 0
    }

    /// The accounting invariant, checked: submitted = waiting + held + finished.
    pub fn balanced(&self) -> bool {
        let c = self.counts;
        c.submitted == self.waiting.len() as u64 + self.held as u64 + c.finished()
            && self.live.len() == self.waiting.len() + self.held
    }
}

/// Task ids in order, kept as runs of consecutive ids: tasks are submitted
/// with consecutive ids, so 100,000 waiting tasks take one run, not 800 KB
/// of ids (whose growth showed in profiles as page faults).
#[derive(Debug, Default)]
struct Runs {
    /// Half-open ranges of ids, in order.
    runs: VecDeque<(u64, u64)>,
    len: usize,
}

impl Runs {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push_back(&mut self, id: TaskId) {
        match self.runs.back_mut() {
            Some(last) if last.1 == id.0 => last.1 += 1,
            _ => self.runs.push_back((id.0, id.0 + 1)),
        }
        self.len += 1;
    }

    fn push_front(&mut self, id: TaskId) {
        match self.runs.front_mut() {
            Some(first) if first.0 == id.0 + 1 => first.0 = id.0,
            _ => self.runs.push_front((id.0, id.0 + 1)),
        }
        self.len += 1;
    }

    fn pop_front(&mut self) -> Option<TaskId> {
        let first = self.runs.front_mut()?;
        let id = first.0;
        first.0 += 1;
        if first.0 == first.1 {
            self.runs.pop_front();
        }
        self.len -= 1;
        Some(TaskId(id))
    }

    /// Takes `id` out wherever it is (splitting its run); false if absent.
    fn remove(&mut self, id: TaskId) -> bool {
        let Some(at) = self.runs.iter().position(|&(a, b)| (a..b).contains(&id.0)) else {
            return false;
        };
        let (a, b) = self.runs[at];
        match (a == id.0, b == id.0 + 1) {
            (true, true) => {
                self.runs.remove(at);
            }
            (true, false) => self.runs[at].0 += 1,
            (false, true) => self.runs[at].1 -= 1,
            (false, false) => {
                self.runs[at].1 = id.0;
                self.runs.insert(at + 1, (id.0 + 1, b));
            }
        }
        self.len -= 1;
        true
    }

    /// Takes every id out, in order.
    fn drain(&mut self) -> Vec<TaskId> {
        self.len = 0;
        self.runs
            .drain(..)
            .flat_map(|(start, end)| (start..end).map(TaskId))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(n: i64) -> Task {
        Task::from(crate::task::TaskSpec::Square(n))
    }

    #[test]
    fn waiting_ids_keep_their_order_as_runs() {
        let mut w = Runs::default();
        for id in [1, 2, 3, 7, 8, 4] {
            w.push_back(TaskId(id));
        }
        assert_eq!(w.runs.len(), 3, "1-3, 7-8, 4");
        assert_eq!(w.pop_front(), Some(TaskId(1)));
        assert_eq!(w.pop_front(), Some(TaskId(2)));
        // Handed out and given back in reverse, as a dead worker's are.
        w.push_front(TaskId(2));
        w.push_front(TaskId(1));
        w.push_front(TaskId(9));
        assert_eq!(w.len(), 7);
        let order: Vec<u64> = w.drain().iter().map(|t| t.0).collect();
        assert_eq!(order, [9, 1, 2, 3, 7, 8, 4]);
        assert!(w.is_empty() && w.pop_front().is_none());
    }

    #[test]
    fn one_waiting_task_is_cancelled_moved_to_the_front_or_retried() {
        let mut q = Queue::default();
        for i in 1..=5 {
            q.submit(TaskId(i), task(i as i64));
        }
        let c = q.cancel_one(TaskId(3)).expect("3 waits");
        assert_eq!(&*c.task.line, "square 3");
        assert!(q.cancel_one(TaskId(3)).is_none(), "no task ends twice");
        assert!(q.move_to_front(TaskId(5)));
        assert!(
            !q.move_to_front(TaskId(3)),
            "a cancelled task is not queued"
        );
        assert_eq!(q.take(), Some(TaskId(5)));
        assert_eq!(q.take(), Some(TaskId(1)));
        assert!(q.finish(TaskId(1), TaskState::Failed).is_some());
        assert!(q.finish(TaskId(5), TaskState::Done).is_some());
        assert_eq!(
            q.failed_ids(),
            [TaskId(1)],
            "cancelled and done are not failed"
        );
        assert_eq!(q.retryable_state(TaskId(3)), Some(TaskState::Cancelled));
        assert!(
            q.retry(TaskId(5), TaskId(6)).is_none(),
            "a done task is not retried"
        );
        assert_eq!(q.retry(TaskId(3), TaskId(6)).as_deref(), Some("square 3"));
        assert!(
            q.retry(TaskId(3), TaskId(7)).is_none(),
            "a task is retried once"
        );
        assert!(q.balanced());
        let order: Vec<TaskId> = std::iter::from_fn(|| q.take()).collect();
        assert_eq!(order, [TaskId(2), TaskId(4), TaskId(6)]);
        for id in order {
            q.finish(id, TaskState::Done);
        }
        let c = q.counts();
        assert_eq!(
            (c.submitted, c.retried, c.done, c.failed, c.cancelled),
            (6, 1, 4, 1, 1)
        );
        assert_eq!(c.submitted, c.finished());
        assert!(q.balanced() && q.is_idle());
    }

    #[test]
    fn every_task_ends_exactly_once() {
        let mut q = Queue::default();
        for i in 1..=5 {
            q.submit(TaskId(i), task(i as i64));
        }
        assert!(q.balanced());
        let a = q.take().unwrap();
        let b = q.take().unwrap();
        assert_eq!((a, b), (TaskId(1), TaskId(2)));
        q.put_back(b); // its worker died before starting it
        assert_eq!(q.take(), Some(TaskId(2)), "a put-back task goes first");
        assert!(q.finish(a, TaskState::Done).is_some());
        assert!(q.finish(a, TaskState::Done).is_none(), "no task ends twice");
        assert!(q.finish(TaskId(2), TaskState::Failed).is_some());
        assert!(q.balanced());
        let cancelled = q.cancel_waiting();
        assert_eq!(cancelled.len(), 3);
        assert!(q.balanced());
        assert!(q.is_idle());
        let c = q.counts();
        assert_eq!(
            (c.submitted, c.done, c.failed, c.cancelled, c.finished()),
            (5, 1, 1, 3, 5)
        );
    }
}
