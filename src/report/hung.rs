//! Hung workers: busy, yet neither finishing anything nor using CPU.

use std::time::{Duration, Instant};

use crate::engine::{self, PoolEvent};

/// How long a busy worker may go without progress and without CPU before it
/// is reported as hung, unless told otherwise (or half the task timeout, if
/// that is shorter, so the report comes before the kill).
pub const DEFAULT_HUNG_AFTER: Duration = Duration::from_secs(10);

/// Flags busy workers that look hung: their task has not finished and their
/// process group (the worker and what its task started) has used no CPU for
/// a while. A stopped (SIGSTOP) or deadlocked worker looks like this, and so
/// does a task that sleeps or waits on I/O that long: it is a hint; the task
/// timeout is what acts. Workers the user paused are not watched.
pub struct HungWatch {
    after: Duration,
    /// How often to sample the workers' CPU time: a quarter of `after`,
    /// within 0.1 s to 1 s (each sample reads /proc).
    pub every: Duration,
    workers: std::collections::HashMap<engine::WorkerId, Watched>,
    last_check: Instant,
}

struct Watched {
    pid: u32,
    /// The task it runs, and since when it has shown no sign of life.
    busy: Option<(engine::TaskId, Instant)>,
    paused: bool,
    cpu: Option<u64>,
    flagged: bool,
}

/// A change in a worker's hung state, for the JSON stream and stderr.
pub enum HungNews {
    Hung {
        worker: engine::WorkerId,
        pid: u32,
        task: engine::TaskId,
        idle: Duration,
    },
    Unhung {
        worker: engine::WorkerId,
        task: engine::TaskId,
    },
}

impl HungWatch {
    pub fn new(after: Duration) -> HungWatch {
        HungWatch {
            after,
            every: (after / 4).clamp(Duration::from_millis(100), Duration::from_secs(1)),
            workers: Default::default(),
            last_check: Instant::now(),
        }
    }

    /// Follows the pool's events; returns news when a flagged worker moved on.
    pub fn observe(&mut self, ev: &PoolEvent) -> Option<HungNews> {
        let now = Instant::now();
        let (worker, progress) = match ev {
            PoolEvent::WorkerReady { worker, pid } => {
                self.workers.insert(
                    *worker,
                    Watched {
                        pid: *pid,
                        busy: None,
                        paused: false,
                        cpu: None,
                        flagged: false,
                    },
                );
                return None;
            }
            PoolEvent::WorkerExited { worker, .. } => {
                self.workers.remove(worker);
                return None;
            }
            PoolEvent::WorkerPaused { worker } => {
                if let Some(w) = self.workers.get_mut(worker) {
                    w.paused = true;
                }
                (*worker, None)
            }
            PoolEvent::WorkerResumed { worker } => {
                if let Some(w) = self.workers.get_mut(worker) {
                    w.paused = false;
                }
                (*worker, None)
            }
            PoolEvent::TaskStarted { task, worker, .. } => (*worker, Some(Some(*task))),
            PoolEvent::TaskRetrying { worker, .. } => (*worker, Some(None)),
            PoolEvent::TaskFinished(r) => match r.worker {
                Some(w) => (w, Some(None)),
                None => return None,
            },
            // Its tasks ended; the worker's next, if any, follows as started.
            PoolEvent::TasksDone(run) => (run.worker(), Some(None)),
            _ => return None,
        };
        let w = self.workers.get_mut(&worker)?;
        let was = w.busy.map(|(t, _)| t);
        match progress {
            Some(next) => w.busy = next.map(|t| (t, now)),
            // Paused or resumed: the clock starts again.
            None => w.busy = w.busy.map(|(t, _)| (t, now)),
        }
        if std::mem::take(&mut w.flagged) {
            return was.map(|task| HungNews::Unhung { worker, task });
        }
        None
    }

    /// Samples the CPU of busy workers (at most every `self.every`).
    pub fn check(&mut self, now: Instant) -> Vec<HungNews> {
        let mut news = Vec::new();
        if now < self.last_check + self.every {
            return news;
        }
        self.last_check = now;
        let watched: Vec<u32> = self
            .workers
            .values()
            .filter(|w| w.busy.is_some() && !w.paused)
            .map(|w| w.pid)
            .collect();
        if watched.is_empty() {
            return news;
        }
        let cpu = crate::platform::group_cpu_ticks(&watched);
        for (&worker, w) in self.workers.iter_mut() {
            let Some((task, since)) = w.busy.as_mut() else {
                continue;
            };
            if w.paused {
                continue;
            }
            let used = cpu.get(&w.pid).copied();
            if used != w.cpu {
                let first = w.cpu.is_none();
                w.cpu = used;
                if !first {
                    *since = now;
                    if std::mem::take(&mut w.flagged) {
                        news.push(HungNews::Unhung {
                            worker,
                            task: *task,
                        });
                    }
                    continue;
                }
            }
            let idle = now.saturating_duration_since(*since);
            if !w.flagged && idle >= self.after {
                w.flagged = true;
                news.push(HungNews::Hung {
                    worker,
                    pid: w.pid,
                    task: *task,
                    idle,
                });
            }
        }
        news
    }
}
