//! The supervisor's record of one worker process: its phase, its
//! connection, and the tasks it holds.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use super::link::{Link, ReadOutcome};
use super::phase::Phase;
use crate::engine::events::TaskId;
use std::sync::Arc;

use crate::engine::proc;
use crate::platform::GroupSignal;
use crate::protocol::{AssignRef, FromWorker, RemoteUsage, ToWorker, WireSignal};
use crate::task::TaskSpec;

/// How many tasks a worker may hold while all it holds are instant (see
/// `TaskSpec::is_instant`), so it never waits for the manager between them.
/// Behind a task that may take long, nothing is held in advance: the next
/// task goes to whichever worker is free first.
pub const PREFETCH_DEPTH: usize = 128;

/// The supervisor's record of one worker process. (Not to be confused with
/// its job slot, `{%}`: a number that a replacement takes over.)
pub struct WorkerRecord {
    /// Its process id, which is also its process group's.
    pub pid: u32,
    /// Its job slot (see `PoolEvent::WorkerSlot`).
    pub job_slot: u32,
    /// Where it is in its life.
    pub phase: Phase,
    /// Its connection.
    pub link: Link,
    /// Tasks handed to it, in the order it runs them; the first is running.
    pub held: VecDeque<TaskId>,
    /// How many of the held tasks are not instant.
    pub slow_held: usize,
    /// When the first held task started (shifted by the time spent paused).
    pub head_since: Instant,
    /// How many more tasks it may be handed before it is retired
    /// (`PoolConfig::max_tasks_per_worker`); None: no limit.
    pub budget: Option<u64>,
    /// The host it was launched on (see `engine::launch`); none: this machine.
    pub host: Option<Arc<str>>,
    /// What a launched worker last reported of its own usage.
    pub usage: Option<RemoteUsage>,
    /// Its handshake names its host, which replaces `host` (Slurm picks
    /// the node; see `CommandLauncher::host_from_worker`).
    pub host_from_worker: bool,
}

impl WorkerRecord {
    /// A worker just spawned, at `now`.
    pub fn new(pid: u32, job_slot: u32, now: Instant) -> WorkerRecord {
        WorkerRecord {
            pid,
            job_slot,
            phase: Phase::Starting { since: now },
            link: Link::Awaiting,
            held: VecDeque::new(),
            slow_held: 0,
            head_since: now,
            budget: None,
            host: None,
            usage: None,
            host_from_worker: false,
        }
    }

    /// Sends `sig` to the worker and its tasks. A local worker's process
    /// group is signalled; a launched one gets a frame that its side carries
    /// out on its own group (this machine cannot signal the far one), and a
    /// kill also kills its launcher, whose pipes then close: the far side
    /// kills whatever is left when its stdin ends.
    pub fn signal(&mut self, sig: GroupSignal) {
        if self.host.is_none() {
            proc::signal(self.pid, sig);
            return;
        }
        let wire = match sig {
            GroupSignal::Stop => WireSignal::Stop,
            GroupSignal::Cont => WireSignal::Cont,
            GroupSignal::Term => WireSignal::Term,
            GroupSignal::Kill => WireSignal::Kill,
        };
        let _ = self.queue_frame(&ToWorker::Signal(wire)); // tiny: always fits
        if sig == GroupSignal::Kill {
            proc::signal(self.pid, GroupSignal::Kill);
        }
    }

    /// Its connection is open: frames can be sent to it.
    pub fn is_ready(&self) -> bool {
        self.link.is_open()
    }

    /// Whether the worker may be handed more tasks now, with chunks of
    /// `chunk` tasks: when it holds none, or when it holds only instant
    /// tasks — then its next chunk while it works on its last one (so the
    /// next is there when that one ends), or up to [`PREFETCH_DEPTH`]. Never
    /// behind a task that may take long: one that hangs would hold the tasks
    /// queued behind it while other workers idle.
    pub fn can_take_tasks(&self, chunk: usize) -> bool {
        self.is_ready()
            && matches!(self.phase, Phase::Ready)
            && self.budget != Some(0)
            && (self.held.is_empty()
                || (self.slow_held == 0
                    && (self.held.len() < PREFETCH_DEPTH
                        || (chunk > 1 && self.held.len() <= chunk))))
    }

    /// How many tasks it may be handed now, of `n` wanted.
    pub fn within_budget(&self, n: usize) -> usize {
        self.budget
            .map_or(n, |left| n.min(usize::try_from(left).unwrap_or(usize::MAX)))
    }

    /// Was handed all the tasks it may have, and they have ended: it is
    /// to be retired.
    pub fn is_spent(&self) -> bool {
        self.budget == Some(0) && self.held.is_empty()
    }

    /// Gone and settled: reaped, and nothing more can arrive on its socket.
    pub fn is_finished(&self) -> bool {
        self.phase.is_gone() && !self.link.is_open()
    }

    /// Appends a frame to the outbox; it is written at the end of the round.
    /// Fails only for a message over the 16 MiB frame cap (a task built in
    /// code: task lines are limited to 1 MiB), which is then not queued.
    pub fn queue_frame(&mut self, msg: &impl serde::Serialize) -> io::Result<()> {
        match &mut self.link {
            Link::Open(conn) => conn.queue_frame(msg),
            Link::Awaiting | Link::Closed => Ok(()),
        }
    }

    /// Queues tasks `first`, `first + 1`, … in one frame and holds them;
    /// when together they are over the frame cap, one frame each, and a
    /// task that alone is over it goes to `unsendable` (no worker could ever
    /// receive it; held unsent, it would never finish).
    pub fn assign(
        &mut self,
        first: TaskId,
        specs: &[&TaskSpec],
        unsendable: &mut Vec<(TaskId, io::Error)>,
    ) {
        let ids = (first.0..).map(TaskId);
        match self.queue_frame(&AssignRef {
            first: first.0,
            specs,
        }) {
            Ok(()) => {
                for (task, spec) in ids.zip(specs) {
                    self.hold(task, spec);
                }
            }
            Err(e) if specs.len() == 1 => unsendable.push((first, e)),
            Err(_) => {
                for (task, spec) in ids.zip(specs) {
                    self.assign(task, &[spec], unsendable);
                }
            }
        }
    }

    /// The task the worker was running ended at `now` (read then): the one
    /// it holds next, if any, is now running. Returns that one.
    pub fn end_head(&mut self, now: Instant) -> Option<TaskId> {
        self.held.pop_front();
        self.head_since = now;
        self.held.front().copied()
    }

    /// Task `task` was sent to the worker, to run after the ones it holds.
    fn hold(&mut self, task: TaskId, spec: &TaskSpec) {
        self.held.push_back(task);
        if let Some(left) = &mut self.budget {
            *left = left.saturating_sub(1);
        }
        if !spec.is_instant() {
            self.slow_held += 1;
        }
    }

    /// Reads everything its socket has and passes each whole frame on.
    pub fn read_frames(&mut self, mut on_frame: impl FnMut(FromWorker)) -> ReadOutcome {
        match &mut self.link {
            Link::Open(conn) => conn.read_frames(&mut on_frame),
            Link::Awaiting | Link::Closed => ReadOutcome::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ToWorker;

    #[test]
    fn a_worker_just_spawned_is_starting_and_takes_no_tasks() {
        let worker = WorkerRecord::new(42, 1, Instant::now());
        assert!(matches!(worker.phase, Phase::Starting { .. }));
        assert!(!worker.is_ready() && !worker.can_take_tasks(1));
        assert!(!worker.is_finished());
    }

    #[test]
    fn a_ready_worker_without_a_connection_takes_no_tasks() {
        let mut worker = WorkerRecord::new(42, 1, Instant::now());
        worker.phase = Phase::Ready;
        worker.link = Link::Closed;
        assert!(!worker.can_take_tasks(1), "its connection was lost");
        assert!(
            worker.queue_frame(&ToWorker::Shutdown).is_ok(),
            "a frame for a closed connection is dropped, not an error"
        );
    }

    #[test]
    fn a_worker_that_never_connected_is_finished_once_reaped() {
        let mut worker = WorkerRecord::new(42, 1, Instant::now());
        worker.phase.reaped(None, Some(1));
        assert!(worker.is_finished());
        let mut worker = WorkerRecord::new(42, 1, Instant::now());
        worker.phase = Phase::Ready;
        worker.link = Link::Closed;
        assert!(!worker.is_finished(), "not reaped yet");
        worker.phase.reaped(Some(9), None);
        assert!(worker.is_finished());
    }

    #[test]
    fn a_worker_with_a_task_budget_is_spent_once_its_last_task_ended() {
        let now = Instant::now();
        let unlimited = WorkerRecord::new(42, 1, now);
        assert_eq!(unlimited.within_budget(5), 5);
        assert!(!unlimited.is_spent());
        let mut worker = WorkerRecord::new(42, 1, now);
        worker.budget = Some(2);
        assert_eq!(worker.within_budget(5), 2);
        worker.hold(TaskId(1), &TaskSpec::Sleep(1.0));
        worker.hold(TaskId(2), &TaskSpec::Sleep(1.0));
        assert_eq!(worker.within_budget(5), 0, "handed all it may have");
        worker.phase = Phase::Ready;
        assert!(!worker.can_take_tasks(1));
        assert!(!worker.is_spent(), "its tasks have not ended");
        worker.end_head(now);
        assert!(!worker.is_spent(), "one is left");
        worker.end_head(now);
        assert!(worker.is_spent());
    }
}
