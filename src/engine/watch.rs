//! What the supervisor keeps an eye on besides the tasks: the sampler it
//! tells which workers to follow, and the hung detector. Both follow the
//! workers through the events the supervisor emits, so the supervisor needs
//! one hook in its `emit`, one in its inbox and one on its timers.

use std::time::Instant;

use super::PoolConfig;
use super::events::PoolEvent;
use super::hung::HungDetector;
use super::monitor::{MonitorHandle, Sample};

/// The sampler's handle (when the pool samples) and the hung detector.
pub(crate) struct Watch {
    monitor: Option<MonitorHandle>,
    hung: HungDetector,
    /// When the supervisor's current round began: the time of the events it
    /// sends in that round. Reading the clock once a round, not once an
    /// event, keeps the hot path cheap; a round takes microseconds.
    now: Instant,
}

impl Watch {
    /// Watches a pool run with `config`; `monitor` is its sampler, if any.
    pub(crate) fn new(config: &PoolConfig, monitor: Option<MonitorHandle>) -> Watch {
        let now = Instant::now();
        Watch {
            monitor,
            hung: HungDetector::new(config.hung_report_after(), now),
            now,
        }
    }

    /// The supervisor starts a round (it has just waited) at `now`.
    pub(crate) fn new_round(&mut self, now: Instant) {
        self.now = now;
    }

    /// Follows an event the supervisor is about to send. Returns an event
    /// to send before it (a worker that made progress is no longer hung).
    pub(crate) fn observe(&mut self, ev: &PoolEvent) -> Option<PoolEvent> {
        match ev {
            PoolEvent::WorkerSpawned { worker, pid } => {
                if let Some(m) = &self.monitor {
                    m.track(*worker, *pid);
                }
            }
            PoolEvent::WorkerExited { worker, .. } => {
                if let Some(m) = &self.monitor {
                    m.untrack(*worker);
                }
            }
            _ => {}
        }
        self.hung.observe(ev, self.now)
    }

    /// The supervisor lost `by` to a stall: no worker is judged on it.
    pub(crate) fn excuse(&mut self, by: std::time::Duration) {
        self.hung.excuse(by, self.now);
    }

    /// When the hung detector wants to look at the workers' CPU next.
    pub(crate) fn next_check(&self) -> Instant {
        self.hung.next_check()
    }

    /// The hung detector's news, if it is time to look (see [`HungDetector::check`]).
    pub(crate) fn check(&mut self) -> Vec<PoolEvent> {
        if self.now < self.hung.next_check() {
            return Vec::new();
        }
        self.hung.check(self.now)
    }

    /// The event that publishes a sample from the sampler. A worker that
    /// exited while the sample was taken is left out.
    pub(crate) fn sample(
        &self,
        mut sample: Sample,
        alive: impl Fn(super::WorkerId) -> bool,
    ) -> PoolEvent {
        sample.workers.retain(|w| alive(w.worker));
        PoolEvent::Sample(Box::new(sample))
    }
}
