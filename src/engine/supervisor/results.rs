//! What workers report about their tasks: reading their frames, and ending
//! each task they ran (its own report, a run of instant tasks reported
//! together, or a retry).

use std::time::{Duration, Instant};

use super::Supervisor;
use super::link::ReadOutcome;
use crate::engine::events::*;
use crate::protocol::FromWorker;
use crate::task::{RunValues, TaskOutcome, TaskOutput};

impl Supervisor {
    /// The worker's socket has something to read (or has closed).
    pub(super) fn on_readable(&mut self, w: WorkerId) {
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        let mut frames = std::mem::take(&mut self.frames);
        let outcome = worker.read_frames(|f| frames.push(f));
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

    pub(super) fn on_frame(&mut self, w: WorkerId, msg: FromWorker, now: Instant) {
        match msg {
            FromWorker::Finished {
                task,
                outcome,
                wall_ns,
                cpu_ns,
                max_rss,
            } => {
                self.on_finished(w, TaskId(task), outcome, (wall_ns, cpu_ns, max_rss), now);
            }
            FromWorker::Values { first, results } => self.on_values(w, TaskId(first), results, now),
            FromWorker::Output { task, stderr, text } => {
                // Only the task the worker runs has output; a late frame of
                // a task that ended is dropped.
                let task = TaskId(task);
                if self.workers.get(&w).and_then(|s| s.held.front()) == Some(&task) {
                    self.emit(PoolEvent::TaskOutput {
                        task,
                        worker: w,
                        stderr,
                        text,
                    });
                }
            }
            FromWorker::Usage(usage) => {
                if let Some(worker) = self.workers.get_mut(&w) {
                    worker.usage = Some(usage);
                }
            }
            FromWorker::Hello(_) => self.protocol_error(w, "sent a second handshake".into()),
        }
    }

    /// Worker `w` sent something it must not: it is killed, and its task is
    /// retried like after a crash.
    pub(super) fn protocol_error(&mut self, w: WorkerId, what: String) {
        self.emit(PoolEvent::Error {
            worker: Some(w),
            message: format!("worker {w} {what}; killing it"),
        });
        self.kill_broken(w, "protocol error");
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
        let Some(worker) = self.workers.get(&w) else {
            return;
        };
        if worker.held.front() != Some(&first) || worker.held.len() < results.len() {
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
            let times = (wall_ns, wall_ns, None);
            head = self.end_head(w, task, TaskOutcome::Ok(output), times, now);
        }
        self.emit_run(&mut run, w);
        if let Some(next) = head {
            self.mark_started(w, next);
        }
    }

    /// Ends the worker's head `task`, which it reports done with `value`,
    /// into `run` if it can end unseen: it never started before, it is
    /// instant (so its worker counts no slow task for it) and no setting
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
        let worker = self.workers.get_mut(&w)?;
        let unseen = |e: &crate::engine::queue::Entry| e.attempts == 0 && e.task.spec.is_instant();
        let entry = self.queue.finish_if(task, TaskState::Done, unseen)?;
        let next = worker.end_head(now);
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

    /// Task `task` ended inside worker `w` (its wall and CPU time in
    /// nanoseconds, its peak RSS in bytes); `now` is when the supervisor
    /// read the report. The task
    /// the worker holds next, if any, is now the one it runs.
    pub(super) fn on_finished(
        &mut self,
        w: WorkerId,
        task: TaskId,
        outcome: TaskOutcome,
        times: (u64, u64, Option<u64>),
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
        (wall_ns, cpu_ns, max_rss): (u64, u64, Option<u64>),
        now: Instant,
    ) -> Option<TaskId> {
        let worker = self.workers.get_mut(&w)?;
        if worker.held.front() != Some(&task) {
            let what = format!("reported task {task}, which it was not running");
            self.protocol_error(w, what);
            return None;
        }
        // (A result that raced with our kill counts: the task finished.)
        let next = worker.end_head(now);
        let wall = Duration::from_nanos(wall_ns);
        let was_instant = self
            .queue
            .entry(task)
            .is_some_and(|e| e.task.spec.is_instant());
        if !was_instant {
            worker.slow_held -= 1;
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
                max_rss,
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
    pub(super) fn pause_after(&mut self, state: TaskState) {
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
}
