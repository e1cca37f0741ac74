//! Orders about one task rather than one worker: cancel it, retry it, move
//! it to the front of the queue (`Command::CancelTask`, `RetryTask`,
//! `RetryFailed`, `FrontTask`).
//!
//! A retry is a new task with a new id, linked to the one it retries by
//! `PoolEvent::TaskRetried`: the old task keeps the end state it reached, so
//! every task still ends exactly once and the summary still reads submitted
//! = done + failed + timed out + cancelled; `Counts::retried` says how many
//! of the submitted are retries.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Supervisor;
use super::phase::HeldFate;
use crate::engine::events::*;
use crate::platform::GroupSignal;
use crate::task::TaskOutput;

/// Why a task cancelled by the user ended.
const CANCELLED_BY_USER: &str = "cancelled by the user";

impl Supervisor {
    /// Says that an order about task `task` could not be carried out.
    fn refuse(&mut self, what: &str, task: TaskId, why: &str) {
        self.emit(PoolEvent::Error {
            worker: None,
            message: format!("cannot {what} task {task}: {why}"),
        });
    }

    /// A queued task ends `cancelled` at once; a running one has its worker
    /// killed (and replaced), and ends `cancelled` once that worker is gone.
    pub(super) fn cancel_task(&mut self, task: TaskId) {
        if let Some(entry) = self.queue.cancel_one(task) {
            self.emit(PoolEvent::TaskFinished(Box::new(TaskReport {
                task,
                worker: None,
                state: TaskState::Cancelled,
                output: TaskOutput::default(),
                error: Some(CANCELLED_BY_USER.into()),
                wall: Duration::ZERO,
                cpu: Duration::ZERO,
                attempts: entry.attempts,
                max_rss: None,
                line: entry.task.line,
            })));
            return;
        }
        let holder = self
            .workers
            .iter()
            .find(|(_, s)| s.held.contains(&task))
            .map(|(w, s)| (*w, s.held.front() == Some(&task)));
        match holder {
            Some((w, true)) => {
                self.kill_worker(
                    w,
                    GroupSignal::Kill,
                    format!("its task {task} was cancelled"),
                    HeldFate::Cancelled(CANCELLED_BY_USER.into()),
                );
                self.fill_to_wanted();
            }
            // Handed to the worker in a chunk, behind the task it runs:
            // the worker has it and would run it, so killing the worker
            // would end the task it runs too.
            Some((w, false)) => self.refuse(
                "cancel",
                task,
                &format!("worker {w} holds it behind its running task; cancel it once it runs"),
            ),
            None if self.queue.retryable_state(task).is_some() || self.is_past(task) => {
                self.refuse("cancel", task, "it has ended")
            }
            None => self.refuse("cancel", task, "there is no such task"),
        }
    }

    /// Runs an ended failed, timed-out or cancelled task again as a new task.
    pub(super) fn retry_task(&mut self, task: TaskId) {
        if self.shutting_down {
            return self.refuse("retry", task, "the pool is shutting down");
        }
        if self.queue.retryable_state(task).is_none() {
            let why = if self.queue.entry(task).is_some() {
                "it has not ended"
            } else if self.is_past(task) {
                "it ended done or was retried already"
            } else {
                "there is no such task"
            };
            return self.refuse("retry", task, why);
        }
        let new = TaskId(self.task_ids.fetch_add(1, Ordering::Relaxed));
        let Some(line) = self.queue.retry(task, new) else {
            return;
        };
        self.drained_reported = false;
        self.emit(PoolEvent::TaskRetried { task, retry: new });
        self.emit(PoolEvent::TasksQueued {
            first: new,
            count: 1,
            lines: vec![line],
        });
    }

    /// Retries every task that ended failed or timed out, in id order.
    pub(super) fn retry_failed_tasks(&mut self) {
        for task in self.queue.failed_ids() {
            self.retry_task(task);
        }
    }

    /// Moves a queued task to the front of the queue.
    pub(super) fn front_task(&mut self, task: TaskId) {
        if self.queue.move_to_front(task) {
            self.emit(PoolEvent::TaskToFront { task });
        } else {
            let why = if self.queue.entry(task).is_some() {
                "it is not queued: it runs or is handed to a worker"
            } else {
                "it is not queued"
            };
            self.refuse("move to the front", task, why);
        }
    }

    /// Whether `task` is an id the pool has handed out.
    fn is_past(&self, task: TaskId) -> bool {
        task.0 >= 1 && task.0 < self.task_ids.load(Ordering::Relaxed)
    }
}
