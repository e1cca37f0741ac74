//! `pooltop report`'s figures, gathered from a recording in one streaming
//! pass: per-worker and per-kind aggregates, a bounded heap of the slowest
//! tasks, the tasks still running when most workers had gone idle at the
//! end (stragglers), retries, crashes and failures with their causes.
//! Memory stays bounded by the workers, the kinds and a few fixed-size
//! lists, never by the number of tasks.

pub mod hist;
pub mod read;
mod show;
pub mod spans;
pub mod svg;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::Path;

use serde::Serialize;

use hist::Histogram;
use read::{Header, Line, Unreadable};

pub use show::{markdown, text};

/// How many of the slowest tasks, stragglers, retries and crashes are named.
pub const TOP: usize = 10;
/// How many distinct failure causes are told apart (the rest are "other").
const CAUSES: usize = 1000;

/// The report of one recording.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub file: String,
    pub title: String,
    pub started_unix: f64,
    /// The recording ended with its summary (the run was not cut short).
    pub complete: bool,
    /// Where reading stopped early, as `FILE:LINE: why`.
    pub stopped: Option<String>,
    pub lines: u64,
    pub counts: Counts,
    /// The exit status the run had (0: every task done, 1: not).
    pub exit_status: i32,
    pub wall_s: f64,
    pub task_s: f64,
    pub speedup: f64,
    pub efficiency: f64,
    /// The most workers the pool had.
    pub workers: u64,
    /// The machine's CPUs, and how often it was sampled (none: never).
    pub cores: u64,
    pub sample_every_s: Option<f64>,
    /// Busy time of all workers over their lifetimes.
    pub utilisation: f64,
    pub per_worker: Vec<WorkerFigures>,
    pub kinds: Vec<KindFigures>,
    pub slowest: Vec<TaskFigure>,
    /// When the tail began: the last moment from which at most half the
    /// workers were busy until the end (none: no such tail, or a short one).
    pub tail_from_s: Option<f64>,
    pub stragglers: Vec<TaskFigure>,
    pub retries: u64,
    pub retried: Vec<Event>,
    pub crashes: u64,
    pub crashed: Vec<Event>,
    /// Why tasks failed or timed out, most frequent first.
    pub causes: Vec<Cause>,
}

/// Tasks by final state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub submitted: u64,
    pub done: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub cancelled: u64,
}

/// One worker's part in the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerFigures {
    pub worker: u64,
    pub slot: Option<u64>,
    pub pid: Option<u64>,
    pub done: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub busy_s: f64,
    pub lifetime_s: f64,
    pub utilisation: f64,
    /// The largest RSS a sample saw, in bytes.
    pub peak_rss: Option<u64>,
    /// How it ended (`exited`, `killed`, `crashed`), if it did.
    pub exit: Option<String>,
    #[serde(skip)]
    started_t: Option<f64>,
    #[serde(skip)]
    ended_t: Option<f64>,
}

/// Run times of one kind of task (a task line's first word).
#[derive(Debug, Clone, Serialize)]
pub struct KindFigures {
    pub kind: String,
    pub tasks: u64,
    pub min_s: f64,
    pub median_s: f64,
    pub p95_s: f64,
    pub max_s: f64,
    pub total_s: f64,
}

/// A task, as the lists name it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskFigure {
    pub task: u64,
    pub worker: Option<u64>,
    pub state: String,
    pub wall_s: f64,
    /// When it started and ended, seconds since the run started.
    pub start_s: f64,
    pub end_s: f64,
    pub line: String,
}

/// A retry or a crash: when, which, why.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub t: f64,
    pub worker: Option<u64>,
    pub task: Option<u64>,
    pub why: String,
}

/// One cause of failure and how many tasks it ended.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub why: String,
    pub tasks: u64,
}

/// A slowest-task candidate, ordered by run time (then id, for a stable order).
#[derive(Debug, Clone, PartialEq)]
struct BySlowness(TaskFigure);

impl Eq for BySlowness {}

impl PartialOrd for BySlowness {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BySlowness {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .wall_s
            .total_cmp(&other.0.wall_s)
            .then(other.0.task.cmp(&self.0.task))
    }
}

/// What the pass keeps between lines.
#[derive(Default)]
struct Gather {
    counts: Counts,
    summary: Option<(Counts, f64, f64, f64, u64)>,
    last_t: f64,
    task_s: f64,
    workers_max: u64,
    workers: BTreeMap<u64, WorkerFigures>,
    live: u64,
    kinds: HashMap<String, Histogram>,
    slowest: BinaryHeap<Reverse<BySlowness>>,
    /// Tasks started and not yet ended: start time, worker.
    running: HashMap<u64, (f64, u64)>,
    /// The tail's start and the tasks running then (their ends filled in).
    tail: Option<(f64, Vec<TaskFigure>)>,
    retries: u64,
    retried: Vec<Event>,
    crashes: u64,
    crashed: Vec<Event>,
    causes: HashMap<String, u64>,
}

impl Gather {
    fn observe(&mut self, l: &Line<'_>) {
        self.last_t = self.last_t.max(l.t);
        match &*l.event {
            "tasks_queued" => self.counts.submitted += l.count.unwrap_or(0),
            "worker_slot" => {
                let w = self.worker(l.worker);
                w.slot = l.slot;
                w.started_t.get_or_insert(l.t);
            }
            "worker_started" => {
                let w = self.worker(l.worker);
                w.pid = l.pid;
                w.started_t.get_or_insert(l.t);
                self.live += 1;
                self.workers_max = self.workers_max.max(self.live);
            }
            "worker_exited" => {
                let how = l.how.as_deref().unwrap_or("exited").to_string();
                let w = self.worker(l.worker);
                w.ended_t = Some(l.t);
                w.exit = Some(how.clone());
                self.live = self.live.saturating_sub(1);
                if how != "exited" {
                    self.crashes += 1;
                    if self.crashed.len() < TOP {
                        let why = l.detail.as_deref().unwrap_or(&how).to_string();
                        self.crashed.push(Event {
                            t: l.t,
                            worker: l.worker,
                            task: None,
                            why,
                        });
                    }
                }
            }
            "scaled" => {
                if let Some(n) = l.workers.as_ref().and_then(|v| v.as_u64()) {
                    self.workers_max = self.workers_max.max(n);
                }
            }
            "task_started" => {
                if let (Some(task), Some(worker)) = (l.task, l.worker) {
                    self.running.insert(task, (l.t, worker));
                    self.check_tail(l.t);
                }
            }
            "task_retrying" => {
                if let Some(task) = l.task {
                    self.running.remove(&task);
                }
                self.retries += 1;
                if self.retried.len() < TOP {
                    self.retried.push(Event {
                        t: l.t,
                        worker: l.worker,
                        task: l.task,
                        why: l.reason.as_deref().unwrap_or("").to_string(),
                    });
                }
                self.check_tail(l.t);
            }
            "task_finished" => self.finished(l),
            "sample" => self.sample(l),
            "summary" => {
                let c = Counts {
                    submitted: l.submitted.unwrap_or(0),
                    done: l.done.unwrap_or(0),
                    failed: l.failed.unwrap_or(0),
                    timed_out: l.timed_out.unwrap_or(0),
                    cancelled: l.cancelled.unwrap_or(0),
                };
                let workers = l.workers.as_ref().and_then(|v| v.as_u64()).unwrap_or(0);
                self.summary = Some((
                    c,
                    l.wall_s.unwrap_or(0.0),
                    l.task_s.unwrap_or(0.0),
                    l.speedup.unwrap_or(0.0),
                    workers,
                ));
            }
            _ => {}
        }
    }

    fn worker(&mut self, id: Option<u64>) -> &mut WorkerFigures {
        let id = id.unwrap_or(0);
        self.workers.entry(id).or_insert_with(|| WorkerFigures {
            worker: id,
            ..Default::default()
        })
    }

    fn finished(&mut self, l: &Line<'_>) {
        let state = l.state.as_deref().unwrap_or("done");
        match state {
            "done" => self.counts.done += 1,
            "failed" => self.counts.failed += 1,
            "timed_out" => self.counts.timed_out += 1,
            _ => self.counts.cancelled += 1,
        }
        let wall = l.wall_s.unwrap_or(0.0);
        self.task_s += wall;
        let started = l.task.and_then(|t| self.running.remove(&t));
        if let Some(id) = l.worker {
            let w = self.worker(Some(id));
            w.busy_s += wall;
            match state {
                "done" => w.done += 1,
                "failed" => w.failed += 1,
                "timed_out" => w.timed_out += 1,
                _ => {}
            }
        }
        if state == "failed" || state == "timed_out" {
            let why = l.error.as_deref().unwrap_or(state);
            let why: String = why.lines().next().unwrap_or("").chars().take(120).collect();
            if self.causes.len() < CAUSES || self.causes.contains_key(&why) {
                *self.causes.entry(why).or_default() += 1;
            } else {
                *self.causes.entry("(other causes)".into()).or_default() += 1;
            }
        }
        if l.worker.is_none() {
            // Cancelled before it ran: no run time to count.
            return;
        }
        let line = l.line.as_deref().unwrap_or("");
        let kind = line.split_whitespace().next().unwrap_or("?");
        match self.kinds.get_mut(kind) {
            Some(h) => h.push(wall),
            None => {
                let mut h = Histogram::default();
                h.push(wall);
                self.kinds.insert(kind.to_string(), h);
            }
        }
        let start = started.as_ref().map_or(l.t - wall, |s| s.0.max(l.t - wall));
        let task = l.task.unwrap_or(0);
        let slow_enough = self.slowest.len() < TOP
            || self
                .slowest
                .peek()
                .is_some_and(|Reverse(m)| wall > m.0.wall_s);
        let fig = |line: &str| TaskFigure {
            task,
            worker: l.worker,
            state: state.to_string(),
            wall_s: wall,
            start_s: start,
            end_s: l.t,
            line: line.to_string(),
        };
        if slow_enough {
            self.slowest.push(Reverse(BySlowness(fig(line))));
            if self.slowest.len() > TOP {
                self.slowest.pop();
            }
        }
        if let Some((_, tail)) = self.tail.as_mut()
            && let Some(s) = tail.iter_mut().find(|s| s.task == task)
        {
            *s = fig(line);
        }
        self.check_tail(l.t);
    }

    /// Keeps the tail: once at most half the live workers are busy, the
    /// tasks running then are the candidates; busier again, none.
    fn check_tail(&mut self, t: f64) {
        let busy = self.running.len() as u64;
        let idle_enough = busy * 2 <= self.live.max(1) && self.live > 1;
        match (&self.tail, idle_enough) {
            (None, true) => {
                let tasks = self
                    .running
                    .iter()
                    // Each one's line and end are filled in when it finishes.
                    .map(|(&task, (start, worker))| TaskFigure {
                        task,
                        worker: Some(*worker),
                        state: "running".into(),
                        wall_s: 0.0,
                        start_s: *start,
                        end_s: t,
                        line: String::new(),
                    })
                    .collect();
                self.tail = Some((t, tasks));
            }
            (Some(_), false) => self.tail = None,
            _ => {}
        }
    }

    fn sample(&mut self, l: &Line<'_>) {
        let Some(list) = l.workers.as_ref().and_then(|v| v.as_array()) else {
            return;
        };
        for s in list {
            let (Some(id), Some(rss)) = (
                s.get("worker").and_then(|v| v.as_u64()),
                s.get("rss").and_then(|v| v.as_u64()),
            ) else {
                continue;
            };
            let w = self.worker(Some(id));
            w.peak_rss = Some(w.peak_rss.unwrap_or(0).max(rss));
        }
    }

    fn into_report(mut self, file: &str, header: &Header, end: read::End) -> Report {
        let complete = self.summary.is_some();
        let (counts, wall_s, task_s, speedup, workers) = match self.summary {
            Some((c, wall, task_s, speedup, workers)) => (c, wall, task_s, speedup, workers),
            None => {
                // Cut short: the tasks never finished count as cancelled.
                let mut c = self.counts;
                let ended = c.done + c.failed + c.timed_out + c.cancelled;
                c.submitted = c.submitted.max(ended);
                let wall = self.last_t;
                let speedup = if wall > 0.0 { self.task_s / wall } else { 0.0 };
                (c, wall, self.task_s, speedup, 0)
            }
        };
        let workers = workers.max(self.workers_max).max(header.workers).max(1);
        let end_t = self.last_t.max(wall_s);
        let mut busy = 0.0;
        let mut life = 0.0;
        let per_worker: Vec<WorkerFigures> = self
            .workers
            .into_values()
            .filter(|w| w.started_t.is_some() || w.busy_s > 0.0)
            .map(|mut w| {
                let from = w.started_t.unwrap_or(0.0);
                w.lifetime_s = (w.ended_t.unwrap_or(end_t) - from).max(0.0);
                w.utilisation = if w.lifetime_s > 0.0 {
                    (w.busy_s / w.lifetime_s).min(1.0)
                } else {
                    0.0
                };
                busy += w.busy_s;
                life += w.lifetime_s;
                w
            })
            .collect();
        let mut kinds: Vec<KindFigures> = self
            .kinds
            .into_iter()
            .map(|(kind, h)| KindFigures {
                kind,
                tasks: h.len,
                min_s: if h.len > 0 { h.min } else { 0.0 },
                median_s: h.quantile(0.5),
                p95_s: h.quantile(0.95),
                max_s: h.max,
                total_s: h.sum,
            })
            .collect();
        kinds.sort_by(|a, b| b.total_s.total_cmp(&a.total_s).then(a.kind.cmp(&b.kind)));
        let mut slowest: Vec<TaskFigure> = self.slowest.drain().map(|Reverse(s)| s.0).collect();
        slowest.sort_by(|a, b| b.wall_s.total_cmp(&a.wall_s).then(a.task.cmp(&b.task)));
        // A tail worth naming: at least 5% of the run.
        let (tail_from_s, stragglers) = match self.tail {
            Some((from, mut tasks)) if !tasks.is_empty() && end_t - from >= 0.05 * end_t => {
                tasks.sort_by(|a, b| b.end_s.total_cmp(&a.end_s).then(a.task.cmp(&b.task)));
                tasks.truncate(TOP);
                (Some(from), tasks)
            }
            _ => (None, Vec::new()),
        };
        let mut causes: Vec<Cause> = self
            .causes
            .into_iter()
            .map(|(why, tasks)| Cause { why, tasks })
            .collect();
        causes.sort_by(|a, b| b.tasks.cmp(&a.tasks).then(a.why.cmp(&b.why)));
        causes.truncate(TOP);
        let all_done = counts.done == counts.submitted;
        Report {
            file: file.to_string(),
            title: header.title.clone(),
            started_unix: header.started_unix,
            complete,
            stopped: end.stopped,
            lines: end.lines,
            counts,
            exit_status: i32::from(!all_done),
            wall_s,
            task_s,
            speedup,
            efficiency: speedup / workers as f64,
            workers,
            cores: header.cores,
            sample_every_s: header.sample_every_s,
            utilisation: if life > 0.0 { busy / life } else { 0.0 },
            per_worker,
            kinds,
            slowest,
            tail_from_s,
            stragglers,
            retries: self.retries,
            retried: self.retried,
            crashes: self.crashes,
            crashed: self.crashed,
            causes,
        }
    }
}

/// Reads the recording at `path` in one pass and makes its report; an
/// error only when nothing could be read.
pub fn report(path: &Path) -> Result<Report, Unreadable> {
    let mut g = Gather::default();
    let (header, end) = read::read(path, |l| g.observe(l))?;
    Ok(g.into_report(&path.display().to_string(), &header, end))
}
