//! The control server's picture of the pool, kept up to date from the event
//! stream (it never asks the supervisor), and woken waiters.

use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::wire::{StatusView, WorkerView};
use pooltop::engine::monitor::Sample;
use pooltop::engine::{Counts, PoolEvent, TaskId, TaskReport, TaskState, WorkerTable};

/// What the pool looks like, as told by its events.
#[derive(Debug)]
pub struct View {
    pub name: String,
    /// What the pool runs (a task file, a command template).
    pub title: String,
    started: Instant,
    started_unix: u64,
    wanted: usize,
    dispatch_paused: bool,
    /// The admission gate holding dispatch back, if one does.
    held: Option<pooltop::engine::Hold>,
    counts: Counts,
    running: u64,
    /// The live workers (a gone one is removed at once).
    workers: WorkerTable,
    /// The latest sample, for `status` and for a dashboard that attaches.
    sample: Option<Box<Sample>>,
    /// The terminal state of every task by id (index = id - 1); 0 = not yet.
    states: Vec<u8>,
    /// Every task's line by id (index = id - 1), for attached dashboards
    /// and `pooltop wait --results`.
    lines: Vec<Arc<str>>,
    /// Attached dashboards' event streams. A full one is dropped (its client
    /// is too slow), never waited for.
    subscribers: Vec<SyncSender<PoolEvent>>,
    /// Output of the running tasks and of the latest ended ones, for `pooltop logs`.
    pub logs: super::tails::Logs,
    pub stopped: bool,
    /// The last tasks' results, for `pooltop wait --results` (bounded).
    results: super::results::ResultStore,
}

/// Events replayed in one `TasksQueued` at most (keeps frames small).
const REPLAY_CHUNK: usize = 10_000;

fn state_code(s: TaskState) -> u8 {
    match s {
        TaskState::Done => 1,
        TaskState::Failed => 2,
        TaskState::TimedOut => 3,
        TaskState::Cancelled => 4,
    }
}

impl View {
    pub fn new(name: String, title: String, wanted: usize) -> View {
        View {
            name,
            title,
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            wanted,
            dispatch_paused: false,
            held: None,
            counts: Counts::default(),
            running: 0,
            workers: WorkerTable::default(),
            sample: None,
            states: Vec::new(),
            lines: Vec::new(),
            subscribers: Vec::new(),
            logs: Default::default(),
            stopped: false,
            results: Default::default(),
        }
    }

    pub fn observe(&mut self, ev: &PoolEvent) {
        self.workers.observe(ev, Instant::now());
        self.results.observe(ev);
        self.logs.observe(ev);
        match ev {
            PoolEvent::WorkerExited { worker, .. } => {
                self.workers.remove(*worker);
            }
            PoolEvent::TasksQueued {
                first,
                count,
                lines,
            } => {
                self.counts.submitted += *count as u64;
                let start = (first.0 as usize).saturating_sub(1);
                // By place, not by appending: a retry's new id may be queued
                // before a submission that took the id before it.
                let end = start + lines.len();
                if self.lines.len() < end {
                    self.lines.resize(end, Arc::from("?"));
                }
                self.lines[start..end].clone_from_slice(lines);
            }
            PoolEvent::TaskRetried { .. } => self.counts.retried += 1,
            PoolEvent::TaskStarted { .. } => self.running += 1,
            PoolEvent::TaskRetrying { .. } => self.running = self.running.saturating_sub(1),
            PoolEvent::TaskFinished(r) => {
                self.counts.record(r.state);
                if r.attempts > 0 {
                    self.running = self.running.saturating_sub(1);
                }
                self.set_state(r.task, r.state);
            }
            PoolEvent::TasksDone(run) => {
                self.counts.done += run.len() as u64;
                for (task, ..) in run.iter() {
                    self.set_state(task, TaskState::Done);
                }
            }
            PoolEvent::DispatchPaused(p) => self.dispatch_paused = *p,
            PoolEvent::DispatchHeld(h) => self.held = h.clone(),
            PoolEvent::Scaled { workers } => self.wanted = *workers,
            PoolEvent::Stopped(c) => {
                self.counts = *c;
                self.stopped = true;
            }
            PoolEvent::Sample(sample) => self.sample = Some(sample.clone()),
            // The worker table has taken in the rest.
            _ => {}
        }
    }

    /// Passes an event on to every attached dashboard, dropping those whose
    /// stream is full or closed.
    pub fn publish(&mut self, ev: &PoolEvent) {
        if !self.subscribers.is_empty() {
            self.subscribers.retain(|s| s.try_send(ev.clone()).is_ok());
        }
    }

    /// Streams every event from now on to `stream`, with no replay (`pooltop logs -f`).
    pub fn follow(&mut self, stream: SyncSender<PoolEvent>) {
        self.subscribers.push(stream);
    }

    /// Attaches a dashboard: returns the events that rebuild the pool's
    /// picture as it is now; `stream` gets every event from now on.
    pub fn subscribe(&mut self, stream: SyncSender<PoolEvent>) -> Vec<PoolEvent> {
        self.subscribers.push(stream);
        let mut out = vec![PoolEvent::Scaled {
            workers: self.wanted,
        }];
        if self.dispatch_paused {
            out.push(PoolEvent::DispatchPaused(true));
        }
        for r in self.workers.rows() {
            let worker = r.id;
            out.push(PoolEvent::WorkerSpawned { worker, pid: r.pid });
            if let Some(host) = &r.host {
                let host = host.clone();
                out.push(PoolEvent::WorkerHost { worker, host });
            }
            if r.pending && !r.ready {
                out.push(PoolEvent::WorkerPending {
                    worker,
                    pending: true,
                });
            }
            if r.ready {
                out.push(PoolEvent::WorkerReady { worker, pid: r.pid });
            }
            if r.paused_at.is_some() {
                out.push(PoolEvent::WorkerPaused { worker });
            }
            if r.stopping.is_some() {
                out.push(PoolEvent::WorkerStopping {
                    worker,
                    join_timeout: None,
                });
            }
        }
        for (k, chunk) in self.lines.chunks(REPLAY_CHUNK).enumerate() {
            out.push(PoolEvent::TasksQueued {
                first: TaskId((k * REPLAY_CHUNK) as u64 + 1),
                count: chunk.len(),
                lines: chunk.to_vec(),
            });
        }
        for (i, &code) in self.states.iter().enumerate() {
            let state = match code {
                0 => continue,
                1 => TaskState::Done,
                2 => TaskState::Failed,
                3 => TaskState::TimedOut,
                _ => TaskState::Cancelled,
            };
            out.push(PoolEvent::TaskFinished(Box::new(TaskReport {
                task: TaskId(i as u64 + 1),
                worker: None,
                state,
                output: Default::default(),
                error: (state != TaskState::Done)
                    .then(|| "finished before this dashboard attached".to_string()),
                wall: Duration::ZERO,
                cpu: Duration::ZERO,
                max_rss: None,
                attempts: 0,
                line: self.lines.get(i).cloned().unwrap_or_else(|| Arc::from("?")),
            })));
        }
        for r in self.workers.rows() {
            if let Some(held) = &r.task {
                out.push(PoolEvent::TaskStarted {
                    task: held.task,
                    worker: r.id,
                    attempt: held.attempt,
                    line: held.line.clone(),
                });
            }
            if let (Some(since), Some(held)) = (r.hung_since, &r.task) {
                out.push(PoolEvent::WorkerHung {
                    worker: r.id,
                    pid: r.pid,
                    task: held.task,
                    idle: since.elapsed(),
                });
            }
        }
        // The cores pane and the CPU columns fill at once, not a second later.
        if let Some(sample) = &self.sample {
            out.push(PoolEvent::Sample(sample.clone()));
        }
        out
    }

    fn set_state(&mut self, task: TaskId, state: TaskState) {
        let i = (task.0 as usize).saturating_sub(1);
        if self.states.len() <= i {
            self.states.resize(i + 1, 0);
        }
        self.states[i] = state_code(state);
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// What task `id` shows, if its result is still kept.
    pub fn result_of(&self, id: u64) -> Option<crate::report::results::Shown> {
        let i = usize::try_from(id.checked_sub(1)?).ok()?;
        let line = self.lines.get(i).map_or("", |l| &**l);
        self.results.get(id, line)
    }

    /// The state of task `id`, if it has finished.
    pub fn finished(&self, id: u64) -> Option<u8> {
        let i = (id as usize).checked_sub(1)?;
        self.states.get(i).copied().filter(|&s| s != 0)
    }

    /// Counts of the given finished tasks, or none while any is unfinished.
    pub fn outcome_of(&self, ids: &[u64]) -> Option<Counts> {
        let mut c = Counts {
            submitted: ids.len() as u64,
            ..Counts::default()
        };
        for &id in ids {
            match self.finished(id)? {
                1 => c.done += 1,
                2 => c.failed += 1,
                3 => c.timed_out += 1,
                _ => c.cancelled += 1,
            }
        }
        Some(c)
    }

    /// Whether every task submitted so far has finished.
    pub fn all_finished(&self) -> bool {
        self.counts.finished() == self.counts.submitted
    }

    pub fn status(&self, pid: u32) -> StatusView {
        let now = Instant::now();
        let workers = self
            .workers
            .rows()
            .map(|r| WorkerView {
                id: r.id.0,
                pid: r.pid,
                state: r.state_word().into(),
                task: r.task.as_ref().map(|t| t.task.0),
                task_line: r.task.as_ref().map(|t| t.line.to_string()),
                task_s: r
                    .task
                    .as_ref()
                    .map_or(0.0, |t| (now - t.started).as_secs_f64()),
                done: r.done,
                // A cancelled task counts as not done, as it always has here.
                failed: r.failed + r.cancelled,
                cpu: r.stat.map(|s| s.cpu),
                rss: r.stat.map(|s| s.rss),
                hung: r.is_hung(),
                host: r.host.as_deref().map(str::to_string),
            })
            .collect();
        let c = self.counts;
        StatusView {
            name: self.name.clone(),
            title: self.title.clone(),
            pid,
            started_unix: self.started_unix,
            uptime_s: self.started.elapsed().as_secs_f64(),
            workers_wanted: self.wanted as u32,
            dispatch_paused: self.dispatch_paused,
            // A gate holds only tasks that wait (it is not re-read without them).
            held: self
                .held
                .as_ref()
                .filter(|_| c.submitted > c.finished() + self.running)
                .map(|h| h.to_string()),
            counts: self.counts(),
            running: self.running,
            queued: c.submitted.saturating_sub(c.finished() + self.running),
            workers,
            cores: self
                .sample
                .as_ref()
                .map_or_else(Vec::new, |s| s.cores.clone()),
        }
    }
}

/// The view shared between the event tee and the request handlers.
pub type Shared = Arc<(Mutex<View>, Condvar)>;

#[cfg(test)]
mod tests {
    use super::*;
    use pooltop::engine::{DoneRun, WorkerId};

    #[test]
    fn a_run_of_tasks_done_counts_each_task_for_its_worker() {
        let mut view = View::new("p".into(), "t".into(), 1);
        let w = WorkerId(1);
        view.observe(&PoolEvent::WorkerSpawned { worker: w, pid: 42 });
        view.observe(&PoolEvent::TasksQueued {
            first: TaskId(1),
            count: 3,
            lines: vec![Arc::from("square 1"); 3],
        });
        view.observe(&PoolEvent::TaskStarted {
            task: TaskId(1),
            worker: w,
            attempt: 1,
            line: Arc::from("square 1"),
        });
        let mut run = DoneRun::with_capacity(w, TaskId(2), 2);
        run.push("1", Duration::from_nanos(50), Arc::from("square 1"));
        run.push("1", Duration::from_nanos(60), Arc::from("square 1"));
        view.observe(&PoolEvent::TasksDone(Box::new(run)));
        assert_eq!(view.counts().done, 2);
        assert_eq!(view.outcome_of(&[2, 3]).map(|c| c.done), Some(2));
        assert_eq!(view.finished(1), None, "task 1 still runs");
        let status = view.status(7);
        assert_eq!(status.workers[0].done, 2);
        assert_eq!(status.workers[0].task, Some(1));
    }

    #[test]
    fn status_and_a_new_subscriber_get_the_latest_sample_and_hung_flag() {
        use pooltop::engine::events::{ProcStat, Sample, WorkerStat};
        let mut view = View::new("p".into(), "t".into(), 1);
        let w = WorkerId(1);
        view.observe(&PoolEvent::WorkerSpawned { worker: w, pid: 42 });
        view.observe(&PoolEvent::WorkerReady { worker: w, pid: 42 });
        view.observe(&PoolEvent::TaskStarted {
            task: TaskId(1),
            worker: w,
            attempt: 1,
            line: Arc::from("hang"),
        });
        let stat = ProcStat {
            cpu: 0.0,
            rss: 8 << 20,
            procs: 1,
        };
        let sample = Sample {
            cores: vec![12.0, 80.0],
            workers: vec![WorkerStat {
                worker: w,
                pid: 42,
                stat,
            }],
            ..Sample::default()
        };
        view.observe(&PoolEvent::Sample(Box::new(sample)));
        view.observe(&PoolEvent::WorkerHung {
            worker: w,
            pid: 42,
            task: TaskId(1),
            idle: Duration::from_secs(3),
        });
        let status = view.status(7);
        assert_eq!(status.cores, [12.0, 80.0]);
        let row = &status.workers[0];
        assert_eq!(
            (row.cpu, row.rss, row.hung),
            (Some(0.0), Some(8 << 20), true)
        );
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let replay = view.subscribe(tx);
        assert!(
            matches!(replay.last(), Some(PoolEvent::Sample(s)) if s.cores == [12.0, 80.0]),
            "{replay:?}"
        );
        let hung = replay.iter().any(|e| {
            matches!(e, PoolEvent::WorkerHung { worker, idle, .. }
                if *worker == w && *idle >= Duration::from_secs(3))
        });
        assert!(hung, "{replay:?}");
    }
}
