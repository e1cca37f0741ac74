//! Per-core load with a short history, pooltop's own cost, and throughput.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use pooltop::engine::monitor::Sample;

/// Samples of history kept per core (and for the machine's mean).
pub const CORE_HISTORY: usize = 120;
/// Window of the "now" throughput.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

/// What the cores pane and the header's corner show.
#[derive(Debug, Default)]
pub struct Machine {
    /// Each core's load history (% of that core), newest last.
    pub cores: Vec<VecDeque<f32>>,
    /// The machine's mean load history (% of the whole machine), newest last.
    pub mean: VecDeque<f32>,
    /// pooltop's own process: CPU % of one core and RSS.
    pub own_cpu: Option<f32>,
    pub own_rss: u64,
    /// The monitor thread's CPU % of one core, and how long a sample took.
    pub monitor_cpu: Option<f32>,
    pub monitor_cost: Duration,
    /// Each other host's cores, as its workers last reported them.
    pub hosts: std::collections::BTreeMap<std::sync::Arc<str>, Vec<f32>>,
}

fn push(ring: &mut VecDeque<f32>, v: f32) {
    if ring.len() == CORE_HISTORY {
        ring.pop_front();
    }
    ring.push_back(v);
}

impl Machine {
    /// Takes in a monitor sample.
    pub fn sample(&mut self, s: &Sample) {
        if self.cores.len() != s.cores.len() {
            self.cores = vec![VecDeque::with_capacity(CORE_HISTORY); s.cores.len()];
        }
        for (ring, &v) in self.cores.iter_mut().zip(&s.cores) {
            push(ring, v);
        }
        push(&mut self.mean, s.machine_load());
        self.own_cpu = Some(s.own.cpu);
        self.own_rss = s.own.rss;
        self.monitor_cpu = Some(s.monitor_cpu);
        self.monitor_cost = s.cost;
        for h in &s.hosts {
            self.hosts.insert(h.host.clone(), h.cores.clone());
        }
    }

    /// Each core's latest load.
    pub fn latest(&self, core: usize) -> f32 {
        self.cores
            .get(core)
            .and_then(|r| r.back().copied())
            .unwrap_or(0.0)
    }
}

/// Finished-task counts over time, for "tasks per second now".
#[derive(Debug, Default)]
pub struct Rate {
    points: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Notes that `finished` tasks had finished at `now`.
    pub fn note(&mut self, now: Instant, finished: u64) {
        self.points.push_back((now, finished));
        while self
            .points
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            self.points.pop_front();
        }
    }

    /// Tasks per second over the last [`RATE_WINDOW`].
    pub fn per_sec(&self) -> f64 {
        match (self.points.front(), self.points.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => {
                (n1 - n0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}
