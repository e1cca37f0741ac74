//! The one hung detector: flags busy workers that look hung, for every face.
//!
//! A worker looks hung when its task has made no progress (no task ended,
//! no retry, no pause or resume) and its process group (the worker and what
//! its task started) has used no CPU for `PoolConfig::hung_after`. A stopped
//! (SIGSTOP) or deadlocked worker looks like this, and so does a task that
//! sleeps or waits on I/O that long: it is a hint; the task timeout is what
//! acts. Workers the user paused are not watched.
//!
//! "No CPU" is read from the kernel's tick counts of the whole process group
//! (`platform::group_cpu_ticks`), not from the sampler's percentages: a count
//! that did not move is exact, and it includes processes of the task that
//! came and went between two samples, which a tree walk misses.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::events::{PoolEvent, WorkerId};
use super::workers::WorkerTable;

/// How long a busy worker may go without progress and without CPU before it
/// is reported as hung, unless told otherwise (or half the task timeout, if
/// that is shorter, so the report comes before the kill).
pub const DEFAULT_HUNG_AFTER: Duration = Duration::from_secs(10);

/// Watches the workers' progress (from the pool's events) and CPU.
pub(crate) struct HungDetector {
    after: Duration,
    /// How often to read the workers' CPU: a quarter of `after`, within
    /// 0.1 s to 1 s (each reading scans /proc).
    every: Duration,
    next_check: Instant,
    table: WorkerTable,
    /// Each watched worker's last CPU reading (ticks of its process group,
    /// none if none was found) and when that reading last changed.
    cpu: HashMap<WorkerId, (Option<u64>, Option<Instant>)>,
}

impl HungDetector {
    /// A detector that reports a worker after `after` without a sign of life.
    pub(crate) fn new(after: Duration, now: Instant) -> HungDetector {
        let every = (after / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
        HungDetector {
            after,
            every,
            next_check: now + every,
            table: WorkerTable::default(),
            cpu: HashMap::new(),
        }
    }

    /// When [`HungDetector::check`] wants to run next.
    pub(crate) fn next_check(&self) -> Instant {
        self.next_check
    }

    /// Follows one event of the pool. Returns a `WorkerUnhung` (to go out
    /// before the event) when it is progress of a worker flagged hung.
    pub(crate) fn observe(&mut self, ev: &PoolEvent, now: Instant) -> Option<PoolEvent> {
        let worker = match ev {
            // Its own news is applied where it is made; samples are not used.
            PoolEvent::WorkerHung { .. }
            | PoolEvent::WorkerUnhung { .. }
            | PoolEvent::Sample(_) => return None,
            PoolEvent::WorkerPaused { worker }
            | PoolEvent::WorkerResumed { worker }
            | PoolEvent::TaskStarted { worker, .. }
            | PoolEvent::TaskRetrying { worker, .. } => Some(*worker),
            PoolEvent::TaskFinished(r) => r.worker,
            PoolEvent::TasksDone(run) => Some(run.worker()),
            PoolEvent::WorkerExited { worker, .. } => {
                self.table.remove(*worker);
                self.cpu.remove(worker);
                return None;
            }
            _ => None,
        };
        let unhung = worker.and_then(|w| {
            let row = self.table.get(w).filter(|r| r.is_hung())?;
            let task = row.task.as_ref()?.task;
            Some(PoolEvent::WorkerUnhung { worker: w, task })
        });
        if let Some(news) = &unhung {
            self.table.observe(news, now);
        }
        self.table.observe(ev, now);
        unhung
    }

    /// The manager was stalled for `by` up to `now` (see
    /// `supervisor::stall`): the time without a sign of life of each busy
    /// worker restarts `by` later, so none is reported hung for time the
    /// manager did not see, and the CPU reading next is a new baseline.
    pub(crate) fn excuse(&mut self, by: Duration, now: Instant) {
        for row in self.table.rows().filter(|r| r.task.is_some()) {
            let (last, moved_at) = self.cpu.entry(row.id).or_insert((None, None));
            let since = moved_at.map_or(row.progress_at, |t| t.max(row.progress_at));
            *moved_at = Some((since + by).min(now));
            *last = None;
        }
    }

    /// Reads the CPU of the busy workers, if it is time to: returns a
    /// `WorkerHung` for each that has now been quiet too long, and a
    /// `WorkerUnhung` for each flagged one that used CPU again.
    pub(crate) fn check(&mut self, now: Instant) -> Vec<PoolEvent> {
        self.check_with(now, crate::platform::group_cpu_ticks)
    }

    /// [`HungDetector::check`], reading the CPU ticks of process groups
    /// with `read` (a test gives made-up ones).
    fn check_with(
        &mut self,
        now: Instant,
        read: impl FnOnce(&[u32]) -> HashMap<u32, u64>,
    ) -> Vec<PoolEvent> {
        let mut news = Vec::new();
        if now < self.next_check {
            return news;
        }
        self.next_check = now + self.every;
        let watched: Vec<(WorkerId, u32)> = self
            .table
            .rows()
            .filter(|r| r.task.is_some() && r.paused_at.is_none() && r.gone.is_none())
            // A launched worker's processes are not this machine's to read
            // (its pid is its launcher's): it is not judged here.
            .filter(|r| r.host.is_none())
            .map(|r| (r.id, r.pid))
            .collect();
        if watched.is_empty() {
            return news;
        }
        let pids: Vec<u32> = watched.iter().map(|&(_, pid)| pid).collect();
        let ticks = read(&pids);
        for (worker, pid) in watched {
            news.extend(self.judge(worker, ticks.get(&pid).copied(), now));
        }
        for n in &news {
            self.table.observe(n, now);
        }
        news
    }

    /// One watched worker's verdict, given its CPU ticks now.
    fn judge(&mut self, worker: WorkerId, used: Option<u64>, now: Instant) -> Option<PoolEvent> {
        let row = self.table.get(worker)?;
        let held = row.task.as_ref()?;
        let (last, moved_at) = self.cpu.entry(worker).or_insert((None, None));
        // The first reading is a baseline, not a sign of life.
        let first = last.is_none();
        if used != *last {
            *last = used;
            if !first {
                *moved_at = Some(now);
                return row.is_hung().then_some(PoolEvent::WorkerUnhung {
                    worker,
                    task: held.task,
                });
            }
        }
        let since = moved_at.map_or(row.progress_at, |t| t.max(row.progress_at));
        let idle = now.saturating_duration_since(since);
        (!row.is_hung() && idle >= self.after).then_some(PoolEvent::WorkerHung {
            worker,
            pid: row.pid,
            task: held.task,
            idle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::{TaskId, TaskReport, TaskState};
    use std::sync::Arc;

    const PID: u32 = 500;

    /// A detector with `hung_after` 1 s (checks every 250 ms) and one busy
    /// worker, started at `t0`.
    fn busy(t0: Instant) -> HungDetector {
        let mut d = HungDetector::new(Duration::from_secs(1), t0);
        let w = WorkerId(1);
        d.observe(
            &PoolEvent::WorkerSpawned {
                worker: w,
                pid: PID,
            },
            t0,
        );
        d.observe(
            &PoolEvent::WorkerReady {
                worker: w,
                pid: PID,
            },
            t0,
        );
        let start = PoolEvent::TaskStarted {
            task: TaskId(7),
            worker: w,
            attempt: 1,
            line: Arc::from("hang"),
        };
        d.observe(&start, t0);
        d
    }

    fn at(t0: Instant, secs: f64) -> Instant {
        t0 + Duration::from_secs_f64(secs)
    }

    /// A check at `now` with the worker's group at `ticks`.
    fn check(d: &mut HungDetector, now: Instant, ticks: Option<u64>) -> Vec<PoolEvent> {
        d.check_with(now, |pids| {
            assert_eq!(pids, [PID], "only the busy worker is read");
            ticks.map(|t| (PID, t)).into_iter().collect()
        })
    }

    fn is_hung(news: &[PoolEvent]) -> Option<Duration> {
        match news {
            [
                PoolEvent::WorkerHung {
                    worker,
                    pid,
                    task,
                    idle,
                },
            ] => {
                assert_eq!((*worker, *pid, *task), (WorkerId(1), PID, TaskId(7)));
                Some(*idle)
            }
            _ => None,
        }
    }

    fn is_unhung(news: &[PoolEvent]) -> bool {
        matches!(
            news,
            [PoolEvent::WorkerUnhung {
                worker: WorkerId(1),
                task: TaskId(7)
            }]
        )
    }

    #[test]
    fn a_quiet_busy_worker_is_reported_once_after_the_limit() {
        let t0 = Instant::now();
        let mut d = busy(t0);
        assert!(check(&mut d, at(t0, 0.5), Some(10)).is_empty(), "too soon");
        assert!(
            check(&mut d, at(t0, 0.6), Some(10)).is_empty(),
            "not yet time to look"
        );
        let idle = is_hung(&check(&mut d, at(t0, 1.0), Some(10))).expect("hung");
        assert_eq!(idle, Duration::from_secs(1));
        assert!(
            check(&mut d, at(t0, 2.0), Some(10)).is_empty(),
            "reported once"
        );
    }

    #[test]
    fn the_time_of_a_stall_of_the_manager_is_not_held_against_a_worker() {
        let t0 = Instant::now();
        let mut d = busy(t0);
        assert!(check(&mut d, at(t0, 0.5), Some(10)).is_empty());
        // The manager did not run from 0.6 s to 5.6 s.
        d.excuse(Duration::from_secs(5), at(t0, 5.6));
        assert!(
            check(&mut d, at(t0, 5.75), Some(10)).is_empty(),
            "0.75 s quiet that the manager saw"
        );
        let idle = is_hung(&check(&mut d, at(t0, 6.0), Some(10))).expect("hung");
        assert_eq!(idle, Duration::from_secs(1));
    }

    #[test]
    fn cpu_use_restarts_the_clock_and_unflags() {
        let t0 = Instant::now();
        let mut d = busy(t0);
        assert!(check(&mut d, at(t0, 0.5), Some(10)).is_empty());
        // It used CPU at 0.75 s: quiet from then on.
        assert!(check(&mut d, at(t0, 0.75), Some(11)).is_empty());
        assert!(
            check(&mut d, at(t0, 1.5), Some(11)).is_empty(),
            "0.75 s quiet"
        );
        let idle = is_hung(&check(&mut d, at(t0, 1.75), Some(11))).expect("hung");
        assert_eq!(idle, Duration::from_secs(1));
        assert!(is_unhung(&check(&mut d, at(t0, 2.0), Some(12))));
    }

    #[test]
    fn progress_unflags_and_restarts_the_clock() {
        let t0 = Instant::now();
        let mut d = busy(t0);
        assert!(is_hung(&check(&mut d, at(t0, 1.0), Some(3))).is_some());
        let retry = PoolEvent::TaskRetrying {
            task: TaskId(7),
            worker: WorkerId(1),
            reason: "?".into(),
        };
        let start = PoolEvent::TaskStarted {
            task: TaskId(7),
            worker: WorkerId(1),
            attempt: 2,
            line: Arc::from("hang"),
        };
        let news = d.observe(&retry, at(t0, 1.2));
        assert!(is_unhung(news.as_slice()), "{news:?}");
        assert!(
            d.observe(&start, at(t0, 1.2)).is_none(),
            "not flagged any more"
        );
        assert!(
            check(&mut d, at(t0, 2.0), Some(3)).is_empty(),
            "0.8 s since the retry"
        );
        assert!(is_hung(&check(&mut d, at(t0, 2.25), Some(3))).is_some());
        let done = PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(7),
            worker: Some(WorkerId(1)),
            state: TaskState::TimedOut,
            output: Default::default(),
            error: None,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            max_rss: None,
            attempts: 2,
            line: Arc::from("hang"),
        }));
        assert!(is_unhung(d.observe(&done, at(t0, 2.3)).as_slice()));
        let none = d.check_with(at(t0, 9.0), |_| panic!("an idle worker is not read"));
        assert!(none.is_empty());
    }

    #[test]
    fn a_paused_worker_is_not_watched_and_a_resume_is_progress() {
        let t0 = Instant::now();
        let mut d = busy(t0);
        d.observe(
            &PoolEvent::WorkerPaused {
                worker: WorkerId(1),
            },
            at(t0, 0.1),
        );
        let none = d.check_with(at(t0, 5.0), |_| panic!("a paused worker is not read"));
        assert!(none.is_empty());
        d.observe(
            &PoolEvent::WorkerResumed {
                worker: WorkerId(1),
            },
            at(t0, 5.0),
        );
        assert!(
            check(&mut d, at(t0, 5.5), Some(1)).is_empty(),
            "0.5 s since the resume"
        );
        let idle = is_hung(&check(&mut d, at(t0, 6.0), Some(1))).expect("hung");
        assert_eq!(idle, Duration::from_secs(1));
    }

    #[test]
    fn a_worker_that_exits_is_forgotten() {
        let t0 = Instant::now();
        let mut d = busy(t0);
        let how = crate::engine::ExitHow::Exited(0);
        let exited = PoolEvent::WorkerExited {
            worker: WorkerId(1),
            pid: PID,
            how,
        };
        d.observe(&exited, t0);
        let none = d.check_with(at(t0, 5.0), |_| panic!("a gone worker is not read"));
        assert!(none.is_empty() && d.cpu.is_empty());
    }
}
