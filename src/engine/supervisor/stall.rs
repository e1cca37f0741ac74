//! A manager that stalls: the supervisor's own process was stopped
//! (SIGSTOP, then SIGCONT) or starved of CPU on a loaded host, so its loop
//! woke long after it meant to. The workers went on meanwhile: frames that
//! say their tasks finished wait unread in the sockets, and every clock the
//! supervisor keeps (task timeouts, join and start deadlines, the hung
//! detector's) ran on through time it did not see. Judged as they stand,
//! they would kill workers whose tasks were done and flag idle workers as
//! hung. So, before any timer runs, the supervisor reads every worker's
//! socket, moves each of its clocks on by the time it lost, and reports the
//! stall itself once ([`PoolEvent::Stalled`]) instead of blaming workers.

use std::time::{Duration, Instant};

use super::Supervisor;
use super::link::Link;
use super::phase::{Gone, Kill, Phase, Stopping};
use crate::engine::events::{PoolEvent, WorkerId};

/// How late the supervisor's loop may wake before it counts as a stall.
/// The loop wakes at least every second (the hung detector's check) and a
/// round takes microseconds; a busy 2-core host delays a wake-up by tens of
/// milliseconds, rarely more. A whole second late is the manager itself not
/// running, not scheduling noise.
pub const STALL_AFTER: Duration = Duration::from_secs(1);

/// When the loop went to sleep, and until when it meant to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Nap {
    /// When the previous round began (the last wake-up).
    pub woke: Instant,
    /// When this wait began (the previous round's end).
    pub slept: Instant,
    /// How long it meant to wait at most.
    pub timeout: Duration,
}

impl Nap {
    /// The time the loop lost before waking at `now`: how long the previous
    /// round took (a round is meant to take no time) plus how far past its
    /// timeout the wait went. None below [`STALL_AFTER`].
    pub fn lost(&self, now: Instant) -> Option<Duration> {
        let round = self.slept.saturating_duration_since(self.woke);
        let waited = now.saturating_duration_since(self.slept);
        let lost = round + waited.saturating_sub(self.timeout);
        (lost >= STALL_AFTER).then_some(lost)
    }
}

impl Supervisor {
    /// The loop woke `lost` late: reports the stall, moves every clock on by
    /// `lost`, and reads whatever the workers sent meanwhile, so the timers
    /// and the hung detector that run next judge only time the supervisor saw.
    pub(super) fn on_stall(&mut self, lost: Duration) {
        self.emit(PoolEvent::Stalled { for_: lost });
        if let Some(t) = &mut self.respawn_at {
            *t += lost;
        }
        for worker in self.workers.values_mut() {
            worker.head_since += lost;
            worker.phase.postpone(lost);
        }
        self.watch.excuse(lost);
        // After a stop and continue the wait returns EINTR with no events,
        // and under load the events read may not be all of them: every open
        // socket is read (one with nothing waiting answers WouldBlock).
        let open: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, s)| matches!(s.link, Link::Open(_)))
            .map(|(id, _)| *id)
            .collect();
        for w in open {
            self.on_readable(w);
        }
    }
}

impl Phase {
    /// Moves every deadline of this phase `by` later (see [`Supervisor::on_stall`]).
    pub fn postpone(&mut self, by: Duration) {
        match self {
            Phase::Starting { since } | Phase::Queued { since } | Phase::Paused { since } => {
                *since += by
            }
            Phase::Stopping(Stopping {
                deadline: Some(t), ..
            })
            | Phase::Killed(Kill {
                sigkill_at: Some(t),
                ..
            })
            | Phase::Gone(Gone {
                group_wait: Some(t),
                ..
            }) => *t += by,
            Phase::Ready | Phase::Stopping(_) | Phase::Killed(_) | Phase::Gone(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::GroupSignal;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_wait_that_ends_in_time_or_a_little_late_is_no_stall() {
        let t0 = Instant::now();
        let nap = Nap {
            woke: t0,
            slept: t0 + MS,
            timeout: 500 * MS,
        };
        assert_eq!(nap.lost(t0 + 100 * MS), None, "woken early by news");
        assert_eq!(nap.lost(t0 + 501 * MS), None, "on time");
        assert_eq!(nap.lost(t0 + 900 * MS), None, "400 ms late: noise");
    }

    #[test]
    fn a_wait_or_a_round_far_past_its_time_is_a_stall_of_the_time_lost() {
        let t0 = Instant::now();
        let nap = Nap {
            woke: t0,
            slept: t0 + MS,
            timeout: 500 * MS,
        };
        assert_eq!(nap.lost(t0 + 5501 * MS), Some(5001 * MS));
        // Stopped in the middle of a round, then woken at once by news.
        let nap = Nap {
            woke: t0,
            slept: t0 + 3000 * MS,
            timeout: 200 * MS,
        };
        assert_eq!(nap.lost(t0 + 3000 * MS), Some(3000 * MS));
    }

    #[test]
    fn postponing_moves_every_deadline_a_phase_has() {
        let t0 = Instant::now();
        let by = 5000 * MS;
        let mut starting = Phase::Starting { since: t0 };
        starting.postpone(by);
        assert_eq!(starting, Phase::Starting { since: t0 + by });
        let mut stopping = Phase::Ready;
        stopping.stop(Stopping {
            kind: super::super::phase::StopKind::Terminate,
            deadline: Some(t0),
        });
        stopping.postpone(by);
        assert_eq!(stopping.deadline(t0), Some(t0 + by));
        let mut killed = Phase::Ready;
        killed.kill(GroupSignal::Term, "why".into(), None, t0);
        let before = killed.deadline(t0).expect("SIGKILL follows");
        killed.postpone(by);
        assert_eq!(killed.deadline(t0), Some(before + by));
        let mut ready = Phase::Ready;
        ready.postpone(by);
        assert_eq!(ready, Phase::Ready);
    }
}
