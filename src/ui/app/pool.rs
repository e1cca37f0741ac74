//! How pool events change the dashboard: rows, counters and the event log.
//!
//! [`App::pool_event`] only dispatches: each event has a small handler, and
//! the handlers come in three families (a worker's life, a task's life, the
//! pool as a whole).

use std::sync::Arc;
use std::time::Duration;

use crate::ui::fmt;
use crate::ui::status::Level;
use pooltop::engine::events::{
    Command, Counts, ExitHow, PoolEvent, TaskId, TaskReport, TaskState, WorkerId,
};

use super::{App, Effect, Quitting};

impl App {
    pub(super) fn pool_event(&mut self, ev: PoolEvent) -> Option<Effect> {
        match ev {
            PoolEvent::WorkerSpawned { worker, pid } => self.worker_spawned(worker, pid),
            // The dashboard does not show job slots (yet); the worker table
            // (`App::workers`, fed in `App::update`) has taken in the rest.
            PoolEvent::WorkerSlot { .. }
            | PoolEvent::WorkerHost { .. }
            | PoolEvent::WorkerPending { .. }
            | PoolEvent::WorkerReady { .. } => {}
            PoolEvent::WorkerPaused { worker } => self.worker_paused(worker),
            PoolEvent::WorkerResumed { worker } => self.worker_resumed(worker),
            PoolEvent::WorkerStopping {
                worker,
                join_timeout,
            } => self.worker_stopping(worker, join_timeout),
            PoolEvent::WorkerExited { worker, pid, how } => self.worker_exited(worker, pid, how),
            PoolEvent::TasksQueued {
                first,
                count,
                lines,
            } => self.tasks_queued(first, count, lines),
            PoolEvent::TaskStarted {
                task,
                worker,
                attempt,
                ..
            } => self.task_started(task, worker, attempt),
            PoolEvent::TaskRetrying {
                task,
                worker,
                reason,
            } => self.task_retrying(task, worker, reason),
            PoolEvent::TaskOutput { task, text, .. } => self.live.push(task, &text),
            PoolEvent::TaskFinished(report) => {
                self.live.forget(report.task);
                self.task_finished(report)
            }
            PoolEvent::TaskRetried { task, retry } => {
                self.log
                    .push(self.now, Level::Info, format!("{task} retried as {retry}"))
            }
            PoolEvent::TaskToFront { task } => {
                self.log
                    .push(self.now, Level::Info, format!("{task} moved to the front"))
            }
            // Each task keeps its row and its report for the detail view.
            PoolEvent::TasksDone(run) => {
                for each in run.events() {
                    self.pool_event(each);
                }
            }
            PoolEvent::DispatchPaused(paused) => self.dispatch_paused(paused),
            PoolEvent::DispatchHeld(hold) => self.held = hold,
            PoolEvent::Scaled { workers } => self.scaled(workers),
            PoolEvent::Error { worker, message } => self.pool_error(worker, message),
            PoolEvent::Drained(counts) => return self.pool_drained(counts),
            PoolEvent::Stopped(counts) => self.pool_stopped(counts),
            PoolEvent::Sample(sample) => self.sample(&sample),
            PoolEvent::Stalled { for_ } => self.log.push(
                self.now,
                Level::Warn,
                format!("manager stalled {}", fmt::dur(for_)),
            ),
            // The pool's hung detector decides; the worker table shows it.
            PoolEvent::WorkerHung { .. } | PoolEvent::WorkerUnhung { .. } => {}
        }
        None
    }
}

/// A worker's life: spawned, ready, paused and resumed, stopping, exited.
impl App {
    fn worker_spawned(&mut self, worker: WorkerId, pid: u32) {
        self.log.push(
            self.now,
            Level::Info,
            format!("{worker} started (pid {pid})"),
        );
    }

    fn worker_paused(&mut self, worker: WorkerId) {
        self.log
            .push(self.now, Level::Info, format!("{worker} paused"));
    }

    fn worker_resumed(&mut self, worker: WorkerId) {
        self.log
            .push(self.now, Level::Info, format!("{worker} resumed"));
    }

    fn worker_stopping(&mut self, worker: WorkerId, join_timeout: Option<Duration>) {
        let text = match join_timeout {
            Some(t) => format!("{worker} stopping (killed after {})", fmt::dur(t)),
            None => format!("{worker} retiring after its task"),
        };
        self.log.push(self.now, Level::Info, text);
    }

    fn worker_exited(&mut self, worker: WorkerId, pid: u32, how: ExitHow) {
        let now = self.now;
        let level = match how {
            ExitHow::Exited(_) => Level::Info,
            ExitHow::Killed { .. } => Level::Warn,
            ExitHow::Crashed { .. } => Level::Error,
        };
        self.log
            .push(now, level, format!("{worker} (pid {pid}) {how}"));
    }
}

/// A task's life: queued, started, retrying, finished.
impl App {
    fn tasks_queued(&mut self, first: TaskId, count: usize, lines: Vec<Arc<str>>) {
        // Known already when this dashboard submitted them; news when
        // they came from elsewhere (a task file, `pooltop submit`).
        self.tasks.submitted(first, lines);
        self.tasks.queued(first, count);
        let last = first.0 + count as u64 - 1;
        let text = if count == 1 {
            format!("queued {first}")
        } else {
            format!("queued {count} tasks ({first}..#{last})")
        };
        self.log.push(self.now, Level::Info, text);
        self.drained = None;
    }

    fn task_started(&mut self, task: TaskId, worker: WorkerId, attempt: u32) {
        let now = self.now;
        let ms = self.ms_since_start();
        self.tasks.started(task, worker, attempt, ms);
        if attempt > 1 {
            self.log.push(
                now,
                Level::Warn,
                format!("{task} attempt {attempt} on {worker}"),
            );
        }
    }

    fn task_retrying(&mut self, task: TaskId, worker: WorkerId, reason: String) {
        let now = self.now;
        self.live.forget(task);
        self.tasks.retrying(task);
        self.log.push(
            now,
            Level::Warn,
            format!("{task} will retry ({worker}: {reason})"),
        );
    }

    fn task_finished(&mut self, report: Box<TaskReport>) {
        let now = self.now;
        let on = report
            .worker
            .map(|w| format!(" on {w}"))
            .unwrap_or_default();
        match report.state {
            TaskState::Failed => self.log.push(
                now,
                Level::Error,
                format!(
                    "{} failed{on}: {}",
                    report.task,
                    fmt::first_line(report.error.as_deref().unwrap_or("?"))
                ),
            ),
            TaskState::TimedOut => {
                self.log
                    .push(now, Level::Error, format!("{} timed out{on}", report.task))
            }
            // Done and cancelled tasks are counted, not logged one by
            // one (a shutdown may cancel a million).
            TaskState::Done | TaskState::Cancelled => {}
        }
        self.tasks.finished(report);
    }
}

/// The pool as a whole: dispatch, size, errors, drained and stopped.
impl App {
    fn dispatch_paused(&mut self, paused: bool) {
        self.dispatch_paused = paused;
        let text = if paused {
            "dispatch paused: no new task starts"
        } else {
            "dispatch resumed"
        };
        self.log.push(self.now, Level::Info, text);
    }

    fn scaled(&mut self, workers: usize) {
        self.target_workers = workers;
        self.log.push(
            self.now,
            Level::Info,
            format!("pool scaled to {}", crate::report::workers(workers)),
        );
    }

    fn pool_error(&mut self, worker: Option<WorkerId>, message: String) {
        let who = worker.map(|w| format!("{w}: ")).unwrap_or_default();
        self.log
            .push(self.now, Level::Error, format!("error: {who}{message}"));
    }

    /// Every task has finished: with `exit_when_done`, that is the time to
    /// shut down.
    fn pool_drained(&mut self, counts: Counts) -> Option<Effect> {
        self.drained = Some(counts);
        self.log.push(
            self.now,
            Level::Info,
            format!("all {} tasks finished", counts.finished()),
        );
        // A long list reaches the pool in slices and the queue may run dry
        // between two: that drain, with fewer tasks counted than this
        // dashboard submitted, is not the end.
        let all_counted = counts.submitted >= self.tasks.len() as u64;
        if self.cfg.exit_when_done && self.quitting == Quitting::No && all_counted {
            self.quitting = Quitting::Graceful;
            return Some(Effect::Send(Command::Shutdown));
        }
        None
    }

    fn pool_stopped(&mut self, counts: Counts) {
        let now = self.now;
        if counts.cancelled > 0 {
            self.log.push(
                now,
                Level::Warn,
                format!("{} tasks cancelled", counts.cancelled),
            );
        }
        self.log.push(now, Level::Info, "pool stopped");
        self.stopped = Some(counts);
    }
}
