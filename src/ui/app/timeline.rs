//! The timeline's model: one lane per worker slot, each finished task a span
//! from its start to its end, and the window the view shows (zoom, scroll,
//! the cursor that selects a bar).
//!
//! Built for 64 lanes and a million tasks. A lane's spans are appended in
//! time order (a slot runs one task at a time), so "what is in [t0, t1)" is
//! two binary searches; each span also carries the sums of the spans before
//! it (busy time, failures), so the busy time and the failures of any window
//! come from those sums without visiting the spans inside it. A cell of the
//! view costs O(log n) however many tasks it covers.
//!
//! Memory: one [`Span`] (40 bytes) per finished attempt, plus the `Vec`'s
//! spare room (at most as much again).

use std::time::Duration;

use pooltop::engine::events::{PoolEvent, TaskId, TaskReport, TaskState, WorkerId};

/// Microseconds since the run started: the timeline's clock.
pub type Micros = u64;

/// The narrowest zoom: one cell is this many µs.
pub const MIN_PER_CELL: Micros = 100;
/// The widest zoom: one cell is a day.
pub const MAX_PER_CELL: Micros = 86_400_000_000;
/// The zoom a fresh timeline starts at: half a second a cell.
pub const DEFAULT_PER_CELL: Micros = 500_000;

/// How a span ended (its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SpanState {
    Done,
    Failed,
    TimedOut,
    Cancelled,
    /// An attempt that ended in a retry (its worker crashed or was killed).
    Retried,
}

impl SpanState {
    fn of(s: TaskState) -> SpanState {
        match s {
            TaskState::Done => SpanState::Done,
            TaskState::Failed => SpanState::Failed,
            TaskState::TimedOut => SpanState::TimedOut,
            TaskState::Cancelled => SpanState::Cancelled,
        }
    }

    /// Whether the span counts as a failure (drawn in the alarm colour).
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            SpanState::Failed | SpanState::TimedOut | SpanState::Retried
        )
    }
}

/// The task kinds the timeline names (from a task line's first word).
pub const KINDS: &[&str] = &[
    "?",
    "spin",
    "sleep",
    "square",
    "sha256",
    "thumbnail",
    "shell",
    "exec",
    "hang",
    "fail",
    "crash",
    "python",
];

/// The index in [`KINDS`] of the kind of `line`.
pub fn kind_of(line: &str) -> u8 {
    let word = line.split_whitespace().next().unwrap_or("");
    KINDS.iter().position(|k| *k == word).unwrap_or(0) as u8
}

/// One finished attempt on a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: Micros,
    pub end: Micros,
    pub task: u64,
    /// The summed length of the lane's spans before this one.
    busy_before: Micros,
    /// How many of the lane's spans before this one were bad.
    bad_before: u32,
    pub state: SpanState,
    /// Index in [`KINDS`].
    pub kind: u8,
}

/// The task running on a lane now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    pub task: u64,
    pub start: Micros,
    pub kind: u8,
}

/// What a window of a lane holds, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    /// Finished spans that overlap the window.
    pub spans: usize,
    /// Busy time inside the window (finished spans and the running task).
    pub busy: Micros,
    /// Bad spans among them.
    pub bad: u32,
    /// The one span, when exactly one overlaps (its index on the lane).
    pub only: Option<usize>,
    /// The running task covers part of the window.
    pub running: bool,
    /// The lane was paused during part of the window.
    pub paused: bool,
}

/// One worker slot's history.
#[derive(Debug, Clone, Default)]
pub struct Lane {
    pub slot: u32,
    /// The worker in the slot now (the latest one to take it).
    pub worker: Option<WorkerId>,
    spans: Vec<Span>,
    pub running: Option<Running>,
    /// Paused intervals, in order; the last may still be open.
    paused: Vec<(Micros, Option<Micros>)>,
}

impl Lane {
    /// The finished spans, in time order.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Busy time and bad spans before span `k` (`k` may be the length).
    fn before(&self, k: usize) -> (Micros, u32) {
        match self.spans.get(k) {
            Some(s) => (s.busy_before, s.bad_before),
            None => match self.spans.last() {
                Some(s) => (
                    s.busy_before + (s.end - s.start),
                    s.bad_before + u32::from(s.state.is_bad()),
                ),
                None => (0, 0),
            },
        }
    }

    fn last_end(&self) -> Micros {
        self.spans.last().map_or(0, |s| s.end)
    }

    fn push(&mut self, task: u64, start: Micros, end: Micros, state: SpanState, kind: u8) {
        // A slot runs one task at a time: keep the spans in order even when
        // clocks disagree by a little.
        let start = start.max(self.last_end());
        let end = end.max(start);
        let (busy_before, bad_before) = self.before(self.spans.len());
        self.spans.push(Span {
            start,
            end,
            task,
            busy_before,
            bad_before,
            state,
            kind,
        });
    }

    /// The indices of the spans overlapping [t0, t1).
    pub fn range(&self, t0: Micros, t1: Micros) -> std::ops::Range<usize> {
        // Starts and ends both ascend, so both tests split the spans in
        // two; a zero-length span at t0 counts as inside.
        let i = self.spans.partition_point(|s| s.end <= t0 && s.start < t0);
        let j = self.spans.partition_point(|s| s.start < t1).max(i);
        i..j
    }

    /// What [t0, t1) holds, up to `now`: O(log n).
    pub fn cell(&self, t0: Micros, t1: Micros, now: Micros) -> Cell {
        let r = self.range(t0, t1);
        let mut c = Cell {
            spans: r.len(),
            ..Cell::default()
        };
        if !r.is_empty() {
            let overlap = |s: &Span| s.end.min(t1).saturating_sub(s.start.max(t0));
            let (first, last) = (&self.spans[r.start], &self.spans[r.end - 1]);
            c.busy = overlap(first);
            if r.len() > 1 {
                c.busy += overlap(last);
                let inner = self.before(r.end - 1).0 - self.before(r.start + 1).0;
                c.busy += inner;
            }
            c.bad = self.before(r.end).1 - self.before(r.start).1;
            if r.len() == 1 {
                c.only = Some(r.start);
            }
        }
        if let Some(run) = self.running
            && run.start < t1
            && now > t0
        {
            c.running = true;
            c.busy += now.min(t1).saturating_sub(run.start.max(t0));
        }
        c.paused = self
            .paused
            .iter()
            .rev()
            .take_while(|(_, end)| end.is_none_or(|e| e > t0))
            .any(|&(start, end)| start < t1 && end.unwrap_or(now) > t0);
        c
    }

    /// Busy time up to `now`: the finished spans and the running task.
    pub fn busy(&self, now: Micros) -> Micros {
        let done = self.before(self.spans.len()).0;
        done + self.running.map_or(0, |r| now.saturating_sub(r.start))
    }

    /// The task at `t`: the span holding it, the running task, or else the
    /// nearest span within `near` of it.
    pub fn task_at(&self, t: Micros, near: Micros, now: Micros) -> Option<u64> {
        if let Some(r) = self.running
            && t >= r.start
            && t <= now
        {
            return Some(r.task);
        }
        let lo = t.saturating_sub(near);
        let r = self.range(lo, t + near + 1);
        let dist = |s: &Span| {
            if t < s.start {
                s.start - t
            } else {
                t.saturating_sub(s.end.saturating_sub(1))
            }
        };
        self.spans[r].iter().min_by_key(|s| dist(s)).map(|s| s.task)
    }
}

/// The timeline: the lanes, and the window the view shows.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Shown in place of the tasks pane.
    pub shown: bool,
    /// The lanes, ordered by slot.
    lanes: Vec<Lane>,
    /// Which slot each worker has (or had).
    slots: std::collections::HashMap<WorkerId, u32>,
    /// The zoom: µs per cell.
    pub per_cell: Micros,
    /// The selected time; none while following the present ("live").
    pub cursor: Option<Micros>,
    /// The window's right edge while scrolled back; none when live.
    pub view_end: Option<Micros>,
    /// The selected lane (index into the lanes).
    pub lane: usize,
    /// First lane on screen.
    pub lane_offset: usize,
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline {
            shown: false,
            lanes: Vec::new(),
            slots: Default::default(),
            per_cell: DEFAULT_PER_CELL,
            cursor: None,
            view_end: None,
            lane: 0,
            lane_offset: 0,
        }
    }
}

fn micros(d: Duration) -> Micros {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Timeline {
    /// The lanes, ordered by slot.
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// Finished spans on every lane.
    pub fn span_count(&self) -> usize {
        self.lanes.iter().map(|l| l.spans.len()).sum()
    }

    fn lane_of_slot(&mut self, slot: u32) -> &mut Lane {
        let i = match self.lanes.binary_search_by_key(&slot, |l| l.slot) {
            Ok(i) => i,
            Err(i) => {
                self.lanes.insert(
                    i,
                    Lane {
                        slot,
                        ..Lane::default()
                    },
                );
                i
            }
        };
        &mut self.lanes[i]
    }

    /// The lane of `worker`; a worker no slot event named gets a slot of its own.
    fn lane_of(&mut self, worker: WorkerId) -> &mut Lane {
        let slot = match self.slots.get(&worker) {
            Some(s) => *s,
            None => {
                let s = self.lanes.last().map_or(1, |l| l.slot + 1);
                self.slots.insert(worker, s);
                s
            }
        };
        let lane = self.lane_of_slot(slot);
        lane.worker = Some(worker);
        lane
    }

    /// Takes in one pool event at `now` (µs since the start).
    pub fn observe(&mut self, ev: &PoolEvent, now: Micros) {
        match ev {
            PoolEvent::WorkerSlot { worker, slot } => {
                self.slots.insert(*worker, *slot);
                self.lane_of_slot(*slot).worker = Some(*worker);
            }
            PoolEvent::TaskStarted {
                task, worker, line, ..
            } => {
                let lane = self.lane_of(*worker);
                lane.running = Some(Running {
                    task: task.0,
                    start: now,
                    kind: kind_of(line),
                });
            }
            PoolEvent::TaskRetrying { task, worker, .. } => {
                self.attempt_ended(*worker, *task, None, SpanState::Retried, now);
            }
            PoolEvent::TaskFinished(r) => self.finished(r, now),
            PoolEvent::TasksDone(run) => {
                // Instant tasks reported in one go: laid end to end, the
                // run ending now.
                let lane = self.lane_of(run.worker());
                let total = micros(run.total_wall());
                let mut t = now.saturating_sub(total).max(lane.last_end());
                for (task, _, wall, line) in run.iter() {
                    let end = t + micros(wall);
                    lane.push(task.0, t, end, SpanState::Done, kind_of(line));
                    t = end;
                }
                lane.running = None;
            }
            PoolEvent::WorkerPaused { worker } => {
                self.lane_of(*worker).paused.push((now, None));
            }
            PoolEvent::WorkerResumed { worker } => self.unpause(*worker, now),
            PoolEvent::WorkerExited { worker, .. } => {
                self.unpause(*worker, now);
                if let Some(slot) = self.slots.get(worker).copied() {
                    let lane = self.lane_of_slot(slot);
                    if lane.worker == Some(*worker) {
                        lane.worker = None;
                    }
                }
            }
            _ => {}
        }
    }

    fn unpause(&mut self, worker: WorkerId, now: Micros) {
        let Some(slot) = self.slots.get(&worker).copied() else {
            return;
        };
        if let Some(last) = self.lane_of_slot(slot).paused.last_mut()
            && last.1.is_none()
        {
            last.1 = Some(now);
        }
    }

    fn finished(&mut self, r: &TaskReport, now: Micros) {
        // Tasks cancelled before they ran have no worker and no span.
        let Some(worker) = r.worker else { return };
        if r.attempts == 0 {
            return;
        }
        let wall = micros(r.wall);
        let kind = kind_of(&r.line);
        self.attempt_ended(
            worker,
            r.task,
            Some((wall, kind)),
            SpanState::of(r.state),
            now,
        );
    }

    /// An attempt of `task` on `worker` ended at `now`; without a start
    /// seen, it started `wall` before.
    fn attempt_ended(
        &mut self,
        worker: WorkerId,
        task: TaskId,
        wall_kind: Option<(Micros, u8)>,
        state: SpanState,
        now: Micros,
    ) {
        let lane = self.lane_of(worker);
        let run = lane.running.filter(|r| r.task == task.0);
        if run.is_some() {
            lane.running = None;
        }
        // A replay knows a task's line (its kind) only once it finished.
        let kind = match (run, wall_kind) {
            (Some(r), Some((_, k))) if r.kind == 0 => k,
            (Some(r), _) => r.kind,
            (None, Some((_, k))) => k,
            (None, None) => 0,
        };
        let (start, end) = match (run, wall_kind) {
            (Some(r), _) if r.start < now => (r.start, now),
            // Seen starting and ending at one instant (a chunk's tasks in
            // a recording share their lines' time), or never seen
            // starting: it lasted `wall`, laid after the lane's last span.
            (_, Some((wall, _))) => {
                let start = now.saturating_sub(wall).max(lane.last_end());
                (start, start + wall)
            }
            (Some(r), None) => (r.start, now),
            // A retry of an attempt never seen starting: nothing to draw.
            (None, None) => return,
        };
        lane.push(task.0, start, end, state, kind);
    }

    /// The pool's utilisation up to `now`: busy time over lanes × elapsed.
    pub fn utilisation(&self, now: Micros) -> f64 {
        if self.lanes.is_empty() || now == 0 {
            return 0.0;
        }
        let busy: Micros = self.lanes.iter().map(|l| l.busy(now)).sum();
        busy as f64 / (now as f64 * self.lanes.len() as f64)
    }

    // ---- the window ----

    /// The window's right edge: now when live.
    pub fn end(&self, now: Micros) -> Micros {
        self.view_end.unwrap_or(now)
    }

    /// The window [start, end) for `cells` cells.
    pub fn window(&self, now: Micros, cells: u16) -> (Micros, Micros) {
        let end = self.end(now);
        let width = self.per_cell.saturating_mul(u64::from(cells.max(1)));
        // Early in a run (or zoomed out past it) the window starts at zero.
        if end < width {
            (0, width)
        } else {
            (end - width, end)
        }
    }

    /// Whether the window follows the present.
    pub fn is_live(&self) -> bool {
        self.view_end.is_none() && self.cursor.is_none()
    }

    /// Back to the present: the window follows it, no cursor.
    pub fn live(&mut self) {
        self.cursor = None;
        self.view_end = None;
    }

    /// Zooms in (`finer`) or out by a factor of 2, keeping the cursor (or
    /// the window's right edge) where it is.
    pub fn zoom(&mut self, finer: bool, now: Micros, cells: u16) {
        self.per_cell = if finer {
            (self.per_cell / 2).max(MIN_PER_CELL)
        } else {
            (self.per_cell * 2).min(MAX_PER_CELL)
        };
        self.keep_cursor_visible(now, cells);
    }

    /// Moves the cursor `cells_by` cells (negative: back in time); the
    /// window scrolls to keep it in view. Past the present, it is live again.
    pub fn move_cursor(&mut self, cells_by: i64, now: Micros, cells: u16) {
        let from = self.cursor.unwrap_or(now.saturating_sub(1));
        let delta = self.per_cell.saturating_mul(cells_by.unsigned_abs());
        let to = if cells_by < 0 {
            from.saturating_sub(delta)
        } else {
            from.saturating_add(delta)
        };
        if to >= now {
            self.live();
            return;
        }
        self.cursor = Some(to);
        self.keep_cursor_visible(now, cells);
    }

    /// Puts the cursor at the run's start.
    pub fn cursor_to_start(&mut self, now: Micros, cells: u16) {
        self.cursor = Some(0);
        self.keep_cursor_visible(now, cells);
    }

    fn keep_cursor_visible(&mut self, now: Micros, cells: u16) {
        let Some(c) = self.cursor else {
            return;
        };
        let (t0, t1) = self.window(now, cells);
        let width = t1 - t0;
        if c < t0 {
            self.view_end = Some(c + width - width / 4);
        } else if c >= t1 {
            self.view_end = Some(c + width / 4);
        }
        if self.view_end.is_some_and(|e| e >= now) {
            self.view_end = None;
        }
    }

    /// Selects the lane `by` lanes away; keeps it among the `rows` shown.
    pub fn move_lane(&mut self, by: isize, rows: usize) {
        let n = self.lanes.len();
        if n == 0 {
            return;
        }
        self.lane = self.lane.saturating_add_signed(by).min(n - 1);
        self.lane_offset = super::workers::visible_offset(self.lane_offset, self.lane, n, rows);
    }

    /// The task the cursor (or, live, the present) points at on the
    /// selected lane.
    pub fn selected_task(&self, now: Micros) -> Option<TaskId> {
        let lane = self.lanes.get(self.lane)?;
        let t = self.cursor.unwrap_or(now.saturating_sub(1));
        lane.task_at(t, self.per_cell, now).map(TaskId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane_with(spans: &[(u64, u64, SpanState)]) -> Lane {
        let mut l = Lane::default();
        for (i, &(s, e, st)) in spans.iter().enumerate() {
            l.push(i as u64 + 1, s, e, st, 3);
        }
        l
    }

    #[test]
    fn a_cell_sums_the_spans_inside_it_without_visiting_them() {
        let mut spans = Vec::new();
        for i in 0..1000u64 {
            let st = if i % 10 == 0 {
                SpanState::Failed
            } else {
                SpanState::Done
            };
            spans.push((i * 10, i * 10 + 5, st));
        }
        let l = lane_with(&spans);
        // [0, 100): spans 0..10, each 5 µs busy, one failed.
        let c = l.cell(0, 100, 20_000);
        assert_eq!((c.spans, c.busy, c.bad), (10, 50, 1));
        // Cut through the middle of spans at both edges: [3, 23).
        let c = l.cell(3, 23, 20_000);
        assert_eq!((c.spans, c.busy), (3, 2 + 5 + 3));
        // An idle gap.
        let c = l.cell(6, 9, 20_000);
        assert_eq!((c.spans, c.busy, c.only), (0, 0, None));
        assert_eq!(l.cell(10, 12, 20_000).only, Some(1));
        assert_eq!(l.busy(20_000), 5000);
    }

    #[test]
    fn the_running_task_and_paused_spans_show_up_to_now() {
        let mut t = Timeline::default();
        let w = WorkerId(1);
        t.observe(&PoolEvent::WorkerSlot { worker: w, slot: 1 }, 0);
        t.observe(
            &PoolEvent::TaskStarted {
                task: TaskId(1),
                worker: w,
                attempt: 1,
                line: "spin 9".into(),
            },
            100,
        );
        t.observe(&PoolEvent::WorkerPaused { worker: w }, 200);
        let l = &t.lanes()[0];
        let c = l.cell(150, 400, 300);
        assert!(c.running && c.paused);
        assert_eq!(c.busy, 150);
        assert_eq!(l.task_at(250, 10, 300), Some(1));
        assert!((t.utilisation(400) - 0.75).abs() < 1e-9);
        t.observe(&PoolEvent::WorkerResumed { worker: w }, 300);
        assert!(!t.lanes()[0].cell(300, 400, 400).paused);
    }

    #[test]
    fn lanes_follow_slots_and_a_respawned_worker_takes_its_slot() {
        let mut t = Timeline::default();
        t.observe(
            &PoolEvent::WorkerSlot {
                worker: WorkerId(2),
                slot: 2,
            },
            0,
        );
        t.observe(
            &PoolEvent::WorkerSlot {
                worker: WorkerId(1),
                slot: 1,
            },
            0,
        );
        t.observe(
            &PoolEvent::WorkerSlot {
                worker: WorkerId(3),
                slot: 1,
            },
            0,
        );
        let slots: Vec<_> = t.lanes().iter().map(|l| (l.slot, l.worker)).collect();
        assert_eq!(
            slots,
            [(1, Some(WorkerId(3))), (2, Some(WorkerId(2)))],
            "ordered by slot"
        );
    }

    #[test]
    fn zoom_scroll_and_live() {
        let mut t = Timeline::default();
        let now = 100_000_000; // 100 s
        assert_eq!(t.window(now, 60), (70_000_000, 100_000_000));
        t.move_cursor(-100, now, 60);
        assert_eq!(t.cursor, Some(100_000_000 - 1 - 50_000_000));
        let (t0, t1) = t.window(now, 60);
        assert!(t0 <= 49_999_999 && 49_999_999 < t1, "the cursor is in view");
        t.zoom(false, now, 60);
        assert_eq!(t.per_cell, 1_000_000);
        t.move_cursor(1000, now, 60);
        assert!(t.is_live(), "past the present is live again");
        for _ in 0..40 {
            t.zoom(true, now, 60);
        }
        assert_eq!(t.per_cell, MIN_PER_CELL);
    }
}
