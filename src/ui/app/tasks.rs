//! The tasks pane's model: every task of the run, indexed by id, with its
//! phase, and the pane's filter, selection and scroll.
//!
//! Built for a million tasks: a row is a few words, the views read a window of
//! rows in place (nothing is cloned per frame), and a filtered list is an
//! index list rebuilt only when the filter or (at most once a second) the
//! tasks change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pooltop::engine::events::{TaskId, TaskReport, TaskState, WorkerId};

use super::workers::visible_offset;

/// Rebuild a filtered list at most this often while tasks keep changing.
const FILTER_REFRESH: Duration = Duration::from_secs(1);

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Queued,
    Running,
    Done,
    Failed,
    TimedOut,
    Cancelled,
}

impl Phase {
    /// Its name as shown and as the filter matches it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Failed => "failed",
            Phase::TimedOut => "timed out",
            Phase::Cancelled => "cancelled",
        }
    }

    /// Whether the task has reached its end.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Phase::Queued | Phase::Running)
    }
}

impl From<TaskState> for Phase {
    fn from(s: TaskState) -> Phase {
        match s {
            TaskState::Done => Phase::Done,
            TaskState::Failed => Phase::Failed,
            TaskState::TimedOut => Phase::TimedOut,
            TaskState::Cancelled => Phase::Cancelled,
        }
    }
}

/// One task's row. Kept small: a million of them must fit comfortably.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub line: Arc<str>,
    pub phase: Phase,
    /// The worker of the latest attempt.
    pub worker: Option<WorkerId>,
    pub attempt: u32,
    /// When the latest attempt started, in ms since the app started.
    pub started_ms: u32,
    /// The final report, once finished (boxed: most rows never have one
    /// until they finish, and then it is what the detail view shows).
    pub report: Option<Box<TaskReport>>,
}

impl TaskRow {
    fn new(line: Arc<str>) -> TaskRow {
        TaskRow {
            line,
            phase: Phase::Queued,
            worker: None,
            attempt: 0,
            started_ms: 0,
            report: None,
        }
    }
}

/// How many tasks are in each phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub cancelled: u64,
}

impl PhaseCounts {
    fn add(&mut self, p: Phase, d: i64) {
        let c = match p {
            Phase::Queued => &mut self.queued,
            Phase::Running => &mut self.running,
            Phase::Done => &mut self.done,
            Phase::Failed => &mut self.failed,
            Phase::TimedOut => &mut self.timed_out,
            Phase::Cancelled => &mut self.cancelled,
        };
        *c = c.saturating_add_signed(d);
    }

    /// Tasks that reached their end.
    pub fn finished(&self) -> u64 {
        self.done + self.failed + self.timed_out + self.cancelled
    }

    /// Every task known.
    pub fn total(&self) -> u64 {
        self.queued + self.running + self.finished()
    }
}

/// The tasks of the run.
#[derive(Debug)]
pub struct Tasks {
    /// Row `i` is task id `i + 1` (the pool numbers tasks from 1, in order).
    rows: Vec<TaskRow>,
    pub counts: PhaseCounts,
    /// Every row before this one is finished.
    low_water: usize,
    /// The selected task; none while following the running tasks.
    pub selected: Option<TaskId>,
    /// First visible row of the (filtered) list, while a task is selected.
    pub offset: usize,
    /// The filter as typed.
    pub filter: String,
    /// Matching row indices, ascending, while a filter is set.
    filtered: Option<Vec<u32>>,
    /// Bumped on every change of a row's phase.
    generation: u64,
    built_generation: u64,
    built_at: Option<Instant>,
    unknown_line: Arc<str>,
}

impl Default for Tasks {
    fn default() -> Tasks {
        Tasks {
            rows: Vec::new(),
            counts: PhaseCounts::default(),
            low_water: 0,
            selected: None,
            offset: 0,
            filter: String::new(),
            filtered: None,
            generation: 0,
            built_generation: 0,
            built_at: None,
            unknown_line: Arc::from("?"),
        }
    }
}

fn index(id: TaskId) -> Option<usize> {
    usize::try_from(id.0).ok()?.checked_sub(1)
}

impl Tasks {
    /// The row of task `id`.
    pub fn get(&self, id: TaskId) -> Option<&TaskRow> {
        self.rows.get(index(id)?)
    }

    fn get_mut(&mut self, id: TaskId) -> Option<&mut TaskRow> {
        let i = index(id)?;
        if i >= self.rows.len() {
            // The pool spoke of a task not seen being submitted: make room.
            if i - self.rows.len() > 10_000_000 {
                return None;
            }
            let line = self.unknown_line.clone();
            self.rows.resize_with(i + 1, || TaskRow::new(line.clone()));
        }
        self.rows.get_mut(i)
    }

    /// How many tasks the pane knows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no task is known.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Records the lines of tasks just submitted, ids `first, first+1, …`.
    /// Their phase counts once the pool confirms with `queued`.
    pub fn submitted(&mut self, first: TaskId, lines: impl IntoIterator<Item = Arc<str>>) {
        let Some(start) = index(first) else { return };
        for (k, line) in lines.into_iter().enumerate() {
            let i = start + k;
            if i < self.rows.len() {
                self.rows[i].line = line;
            } else if i == self.rows.len() {
                self.rows.push(TaskRow::new(line));
            } else if let Some(r) = self.get_mut(TaskId(i as u64 + 1)) {
                r.line = line;
            }
        }
    }

    /// The pool queued `count` tasks from `first` on.
    pub fn queued(&mut self, first: TaskId, count: usize) {
        if count == 0 {
            return;
        }
        // Make sure the rows exist (they do when this app submitted them).
        let _ = self.get_mut(TaskId(first.0 + count as u64 - 1));
        self.counts.queued += count as u64;
        self.generation += 1;
    }

    /// Task `id` started its attempt `attempt` on `worker`.
    pub fn started(&mut self, id: TaskId, worker: WorkerId, attempt: u32, at_ms: u32) -> Arc<str> {
        let Some(r) = self.get_mut(id) else {
            return Arc::from("?");
        };
        let old = r.phase;
        r.phase = Phase::Running;
        r.worker = Some(worker);
        r.attempt = attempt;
        r.started_ms = at_ms;
        let line = r.line.clone();
        self.move_count(old, Phase::Running);
        line
    }

    /// Task `id` goes back to the queue for another attempt.
    pub fn retrying(&mut self, id: TaskId) {
        let Some(r) = self.get_mut(id) else { return };
        let old = r.phase;
        r.phase = Phase::Queued;
        self.move_count(old, Phase::Queued);
    }

    /// Task `report.task` reached its end.
    pub fn finished(&mut self, report: Box<TaskReport>) {
        let id = report.task;
        let Some(r) = self.get_mut(id) else { return };
        let old = r.phase;
        let new = Phase::from(report.state);
        r.phase = new;
        if report.worker.is_some() {
            r.worker = report.worker;
        }
        r.attempt = report.attempts;
        // Cancelled tasks that never ran carry nothing worth a detail view;
        // skipping their box keeps a shutdown with a million queued tasks cheap.
        if !(new == Phase::Cancelled && report.attempts == 0) {
            r.report = Some(report);
        }
        self.move_count(old, new);
        while self
            .rows
            .get(self.low_water)
            .is_some_and(|r| r.phase.is_terminal())
        {
            self.low_water += 1;
        }
    }

    fn move_count(&mut self, old: Phase, new: Phase) {
        if old != new {
            self.counts.add(old, -1);
            self.counts.add(new, 1);
        }
        self.generation += 1;
    }

    // ---- the visible list (filtered or not) ----

    /// How many rows the list has (matching the filter, when one is set).
    pub fn list_len(&self) -> usize {
        match &self.filtered {
            Some(f) => f.len(),
            None => self.rows.len(),
        }
    }

    /// The row index behind list position `pos`.
    pub fn list_index(&self, pos: usize) -> Option<usize> {
        match &self.filtered {
            Some(f) => f.get(pos).map(|&i| i as usize),
            None => (pos < self.rows.len()).then_some(pos),
        }
    }

    /// The task id and row at list position `pos`.
    pub fn list_row(&self, pos: usize) -> Option<(TaskId, &TaskRow)> {
        let i = self.list_index(pos)?;
        Some((TaskId(i as u64 + 1), &self.rows[i]))
    }

    /// Where row index `i` is in the list (or would be inserted).
    fn list_pos_of(&self, i: usize) -> usize {
        match &self.filtered {
            Some(f) => f.partition_point(|&x| (x as usize) < i),
            None => i,
        }
    }

    /// The list position of the selection, if any.
    pub fn selected_pos(&self) -> Option<usize> {
        self.selected.and_then(index).map(|i| self.list_pos_of(i))
    }

    /// The first visible list position for a viewport of `height` rows: the
    /// selection's neighbourhood, or, while following, the oldest unfinished
    /// task with two finished ones above it.
    pub fn window_start(&self, height: usize) -> usize {
        let len = self.list_len();
        match self.selected_pos() {
            Some(pos) => visible_offset(self.offset, pos, len, height),
            None => {
                let anchor = self.list_pos_of(self.low_water);
                anchor.saturating_sub(2).min(len.saturating_sub(height))
            }
        }
    }

    /// The task a detail view or an Enter is about: the selection, or the
    /// first visible one while following.
    pub fn focus_task(&self, height: usize) -> Option<TaskId> {
        self.selected.or_else(|| {
            self.list_index(self.window_start(height))
                .map(|i| TaskId(i as u64 + 1))
        })
    }

    /// Moves the selection by `delta` list rows (starting from the followed
    /// window when nothing is selected).
    pub fn move_by(&mut self, delta: isize, height: usize) {
        let len = self.list_len();
        if len == 0 {
            return;
        }
        let from = match self.selected_pos() {
            Some(p) => p.min(len - 1),
            None => {
                self.offset = self.window_start(height);
                // A first ↑/↓ lands on the oldest unfinished task; longer
                // moves count from there.
                let anchor = self.list_pos_of(self.low_water).min(len - 1);
                if delta.abs() <= 1 {
                    self.select_pos(anchor, height);
                    return;
                }
                anchor
            }
        };
        let pos = (from as isize + delta).clamp(0, len as isize - 1) as usize;
        self.select_pos(pos, height);
    }

    /// Selects list position `pos` and scrolls it into view.
    pub fn select_pos(&mut self, pos: usize, height: usize) {
        if let Some(i) = self.list_index(pos) {
            self.selected = Some(TaskId(i as u64 + 1));
            self.offset = visible_offset(self.offset, pos, self.list_len(), height);
        }
    }

    /// Stops selecting: the pane follows the running tasks again.
    pub fn follow(&mut self) {
        self.selected = None;
        self.offset = 0;
    }

    // ---- the filter ----

    /// Sets the filter text (empty clears it) and rebuilds the list.
    pub fn set_filter(&mut self, text: &str, now: Instant) {
        self.filter = text.to_string();
        self.rebuild(now);
    }

    /// Rebuilds a stale filtered list, at most once per `FILTER_REFRESH`.
    pub fn refresh_filter(&mut self, now: Instant) -> bool {
        let due = self
            .built_at
            .is_none_or(|t| now.saturating_duration_since(t) >= FILTER_REFRESH);
        if self.filtered.is_some() && self.generation != self.built_generation && due {
            self.rebuild(now);
            return true;
        }
        false
    }

    fn rebuild(&mut self, now: Instant) {
        let words: Vec<String> = self
            .filter
            .split_whitespace()
            .map(|w| w.to_ascii_lowercase())
            .collect();
        self.built_generation = self.generation;
        self.built_at = Some(now);
        if words.is_empty() {
            self.filtered = None;
            return;
        }
        let list: Vec<u32> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| words.iter().all(|w| matches(r, w)))
            .map(|(i, _)| i as u32)
            .collect();
        self.filtered = Some(list);
    }

    /// Whether a filter is set.
    pub fn is_filtered(&self) -> bool {
        self.filtered.is_some()
    }
}

/// A filter word matches a task whose phase name starts with it (`fail`,
/// `run`, `timed`) or whose line contains it (ASCII case ignored).
fn matches(r: &TaskRow, word: &str) -> bool {
    let phase = r.phase.name();
    phase.starts_with(word)
        || (word == "timed_out" && r.phase == Phase::TimedOut)
        || contains_ignore_ascii_case(&r.line, word)
}

fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::task::TaskOutput;

    fn report(id: u64, state: TaskState) -> Box<TaskReport> {
        Box::new(TaskReport {
            task: TaskId(id),
            worker: Some(WorkerId(1)),
            state,
            output: TaskOutput::default(),
            error: None,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            max_rss: None,
            attempts: 1,
            line: Arc::from("x"),
        })
    }

    fn tasks(n: u64) -> Tasks {
        let mut t = Tasks::default();
        t.submitted(TaskId(1), (1..=n).map(|i| Arc::from(format!("square {i}"))));
        t.queued(TaskId(1), n as usize);
        t
    }

    #[test]
    fn counts_follow_phases_and_retries() {
        let mut t = tasks(3);
        assert_eq!(t.counts.queued, 3);
        t.started(TaskId(1), WorkerId(1), 1, 0);
        t.started(TaskId(2), WorkerId(2), 1, 0);
        t.retrying(TaskId(2));
        t.finished(report(1, TaskState::Done));
        assert_eq!(
            t.counts,
            PhaseCounts {
                queued: 2,
                running: 0,
                done: 1,
                ..Default::default()
            }
        );
        t.finished(report(2, TaskState::Cancelled));
        t.finished(report(3, TaskState::Failed));
        assert_eq!(t.counts.finished(), 3);
        assert_eq!(t.counts.total(), 3);
    }

    #[test]
    fn follows_oldest_unfinished_task() {
        let mut t = tasks(100);
        for i in 1..=50 {
            t.finished(report(i, TaskState::Done));
        }
        assert_eq!(t.window_start(10), 48);
        for i in 51..=100 {
            t.finished(report(i, TaskState::Done));
        }
        assert_eq!(t.window_start(10), 90);
    }

    #[test]
    fn filter_by_phase_or_text_and_selection_survives() {
        let mut t = tasks(20);
        let now = Instant::now();
        t.finished(report(3, TaskState::Failed));
        t.finished(report(7, TaskState::Failed));
        t.set_filter("fail", now);
        assert_eq!(t.list_len(), 2);
        assert_eq!(t.list_row(1).unwrap().0, TaskId(7));
        t.set_filter("square 1", now);
        assert_eq!(t.list_len(), 11); // 1, 10..=19
        t.select_pos(3, 5);
        assert_eq!(t.selected, Some(TaskId(12)));
        t.set_filter("", now);
        assert!(!t.is_filtered());
        assert_eq!(t.selected_pos(), Some(11));
        // A stale filtered list is rebuilt, but not more than once a second.
        t.set_filter("failed", now);
        t.finished(report(9, TaskState::Failed));
        assert!(!t.refresh_filter(now));
        assert!(t.refresh_filter(now + Duration::from_secs(1)));
        assert_eq!(t.list_len(), 3);
    }

    #[test]
    fn first_move_lands_on_oldest_unfinished() {
        let mut t = tasks(10);
        t.finished(report(1, TaskState::Done));
        t.move_by(1, 5);
        assert_eq!(t.selected, Some(TaskId(2)));
        t.move_by(1, 5);
        assert_eq!(t.selected, Some(TaskId(3)));
        t.move_by(-10, 5);
        assert_eq!(t.selected, Some(TaskId(1)));
    }
}
