//! Starting, stopping and killing workers.

use std::time::Instant;

use super::slot::{HeldFate, Slot, StopKind, Stopping};
use super::{MAX_START_FAILURES, START_BACKOFF, Supervisor};
use crate::engine::events::*;
use crate::engine::proc;
use crate::platform::GroupSignal;
use crate::protocol::ToWorker;

impl Supervisor {
    // ----- worker lifecycle -----

    pub(super) fn fill_to_wanted(&mut self) {
        if self.shutting_down || self.gave_up_starting || self.respawn_at.is_some() {
            return;
        }
        let alive = self
            .workers
            .values()
            .filter(|s| s.counts_as_alive())
            .count();
        for _ in alive..self.wanted {
            if !self.spawn_one() {
                return;
            }
        }
    }

    /// Starts one worker; false if it could not be started.
    pub(super) fn spawn_one(&mut self) -> bool {
        let id = WorkerId(self.next_worker);
        self.next_worker += 1;
        let job_slot = self.free_job_slot();
        match proc::spawn_worker(
            &self.program,
            &self.socket_path,
            &self.token,
            id,
            self.config.work_dir.as_deref(),
            &self.inbox,
        ) {
            Ok(pid) => {
                let now = Instant::now();
                self.workers.insert(id, Slot::new(pid, job_slot, now));
                self.emit(PoolEvent::WorkerSpawned { worker: id, pid });
                self.emit(PoolEvent::WorkerSlot {
                    worker: id,
                    slot: job_slot,
                });
                true
            }
            Err(e) => {
                self.emit(PoolEvent::Error {
                    worker: Some(id),
                    message: format!("cannot start worker {id} ({}): {e}", self.program.display()),
                });
                self.note_start_failure();
                false
            }
        }
    }

    /// The lowest job slot that no worker holds. A worker holds its slot until
    /// it is killed or gone; one that is stopping keeps it while it finishes
    /// its task, so two running tasks never share a slot.
    fn free_job_slot(&self) -> u32 {
        let mut held: Vec<u32> = self
            .workers
            .values()
            .filter(|s| s.killed.is_none() && s.reaped.is_none())
            .map(|s| s.job_slot)
            .collect();
        held.sort_unstable();
        let mut slot = 1;
        for h in held {
            if h == slot {
                slot += 1;
            } else if h > slot {
                break;
            }
        }
        slot
    }

    /// Counts a worker that died or failed before its handshake; the next
    /// start waits a little longer each time, and after a few we give up.
    pub(super) fn note_start_failure(&mut self) {
        self.start_failures += 1;
        self.respawn_at = Some(Instant::now() + START_BACKOFF * self.start_failures);
        if self.start_failures >= MAX_START_FAILURES && !self.gave_up_starting {
            self.gave_up_starting = true;
            self.emit(PoolEvent::Error {
                worker: None,
                message: format!(
                    "{MAX_START_FAILURES} workers in a row failed to start; not starting more"
                ),
            });
            let anyone_left = self.workers.values().any(|s| s.counts_as_alive());
            if !anyone_left {
                self.cancel_queued("no worker could be started");
            }
        }
    }

    /// Asks a worker to stop after its current task.
    pub(super) fn stop_worker(&mut self, w: WorkerId, kind: StopKind) {
        let join_timeout = self.config.join_timeout;
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        if slot.reaped.is_some() || slot.killed.is_some() {
            return;
        }
        if !slot.is_ready() {
            // Not connected yet: there is nothing to finish.
            let why = match kind {
                StopKind::Retire => "retired before it started",
                StopKind::Terminate => "terminated before it started",
                StopKind::Shutdown => "pool shut down",
            };
            self.kill_worker(
                w,
                GroupSignal::Kill,
                why.into(),
                HeldFate::Cancelled(why.into()),
            );
            return;
        }
        let deadline = match kind {
            StopKind::Retire => None,
            StopKind::Terminate | StopKind::Shutdown => Some(Instant::now() + join_timeout),
        };
        if slot.paused_at.take().is_some() {
            // A stopped process cannot read the request: let it run again.
            proc::signal(slot.pid, GroupSignal::Cont);
            self.emit(PoolEvent::WorkerResumed { worker: w });
        }
        let slot = self.workers.get_mut(&w).expect("checked above");
        slot.stopping = Some(Stopping {
            kind,
            deadline,
            term_sent: None,
        });
        let _ = slot.queue_frame(&ToWorker::Shutdown); // small: always fits
        self.emit(PoolEvent::WorkerStopping {
            worker: w,
            join_timeout: deadline.map(|_| join_timeout),
        });
    }

    /// Signals a worker's process group to end it now. The worker is
    /// finished (its tasks settled) once it is reaped.
    pub(super) fn kill_worker(
        &mut self,
        w: WorkerId,
        sig: GroupSignal,
        why: String,
        fate: HeldFate,
    ) {
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        if slot.reaped.is_some() {
            // Already gone: only clean up what it may have left in its group.
            proc::signal(slot.pid, GroupSignal::Kill);
            return;
        }
        proc::signal(slot.pid, sig);
        if sig == GroupSignal::Term {
            // A stopped process keeps SIGTERM pending until it continues.
            proc::signal(slot.pid, GroupSignal::Cont);
        }
        if slot.killed.is_none() {
            slot.killed = Some((sig.number(), why));
        }
        if slot.held_fate.is_none() {
            slot.held_fate = Some(fate);
        }
    }
}
