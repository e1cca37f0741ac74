//! What the workers, handshake threads and reapers report.

use std::time::{Duration, Instant};

use interprocess::local_socket::traits::Stream as _;
use mio::Interest;
use mio::unix::SourceFd;

use super::slot::{HeldFate, ReadOutcome, Slot};
use super::{GROUP_GRACE, Supervisor, token_of};
use crate::engine::conn::ConnEvent;
use crate::engine::events::*;
use crate::engine::proc;
use crate::ipc::{self, Stream};
use crate::platform::GroupSignal;
use crate::protocol::{FromWorker, Hello, ToWorker};
use crate::task::{RunValues, TaskOutcome, TaskOutput};

impl Supervisor {
    // ----- news from the sockets and reapers -----

    pub(super) fn conn_event(&mut self, ev: ConnEvent) {
        match ev {
            ConnEvent::Hello { hello, stream } => self.on_hello(hello, stream),
            ConnEvent::Refused { reason } => self.emit(PoolEvent::Error {
                worker: None,
                message: reason,
            }),
            ConnEvent::Reaped { worker, status } => {
                if let Some(slot) = self.workers.get_mut(&worker) {
                    slot.reaped = Some(status);
                    self.try_finish(worker);
                }
            }
        }
    }

    /// The worker's socket has something to read (or has closed).
    pub(super) fn on_readable(&mut self, w: WorkerId) {
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        let mut frames = std::mem::take(&mut self.frames);
        let outcome = slot.read_frames(|f| frames.push(f));
        // One reading of the clock for all the frames read together.
        let now = Instant::now();
        for f in frames.drain(..) {
            self.on_frame(w, f, now);
        }
        self.frames = frames;
        match outcome {
            ReadOutcome::Open => {}
            ReadOutcome::Closed => self.on_closed(w, None),
            ReadOutcome::Broken(why) => self.on_closed(w, Some(why)),
        }
    }

    /// The worker's connection ended; `error` says why when it was not a
    /// clean end (a bad frame, for example).
    pub(super) fn on_closed(&mut self, w: WorkerId, error: Option<String>) {
        if let Some(message) = error {
            self.emit(PoolEvent::Error {
                worker: Some(w),
                message: format!("worker {w}: {message}"),
            });
        }
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        slot.closed = true;
        if let Some(conn) = slot.conn.take() {
            let _ = self.registry.deregister(&mut SourceFd(&ipc::raw_fd(&conn)));
        }
        // A worker that was not asked to stop and lost its connection is of
        // no use and must not linger: end its group now. It counts as a
        // crash, not as a kill.
        if slot.reaped.is_none() && slot.killed.is_none() && slot.stopping.is_none() {
            proc::signal(slot.pid, GroupSignal::Kill);
        }
        self.try_finish(w);
    }

    pub(super) fn on_hello(&mut self, hello: Hello, stream: Stream) {
        let id = WorkerId(hello.worker);
        let Some(slot) = self.workers.get_mut(&id) else {
            if id.0 < self.next_worker {
                // One of ours that was killed and reaped while its handshake
                // was in flight (a shutdown during start-up): already reported.
                return;
            }
            self.emit(PoolEvent::Error {
                worker: None,
                message: format!(
                    "refused a handshake from unknown worker {id} (pid {})",
                    hello.pid
                ),
            });
            return;
        };
        if slot.pid != hello.pid || slot.ever_connected || slot.reaped.is_some() {
            self.emit(PoolEvent::Error {
                worker: Some(id),
                message: format!(
                    "refused a second or mismatched handshake for worker {id} (pid {})",
                    hello.pid
                ),
            });
            return;
        }
        let watched = stream.set_nonblocking(true).and_then(|()| {
            self.registry.register(
                &mut SourceFd(&ipc::raw_fd(&stream)),
                token_of(id),
                Interest::READABLE,
            )
        });
        if let Err(e) = watched {
            self.emit(PoolEvent::Error {
                worker: Some(id),
                message: format!("cannot watch worker {id}'s connection: {e}"),
            });
            return;
        }
        slot.conn = Some(stream);
        slot.ever_connected = true;
        self.start_failures = 0;
        let welcome = ToWorker::Welcome {
            out_dir: self.config.out_dir.to_string_lossy().into_owned(),
            output_cap: self.config.output_cap as u64,
            slot: slot.job_slot,
            spill_dir: self
                .config
                .spill_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let _ = slot.queue_frame(&welcome); // a path: far below the cap
        let pid = slot.pid;
        self.emit(PoolEvent::WorkerReady { worker: id, pid });
    }

    pub(super) fn on_frame(&mut self, w: WorkerId, msg: FromWorker, now: Instant) {
        match msg {
            FromWorker::Finished {
                task,
                outcome,
                wall_ns,
                cpu_ns,
            } => {
                self.on_finished(w, TaskId(task), outcome, (wall_ns, cpu_ns), now);
            }
            FromWorker::Values { first, results } => self.on_values(w, TaskId(first), results, now),
            FromWorker::Hello(_) => self.protocol_error(w, "sent a second handshake".into()),
        }
    }

    /// A run of instant tasks ended with a value each: task `first` and the
    /// ones the worker holds after it, in order.
    ///
    /// `first` was reported started when it became the worker's head, so it
    /// gets its own `TaskFinished`. The tasks after it started and ended
    /// between two reads of the socket, unseen: they are reported together
    /// as one [`DoneRun`] rather than as two events each. (A task that
    /// cannot be, one that ran before, goes the long way.)
    fn on_values(&mut self, w: WorkerId, first: TaskId, results: RunValues, now: Instant) {
        let Some(slot) = self.workers.get(&w) else {
            return;
        };
        if slot.held.front() != Some(&first) || slot.held.len() < results.len() {
            let what = format!(
                "reported {} tasks from task {first}, which it was not running next",
                results.len(),
            );
            self.protocol_error(w, what);
            return;
        }
        let mut run = DoneRun::with_capacity(w, first, results.len());
        let mut head = Some(first);
        for (i, (value, wall_ns)) in results.iter().enumerate() {
            let Some(task) = head else { break };
            if i > 0
                && let Some(next) = self.end_unseen(w, task, value, wall_ns, now, &mut run)
            {
                head = next;
                continue;
            }
            self.emit_run(&mut run, w);
            if i > 0 {
                self.mark_started(w, task);
            }
            let output = TaskOutput {
                value: value.to_string(),
                ..TaskOutput::default()
            };
            head = self.end_head(w, task, TaskOutcome::Ok(output), (wall_ns, wall_ns), now);
        }
        self.emit_run(&mut run, w);
        if let Some(next) = head {
            self.mark_started(w, next);
        }
    }

    /// Ends the worker's head `task`, which it reports done with `value`,
    /// into `run` if it can end unseen: it never started before, it is
    /// instant (so the slot counts no slow task for it) and no setting
    /// waits on each task that ends done. Then returns the task the worker
    /// runs next, if it holds one; none if the task cannot end unseen.
    fn end_unseen(
        &mut self,
        w: WorkerId,
        task: TaskId,
        value: &str,
        wall_ns: u64,
        now: Instant,
        run: &mut DoneRun,
    ) -> Option<Option<TaskId>> {
        if self.config.pause_dispatch_after.contains(&TaskState::Done) {
            return None;
        }
        let slot = self.workers.get_mut(&w)?;
        let unseen = |e: &crate::engine::queue::Entry| e.attempts == 0 && e.task.spec.is_instant();
        let entry = self.queue.finish_if(task, TaskState::Done, unseen)?;
        let next = slot.end_head(now);
        let wall = Duration::from_nanos(wall_ns);
        self.run_times.push(wall);
        if run.next() != task {
            // Not adjacent to the run (a task put back earlier): a new run.
            self.emit_run(run, w);
            run.start_at(task);
        }
        run.push(value, wall, entry.task.line);
        Some(next)
    }

    /// Sends `run` if it holds any task, leaving an empty one in its place.
    fn emit_run(&mut self, run: &mut DoneRun, w: WorkerId) {
        if !run.is_empty() {
            let done = std::mem::replace(run, DoneRun::with_capacity(w, run.next(), 0));
            self.emit(PoolEvent::TasksDone(Box::new(done)));
        }
    }

    pub(super) fn protocol_error(&mut self, w: WorkerId, what: String) {
        self.emit(PoolEvent::Error {
            worker: Some(w),
            message: format!("worker {w} {what}; killing it"),
        });
        self.kill_worker(
            w,
            GroupSignal::Kill,
            "protocol error".into(),
            HeldFate::Cancelled("its worker broke the protocol".into()),
        );
        // Its task is retried like after a crash.
        if let Some(s) = self.workers.get_mut(&w) {
            s.held_fate = None;
        }
    }

    /// Task `task` ended inside worker `w` (its wall and CPU time in
    /// nanoseconds); `now` is when the supervisor read the report. The task
    /// the worker holds next, if any, is now the one it runs.
    pub(super) fn on_finished(
        &mut self,
        w: WorkerId,
        task: TaskId,
        outcome: TaskOutcome,
        times: (u64, u64),
        now: Instant,
    ) {
        if let Some(next) = self.end_head(w, task, outcome, times, now) {
            self.mark_started(w, next);
        }
    }

    /// Ends the head task of worker `w` with its own `TaskFinished` (or a
    /// retry); returns the task the worker holds next, if any, not yet
    /// reported started.
    fn end_head(
        &mut self,
        w: WorkerId,
        task: TaskId,
        outcome: TaskOutcome,
        (wall_ns, cpu_ns): (u64, u64),
        now: Instant,
    ) -> Option<TaskId> {
        let slot = self.workers.get_mut(&w)?;
        if slot.held.front() != Some(&task) {
            let what = format!("reported task {task}, which it was not running");
            self.protocol_error(w, what);
            return None;
        }
        // (A result that raced with our kill counts: the task finished.)
        let next = slot.end_head(now);
        let wall = Duration::from_nanos(wall_ns);
        let was_instant = self
            .queue
            .entry(task)
            .is_some_and(|e| e.task.spec.is_instant());
        if !was_instant {
            slot.slow_held -= 1;
        }
        let (state, output, error) = match outcome {
            TaskOutcome::Ok(out) => (TaskState::Done, out, None),
            TaskOutcome::Err { message, output } => (TaskState::Failed, output, Some(message)),
        };
        if state == TaskState::Done {
            // An increment in a fixed histogram: kept for every pool rather
            // than for the settings that read it (median timeout, quick
            // prefetch, automatic chunks), which would need to stay in step.
            self.run_times.push(wall);
        }
        if state == TaskState::Failed && self.retries_failed(task) {
            self.queue.put_back(task);
            self.emit(PoolEvent::TaskRetrying {
                task,
                worker: w,
                reason: error.unwrap_or_default(),
            });
        } else if let Some(entry) = self.queue.finish(task, state) {
            self.emit(PoolEvent::TaskFinished(Box::new(TaskReport {
                task,
                worker: Some(w),
                state,
                output,
                error,
                wall,
                cpu: Duration::from_nanos(cpu_ns),
                attempts: entry.attempts,
                line: entry.task.line,
            })));
            self.pause_after(state);
        }
        next
    }

    /// Whether a task that failed by itself is to run again
    /// (`PoolConfig::retry_failed`).
    fn retries_failed(&self, task: TaskId) -> bool {
        self.config.retry_failed
            && !self.shutting_down
            && !self.gave_up_starting
            && self
                .queue
                .entry(task)
                .is_some_and(|e| e.attempts <= self.config.retries)
    }

    /// Pauses dispatch after a task ended in a state listed in
    /// `PoolConfig::pause_dispatch_after`: before any other task starts, the
    /// consumer decides whether to go on.
    fn pause_after(&mut self, state: TaskState) {
        if self.config.pause_dispatch_after.contains(&state) {
            self.set_dispatch_paused(true);
        }
    }

    /// A held task has become the one its worker is running.
    pub(super) fn mark_started(&mut self, w: WorkerId, task: TaskId) {
        if let Some(entry) = self.queue.entry_mut(task) {
            entry.attempts += 1;
            let attempt = entry.attempts;
            let line = entry.task.line.clone();
            self.emit(PoolEvent::TaskStarted {
                task,
                worker: w,
                attempt,
                line,
            });
        }
    }

    /// Once a worker is both reaped and disconnected, settles its tasks,
    /// reports how it ended and replaces it if the pool still wants it.
    pub(super) fn try_finish(&mut self, w: WorkerId) {
        if !self.workers.get(&w).is_some_and(Slot::is_finished) || !self.group_gone(w) {
            return;
        }
        let mut slot = self.workers.remove(&w).expect("checked above");
        // Whatever the worker started and left behind in its group goes too.
        proc::signal(slot.pid, GroupSignal::Kill);
        let (signal, code) = proc::status_parts(slot.reaped.as_ref().expect("finished"));
        let how = if let Some((sent, why)) = slot.killed.clone() {
            ExitHow::Killed {
                signal: signal.unwrap_or(sent),
                reason: why,
            }
        } else if slot.stopping.is_some() && code == Some(0) {
            ExitHow::Exited(0)
        } else {
            ExitHow::Crashed { signal, code }
        };
        if !slot.ever_connected && slot.killed.is_none() && slot.stopping.is_none() {
            self.note_start_failure();
        }
        // The first held task was running; the rest never started.
        if let Some(head) = slot.held.pop_front() {
            self.settle_interrupted(w, head, &slot, &how);
        }
        for never_started in slot.held.drain(..).rev() {
            self.queue.put_back(never_started);
        }
        self.emit(PoolEvent::WorkerExited {
            worker: w,
            pid: slot.pid,
            how,
        });
        self.fill_to_wanted();
    }

    /// Whether no process of a finished worker's group is left (the task it
    /// ran may have started some); kills those that are. Its task is settled
    /// only then, so that a retry never runs beside the remains of the
    /// attempt it replaces. After [`GROUP_GRACE`] the pool stops waiting;
    /// meanwhile the timers look again every [`super::GROUP_POLL`].
    fn group_gone(&mut self, w: WorkerId) -> bool {
        let slot = self.workers.get_mut(&w).expect("present");
        if !crate::platform::group_has_live_members(slot.pid) {
            return true;
        }
        proc::signal(slot.pid, GroupSignal::Kill);
        let since = *slot.group_wait.get_or_insert_with(Instant::now);
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

    /// Decides the fate of the task a worker was running when it ended.
    pub(super) fn settle_interrupted(
        &mut self,
        w: WorkerId,
        task: TaskId,
        slot: &Slot,
        how: &ExitHow,
    ) {
        let attempts = self.queue.entry(task).map_or(0, |e| e.attempts);
        let wall = slot.head_since.elapsed();
        let (state, error) = match &slot.held_fate {
            Some(HeldFate::Cancelled(why)) => (TaskState::Cancelled, why.clone()),
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
            None => (TaskState::Failed, format!("its worker {w} {how}")),
        };
        let retryable = state != TaskState::Cancelled && !self.shutting_down;
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
                attempts: entry.attempts,
                line: entry.task.line,
            })));
            self.pause_after(state);
        }
    }
}
