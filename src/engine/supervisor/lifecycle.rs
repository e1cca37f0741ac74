//! Starting, stopping and killing workers: the orders and handshakes that
//! move a worker through its phases (see `phase`).

use std::time::Instant;

use interprocess::local_socket::traits::Stream as _;
use mio::Interest;
use mio::unix::SourceFd;

use super::link::{Conn, Link};
use super::phase::{HeldFate, Phase, StopKind, Stopping};
use super::record::WorkerRecord;
use super::{MAX_START_FAILURES, START_BACKOFF, Supervisor, token_of};
use crate::engine::conn::ConnEvent;
use crate::engine::events::*;
use crate::engine::{launch, proc};
use crate::ipc::{self, Stream};
use crate::platform::GroupSignal;
use crate::protocol::{Hello, ToWorker};

impl Supervisor {
    // ----- worker lifecycle -----

    pub(super) fn fill_to_wanted(&mut self) {
        if self.shutting_down || self.gave_up_starting || self.respawn_at.is_some() {
            return;
        }
        let alive = self
            .workers
            .values()
            .filter(|s| s.phase.counts_as_alive())
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
        let Some(launcher) = self.next_placement() else {
            return false;
        };
        let started = match launcher.argv(&self.program, id.0) {
            Some(argv) => launch::spawn_launched(
                &argv,
                &self.socket_path,
                &self.token,
                id,
                self.config.work_dir.as_deref(),
                &self.config.python,
                &self.inbox,
            ),
            None => proc::spawn_worker(
                &self.program,
                &self.socket_path,
                &self.token,
                id,
                self.config.work_dir.as_deref(),
                &self.config.python,
                &self.inbox,
            ),
        };
        match started {
            Ok(pid) => {
                let now = Instant::now();
                let mut record = WorkerRecord::new(pid, job_slot, now);
                record.budget = self.config.max_tasks_per_worker;
                record.host = launcher.host().cloned();
                record.host_from_worker = launcher.host_from_worker();
                self.workers.insert(id, record);
                self.emit(PoolEvent::WorkerSpawned { worker: id, pid });
                if let Some(host) = launcher.host() {
                    self.emit(PoolEvent::WorkerHost {
                        worker: id,
                        host: host.clone(),
                    });
                }
                self.emit(PoolEvent::WorkerSlot {
                    worker: id,
                    slot: job_slot,
                });
                true
            }
            Err(e) => {
                self.emit(PoolEvent::Error {
                    worker: Some(id),
                    message: match launcher.host() {
                        Some(host) => format!("cannot start worker {id} on {host}: {e}"),
                        None => {
                            format!("cannot start worker {id} ({}): {e}", self.program.display())
                        }
                    },
                });
                self.note_start_failure();
                false
            }
        }
    }

    /// The lowest job slot that no worker holds (see `Phase::holds_job_slot`).
    fn free_job_slot(&self) -> u32 {
        let mut held: Vec<u32> = self
            .workers
            .values()
            .filter(|s| s.phase.holds_job_slot())
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
            let anyone_left = self.workers.values().any(|s| s.phase.counts_as_alive());
            if !anyone_left {
                self.cancel_queued("no worker could be started");
            }
        }
    }

    /// Retires the workers that were handed their last task
    /// (`PoolConfig::max_tasks_per_worker`) once it has ended, and starts
    /// their replacements.
    pub(super) fn retire_spent_workers(&mut self) {
        if self.config.max_tasks_per_worker.is_none() || self.shutting_down {
            return;
        }
        let spent: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, s)| s.is_spent() && matches!(s.phase, Phase::Ready))
            .map(|(id, _)| *id)
            .collect();
        for w in &spent {
            self.stop_worker(*w, StopKind::Retire);
        }
        if !spent.is_empty() {
            self.fill_to_wanted();
        }
    }

    /// Asks a worker to stop after its current task.
    pub(super) fn stop_worker(&mut self, w: WorkerId, kind: StopKind) {
        let join_timeout = self.config.join_timeout;
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        if matches!(worker.phase, Phase::Killed(_) | Phase::Gone(_)) {
            return;
        }
        if !worker.is_ready() {
            // Not connected (yet, or any more): there is nothing to finish.
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
        let Some(was_paused) = worker.phase.stop(Stopping { kind, deadline }) else {
            return;
        };
        let _ = worker.queue_frame(&ToWorker::Shutdown); // small: always fits
        if was_paused {
            // A stopped process cannot read the request: let it run again.
            worker.signal(GroupSignal::Cont);
            self.emit(PoolEvent::WorkerResumed { worker: w });
        }
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
        self.signal_end(w, sig, why, Some(fate));
    }

    /// Kills a worker that broke the protocol or whose connection failed:
    /// its task is retried like after a crash, whatever fate an earlier
    /// kill gave it.
    pub(super) fn kill_broken(&mut self, w: WorkerId, why: &str) {
        self.signal_end(w, GroupSignal::Kill, why.into(), None);
        if let Some(worker) = self.workers.get_mut(&w) {
            worker.phase.forget_fate();
        }
    }

    fn signal_end(&mut self, w: WorkerId, sig: GroupSignal, why: String, fate: Option<HeldFate>) {
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        if worker.phase.is_gone() {
            // Already gone: only clean up what it may have left in its group.
            proc::signal(worker.pid, GroupSignal::Kill);
            return;
        }
        if sig == GroupSignal::Kill && matches!(worker.phase, Phase::Queued { .. }) {
            // srun withdraws a queued job when it gets SIGTERM; SIGKILL would
            // leave the job in Slurm's queue, to start later with nobody to
            // talk to. SIGKILL follows should srun linger.
            proc::signal(worker.pid, GroupSignal::Term);
            worker
                .phase
                .kill(GroupSignal::Term, why, fate, Instant::now());
            return;
        }
        worker.signal(sig);
        if sig == GroupSignal::Term {
            // A stopped process keeps SIGTERM pending until it continues.
            worker.signal(GroupSignal::Cont);
        }
        worker.phase.kill(sig, why, fate, Instant::now());
    }

    // ----- handshakes and reapers -----

    pub(super) fn conn_event(&mut self, ev: ConnEvent) {
        match ev {
            ConnEvent::Hello { hello, stream } => self.on_hello(hello, stream),
            ConnEvent::Refused { reason } => self.emit(PoolEvent::Error {
                worker: None,
                message: reason,
            }),
            ConnEvent::Reaped { worker: w, status } => {
                if let Some(worker) = self.workers.get_mut(&w) {
                    let (signal, code) = proc::status_parts(&status);
                    worker.phase.reaped(signal, code);
                    self.try_finish(w);
                }
            }
            ConnEvent::Lost { worker: w, why } => {
                let host = self.host_of(w);
                self.emit(PoolEvent::Error {
                    worker: Some(w),
                    message: format!("worker {w} on {host}: {why}"),
                });
                self.kill_broken(w, "lost");
            }
            ConnEvent::LaunchFailed { worker: w, said } => self.launch_failed(w, said),
            ConnEvent::Queued { worker: w, waiting } => self.on_queued(w, waiting),
        }
    }

    /// Worker `w`'s launcher said its scheduler queued it (`waiting`) or let
    /// it go: it is pending, without a start deadline, or starting again.
    fn on_queued(&mut self, w: WorkerId, waiting: bool) {
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        let now = Instant::now();
        let changed = if waiting {
            worker.phase.queue(now)
        } else {
            worker.phase.unqueue(now)
        };
        if changed {
            self.emit(PoolEvent::WorkerPending {
                worker: w,
                pending: waiting,
            });
        }
    }

    /// A worker's handshake passed the checks of `conn`: a worker that is
    /// starting becomes ready.
    pub(super) fn on_hello(&mut self, hello: Hello, stream: Stream) {
        let id = WorkerId(hello.worker);
        let threads = self.threads_per_task();
        let Some(worker) = self.workers.get_mut(&id) else {
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
        match (&worker.phase, &worker.link) {
            // Queued: srun's word that Slurm let it go may come after it.
            (Phase::Starting { .. } | Phase::Queued { .. }, _) if worker.pid == hello.pid => {}
            // Killed or dead while its handshake was in flight: there is
            // nothing to say to it, and its end is reported by its reaper.
            (Phase::Killed(_) | Phase::Gone(_), Link::Awaiting) if worker.pid == hello.pid => {
                return;
            }
            _ => {
                self.emit(PoolEvent::Error {
                    worker: Some(id),
                    message: format!(
                        "refused a second or mismatched handshake for worker {id} (pid {})",
                        hello.pid
                    ),
                });
                return;
            }
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
        worker.link = Link::Open(Conn::new(stream));
        worker.phase = Phase::Ready;
        self.start_failures = 0;
        let welcome = ToWorker::Welcome {
            out_dir: self.config.out_dir.to_string_lossy().into_owned(),
            output_cap: self.config.output_cap as u64,
            slot: worker.job_slot,
            spill_dir: self
                .config
                .spill_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default(),
            nice: self.config.nice,
            threads,
        };
        let _ = worker.queue_frame(&welcome); // a path: far below the cap
        let pid = worker.pid;
        let named = Some(hello.host).filter(|h| worker.host_from_worker && !h.is_empty());
        if let Some(host) = named.filter(|h| worker.host.as_deref() != Some(h.as_str())) {
            let host: std::sync::Arc<str> = host.into();
            worker.host = Some(host.clone());
            self.emit(PoolEvent::WorkerHost { worker: id, host });
        }
        self.emit(PoolEvent::WorkerReady { worker: id, pid });
    }
}
