//! Task attempts as spans in time on their worker's lane (its job slot),
//! from a recording's lines: what the trace and the SVG timeline draw.

use std::collections::HashMap;

use super::read::Line;

/// One task attempt on a lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The worker's job slot (its worker id when it had none).
    pub lane: u64,
    pub worker: u64,
    pub task: u64,
    pub attempt: u64,
    /// Seconds since the run started.
    pub start: f64,
    pub end: f64,
    /// `done`, `failed`, `timed_out`, `cancelled`, or `retried` (an attempt
    /// its worker died under, started again).
    pub state: String,
    pub line: String,
}

/// Turns lines into spans; see the module documentation. An attempt ends
/// at its `task_finished` (or `task_retrying`) line's `t` and lasted its
/// `wall_s`, laid no earlier than the lane's last span's end (tasks of one
/// chunk share their lines' `t`, and are laid end to end).
#[derive(Default)]
pub struct Spans {
    slots: HashMap<u64, u64>,
    /// Started attempts: start, attempt.
    started: HashMap<u64, (f64, u64)>,
    /// Where each lane's last span ended.
    cursor: HashMap<u64, f64>,
}

impl Spans {
    /// The lane of `worker`.
    pub fn lane(&self, worker: u64) -> u64 {
        self.slots.get(&worker).copied().unwrap_or(worker)
    }

    /// The span `l` ends, if it ends one.
    pub fn observe(&mut self, l: &Line<'_>) -> Option<Span> {
        match &*l.event {
            "worker_slot" => {
                if let (Some(w), Some(s)) = (l.worker, l.slot) {
                    self.slots.insert(w, s);
                }
                None
            }
            "task_started" => {
                let task = l.task?;
                self.started.insert(task, (l.t, l.attempt.unwrap_or(1)));
                None
            }
            "task_retrying" => {
                let (task, worker) = (l.task?, l.worker?);
                let (start, attempt) = self.started.remove(&task).unwrap_or((l.t, 1));
                let span = Span {
                    lane: self.lane(worker),
                    worker,
                    task,
                    attempt,
                    start,
                    end: l.t.max(start),
                    state: "retried".into(),
                    line: String::new(),
                };
                Some(self.lay(span))
            }
            "task_finished" => {
                let task = l.task?;
                let started = self.started.remove(&task);
                let worker = l.worker?;
                let wall = l.wall_s.unwrap_or(0.0).max(0.0);
                let attempt = started.map_or(l.attempts.unwrap_or(1), |s| s.1);
                let span = Span {
                    lane: self.lane(worker),
                    worker,
                    task,
                    attempt,
                    start: l.t - wall,
                    end: l.t,
                    state: l.state.as_deref().unwrap_or("done").to_string(),
                    line: l.line.as_deref().unwrap_or("").to_string(),
                };
                Some(self.lay(span))
            }
            _ => None,
        }
    }

    /// Moves `span` right, keeping its length, so that it does not start
    /// before the lane's last span ended.
    fn lay(&mut self, mut span: Span) -> Span {
        let cursor = self.cursor.entry(span.lane).or_insert(0.0);
        if span.start < *cursor {
            let len = span.end - span.start;
            span.start = *cursor;
            span.end = span.start + len;
        }
        *cursor = span.end;
        span
    }
}
