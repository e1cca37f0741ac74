//! The workers table's model: the engine's [`WorkerTable`], built from the
//! pool's events like every face's, with what only the dashboard keeps
//! beside it (each worker's CPU history, the stop orders it sent that the
//! pool has not confirmed yet), and the selection (an id, never a row index).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::ui::status::StateKind;
use pooltop::engine::events::{ExitHow, PoolEvent, WorkerId};
use pooltop::engine::monitor::Sample;
pub use pooltop::engine::workers::WorkerInfo;
use pooltop::engine::workers::WorkerTable;

/// How long a gone worker stays in the table.
pub const LINGER: Duration = Duration::from_secs(3);
/// CPU history kept per worker (samples).
pub const CPU_HISTORY: usize = 32;

/// All rows, ordered by id, and the selection.
#[derive(Debug, Default)]
pub struct Workers {
    /// The rows, as the pool's events tell them.
    table: WorkerTable,
    /// Each live row's CPU readings, oldest first (the sparkline).
    history: BTreeMap<WorkerId, VecDeque<f32>>,
    /// Workers this dashboard asked to stop, until the pool says so.
    stop_sent: BTreeSet<WorkerId>,
    pub selected: Option<WorkerId>,
    /// First visible row (kept by `ensure_visible`).
    pub offset: usize,
}

impl Workers {
    /// Takes one pool event into account (a run of tasks done once, not
    /// once per task it stands for).
    pub fn observe(&mut self, ev: &PoolEvent, now: Instant) {
        self.table.observe(ev, now);
        match ev {
            PoolEvent::WorkerSpawned { worker, .. } => {
                if self.selected.is_none() {
                    self.selected = Some(*worker);
                }
                self.history
                    .insert(*worker, VecDeque::with_capacity(CPU_HISTORY));
            }
            PoolEvent::WorkerStopping { worker, .. } | PoolEvent::WorkerExited { worker, .. } => {
                self.stop_sent.remove(worker);
            }
            _ => {}
        }
    }

    /// The row of `id`.
    pub fn row(&self, id: WorkerId) -> Option<&WorkerInfo> {
        self.table.get(id)
    }

    /// Every row, gone ones too (until they are pruned): ordered by id,
    /// or, when workers run on other hosts, grouped by host (this machine
    /// first), then by id.
    pub fn rows(&self) -> impl DoubleEndedIterator<Item = &WorkerInfo> + Clone {
        let mut rows: Vec<&WorkerInfo> = self.table.rows().collect();
        if rows.iter().any(|r| r.host.is_some()) {
            rows.sort_by(|a, b| (&a.host, a.id).cmp(&(&b.host, b.id)));
        }
        rows.into_iter()
    }

    /// The lines the workers pane asks for: its rows, and one summary line
    /// per host when workers run on more than one.
    pub fn lines_wanted(&self) -> usize {
        self.len() + self.host_groups()
    }

    /// How many hosts the live workers run on (this machine included), when
    /// any runs elsewhere; 0 otherwise.
    pub fn host_groups(&self) -> usize {
        let hosts: BTreeSet<Option<&str>> = self.alive().map(|r| r.host.as_deref()).collect();
        if hosts.iter().any(Option::is_some) {
            hosts.len()
        } else {
            0
        }
    }

    /// How many rows the table shows.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table has no row.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Rows still alive (not gone).
    pub fn alive(&self) -> impl Iterator<Item = &WorkerInfo> {
        self.table.rows().filter(|r| r.gone.is_none())
    }

    /// A row's CPU readings, oldest first.
    pub fn history(&self, id: WorkerId) -> impl DoubleEndedIterator<Item = &f32> {
        self.history.get(&id).into_iter().flatten()
    }

    /// Notes that this dashboard asked `id` to stop (shown as stopping
    /// until the pool confirms).
    pub fn stop_sent(&mut self, id: WorkerId) {
        self.stop_sent.insert(id);
    }

    /// Whether `r` is on its way out (or was just asked to be).
    pub fn is_stopping(&self, r: &WorkerInfo) -> bool {
        r.stopping.is_some() || self.stop_sent.contains(&r.id)
    }

    /// Whether the pool has set a kill deadline for `r`, or this dashboard
    /// has just asked it to stop: a second terminate would do nothing.
    pub fn stop_under_way(&self, r: &WorkerInfo) -> bool {
        r.stopping.is_some_and(|s| s.deadline.is_some()) || self.stop_sent.contains(&r.id)
    }

    /// Alive and not on its way out: it can be paused, terminated.
    pub fn is_active(&self, r: &WorkerInfo) -> bool {
        r.gone.is_none() && !self.is_stopping(r)
    }

    /// The state of `r`, as the table's state column names it.
    pub fn kind(&self, r: &WorkerInfo) -> StateKind {
        let sent = self.stop_sent.contains(&r.id);
        match (&r.gone, &r.stopping) {
            (Some((ExitHow::Exited(_), _)), _) => StateKind::Exited,
            (Some((ExitHow::Killed { .. }, _)), _) => StateKind::Killed,
            (Some((ExitHow::Crashed { .. }, _)), _) => StateKind::Crashed,
            (None, Some(s)) if s.deadline.is_none() && !sent => StateKind::Retiring,
            (None, Some(_)) => StateKind::Stopping,
            (None, None) if sent => StateKind::Stopping,
            (None, None) if r.paused_at.is_some() => StateKind::Paused,
            (None, None) if !r.ready && r.pending => StateKind::Pending,
            (None, None) if !r.ready => StateKind::Starting,
            (None, None) if r.is_hung() && r.task.is_some() => StateKind::Hung,
            (None, None) if r.task.is_some() => StateKind::Busy,
            (None, None) => StateKind::Idle,
        }
    }

    /// The state of the row of `id`, if there is one.
    pub fn kind_of(&self, id: WorkerId) -> Option<StateKind> {
        self.row(id).map(|r| self.kind(r))
    }

    /// Where the selected row is among the rows (0 when none).
    pub fn selected_pos(&self) -> usize {
        match self.selected {
            Some(id) => self.rows().position(|r| r.id == id).unwrap_or(0),
            None => 0,
        }
    }

    /// The id of the row at `pos`.
    pub fn id_at(&self, pos: usize) -> Option<WorkerId> {
        self.rows().nth(pos).map(|r| r.id)
    }

    /// Moves the selection by `delta` rows, clamped to the table.
    pub fn move_by(&mut self, delta: isize) {
        if self.table.is_empty() {
            self.selected = None;
            return;
        }
        let pos = self.selected_pos() as isize + delta;
        let pos = pos.clamp(0, self.table.len() as isize - 1) as usize;
        self.selected = self.id_at(pos);
    }

    /// Removes rows gone for longer than [`LINGER`]; the selection moves to
    /// the row that takes the removed one's place.
    pub fn prune(&mut self, now: Instant) -> bool {
        let old: Vec<WorkerId> = self
            .table
            .rows()
            .filter(|r| {
                r.gone
                    .as_ref()
                    .is_some_and(|(_, at)| now.saturating_duration_since(*at) >= LINGER)
            })
            .map(|r| r.id)
            .collect();
        if old.is_empty() {
            return false;
        }
        let pos = self.selected_pos();
        let selected_removed = self.selected.is_some_and(|s| old.contains(&s));
        for id in &old {
            self.table.remove(*id);
            self.history.remove(id);
        }
        if selected_removed {
            let pos = pos.min(self.table.len().saturating_sub(1));
            self.selected = self.id_at(pos);
        }
        true
    }

    /// Applies a sample to every live row it covers.
    pub fn sample(&mut self, sample: &Sample) {
        self.table.sample(sample);
        for w in &sample.workers {
            if self.table.get(w.worker).is_some_and(|r| r.gone.is_none())
                && let Some(ring) = self.history.get_mut(&w.worker)
            {
                if ring.len() == CPU_HISTORY {
                    ring.pop_front();
                }
                ring.push_back(w.stat.cpu);
            }
        }
    }

    /// Keeps the selected row inside a viewport of `height` rows.
    pub fn ensure_visible(&mut self, height: usize) {
        self.offset = visible_offset(self.offset, self.selected_pos(), self.table.len(), height);
    }
}

/// The first row to show so that `pos` is visible in `height` rows, moving
/// as little as possible from `offset`.
pub fn visible_offset(offset: usize, pos: usize, len: usize, height: usize) -> usize {
    if height == 0 {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(height));
    if pos < off {
        off = pos;
    } else if pos >= off + height {
        off = pos + 1 - height;
    }
    off
}
