//! A worker's end: its connection closing, its process group emptying, and
//! then, once both are done and it was reaped, the fate of the tasks it
//! held, its `WorkerExited`, and its replacement.

use std::time::{Duration, Instant};

use mio::unix::SourceFd;

use super::link::Link;
use super::phase::{Gone, HeldFate, Phase};
use super::record::WorkerRecord;
use super::{GROUP_GRACE, Supervisor};
use crate::engine::events::*;
use crate::engine::proc;
use crate::ipc;
use crate::platform::GroupSignal;
use crate::task::TaskOutput;

impl Supervisor {
    /// The worker's connection ended; `error` says why when it was not a
    /// clean end (a bad frame, for example).
    pub(super) fn on_closed(&mut self, w: WorkerId, error: Option<String>) {
        if let Some(message) = error {
            self.emit(PoolEvent::Error {
                worker: Some(w),
                message: format!("worker {w}: {message}"),
            });
        }
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        if let Link::Open(conn) = std::mem::replace(&mut worker.link, Link::Closed) {
            let _ = self
                .registry
                .deregister(&mut SourceFd(&ipc::raw_fd(&conn.stream)));
        }
        // A worker that was not asked to stop and lost its connection is of
        // no use and must not linger: end its group now. It counts as a
        // crash, not as a kill.
        if worker.phase.counts_as_alive() {
            proc::signal(worker.pid, GroupSignal::Kill);
        }
        self.try_finish(w);
    }

    /// Once a worker is both reaped and disconnected, settles its tasks,
    /// reports how it ended and replaces it if the pool still wants it.
    pub(super) fn try_finish(&mut self, w: WorkerId) {
        if !self.workers.get(&w).is_some_and(WorkerRecord::is_finished) || !self.group_gone(w) {
            return;
        }
        let Some(WorkerRecord {
            pid,
            phase: Phase::Gone(gone),
            mut held,
            head_since,
            ..
        }) = self.workers.remove(&w)
        else {
            unreachable!("a finished worker is gone");
        };
        // Whatever the worker started and left behind in its group goes too.
        proc::signal(pid, GroupSignal::Kill);
        if gone.start_failure {
            self.note_start_failure();
        }
        // Judged for every worker that died so (a running task or not), so
        // that the OOM killer's count is read afresh each time.
        let crashed = self.oom.reason(w, &gone.how);
        // The first held task was running; the rest never started.
        if let Some(head) = held.pop_front() {
            self.settle_interrupted(w, head, head_since, &gone, crashed);
        }
        for never_started in held.drain(..).rev() {
            self.queue.put_back(never_started);
        }
        self.emit(PoolEvent::WorkerExited {
            worker: w,
            pid,
            how: gone.how,
        });
        self.fill_to_wanted();
    }

    /// Whether no process of a finished worker's group is left (the task it
    /// ran may have started some); kills those that are. Its task is settled
    /// only then, so that a retry never runs beside the remains of the
    /// attempt it replaces. After [`GROUP_GRACE`] the pool stops waiting;
    /// meanwhile the timers look again every [`super::GROUP_POLL`].
    fn group_gone(&mut self, w: WorkerId) -> bool {
        let Some(worker) = self.workers.get_mut(&w) else {
            return true;
        };
        if !crate::platform::group_has_live_members(worker.pid) {
            return true;
        }
        proc::signal(worker.pid, GroupSignal::Kill);
        let Phase::Gone(gone) = &mut worker.phase else {
            return true;
        };
        let since = *gone.group_wait.get_or_insert_with(Instant::now);
        if since.elapsed() < GROUP_GRACE {
            return false;
        }
        self.emit(PoolEvent::Error {
            worker: Some(w),
            message: format!(
                "worker {w}: processes of its group outlived SIGKILL by {}s; going on",
                GROUP_GRACE.as_secs()
            ),
        });
        true
    }

    /// Decides the fate of the task a worker was running (since
    /// `head_since`) when it ended as `gone` says; `crashed` is why the
    /// task failed if the worker crashed.
    fn settle_interrupted(
        &mut self,
        w: WorkerId,
        task: TaskId,
        head_since: Instant,
        gone: &Gone,
        crashed: String,
    ) {
        let attempts = self.queue.entry(task).map_or(0, |e| e.attempts);
        let wall = head_since.elapsed();
        let how = &gone.how;
        let (state, error) = match &gone.fate {
            Some(HeldFate::Cancelled(why)) => (TaskState::Cancelled, why.clone()),
            Some(HeldFate::Failed(why)) => (TaskState::Failed, why.clone()),
            Some(HeldFate::Requeue(why)) if !self.shutting_down => {
                self.queue.put_back(task);
                self.emit(PoolEvent::TaskRetrying {
                    task,
                    worker: w,
                    reason: why.clone(),
                });
                return;
            }
            Some(HeldFate::Requeue(why)) => (TaskState::Cancelled, why.clone()),
            Some(HeldFate::TimedOut) => (
                TaskState::TimedOut,
                format!(
                    "timed out after {:.3}s",
                    self.task_limit().unwrap_or_default().as_secs_f64()
                ),
            ),
            None if self.shutting_down => (
                TaskState::Cancelled,
                format!("the pool shut down while it ran ({how})"),
            ),
            None => (TaskState::Failed, crashed),
        };
        let over_memory = matches!(gone.fate, Some(HeldFate::Failed(_)));
        let retryable = state != TaskState::Cancelled && !self.shutting_down && !over_memory;
        if retryable && attempts <= self.config.retries && !self.gave_up_starting {
            self.queue.put_back(task);
            self.emit(PoolEvent::TaskRetrying {
                task,
                worker: w,
                reason: error,
            });
            return;
        }
        if let Some(entry) = self.queue.finish(task, state) {
            self.emit(PoolEvent::TaskFinished(Box::new(TaskReport {
                task,
                worker: Some(w),
                state,
                output: TaskOutput::default(),
                error: Some(error),
                wall,
                cpu: Duration::ZERO,
                max_rss: None,
                attempts: entry.attempts,
                line: entry.task.line,
            })));
            self.pause_after(state);
        }
    }
}
