//! Admission: GNU parallel's gates, with its meaning, before a task starts.
//!
//! - `memfree`: start no task while the memory available (the kernel's
//!   `MemAvailable`) is below it; below half of it, kill the youngest running
//!   task and requeue it (one at a time), and say so.
//! - `load_max`: start no task while the 1-minute load average is above it.
//! - `delay`: at least this long between two task starts.
//!
//! A gate that holds dispatch back is reported once, and again each second
//! with its figure then, in `PoolEvent::DispatchHeld`; `None` once nothing
//! holds. The figures are read at most every [`READ_EVERY`].

use std::time::{Duration, Instant};

use super::Supervisor;
use super::phase::HeldFate;
use crate::engine::events::*;
use crate::platform::{self, GroupSignal};

/// How often the machine's figures are read while a gate is set.
pub const READ_EVERY: Duration = Duration::from_millis(200);
/// How often a gate that goes on holding is reported again.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// The admission gates' state (the supervisor's).
#[derive(Debug, Default)]
pub struct Admission {
    /// When a task last started (for `delay`).
    last_start: Option<Instant>,
    /// The figures and when they were read.
    read_at: Option<Instant>,
    mem_available: Option<u64>,
    load: Option<f64>,
    /// The gate reported holding, and when.
    reported: Option<(Hold, Instant)>,
    /// When the youngest task was last killed for memory.
    killed_at: Option<Instant>,
}

impl Supervisor {
    /// Whether any gate is set: then dispatch goes one start at a time.
    pub(super) fn gated(&self) -> bool {
        self.config.memfree.is_some()
            || self.config.load_max.is_some()
            || self.config.delay.is_some()
    }

    /// Which gate holds dispatch back now, if any (reading the figures when
    /// they are older than [`READ_EVERY`]), and reports a change.
    pub(super) fn admission_hold(&mut self, now: Instant) -> Option<Hold> {
        if !self.gated() {
            return None;
        }
        let a = &mut self.admission;
        if a.read_at
            .is_none_or(|t| now.duration_since(t) >= READ_EVERY)
        {
            a.read_at = Some(now);
            if self.config.memfree.is_some() {
                a.mem_available = platform::mem_available();
            }
            if self.config.load_max.is_some() {
                a.load = platform::load_average();
            }
        }
        let hold = match (
            self.config.memfree,
            a.mem_available,
            self.config.load_max,
            a.load,
        ) {
            (Some(min), Some(free), _, _) if free < min => Some(Hold {
                gate: "memfree".into(),
                now: free as f64,
                limit: min as f64,
            }),
            (_, _, Some(max), Some(load)) if load > max => Some(Hold {
                gate: "load".into(),
                now: load,
                limit: max,
            }),
            _ => None,
        };
        self.report_hold(hold.clone(), now);
        if hold.is_none()
            && let (Some(delay), Some(last)) = (self.config.delay, self.admission.last_start)
            && now.duration_since(last) < delay
        {
            // Not reported: it holds between every two starts.
            return Some(Hold {
                gate: "delay".into(),
                now: now.duration_since(last).as_secs_f64(),
                limit: delay.as_secs_f64(),
            });
        }
        hold
    }

    fn report_hold(&mut self, hold: Option<Hold>, now: Instant) {
        let a = &mut self.admission;
        let changed = match (&a.reported, &hold) {
            (None, None) => false,
            (Some((old, at)), Some(new)) => {
                old.gate != new.gate || now.duration_since(*at) >= REPORT_EVERY
            }
            _ => true,
        };
        if changed {
            a.reported = hold.clone().map(|h| (h, now));
            self.emit(PoolEvent::DispatchHeld(hold));
        }
    }

    /// A task started now (for `delay`).
    pub(super) fn note_start(&mut self, now: Instant) {
        self.admission.last_start = Some(now);
    }

    /// When the gates must be looked at again, while tasks wait.
    pub(super) fn admission_deadline(&self) -> Option<Instant> {
        if !self.gated() || self.queue.waiting() == 0 && self.config.memfree.is_none() {
            return None;
        }
        let a = &self.admission;
        let read = a.read_at.map(|t| t + READ_EVERY);
        let delay = self.config.delay.zip(a.last_start).map(|(d, t)| t + d);
        match (read, delay) {
            (Some(r), Some(d)) => Some(r.min(d)),
            (r, d) => r.or(d).or(Some(Instant::now() + READ_EVERY)),
        }
    }

    /// Below half of `memfree`, kills the youngest running task's worker (at
    /// most one a second, so the memory it frees is seen first) and requeues
    /// the task, as GNU parallel does.
    pub(super) fn memfree_kill(&mut self, now: Instant) {
        let (Some(min), Some(free)) = (self.config.memfree, self.admission.mem_available) else {
            return;
        };
        if free >= min / 2
            || self
                .admission
                .killed_at
                .is_some_and(|t| now.duration_since(t) < REPORT_EVERY)
        {
            return;
        }
        let youngest = self
            .workers
            .iter()
            .filter(|(_, s)| !s.held.is_empty() && s.phase.counts_as_alive())
            .max_by_key(|(_, s)| s.head_since)
            .map(|(w, s)| (*w, s.held[0]));
        let Some((w, task)) = youngest else { return };
        self.admission.killed_at = Some(now);
        let why = format!(
            "free memory {} MiB is below half of --memfree {} MiB: killed the youngest task {task} to run it again later",
            free >> 20,
            min >> 20
        );
        self.emit(PoolEvent::Error {
            worker: Some(w),
            message: why.clone(),
        });
        self.kill_worker(w, GroupSignal::Kill, why.clone(), HeldFate::Requeue(why));
        self.fill_to_wanted();
    }

    /// The threads each task's numeric libraries get: the setting, or the
    /// worker's share of the CPUs (at least 1), as loky does.
    pub(super) fn threads_per_task(&self) -> u32 {
        self.config.threads_per_task.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cpus / self.wanted.max(1)).max(1) as u32
        })
    }

    /// Kills the worker of each task whose process group's resident memory
    /// (in `sample`) passed `task_memory`: the task ends failed, "over
    /// memory limit", and the worker is replaced.
    pub(super) fn task_memory_check(&mut self, sample: &crate::engine::monitor::Sample) {
        let Some(limit) = self.config.task_memory else {
            return;
        };
        for stat in &sample.workers {
            let w = stat.worker;
            let Some(worker) = self.workers.get(&w) else {
                continue;
            };
            if worker.held.is_empty() || !worker.phase.counts_as_alive() || stat.stat.rss <= limit {
                continue;
            }
            let why = format!(
                "over memory limit: {} MiB resident, more than --task-memory {} MiB",
                stat.stat.rss >> 20,
                limit >> 20
            );
            self.kill_worker(
                w,
                GroupSignal::Kill,
                "its task went over --task-memory".into(),
                HeldFate::Failed(why),
            );
            self.fill_to_wanted();
        }
    }
}
