//! Running totals of a pool's events: counts, times, rates, and the words
//! every face prints about them (the progress line, the closing summary).

use std::time::{Duration, Instant};

use crate::report::human;
use pooltop::engine::{Counts, PoolEvent};

/// Running totals of a pool's events: counts, times, rates. Shared by the
/// headless runner and the dashboard so both print the same summary.
#[derive(Debug, Clone)]
pub struct Tally {
    started: Instant,
    ended: Option<Instant>,
    workers: usize,
    pub counts: Counts,
    pub running: usize,
    /// Summed wall time of every task attempt that reported one.
    pub task_time: Duration,
}

impl Tally {
    pub fn new(workers: usize) -> Tally {
        Tally {
            started: Instant::now(),
            ended: None,
            workers,
            counts: Counts::default(),
            running: 0,
            task_time: Duration::ZERO,
        }
    }

    /// Takes one event into account.
    pub fn observe(&mut self, ev: &PoolEvent) {
        match ev {
            PoolEvent::TasksQueued { count, .. } => self.counts.submitted += *count as u64,
            PoolEvent::TaskStarted { .. } => self.running += 1,
            PoolEvent::TaskRetrying { .. } => self.running = self.running.saturating_sub(1),
            PoolEvent::TaskFinished(r) => {
                if r.attempts > 0 {
                    self.running = self.running.saturating_sub(1);
                }
                self.task_time += r.wall;
                self.counts.record(r.state);
            }
            // Each started and finished within the run: `running` is as it was.
            PoolEvent::TasksDone(run) => {
                self.task_time += run.total_wall();
                self.counts.done += run.len() as u64;
            }
            PoolEvent::TaskRetried { .. } => self.counts.retried += 1,
            PoolEvent::Scaled { workers } => self.workers = self.workers.max(*workers),
            PoolEvent::Stopped(c) => {
                self.counts = *c;
                self.running = 0;
                self.ended = Some(Instant::now());
            }
            _ => {}
        }
    }

    /// The most workers the pool had.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Wall time since the pool started (frozen when it stopped).
    pub fn wall(&self) -> Duration {
        self.ended.unwrap_or_else(Instant::now) - self.started
    }

    pub fn queued(&self) -> u64 {
        self.counts
            .submitted
            .saturating_sub(self.counts.finished() + self.running as u64)
    }

    /// Finished tasks per second, on average.
    pub fn rate(&self) -> f64 {
        let secs = self.wall().as_secs_f64();
        if secs > 0.0 {
            self.counts.finished() as f64 / secs
        } else {
            0.0
        }
    }

    /// Summed task time over wall time.
    pub fn speedup(&self) -> f64 {
        let wall = self.wall().as_secs_f64();
        if wall > 0.0 {
            self.task_time.as_secs_f64() / wall
        } else {
            0.0
        }
    }

    /// Whether every task is done, or was retried by a task that is: a
    /// retry stands in for the task it retries.
    pub fn all_done(&self) -> bool {
        self.counts.done + self.counts.retried == self.counts.submitted
    }

    /// The exit status: 0 when every task is done, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.all_done() { 0 } else { 1 }
    }

    /// One line of progress: done/failed/running/queued, rate, ETA.
    pub fn progress_line(&self) -> String {
        let c = &self.counts;
        let rate = self.rate();
        let left = c.submitted.saturating_sub(c.finished());
        let eta = if rate > 0.0 && left > 0 {
            format!(
                " · ETA {}",
                human(Duration::from_secs_f64(left as f64 / rate))
            )
        } else {
            String::new()
        };
        format!(
            "{}/{} done · {} failed · {} running · {} queued · {:.1}/s{eta}",
            c.done,
            c.submitted,
            c.failed + c.timed_out + c.cancelled,
            self.running,
            self.queued(),
            rate
        )
    }

    /// The closing summary, several lines.
    pub fn summary_text(&self) -> String {
        let c = &self.counts;
        let speedup = self.speedup();
        let efficiency = if self.workers > 0 {
            speedup / self.workers as f64
        } else {
            0.0
        };
        // A retry is a task of its own, so the sum holds; say how many.
        let retries = match c.retried {
            0 => String::new(),
            1 => " (1 of them a retry of an ended task)".to_string(),
            n => format!(" ({n} of them retries of ended tasks)"),
        };
        format!(
            "pooltop: {} submitted = {} done + {} failed + {} timed out + {} cancelled{retries}\n\
             pooltop: wall {:.3}s · task time {:.3}s · speedup {:.2}× on {} workers · efficiency {:.0}%",
            c.submitted,
            c.done,
            c.failed,
            c.timed_out,
            c.cancelled,
            self.wall().as_secs_f64(),
            self.task_time.as_secs_f64(),
            speedup,
            self.workers,
            efficiency * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::engine::{TaskId, TaskReport, TaskState, WorkerId};
    use std::sync::Arc;

    fn finished(task: u64, state: TaskState, wall_ms: u64) -> PoolEvent {
        PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(task),
            worker: Some(WorkerId(1)),
            state,
            output: Default::default(),
            error: None,
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::ZERO,
            attempts: 1,
            line: Arc::from("spin 1"),
        }))
    }

    fn started(task: u64) -> PoolEvent {
        PoolEvent::TaskStarted {
            task: TaskId(task),
            worker: WorkerId(1),
            attempt: 1,
            line: Arc::from("spin 1"),
        }
    }

    #[test]
    fn counts_each_task_once_and_sums_its_time() {
        let mut t = Tally::new(2);
        t.observe(&PoolEvent::TasksQueued {
            first: TaskId(1),
            count: 3,
            lines: vec![],
        });
        assert_eq!((t.counts.submitted, t.queued()), (3, 3));
        t.observe(&started(1));
        t.observe(&started(2));
        assert_eq!((t.running, t.queued()), (2, 1));
        t.observe(&finished(1, TaskState::Done, 300));
        t.observe(&finished(2, TaskState::Failed, 200));
        t.observe(&finished(3, TaskState::Cancelled, 0));
        assert_eq!(t.running, 0);
        assert_eq!(t.counts.finished(), 3);
        assert_eq!(t.task_time, Duration::from_millis(500));
        assert!(!t.all_done());
        assert_eq!(t.exit_code(), 1);
        let text = t.summary_text();
        assert!(
            text.starts_with(
                "pooltop: 3 submitted = 1 done + 1 failed + 0 timed out + 1 cancelled\n"
            ),
            "{text}"
        );
        assert!(text.contains("on 2 workers"), "{text}");
    }

    #[test]
    fn a_retry_is_a_task_of_its_own_and_the_summary_says_so() {
        let mut t = Tally::new(1);
        t.observe(&PoolEvent::TasksQueued {
            first: TaskId(1),
            count: 1,
            lines: vec![],
        });
        t.observe(&started(1));
        t.observe(&finished(1, TaskState::Failed, 10));
        t.observe(&PoolEvent::TaskRetried {
            task: TaskId(1),
            retry: TaskId(2),
        });
        t.observe(&PoolEvent::TasksQueued {
            first: TaskId(2),
            count: 1,
            lines: vec![],
        });
        t.observe(&started(2));
        t.observe(&finished(2, TaskState::Done, 10));
        let text = t.summary_text();
        assert!(
            text.starts_with("pooltop: 2 submitted = 1 done + 1 failed + 0 timed out + 0 cancelled (1 of them a retry of an ended task)\n"),
            "{text}"
        );
        assert!(t.all_done(), "the retry stands in for the failed task");
        assert_eq!(t.exit_code(), 0);
    }

    #[test]
    fn a_scale_up_counts_the_most_workers_and_stop_freezes_the_clock() {
        let mut t = Tally::new(2);
        t.observe(&PoolEvent::Scaled { workers: 4 });
        t.observe(&PoolEvent::Scaled { workers: 1 });
        assert_eq!(t.workers(), 4);
        t.observe(&PoolEvent::Stopped(Counts::default()));
        let wall = t.wall();
        std::thread::yield_now();
        assert_eq!(t.wall(), wall);
        assert!(t.all_done());
        assert_eq!(t.exit_code(), 0);
    }

    #[test]
    fn progress_line_names_each_state_and_leaves_out_an_unknown_eta() {
        let mut t = Tally::new(1);
        t.observe(&PoolEvent::TasksQueued {
            first: TaskId(1),
            count: 2,
            lines: vec![],
        });
        t.observe(&started(1));
        let line = t.progress_line();
        assert!(
            line.starts_with("0/2 done · 0 failed · 1 running · 1 queued · "),
            "{line}"
        );
        assert!(!line.contains("ETA"), "{line}");
    }
}
