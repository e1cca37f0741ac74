//! Handing out tasks, writing to workers, and the timers (start deadlines,
//! task timeouts, join timeouts, respawn backoff).

use std::time::{Duration, Instant};

use mio::Interest;
use mio::unix::SourceFd;

use super::link::Link;
use super::phase::{HeldFate, Phase, StopKind, Stopping};
use super::{START_TIMEOUT, Supervisor, token_of};
use crate::engine::median::MIN_SAMPLES;
use crate::engine::{AUTO_CHUNK_MAX, AUTO_CHUNK_TIME, ChunkSize};

/// Tasks are handed out in advance only while their median run time is
/// under this (see `Supervisor::prefetch_quick`).
pub const PREFETCH_BELOW: std::time::Duration = std::time::Duration::from_millis(10);
use crate::engine::events::*;
use crate::engine::proc;
use crate::ipc;
use crate::platform::GroupSignal;
use crate::task::TaskOutput;

impl Supervisor {
    // ----- timers -----

    /// The time limit of a running task now: the fixed `task_timeout` and the
    /// median-based one, whichever is shorter.
    pub(super) fn task_limit(&self) -> Option<std::time::Duration> {
        let median = self
            .config
            .task_timeout_median
            .and_then(|f| self.run_times.limit(f));
        match (self.config.task_timeout, median) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let task_limit = self.task_limit();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if let Some(t) = self.respawn_at {
            consider(t);
        }
        if let Some(t) = self.admission_deadline() {
            consider(t);
        }
        for worker in self.workers.values() {
            if let Some(t) = worker.phase.deadline(now) {
                consider(t);
            }
            if let Some(limit) = task_limit
                && !worker.held.is_empty()
                && worker.phase.task_clock_runs()
            {
                consider(worker.head_since + limit);
            }
        }
        next
    }

    pub(super) fn on_timers(&mut self, now: Instant) {
        if self.respawn_at.is_some_and(|t| now >= t) {
            self.respawn_at = None;
            self.fill_to_wanted();
        }
        let task_limit = self.task_limit();
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for w in ids {
            let worker = &self.workers[&w];
            match &worker.phase {
                Phase::Gone(gone) => {
                    if gone.group_wait.is_some() {
                        self.try_finish(w);
                    }
                    continue;
                }
                Phase::Starting { since } if now >= *since + START_TIMEOUT => {
                    let why = format!("did not connect within {}s", START_TIMEOUT.as_secs());
                    self.emit(PoolEvent::Error {
                        worker: Some(w),
                        message: format!("worker {w} {why}"),
                    });
                    self.kill_worker(w, GroupSignal::Kill, why.clone(), HeldFate::Cancelled(why));
                    continue;
                }
                _ => {}
            }
            if let (Some(limit), Some(&head)) = (task_limit, worker.held.front())
                && worker.phase.task_clock_runs()
                && now >= worker.head_since + limit
            {
                self.kill_worker(
                    w,
                    GroupSignal::Kill,
                    format!("task {head} timed out"),
                    HeldFate::TimedOut,
                );
                self.fill_to_wanted();
                continue;
            }
            self.on_stop_timers(w, now);
        }
    }

    /// A stopping worker past its join deadline gets SIGTERM; one that
    /// outlives the grace after SIGTERM gets SIGKILL.
    fn on_stop_timers(&mut self, w: WorkerId, now: Instant) {
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        if worker.phase.escalate(now) {
            proc::signal(worker.pid, GroupSignal::Kill);
            return;
        }
        let Phase::Stopping(Stopping {
            kind,
            deadline: Some(deadline),
        }) = worker.phase
        else {
            return;
        };
        if now < deadline {
            return;
        }
        let why = format!(
            "did not stop within the join timeout of {:.1}s",
            self.config.join_timeout.as_secs_f64()
        );
        let fate = match kind {
            StopKind::Shutdown => "the pool shut down while it ran",
            _ => "its worker was terminated by the user",
        };
        self.kill_worker(w, GroupSignal::Term, why, HeldFate::Cancelled(fate.into()));
    }

    // ----- dispatch -----

    pub(super) fn dispatch(&mut self) {
        if self.gated() {
            return self.dispatch_gated();
        }
        if self.dispatch_paused || self.shutting_down || self.queue.waiting() == 0 {
            return;
        }
        let chunk = self.chunk_len();
        let takers: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, s)| s.can_take_tasks(chunk))
            .map(|(id, _)| *id)
            .collect();
        // Idle workers first, so that no worker sits idle while another
        // holds tasks in advance.
        for &w in &takers {
            if self.workers[&w].held.is_empty() && !self.assign_chunk(w, chunk) {
                return;
            }
        }
        // Then top up the workers, a chunk (or one quick task) each per
        // round, so the queue is shared out evenly.
        loop {
            let mut gave = false;
            for &w in &takers {
                let worker = &self.workers[&w];
                if worker.can_take_tasks(chunk) {
                    let n = if worker.held.len() <= chunk { chunk } else { 1 };
                    if !self.assign_chunk(w, n) {
                        return;
                    }
                    gave = true;
                }
            }
            if !gave {
                return;
            }
        }
    }

    /// Dispatch through the admission gates: a task at a time to each idle
    /// worker, while no gate holds (see `admission`).
    fn dispatch_gated(&mut self) {
        let now = Instant::now();
        self.memfree_kill(now);
        if self.dispatch_paused || self.shutting_down || self.queue.waiting() == 0 {
            return;
        }
        loop {
            if self.admission_hold(now).is_some() {
                return;
            }
            let idle = self
                .workers
                .iter()
                .find(|(_, s)| s.held.is_empty() && s.can_take_tasks(1))
                .map(|(id, _)| *id);
            let Some(w) = idle else { return };
            let more = self.assign_chunk(w, 1);
            // The clock after the start: the next one is at least `delay` later.
            self.note_start(Instant::now());
            if !more {
                return;
            }
        }
    }

    /// How many tasks to hand a worker at once now (`PoolConfig::chunksize`).
    pub(super) fn chunk_len(&self) -> usize {
        if !self.config.pause_dispatch_after.is_empty() {
            return 1;
        }
        match self.config.chunksize {
            ChunkSize::Fixed(n) => n.max(1),
            ChunkSize::Auto => {
                let Some(median) = self
                    .run_times
                    .median()
                    .filter(|_| self.run_times.len() >= MIN_SAMPLES)
                else {
                    return 1;
                };
                let by_time = AUTO_CHUNK_TIME.as_nanos() / median.as_nanos().max(1);
                let workers = self
                    .workers
                    .values()
                    .filter(|s| s.phase.counts_as_alive())
                    .count();
                let share = self.queue.waiting().div_ceil(4 * workers.max(1));
                (by_time.min(share as u128) as usize).clamp(1, AUTO_CHUNK_MAX)
            }
        }
    }

    /// While tasks are quick (`PoolConfig::prefetch_quick`), hands each busy
    /// worker its next task in advance, so that it starts it the moment the
    /// one it runs ends, without a round trip to the supervisor — a share of
    /// every task when a task takes a millisecond. Only while the median run
    /// time is under [`PREFETCH_BELOW`] (for longer tasks the round trip does
    /// not matter, and a task handed in advance might wait behind a long one
    /// while another worker idles), only while at least one task per worker
    /// is left waiting (the last ones go to whichever worker is free first),
    /// and never with `pause_dispatch_after` (a task handed in advance would
    /// start before the consumer's decision).
    pub(super) fn prefetch_quick(&mut self) {
        if !self.config.prefetch_quick
            || self.gated()
            || !self.config.pause_dispatch_after.is_empty()
            || self.dispatch_paused
            || self.shutting_down
        {
            return;
        }
        let quick = self.run_times.len() >= MIN_SAMPLES
            && self.run_times.median().is_some_and(|m| m < PREFETCH_BELOW);
        if !quick {
            return;
        }
        let busy: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, s)| s.is_ready() && matches!(s.phase, Phase::Ready) && s.held.len() == 1)
            .map(|(id, _)| *id)
            .collect();
        for w in busy {
            if self.queue.waiting() < self.workers.len() {
                return;
            }
            self.assign_chunk(w, 1);
        }
    }

    /// Hands worker `w` up to `n` waiting tasks: each stretch of them with
    /// consecutive ids goes as one frame. False once none is waiting.
    pub(super) fn assign_chunk(&mut self, w: WorkerId, n: usize) -> bool {
        let n = self.workers.get(&w).map_or(0, |s| s.within_budget(n));
        let mut taken = Vec::with_capacity(n.min(AUTO_CHUNK_MAX));
        while taken.len() < n {
            match self.queue.take() {
                Some(task) => taken.push(task),
                None => break,
            }
        }
        let more = taken.len() == n;
        let worker = self.workers.get_mut(&w).expect("present");
        let was_idle = worker.held.is_empty();
        let mut unsendable = Vec::new();
        let mut specs = Vec::with_capacity(taken.len());
        for stretch in taken.chunk_by(|a, b| b.0 == a.0 + 1) {
            specs.clear();
            let entries = self.queue.entries(stretch[0], stretch.len());
            specs.extend(entries.map(|e| &e.expect("live").task.spec));
            worker.assign(stretch[0], &specs, &mut unsendable);
        }
        let head = worker.held.front().copied().filter(|_| was_idle);
        if let Some(head) = head {
            worker.head_since = Instant::now();
            self.mark_started(w, head);
        }
        for (task, e) in unsendable {
            self.finish_unsent(task, format!("cannot be sent to a worker: {e}"));
        }
        more
    }

    /// A task taken from the queue that never reached a worker fails.
    fn finish_unsent(&mut self, task: TaskId, error: String) {
        if let Some(entry) = self.queue.finish(task, TaskState::Failed) {
            self.emit(PoolEvent::TaskFinished(Box::new(TaskReport {
                task,
                worker: None,
                state: TaskState::Failed,
                output: TaskOutput::default(),
                error: Some(error),
                wall: Duration::ZERO,
                cpu: Duration::ZERO,
                max_rss: None,
                attempts: entry.attempts,
                line: entry.task.line,
            })));
        }
    }

    /// Writes every worker's queued frames. A socket that is full is watched
    /// for writability and finished in a later round; the supervisor never
    /// blocks on a worker that does not read.
    pub(super) fn flush_outboxes(&mut self) {
        let mut broken = Vec::new();
        for (w, worker) in self.workers.iter_mut() {
            let Link::Open(conn) = &mut worker.link else {
                continue;
            };
            if !conn.has_output() && !conn.wants_write {
                continue;
            }
            match conn.flush() {
                Ok(left_over) if left_over != conn.wants_write => {
                    conn.wants_write = left_over;
                    let interest = if left_over {
                        Interest::READABLE | Interest::WRITABLE
                    } else {
                        Interest::READABLE
                    };
                    let _ = self.registry.reregister(
                        &mut SourceFd(&ipc::raw_fd(&conn.stream)),
                        token_of(*w),
                        interest,
                    );
                }
                Ok(_) => {}
                // A dead peer is reported by its socket's end and its reaper.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => broken.push((*w, e)),
            }
        }
        for (w, e) in broken {
            self.emit(PoolEvent::Error {
                worker: Some(w),
                message: format!("cannot write to worker {w}: {e}; killing it"),
            });
            self.kill_broken(w, "its connection failed");
        }
    }

    pub(super) fn report_drained(&mut self) {
        if !self.drained_reported && self.queue.counts().submitted > 0 && self.queue.is_idle() {
            self.drained_reported = true;
            self.emit(PoolEvent::Drained(self.queue.counts()));
        }
    }
}
