//! Running totals of a pool's events: counts, times, rates, and the words
//! every face prints about them (the progress line, the closing summary).
//!
//! The summary is honest about what ran: speedup and efficiency count only
//! the time of tasks that finished on their own (done or failed), while the
//! time of tasks that were killed, timed out or cancelled is shown apart;
//! the worker figure is the range of live workers when tasks finished and
//! their time-weighted average (see README, "Summary").

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::report::human;
use pooltop::engine::{Counts, ExitHow, PoolEvent, TaskId, TaskState, WorkerId};

/// How many task ids of each unfinished state the summary names.
pub const NAMED_IDS: usize = 10;

/// Running totals of a pool's events: counts, times, rates. Shared by the
/// headless runner and the dashboard so both print the same summary.
#[derive(Debug, Clone)]
pub struct Tally {
    started: Instant,
    ended: Option<Instant>,
    /// The most workers the pool was asked for.
    workers: usize,
    pub counts: Counts,
    pub running: usize,
    /// Summed wall time of the tasks that finished on their own (done or
    /// failed): what speedup and efficiency are made of.
    pub task_time: Duration,
    /// Time spent, and lost, elsewhere: see [`LostTime`].
    pub lost: LostTime,
    live: LiveWorkers,
    /// When each busy worker's current attempt started (for the time of
    /// attempts that are retried, which no report carries).
    attempt_started: HashMap<WorkerId, Instant>,
    /// The last task that failed or was cancelled on a worker, with its
    /// time, until the next event says whether its worker was killed under
    /// it (the engine reports the task first, then at once the exit).
    just_ended: Option<(WorkerId, Duration, TaskState)>,
    /// The first [`NAMED_IDS`] ids of failed, timed-out and cancelled tasks.
    named: [Vec<TaskId>; 3],
}

/// Task time that speedup and efficiency leave out: each task's attempts
/// that did not end on their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LostTime {
    /// Attempts whose worker was killed under them (`pooltop kill`, the
    /// dashboard's `k`, the join timeout at shutdown), and attempts that
    /// were started again after their worker died (`--retries`).
    pub killed: Duration,
    /// Tasks that ran into the task timeout.
    pub timed_out: Duration,
    /// Tasks cancelled while they ran without a kill.
    pub cancelled: Duration,
}

impl LostTime {
    fn total(&self) -> Duration {
        self.killed + self.timed_out + self.cancelled
    }
}

/// The workers that could take tasks (ready, not yet exited), over time.
///
/// A killed worker is replaced at once but counts until it has exited; so
/// that the two are not counted as two, the count is capped at the workers
/// wanted plus those retiring (which finish their task first).
#[derive(Debug, Clone)]
struct LiveWorkers {
    ready: BTreeSet<WorkerId>,
    /// Workers asked to retire after their task (a shrinking pool).
    retiring: BTreeSet<WorkerId>,
    /// The workers the pool wants (`Scaled`).
    wanted: usize,
    /// When `ready` last changed.
    since: Instant,
    /// Worker-seconds until `since`: the integral of `ready.len()`.
    worker_time: Duration,
    /// The workers the pool starts with.
    initial: usize,
    /// Whether all of them have been live at once (the start is over).
    up: bool,
    /// The fewest and most live workers when a task finished, once the
    /// pool was up (`steady`) and before (`ramp`: used only when no task
    /// finished after).
    steady: Option<(usize, usize)>,
    ramp: Option<(usize, usize)>,
}

impl LiveWorkers {
    fn new(initial: usize, now: Instant) -> LiveWorkers {
        LiveWorkers {
            ready: BTreeSet::new(),
            retiring: BTreeSet::new(),
            wanted: initial,
            since: now,
            worker_time: Duration::ZERO,
            initial,
            up: false,
            steady: None,
            ramp: None,
        }
    }

    /// The fewest and most live workers while tasks ran.
    fn range(&self) -> Option<(usize, usize)> {
        self.steady.or(self.ramp)
    }

    /// How many workers are live now.
    fn count(&self) -> usize {
        self.ready.len().min(self.wanted + self.retiring.len())
    }

    fn settle(&mut self, now: Instant) {
        let gap = now.saturating_duration_since(self.since);
        self.worker_time += gap * self.count() as u32;
        self.since = now;
    }

    fn ready(&mut self, w: WorkerId, now: Instant) {
        self.settle(now);
        self.ready.insert(w);
        self.up |= self.count() >= self.initial;
    }

    fn exited(&mut self, w: WorkerId, now: Instant) {
        self.settle(now);
        self.ready.remove(&w);
        self.retiring.remove(&w);
    }

    fn retiring(&mut self, w: WorkerId, now: Instant) {
        self.settle(now);
        if self.ready.contains(&w) {
            self.retiring.insert(w);
        }
    }

    fn wanted(&mut self, n: usize, now: Instant) {
        self.settle(now);
        self.wanted = n;
    }

    /// A task finished: the live workers are "what ran".
    fn task_finished(&mut self) {
        let n = self.count();
        if n == 0 {
            return;
        }
        let range = if self.up {
            &mut self.steady
        } else {
            &mut self.ramp
        };
        *range = Some(match *range {
            None => (n, n),
            Some((lo, hi)) => (lo.min(n), hi.max(n)),
        });
    }

    /// Worker-seconds until `now`.
    fn time_until(&self, now: Instant) -> Duration {
        self.worker_time + now.saturating_duration_since(self.since) * self.count() as u32
    }
}

impl Tally {
    pub fn new(workers: usize) -> Tally {
        Tally::starting_at(workers, Instant::now())
    }

    /// A tally whose clock starts at `now` (tests give their own clock).
    pub fn starting_at(workers: usize, now: Instant) -> Tally {
        Tally {
            started: now,
            ended: None,
            workers,
            counts: Counts::default(),
            running: 0,
            task_time: Duration::ZERO,
            lost: LostTime::default(),
            live: LiveWorkers::new(workers, now),
            attempt_started: HashMap::new(),
            just_ended: None,
            named: Default::default(),
        }
    }

    /// Takes one event into account.
    pub fn observe(&mut self, ev: &PoolEvent) {
        self.observe_at(ev, Instant::now());
    }

    /// Takes one event into account, as seen at `now`.
    pub fn observe_at(&mut self, ev: &PoolEvent, now: Instant) {
        // A task's worker killed right under it: the engine reports the
        // task, then at once the worker's exit.
        if let Some((w, wall, state)) = self.just_ended.take()
            && let PoolEvent::WorkerExited {
                worker,
                how: ExitHow::Killed { .. },
                ..
            } = ev
            && *worker == w
        {
            let from = match state {
                TaskState::Cancelled => &mut self.lost.cancelled,
                _ => &mut self.task_time,
            };
            *from = from.saturating_sub(wall);
            self.lost.killed += wall;
        }
        match ev {
            PoolEvent::TasksQueued { count, .. } => self.counts.submitted += *count as u64,
            PoolEvent::WorkerReady { worker, .. } => self.live.ready(*worker, now),
            PoolEvent::WorkerExited { worker, .. } => {
                self.live.exited(*worker, now);
                self.attempt_started.remove(worker);
            }
            PoolEvent::TaskStarted { worker, .. } => {
                self.running += 1;
                self.attempt_started.insert(*worker, now);
            }
            PoolEvent::TaskRetrying { worker, .. } => {
                self.running = self.running.saturating_sub(1);
                if let Some(t) = self.attempt_started.remove(worker) {
                    self.lost.killed += now.saturating_duration_since(t);
                }
            }
            PoolEvent::TaskFinished(r) => {
                if r.attempts > 0 {
                    self.running = self.running.saturating_sub(1);
                }
                if let Some(w) = r.worker {
                    self.attempt_started.remove(&w);
                    self.live.task_finished();
                }
                match r.state {
                    TaskState::Done => self.task_time += r.wall,
                    TaskState::Failed => self.task_time += r.wall,
                    TaskState::TimedOut => self.lost.timed_out += r.wall,
                    TaskState::Cancelled => self.lost.cancelled += r.wall,
                }
                if matches!(r.state, TaskState::Failed | TaskState::Cancelled) {
                    self.just_ended = r.worker.map(|w| (w, r.wall, r.state));
                }
                self.counts.record(r.state);
                self.name_unfinished(r.task, r.state);
            }
            // Each started and finished within the run: `running` is as it was.
            PoolEvent::TasksDone(run) => {
                self.live.task_finished();
                self.task_time += run.total_wall();
                self.counts.done += run.len() as u64;
            }
            PoolEvent::TaskRetried { .. } => self.counts.retried += 1,
            PoolEvent::Scaled { workers } => {
                self.workers = self.workers.max(*workers);
                self.live.wanted(*workers, now);
            }
            PoolEvent::WorkerStopping {
                worker,
                join_timeout: None,
            } => self.live.retiring(*worker, now),
            PoolEvent::Stopped(c) => {
                self.counts = *c;
                self.running = 0;
                self.live.settle(now);
                self.ended = Some(now);
            }
            _ => {}
        }
    }

    fn name_unfinished(&mut self, task: TaskId, state: TaskState) {
        let list = match state {
            TaskState::Done => return,
            TaskState::Failed => &mut self.named[0],
            TaskState::TimedOut => &mut self.named[1],
            TaskState::Cancelled => &mut self.named[2],
        };
        if list.len() < NAMED_IDS {
            list.push(task);
        }
    }

    /// The most workers the pool was asked for.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The fewest and most workers that were live when a task finished,
    /// once all the workers the pool starts with had been live at once
    /// (before that only when no task finished after); none before the
    /// first task.
    pub fn workers_range(&self) -> Option<(usize, usize)> {
        self.live.range()
    }

    /// The time-weighted average of live workers (ready, not yet exited)
    /// over the wall time.
    pub fn workers_average(&self) -> f64 {
        let wall = self.wall().as_secs_f64();
        if wall > 0.0 {
            self.worker_time().as_secs_f64() / wall
        } else {
            0.0
        }
    }

    /// Worker-seconds: the sum over live workers of the time each was live.
    pub fn worker_time(&self) -> Duration {
        self.live.time_until(self.now())
    }

    fn now(&self) -> Instant {
        self.ended.unwrap_or_else(Instant::now)
    }

    /// Wall time since the pool started (frozen when it stopped).
    pub fn wall(&self) -> Duration {
        self.now().saturating_duration_since(self.started)
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

    /// The time of the tasks that finished on their own over wall time.
    pub fn speedup(&self) -> f64 {
        let wall = self.wall().as_secs_f64();
        if wall > 0.0 {
            self.task_time.as_secs_f64() / wall
        } else {
            0.0
        }
    }

    /// The time of the tasks that finished on their own over worker time
    /// (which is speedup over the average of live workers).
    pub fn efficiency(&self) -> f64 {
        let workers = self.worker_time().as_secs_f64();
        if workers > 0.0 {
            self.task_time.as_secs_f64() / workers
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

    /// The worker figure: `2 workers`, or `2-3 workers, 2.4 average` when
    /// the number changed while tasks ran.
    fn workers_text(&self) -> String {
        match self.live.range() {
            Some((lo, hi)) if lo != hi => {
                format!("{lo}-{hi} workers, {:.1} average", self.workers_average())
            }
            Some((n, _)) => workers(n),
            // No task started: the workers asked for.
            None => workers(self.workers),
        }
    }

    /// The closing summary, several lines: the counts, the times and
    /// figures, the time left out of them (when any), and the ids of the
    /// tasks that did not end done (the first [`NAMED_IDS`] of each state).
    pub fn summary_text(&self) -> String {
        let c = &self.counts;
        // A retry is a task of its own, so the sum holds; say how many.
        let retries = match c.retried {
            0 => String::new(),
            1 => " (1 of them a retry of an ended task)".to_string(),
            n => format!(" ({n} of them retries of ended tasks)"),
        };
        let mut text = format!(
            "pooltop: {} submitted = {} done + {} failed + {} timed out + {} cancelled{retries}\n\
             pooltop: wall {:.3}s · task time {:.3}s · speedup {:.2}× on {} · efficiency {:.0}%",
            c.submitted,
            c.done,
            c.failed,
            c.timed_out,
            c.cancelled,
            self.wall().as_secs_f64(),
            self.task_time.as_secs_f64(),
            self.speedup(),
            self.workers_text(),
            self.efficiency() * 100.0
        );
        let lost = &self.lost;
        if lost.total() > Duration::ZERO {
            text.push_str(&format!(
                "\npooltop: not in task time: killed {:.3}s · timed out {:.3}s · cancelled {:.3}s",
                lost.killed.as_secs_f64(),
                lost.timed_out.as_secs_f64(),
                lost.cancelled.as_secs_f64()
            ));
        }
        let states = [
            ("failed", c.failed),
            ("timed out", c.timed_out),
            ("cancelled", c.cancelled),
        ];
        for ((word, count), ids) in states.into_iter().zip(&self.named) {
            if count > 0 {
                text.push('\n');
                text.push_str(&ids_line(word, ids, count));
            }
        }
        text
    }
}

/// `pooltop: failed tasks: 3 7 9`, with `and N more` past the named ones.
fn ids_line(word: &str, ids: &[TaskId], count: u64) -> String {
    let mut line = format!("pooltop: {word} tasks:");
    for id in ids {
        line.push_str(&format!(" {}", id.0));
    }
    let more = count.saturating_sub(ids.len() as u64);
    if more > 0 {
        line.push_str(&format!(" and {more} more"));
    }
    line
}

/// `1 worker`, `2 workers`.
pub fn workers(n: usize) -> String {
    if n == 1 {
        "1 worker".to_string()
    } else {
        format!("{n} workers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::engine::{TaskReport, TaskState, WorkerId};
    use std::sync::Arc;

    fn finished(task: u64, state: TaskState, wall_ms: u64) -> PoolEvent {
        finished_on(task, 1, state, wall_ms)
    }

    fn finished_on(task: u64, worker: u32, state: TaskState, wall_ms: u64) -> PoolEvent {
        PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(task),
            worker: Some(WorkerId(worker)),
            state,
            output: Default::default(),
            error: None,
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::ZERO,
            max_rss: None,
            attempts: 1,
            line: Arc::from("spin 1"),
        }))
    }

    fn started(task: u64) -> PoolEvent {
        started_on(task, 1)
    }

    fn started_on(task: u64, worker: u32) -> PoolEvent {
        PoolEvent::TaskStarted {
            task: TaskId(task),
            worker: WorkerId(worker),
            attempt: 1,
            line: Arc::from("spin 1"),
        }
    }

    fn ready(worker: u32) -> PoolEvent {
        PoolEvent::WorkerReady {
            worker: WorkerId(worker),
            pid: 100 + worker,
        }
    }

    fn exited(worker: u32, how: ExitHow) -> PoolEvent {
        PoolEvent::WorkerExited {
            worker: WorkerId(worker),
            pid: 100 + worker,
            how,
        }
    }

    fn queued(count: usize) -> PoolEvent {
        PoolEvent::TasksQueued {
            first: TaskId(1),
            count,
            lines: vec![],
        }
    }

    /// A clock for the tests: `at(ms)` is `ms` after the tally started.
    fn clock() -> (Instant, impl Fn(u64) -> Instant) {
        let base = Instant::now();
        (base, move |ms| base + Duration::from_millis(ms))
    }

    fn stopped(t: &mut Tally, at: Instant) {
        let c = t.counts;
        t.observe_at(&PoolEvent::Stopped(c), at);
    }

    #[test]
    fn counts_each_task_once_and_sums_its_time() {
        let mut t = Tally::new(2);
        t.observe(&queued(3));
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
        assert!(text.ends_with("\npooltop: failed tasks: 2\npooltop: cancelled tasks: 3"));
    }

    #[test]
    fn two_countdowns_on_two_workers_read_as_before() {
        let (base, at) = clock();
        let mut t = Tally::starting_at(2, base);
        t.observe_at(&ready(1), base);
        t.observe_at(&ready(2), base);
        t.observe_at(&queued(2), base);
        t.observe_at(&started_on(1, 1), base);
        t.observe_at(&started_on(2, 2), base);
        t.observe_at(&finished_on(1, 1, TaskState::Done, 1000), at(1000));
        t.observe_at(&finished_on(2, 2, TaskState::Done, 1000), at(1000));
        stopped(&mut t, at(1000));
        assert!((t.speedup() - 2.0).abs() < 1e-9, "{}", t.speedup());
        assert!((t.efficiency() - 1.0).abs() < 1e-9);
        let text = t.summary_text();
        assert!(
            text.ends_with("task time 2.000s · speedup 2.00× on 2 workers · efficiency 100%"),
            "{text}"
        );
    }

    #[test]
    fn a_killed_task_is_time_apart_and_the_workers_are_what_ran() {
        // Two workers; a `hang` on w2 is killed after 3 s while w1 does
        // three 1 s tasks; w3 joins at 1 s.
        let (base, at) = clock();
        let mut t = Tally::starting_at(2, base);
        t.observe_at(&queued(4), base);
        t.observe_at(&ready(1), base);
        t.observe_at(&ready(2), base);
        t.observe_at(&started_on(1, 2), base);
        t.observe_at(&started_on(2, 1), base);
        t.observe_at(&PoolEvent::Scaled { workers: 3 }, at(1000));
        t.observe_at(&finished_on(2, 1, TaskState::Done, 1000), at(1000));
        t.observe_at(&ready(3), at(1000));
        t.observe_at(&started_on(3, 1), at(1000));
        t.observe_at(&finished_on(3, 1, TaskState::Done, 1000), at(2000));
        t.observe_at(&started_on(4, 3), at(2000));
        t.observe_at(&finished_on(4, 3, TaskState::Done, 1000), at(3000));
        // A kill cancels the task it interrupts.
        t.observe_at(&finished_on(1, 2, TaskState::Cancelled, 3000), at(3000));
        let killed = ExitHow::Killed {
            signal: 9,
            reason: "user".into(),
        };
        t.observe_at(&exited(2, killed), at(3000));
        for w in [1, 3] {
            t.observe_at(&exited(w, ExitHow::Exited(0)), at(3000));
        }
        stopped(&mut t, at(3000));

        assert_eq!(
            t.task_time,
            Duration::from_secs(3),
            "the killed hang is out"
        );
        assert_eq!(t.lost.killed, Duration::from_secs(3));
        assert_eq!(t.workers_range(), Some((2, 3)));
        // 2 workers for 1 s, then 3 for 2 s: 8 worker-seconds in 3 s.
        assert_eq!(t.worker_time(), Duration::from_secs(8));
        assert!((t.workers_average() - 8.0 / 3.0).abs() < 1e-9);
        assert!((t.speedup() - 1.0).abs() < 1e-9);
        assert!((t.efficiency() - 3.0 / 8.0).abs() < 1e-9);
        let text = t.summary_text();
        assert!(
            text.contains("speedup 1.00× on 2-3 workers, 2.7 average · efficiency 38%"),
            "{text}"
        );
        assert!(
            text.contains(
                "\npooltop: not in task time: killed 3.000s · timed out 0.000s · cancelled 0.000s"
            ),
            "{text}"
        );
        assert!(text.ends_with("\npooltop: cancelled tasks: 1"), "{text}");
    }

    #[test]
    fn a_replacement_and_the_worker_it_replaces_count_once() {
        let (base, at) = clock();
        let mut t = Tally::starting_at(2, base);
        t.observe_at(&ready(1), base);
        t.observe_at(&ready(2), base);
        // w2 is killed: w3 starts before w2 has exited.
        t.observe_at(&ready(3), at(1000));
        t.observe_at(&finished_on(1, 1, TaskState::Done, 1000), at(1000));
        t.observe_at(&exited(2, ExitHow::Exited(0)), at(2000));
        // Shrinking: w3 retires after its task, which finishes meanwhile.
        t.observe_at(&PoolEvent::Scaled { workers: 1 }, at(2000));
        t.observe_at(
            &PoolEvent::WorkerStopping {
                worker: WorkerId(3),
                join_timeout: None,
            },
            at(2000),
        );
        t.observe_at(&finished_on(2, 3, TaskState::Done, 1000), at(3000));
        t.observe_at(&exited(3, ExitHow::Exited(0)), at(3000));
        t.observe_at(&finished_on(3, 1, TaskState::Done, 1000), at(4000));
        stopped(&mut t, at(4000));
        assert_eq!(t.workers_range(), Some((1, 2)));
        assert_eq!(t.worker_time(), Duration::from_secs(7));
    }

    #[test]
    fn a_task_that_fails_on_its_own_or_crashes_its_worker_counts() {
        let (base, at) = clock();
        let mut t = Tally::starting_at(1, base);
        t.observe_at(&ready(1), base);
        t.observe_at(&finished(1, TaskState::Failed, 500), at(500));
        // A crash is the task's own doing; a later, unrelated kill is not
        // about the failed task.
        t.observe_at(
            &exited(
                1,
                ExitHow::Crashed {
                    signal: Some(6),
                    code: None,
                },
            ),
            at(500),
        );
        t.observe_at(&finished_on(2, 2, TaskState::Failed, 200), at(700));
        t.observe_at(&ready(3), at(700));
        t.observe_at(
            &exited(
                2,
                ExitHow::Killed {
                    signal: 9,
                    reason: "user".into(),
                },
            ),
            at(700),
        );
        assert_eq!(t.task_time, Duration::from_millis(700));
        assert_eq!(t.lost, LostTime::default());
    }

    #[test]
    fn retried_timed_out_and_cancelled_time_is_apart() {
        let (base, at) = clock();
        let mut t = Tally::starting_at(1, base);
        t.observe_at(&ready(1), base);
        t.observe_at(&started(1), base);
        t.observe_at(
            &PoolEvent::TaskRetrying {
                task: TaskId(1),
                worker: WorkerId(1),
                reason: "its worker died".into(),
            },
            at(400),
        );
        t.observe_at(&finished(1, TaskState::TimedOut, 2000), at(2400));
        t.observe_at(&finished(2, TaskState::Cancelled, 100), at(2500));
        assert_eq!(t.task_time, Duration::ZERO);
        assert_eq!(
            t.lost,
            LostTime {
                killed: Duration::from_millis(400),
                timed_out: Duration::from_secs(2),
                cancelled: Duration::from_millis(100),
            }
        );
        assert_eq!(t.speedup(), 0.0);
    }

    #[test]
    fn the_summary_names_ten_ids_of_a_state_then_a_count() {
        let mut t = Tally::new(1);
        for id in 1..=13 {
            t.observe(&finished(id, TaskState::Cancelled, 0));
        }
        let text = t.summary_text();
        assert!(
            text.ends_with("\npooltop: cancelled tasks: 1 2 3 4 5 6 7 8 9 10 and 3 more"),
            "{text}"
        );
        assert!(!text.contains("failed tasks"), "{text}");
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
        assert!(
            t.summary_text().contains("on 4 workers"),
            "no task: the workers asked for"
        );
    }

    #[test]
    fn progress_line_names_each_state_and_leaves_out_an_unknown_eta() {
        let mut t = Tally::new(1);
        t.observe(&queued(2));
        t.observe(&started(1));
        let line = t.progress_line();
        assert!(
            line.starts_with("0/2 done · 0 failed · 1 running · 1 queued · "),
            "{line}"
        );
        assert!(!line.contains("ETA"), "{line}");
    }

    #[test]
    fn one_worker_is_singular() {
        assert_eq!(workers(1), "1 worker");
        assert_eq!(workers(3), "3 workers");
    }
}
