//! The workers table's model: one row per worker, keyed by its id, and the
//! selection (also an id, never a row index).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::events::{ExitHow, TaskId, WorkerId};
use crate::engine::monitor::{ProcStat, WorkerStat};
/// How long a gone worker stays in the table.
pub const LINGER: Duration = Duration::from_secs(3);
/// CPU history kept per worker (samples).
pub const CPU_HISTORY: usize = 32;

/// The task a worker holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub task: TaskId,
    pub line: Arc<str>,
    pub attempt: u32,
    pub started: Instant,
    /// Time spent paused while holding it (its timeout clock stops then).
    pub paused_for: Duration,
}

impl Held {
    /// How long the task has run, paused time excluded.
    pub fn running_for(&self, now: Instant, paused_at: Option<Instant>) -> Duration {
        let until = paused_at.unwrap_or(now);
        until
            .saturating_duration_since(self.started)
            .saturating_sub(self.paused_for)
    }
}

/// A worker asked to stop.
#[derive(Debug, Clone, Copy)]
pub struct Stopping {
    /// When it will be killed if it has not left; none while retiring (it
    /// finishes its task) or until the pool confirms.
    pub deadline: Option<Instant>,
    /// The pool has not confirmed yet (the key was just pressed).
    pub pending: bool,
}

/// One worker's row.
#[derive(Debug, Clone)]
pub struct WorkerRow {
    pub id: WorkerId,
    pub pid: Option<u32>,
    /// When the process was started.
    pub spawned: Instant,
    /// Whether its handshake is done.
    pub ready: bool,
    pub task: Option<Held>,
    pub paused_at: Option<Instant>,
    pub stopping: Option<Stopping>,
    /// How it ended, and when.
    pub gone: Option<(ExitHow, Instant)>,
    pub done: u64,
    pub failed: u64,
    /// The latest monitor reading (none until the monitor has seen it).
    pub stat: Option<ProcStat>,
    pub cpu_hist: VecDeque<f32>,
    /// Since when it has looked hung, while the pool says it does
    /// (`PoolEvent::WorkerHung` until `PoolEvent::WorkerUnhung`).
    pub hung_since: Option<Instant>,
}

/// What the state column says, without the timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Starting,
    Idle,
    Busy,
    Hung,
    Paused,
    Stopping,
    Retiring,
    Exited,
    Killed,
    Crashed,
}

impl WorkerRow {
    fn new(id: WorkerId, pid: Option<u32>, now: Instant) -> WorkerRow {
        WorkerRow {
            id,
            pid,
            spawned: now,
            ready: false,
            task: None,
            paused_at: None,
            stopping: None,
            gone: None,
            done: 0,
            failed: 0,
            stat: None,
            cpu_hist: VecDeque::with_capacity(CPU_HISTORY),
            hung_since: None,
        }
    }

    /// Alive and not on its way out: it can be paused, terminated.
    pub fn is_active(&self) -> bool {
        self.gone.is_none() && self.stopping.is_none()
    }

    /// Whether the pool flags it as possibly hung (after the pool's
    /// `hung_after` without progress and without CPU).
    pub fn is_hung(&self) -> bool {
        self.task.is_some()
            && self.gone.is_none()
            && self.paused_at.is_none()
            && self.hung_since.is_some()
    }

    /// The state, as the table's state column names it.
    pub fn kind(&self) -> StateKind {
        match (&self.gone, &self.stopping) {
            (Some((ExitHow::Exited(_), _)), _) => StateKind::Exited,
            (Some((ExitHow::Killed { .. }, _)), _) => StateKind::Killed,
            (Some((ExitHow::Crashed { .. }, _)), _) => StateKind::Crashed,
            (None, Some(s)) if s.deadline.is_none() && !s.pending => StateKind::Retiring,
            (None, Some(_)) => StateKind::Stopping,
            (None, None) if self.paused_at.is_some() => StateKind::Paused,
            (None, None) if !self.ready => StateKind::Starting,
            (None, None) if self.is_hung() => StateKind::Hung,
            (None, None) if self.task.is_some() => StateKind::Busy,
            (None, None) => StateKind::Idle,
        }
    }
}

/// All rows, ordered by id, and the selection.
#[derive(Debug, Default)]
pub struct Workers {
    pub rows: BTreeMap<WorkerId, WorkerRow>,
    pub selected: Option<WorkerId>,
    /// First visible row (kept by `ensure_visible`).
    pub offset: usize,
}

impl Workers {
    /// The row of `id`, created if the pool speaks of a worker not seen yet.
    pub fn entry(&mut self, id: WorkerId, now: Instant) -> &mut WorkerRow {
        if self.selected.is_none() {
            self.selected = Some(id);
        }
        self.rows
            .entry(id)
            .or_insert_with(|| WorkerRow::new(id, None, now))
    }

    /// A worker process was started.
    pub fn spawned(&mut self, id: WorkerId, pid: u32, now: Instant) {
        let row = self.entry(id, now);
        row.pid = Some(pid);
        row.spawned = now;
    }

    /// Rows still alive (not gone).
    pub fn alive(&self) -> impl Iterator<Item = &WorkerRow> {
        self.rows.values().filter(|r| r.gone.is_none())
    }

    /// Where the selected row is among the rows (0 when none).
    pub fn selected_pos(&self) -> usize {
        match self.selected {
            Some(id) => self.rows.range(..id).count(),
            None => 0,
        }
    }

    /// The id of the row at `pos`.
    pub fn id_at(&self, pos: usize) -> Option<WorkerId> {
        self.rows.keys().nth(pos).copied()
    }

    /// Moves the selection by `delta` rows, clamped to the table.
    pub fn move_by(&mut self, delta: isize) {
        if self.rows.is_empty() {
            self.selected = None;
            return;
        }
        let pos = self.selected_pos() as isize + delta;
        let pos = pos.clamp(0, self.rows.len() as isize - 1) as usize;
        self.selected = self.id_at(pos);
    }

    /// Removes rows gone for longer than [`LINGER`]; the selection moves to
    /// the row that takes the removed one's place.
    pub fn prune(&mut self, now: Instant) -> bool {
        let old: Vec<WorkerId> = self
            .rows
            .values()
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
            self.rows.remove(id);
        }
        if selected_removed {
            let pos = pos.min(self.rows.len().saturating_sub(1));
            self.selected = self.id_at(pos);
        }
        true
    }

    /// Applies a sample to every row it covers.
    pub fn sample(&mut self, stats: &[WorkerStat]) {
        for w in stats {
            let Some(row) = self.rows.get_mut(&w.worker) else {
                continue;
            };
            if row.gone.is_some() {
                continue;
            }
            row.stat = Some(w.stat);
            if row.cpu_hist.len() == CPU_HISTORY {
                row.cpu_hist.pop_front();
            }
            row.cpu_hist.push_back(w.stat.cpu);
        }
    }

    /// Flags a row hung, quiet for `idle` until `now`, or unflags it.
    pub fn hung(&mut self, id: WorkerId, idle: Option<Duration>, now: Instant) {
        if let Some(row) = self.rows.get_mut(&id) {
            row.hung_since = idle.map(|d| now.checked_sub(d).unwrap_or(now));
        }
    }

    /// Keeps the selected row inside a viewport of `height` rows.
    pub fn ensure_visible(&mut self, height: usize) {
        self.offset = visible_offset(self.offset, self.selected_pos(), self.rows.len(), height);
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
