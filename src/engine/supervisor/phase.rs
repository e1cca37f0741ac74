//! Where a worker is in its life, as one value: DESIGN's lifecycle
//! (Starting -> Idle <-> Busy, Paused, Stopping, then Exited, Killed or
//! Crashed). Each phase carries the data that exists only in it, so that a
//! worker cannot be written down as both paused and stopping, or killed
//! without a reason. Pure: the supervisor sends the signals and events that
//! go with each change.

use std::time::Instant;

use super::{GROUP_GRACE, GROUP_POLL, START_TIMEOUT, TERM_GRACE};
use crate::engine::events::ExitHow;
use crate::platform::GroupSignal;

/// Why a worker is being stopped, which decides the fate of the task it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The pool is shrinking: finish the current task, no deadline.
    Retire,
    /// The user asked: finish within the join timeout, else killed.
    Terminate,
    /// The pool is shutting down.
    Shutdown,
}

/// A worker asked to stop (a shutdown frame is on its way to it).
#[derive(Debug, Clone, PartialEq)]
pub struct Stopping {
    /// Why: it decides the deadline, and the fate of the task if the
    /// deadline passes.
    pub kind: StopKind,
    /// When to send SIGTERM (none: wait as long as the task takes).
    pub deadline: Option<Instant>,
}

/// What happens to the task a worker holds when the worker ends.
#[derive(Debug, Clone, PartialEq)]
pub enum HeldFate {
    /// It timed out (retried while retries remain).
    TimedOut,
    /// It is cancelled, for this reason.
    Cancelled(String),
    /// It fails, for this reason, and is not retried (over its memory limit).
    Failed(String),
    /// It goes back to the queue to run again later, whatever its retries
    /// (killed to free memory), for this reason.
    Requeue(String),
}

/// A worker whose process group pooltop signalled to end it.
#[derive(Debug, Clone, PartialEq)]
pub struct Kill {
    /// The signal sent (the first one, unless SIGTERM was not enough).
    pub signal: i32,
    /// Why, for `ExitHow::Killed`.
    pub reason: String,
    /// What becomes of its task; none: as after a crash (retried while
    /// retries remain, else failed).
    pub fate: Option<HeldFate>,
    /// After a SIGTERM, when SIGKILL follows if it is still there.
    pub sigkill_at: Option<Instant>,
}

/// A worker whose process has exited and was reaped. Its record stays
/// until its connection has closed (its last frames still count) and its
/// process group is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Gone {
    /// How it ended: DESIGN's Exited, Killed or Crashed.
    pub how: ExitHow,
    /// What becomes of the task it held (as [`Kill::fate`]).
    pub fate: Option<HeldFate>,
    /// It died before its handshake, unasked: a failed start.
    pub start_failure: bool,
    /// Since when processes of its group (a task's children) are still
    /// dying after it.
    pub group_wait: Option<Instant>,
}

/// Where a worker is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Spawned at `since`; its handshake has not arrived.
    Starting { since: Instant },
    /// Launched, and held in its scheduler's queue since `since` (Slurm
    /// has not started its job or step): no start deadline, however long
    /// that takes. Starting again once the scheduler lets it go.
    Queued { since: Instant },
    /// Connected and taking tasks: idle while it holds none, busy while it
    /// holds some (the tasks are the worker record's, not the phase's: they
    /// stay with the worker whatever happens to it, until it is gone).
    Ready,
    /// Stopped (SIGSTOP) at `since`; the clock of its task stands still.
    Paused { since: Instant },
    /// Asked to stop after its task.
    Stopping(Stopping),
    /// Being killed.
    Killed(Kill),
    /// Exited and reaped.
    Gone(Gone),
}

impl Phase {
    /// Counts towards the wanted number of workers: not stopping, not
    /// killed, not gone.
    pub fn counts_as_alive(&self) -> bool {
        matches!(
            self,
            Phase::Starting { .. } | Phase::Queued { .. } | Phase::Ready | Phase::Paused { .. }
        )
    }

    /// Holds its job slot: until it is killed or gone. One that is stopping
    /// keeps it while it finishes its task, so that two running tasks never
    /// share a slot.
    pub fn holds_job_slot(&self) -> bool {
        !matches!(self, Phase::Killed(_) | Phase::Gone(_))
    }

    /// The time limit of the task it runs applies: not while paused, and
    /// not once it is being killed or gone.
    pub fn task_clock_runs(&self) -> bool {
        matches!(self, Phase::Ready | Phase::Stopping(_))
    }

    /// Exited and reaped.
    pub fn is_gone(&self) -> bool {
        matches!(self, Phase::Gone(_))
    }

    /// Ready -> Paused. False (nothing changes) in any other phase: a
    /// worker that is starting would miss its start deadline, and one that
    /// is stopping could not act on the request.
    pub fn pause(&mut self, now: Instant) -> bool {
        if !matches!(self, Phase::Ready) {
            return false;
        }
        *self = Phase::Paused { since: now };
        true
    }

    /// Paused -> Ready; returns when the pause began (none if not paused).
    pub fn resume(&mut self) -> Option<Instant> {
        let Phase::Paused { since } = *self else {
            return None;
        };
        *self = Phase::Ready;
        Some(since)
    }

    /// Ready, Paused or Stopping -> Stopping: a second request (a shutdown
    /// after a retirement) replaces the first. Returns whether the worker
    /// was paused (`Some(true)`): it must then be continued to read the
    /// request.
    /// A worker that is starting, being killed or gone is not stopped this
    /// way: none, and nothing changes.
    pub fn stop(&mut self, stop: Stopping) -> Option<bool> {
        let was_paused = match self {
            Phase::Ready | Phase::Stopping(_) => false,
            Phase::Paused { .. } => true,
            Phase::Starting { .. } | Phase::Queued { .. } | Phase::Killed(_) | Phase::Gone(_) => {
                return None;
            }
        };
        *self = Phase::Stopping(stop);
        Some(was_paused)
    }

    /// Any phase but Gone -> Killed, by `signal` at `now` for `reason`. A
    /// worker killed again keeps its first reason and signal, and takes
    /// `fate` only if it had none. A SIGTERM is followed by SIGKILL after
    /// [`TERM_GRACE`]. Returns false for a worker that is gone.
    pub fn kill(
        &mut self,
        signal: GroupSignal,
        reason: String,
        fate: Option<HeldFate>,
        now: Instant,
    ) -> bool {
        match self {
            Phase::Gone(_) => false,
            Phase::Killed(kill) => {
                if kill.fate.is_none() {
                    kill.fate = fate;
                }
                true
            }
            _ => {
                let sigkill_at = (signal == GroupSignal::Term).then(|| now + TERM_GRACE);
                *self = Phase::Killed(Kill {
                    signal: signal.number(),
                    reason,
                    fate,
                    sigkill_at,
                });
                true
            }
        }
    }

    /// A SIGTERM was not enough: if SIGKILL is due by `now`, it is recorded
    /// as sent, and true is returned (the caller sends it).
    pub fn escalate(&mut self, now: Instant) -> bool {
        let Phase::Killed(kill) = self else {
            return false;
        };
        if kill.sigkill_at.is_none_or(|at| now < at) {
            return false;
        }
        kill.sigkill_at = None;
        kill.signal = GroupSignal::Kill.number();
        kill.reason = "did not stop after SIGTERM".into();
        true
    }

    /// The task it holds is settled as after a crash, whatever fate a kill
    /// gave it (the worker broke the protocol, or its connection failed).
    pub fn forget_fate(&mut self) {
        match self {
            Phase::Killed(Kill { fate, .. }) | Phase::Gone(Gone { fate, .. }) => *fate = None,
            _ => {}
        }
    }

    /// The process was reaped, having ended by `signal` or with `code`:
    /// -> Gone, with how it ended. A killed worker was killed (by the signal
    /// that ended it, if any); a worker asked to stop that left with status
    /// 0 exited; any other end is a crash, and before the handshake a failed
    /// start.
    pub fn reaped(&mut self, signal: Option<i32>, code: Option<i32>) {
        let crashed = ExitHow::Crashed { signal, code };
        let (how, fate, start_failure) = match self {
            // Reaped once only.
            Phase::Gone(_) => return,
            Phase::Killed(kill) => {
                let how = ExitHow::Killed {
                    signal: signal.unwrap_or(kill.signal),
                    reason: std::mem::take(&mut kill.reason),
                };
                (how, kill.fate.take(), false)
            }
            Phase::Stopping(_) if code == Some(0) => (ExitHow::Exited(0), None, false),
            Phase::Starting { .. } | Phase::Queued { .. } => (crashed, None, true),
            Phase::Ready | Phase::Paused { .. } | Phase::Stopping(_) => (crashed, None, false),
        };
        *self = Phase::Gone(Gone {
            how,
            fate,
            start_failure,
            group_wait: None,
        });
    }

    /// The next moment something is due in this phase: its start deadline,
    /// its join deadline, its SIGKILL after a SIGTERM, or, while its group
    /// is dying, the next look at it.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        match self {
            Phase::Starting { since } => Some(*since + START_TIMEOUT),
            Phase::Stopping(stop) => stop.deadline,
            Phase::Killed(kill) => kill.sigkill_at,
            Phase::Gone(Gone {
                group_wait: Some(since),
                ..
            }) => Some((now + GROUP_POLL).min(*since + GROUP_GRACE)),
            Phase::Queued { .. } | Phase::Ready | Phase::Paused { .. } | Phase::Gone(_) => None,
        }
    }

    /// Starting -> Queued at `now` (its launcher said the scheduler queued
    /// it). False, and nothing changes, in any other phase.
    pub fn queue(&mut self, now: Instant) -> bool {
        if !matches!(self, Phase::Starting { .. }) {
            return false;
        }
        *self = Phase::Queued { since: now };
        true
    }

    /// Queued -> Starting at `now`: the start deadline counts from the
    /// moment the scheduler let it go. False in any other phase.
    pub fn unqueue(&mut self, now: Instant) -> bool {
        if !matches!(self, Phase::Queued { .. }) {
            return false;
        }
        *self = Phase::Starting { since: now };
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SIGKILL: i32 = libc::SIGKILL;
    const SIGTERM: i32 = libc::SIGTERM;

    fn stopping(kind: StopKind, deadline: Option<Instant>) -> Stopping {
        Stopping { kind, deadline }
    }

    fn gone(phase: &Phase) -> &Gone {
        match phase {
            Phase::Gone(gone) => gone,
            other => panic!("not gone: {other:?}"),
        }
    }

    #[test]
    fn a_queued_worker_has_no_start_deadline_until_it_is_let_go() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(3600);
        let mut phase = Phase::Starting { since: t0 };
        assert!(!phase.unqueue(t0), "not queued");
        assert!(phase.queue(t0));
        assert_eq!(phase, Phase::Queued { since: t0 });
        assert_eq!(phase.deadline(later), None, "Slurm may queue it for hours");
        assert!(phase.counts_as_alive() && phase.holds_job_slot());
        assert!(!phase.task_clock_runs() && !phase.pause(t0));
        assert_eq!(phase.stop(stopping(StopKind::Shutdown, None)), None);
        assert!(phase.unqueue(later));
        assert_eq!(phase.deadline(later), Some(later + START_TIMEOUT));
        assert!(phase.queue(later));
        phase.reaped(None, Some(1));
        assert!(gone(&phase).start_failure, "it never started");
        assert!(!phase.queue(later), "gone");
    }

    #[test]
    fn a_ready_worker_pauses_and_resumes() {
        let t0 = Instant::now();
        let mut phase = Phase::Ready;
        assert!(phase.pause(t0));
        assert_eq!(phase, Phase::Paused { since: t0 });
        assert!(!phase.pause(t0), "paused twice");
        assert!(phase.counts_as_alive() && phase.holds_job_slot());
        assert!(
            !phase.task_clock_runs(),
            "a paused task's clock stands still"
        );
        assert_eq!(phase.resume(), Some(t0));
        assert_eq!(phase, Phase::Ready);
        assert_eq!(phase.resume(), None);
    }

    #[test]
    fn only_a_ready_worker_pauses() {
        let t0 = Instant::now();
        for mut phase in [
            Phase::Starting { since: t0 },
            Phase::Stopping(stopping(StopKind::Retire, None)),
        ] {
            let before = phase.clone();
            assert!(!phase.pause(t0));
            assert_eq!(phase, before);
        }
    }

    #[test]
    fn a_paused_worker_asked_to_stop_is_stopping_and_must_be_continued() {
        let t0 = Instant::now();
        let mut phase = Phase::Paused { since: t0 };
        let deadline = Some(t0 + Duration::from_secs(5));
        assert_eq!(
            phase.stop(stopping(StopKind::Terminate, deadline)),
            Some(true)
        );
        assert_eq!(
            phase,
            Phase::Stopping(stopping(StopKind::Terminate, deadline))
        );
        assert!(phase.task_clock_runs(), "it finishes its task in time");
        assert!(!phase.counts_as_alive(), "a replacement may start");
        assert!(phase.holds_job_slot(), "its task still runs in its slot");
        assert_eq!(phase.resume(), None, "no longer paused");
        assert_eq!(phase.deadline(t0), deadline);
    }

    #[test]
    fn a_second_stop_replaces_the_first() {
        let t0 = Instant::now();
        let mut phase = Phase::Ready;
        assert_eq!(phase.stop(stopping(StopKind::Retire, None)), Some(false));
        assert_eq!(
            phase.deadline(t0),
            None,
            "a retiring worker has no deadline"
        );
        let deadline = Some(t0 + Duration::from_secs(1));
        assert_eq!(
            phase.stop(stopping(StopKind::Shutdown, deadline)),
            Some(false)
        );
        assert_eq!(phase.deadline(t0), deadline);
    }

    #[test]
    fn a_worker_that_is_starting_killed_or_gone_is_not_stopped() {
        let t0 = Instant::now();
        let mut killed = Phase::Ready;
        killed.kill(GroupSignal::Kill, "user".into(), None, t0);
        let mut dead = Phase::Ready;
        dead.reaped(Some(9), None);
        for mut phase in [Phase::Starting { since: t0 }, killed, dead] {
            let before = phase.clone();
            assert_eq!(phase.stop(stopping(StopKind::Shutdown, None)), None);
            assert_eq!(phase, before);
        }
    }

    #[test]
    fn a_stopping_worker_that_leaves_with_status_0_exited() {
        let mut phase = Phase::Stopping(stopping(StopKind::Terminate, None));
        phase.reaped(None, Some(0));
        let gone = gone(&phase);
        assert_eq!(gone.how, ExitHow::Exited(0));
        assert_eq!((gone.fate.as_ref(), gone.start_failure), (None, false));
    }

    #[test]
    fn a_stopping_worker_that_crashes_crashed() {
        let mut phase = Phase::Stopping(stopping(StopKind::Retire, None));
        phase.reaped(Some(libc::SIGSEGV), None);
        assert_eq!(
            gone(&phase).how,
            ExitHow::Crashed {
                signal: Some(libc::SIGSEGV),
                code: None
            }
        );
        let mut phase = Phase::Stopping(stopping(StopKind::Shutdown, None));
        phase.reaped(None, Some(3));
        assert_eq!(
            gone(&phase).how,
            ExitHow::Crashed {
                signal: None,
                code: Some(3)
            },
            "only status 0 is a clean exit"
        );
        assert_eq!(gone(&phase).fate, None, "its task ends as after a crash");
    }

    #[test]
    fn a_ready_worker_that_exits_unasked_crashed() {
        let mut phase = Phase::Ready;
        phase.reaped(None, Some(0));
        assert_eq!(
            gone(&phase).how,
            ExitHow::Crashed {
                signal: None,
                code: Some(0)
            }
        );
        assert!(!gone(&phase).start_failure);
    }

    #[test]
    fn a_worker_that_dies_before_its_handshake_failed_to_start_unless_killed() {
        let t0 = Instant::now();
        let mut phase = Phase::Starting { since: t0 };
        assert_eq!(phase.deadline(t0), Some(t0 + START_TIMEOUT));
        phase.reaped(None, Some(1));
        assert!(gone(&phase).start_failure);

        let mut phase = Phase::Starting { since: t0 };
        let fate = HeldFate::Cancelled("pool shut down".into());
        phase.kill(GroupSignal::Kill, "pool shut down".into(), Some(fate), t0);
        phase.reaped(Some(SIGKILL), None);
        assert!(!gone(&phase).start_failure);
    }

    #[test]
    fn a_stopping_worker_past_its_deadline_gets_sigterm_then_sigkill() {
        let t0 = Instant::now();
        let mut phase = Phase::Stopping(stopping(StopKind::Terminate, Some(t0)));
        let fate = HeldFate::Cancelled("terminated".into());
        assert!(phase.kill(
            GroupSignal::Term,
            "join timeout".into(),
            Some(fate.clone()),
            t0
        ));
        assert!(!phase.holds_job_slot() && !phase.task_clock_runs());
        assert_eq!(phase.deadline(t0), Some(t0 + TERM_GRACE));
        assert!(!phase.escalate(t0), "SIGKILL waits for the grace period");
        assert!(phase.escalate(t0 + TERM_GRACE));
        assert!(!phase.escalate(t0 + TERM_GRACE * 2), "sent once");
        assert_eq!(phase.deadline(t0), None);
        let Phase::Killed(kill) = &phase else {
            panic!("{phase:?}")
        };
        assert_eq!(kill.signal, SIGKILL);
        assert_eq!(kill.reason, "did not stop after SIGTERM");
        assert_eq!(kill.fate.as_ref(), Some(&fate), "the fate stays");
        phase.reaped(Some(SIGKILL), None);
        let gone = gone(&phase);
        assert_eq!(
            gone.how,
            ExitHow::Killed {
                signal: SIGKILL,
                reason: "did not stop after SIGTERM".into()
            }
        );
        assert_eq!(gone.fate, Some(fate));
    }

    #[test]
    fn a_worker_killed_again_keeps_its_first_reason_and_fate() {
        let t0 = Instant::now();
        let mut phase = Phase::Paused { since: t0 };
        phase.kill(
            GroupSignal::Kill,
            "task #1 timed out".into(),
            Some(HeldFate::TimedOut),
            t0,
        );
        assert_eq!(phase.resume(), None, "a killed worker is not paused");
        let user = HeldFate::Cancelled("killed by the user".into());
        assert!(phase.kill(
            GroupSignal::Kill,
            "killed by the user".into(),
            Some(user.clone()),
            t0
        ));
        assert_eq!(
            phase,
            Phase::Killed(Kill {
                signal: SIGKILL,
                reason: "task #1 timed out".into(),
                fate: Some(HeldFate::TimedOut),
                sigkill_at: None,
            })
        );
        // A broken worker's task ends as after a crash; a later kill may
        // then give it a fate again.
        phase.forget_fate();
        phase.kill(GroupSignal::Kill, "again".into(), Some(user.clone()), t0);
        phase.reaped(None, None);
        let gone = gone(&phase);
        assert_eq!(gone.fate, Some(user));
        assert_eq!(
            gone.how,
            ExitHow::Killed {
                signal: SIGKILL,
                reason: "task #1 timed out".into()
            },
            "the signal sent when the status has none"
        );
    }

    #[test]
    fn a_killed_worker_ended_by_another_signal_reports_that_one() {
        let t0 = Instant::now();
        let mut phase = Phase::Ready;
        phase.kill(GroupSignal::Term, "join timeout".into(), None, t0);
        phase.reaped(Some(SIGTERM), None);
        assert!(matches!(
            &gone(&phase).how,
            ExitHow::Killed { signal, .. } if *signal == SIGTERM
        ));
    }

    #[test]
    fn a_gone_worker_stays_gone() {
        let t0 = Instant::now();
        let mut phase = Phase::Ready;
        phase.reaped(Some(9), None);
        let before = phase.clone();
        assert!(!phase.kill(GroupSignal::Kill, "late".into(), None, t0));
        phase.reaped(None, Some(0));
        assert_eq!(phase, before, "reaped once; a late kill changes nothing");
        assert!(!phase.holds_job_slot() && !phase.counts_as_alive());
        assert_eq!(phase.deadline(t0), None);
        if let Phase::Gone(gone) = &mut phase {
            gone.group_wait = Some(t0);
        }
        assert_eq!(
            phase.deadline(t0),
            Some((t0 + GROUP_POLL).min(t0 + GROUP_GRACE)),
            "while its group dies, the timers look again"
        );
    }
}
