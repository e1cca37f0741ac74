//! One table of the pool's workers, built from the event stream alone.
//!
//! Every face that shows workers (the control server's status, the
//! dashboard) and the engine's hung detector keep a [`WorkerTable`] and feed
//! it every [`PoolEvent`] they see; each keeps only its own extra state
//! beside it (the dashboard's CPU history, the detector's CPU ticks). Rows
//! are keyed by [`WorkerId`] and created by `WorkerSpawned`; news about a
//! worker the table does not know is ignored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::events::{
    ExitHow, PoolEvent, ProcStat, Sample, TaskId, TaskReport, TaskState, WorkerId,
};

/// The task a worker holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub task: TaskId,
    /// The task line as written.
    pub line: Arc<str>,
    /// 1 for the first run.
    pub attempt: u32,
    /// When this attempt started.
    pub started: Instant,
    /// Time spent paused while holding it (its timeout clock stops then).
    pub paused_for: Duration,
}

impl Held {
    /// How long the task has run, paused time excluded.
    pub fn running_for(&self, now: Instant, paused_at: Option<Instant>) -> Duration {
        let until = paused_at.unwrap_or(now);
        until
            .saturating_duration_since(self.started)
            .saturating_sub(self.paused_for)
    }
}

/// A worker the pool asked to stop.
#[derive(Debug, Clone, Copy)]
pub struct Stopping {
    /// When it will be killed if it has not left; none while retiring (it
    /// finishes its task).
    pub deadline: Option<Instant>,
}

/// One worker, as its events tell it.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    pub id: WorkerId,
    /// The worker process (the leader of its process group).
    pub pid: u32,
    /// Its job slot, once the pool said (see `PoolEvent::WorkerSlot`).
    pub slot: Option<u32>,
    /// The host it was launched on (`PoolEvent::WorkerHost`); none: here.
    pub host: Option<std::sync::Arc<str>>,
    /// When the process was started.
    pub spawned: Instant,
    /// Whether its handshake is done.
    pub ready: bool,
    /// Whether its scheduler holds it in a queue (`PoolEvent::WorkerPending`).
    pub pending: bool,
    /// The task it runs, if any.
    pub task: Option<Held>,
    /// When the user paused it, while paused.
    pub paused_at: Option<Instant>,
    pub stopping: Option<Stopping>,
    /// How it ended, and when (the row stays until the face removes it).
    pub gone: Option<(ExitHow, Instant)>,
    /// Tasks it finished done, failed or timed out, and cancelled (a task
    /// it held when it was killed by the user or the pool was).
    pub done: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// The latest sample of its process tree (none until one arrived).
    pub stat: Option<ProcStat>,
    /// Since when it has looked hung, while the pool says it does
    /// (`PoolEvent::WorkerHung` until `PoolEvent::WorkerUnhung`).
    pub hung_since: Option<Instant>,
    /// The last sign of progress its events gave: started, handed a task,
    /// a task ended, retried, paused or resumed.
    pub progress_at: Instant,
}

impl WorkerInfo {
    fn new(id: WorkerId, pid: u32, now: Instant) -> WorkerInfo {
        WorkerInfo {
            id,
            pid,
            slot: None,
            host: None,
            spawned: now,
            ready: false,
            pending: false,
            task: None,
            paused_at: None,
            stopping: None,
            gone: None,
            done: 0,
            failed: 0,
            cancelled: 0,
            stat: None,
            hung_since: None,
            progress_at: now,
        }
    }

    /// Alive and not on its way out: it can be paused, terminated.
    pub fn is_active(&self) -> bool {
        self.gone.is_none() && self.stopping.is_none()
    }

    /// Whether the pool flags it as possibly hung.
    pub fn is_hung(&self) -> bool {
        self.hung_since.is_some() && self.gone.is_none()
    }

    /// The state in one word, as `pooltop status` names it: `pending`
    /// (queued by Slurm), `starting`, `stopping`, `paused`, `busy`, `idle`
    /// (or `gone`).
    pub fn state_word(&self) -> &'static str {
        if self.gone.is_some() {
            "gone"
        } else if !self.ready && self.pending {
            "pending"
        } else if !self.ready {
            "starting"
        } else if self.stopping.is_some() {
            "stopping"
        } else if self.paused_at.is_some() {
            "paused"
        } else if self.task.is_some() {
            "busy"
        } else {
            "idle"
        }
    }
}

/// Every worker the event stream has told of, by id.
#[derive(Debug, Default, Clone)]
pub struct WorkerTable {
    rows: BTreeMap<WorkerId, WorkerInfo>,
}

impl WorkerTable {
    /// The rows, ordered by id (gone ones included until removed).
    pub fn rows(&self) -> impl DoubleEndedIterator<Item = &WorkerInfo> + Clone {
        self.rows.values()
    }

    /// The row of `id`.
    pub fn get(&self, id: WorkerId) -> Option<&WorkerInfo> {
        self.rows.get(&id)
    }

    /// How many rows there are (gone ones included).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = WorkerId> + '_ {
        self.rows.keys().copied()
    }

    /// How many rows come before `id`.
    pub fn position(&self, id: WorkerId) -> usize {
        self.rows.range(..id).count()
    }

    /// Removes a row (a face that does not show gone workers, or once
    /// they have lingered long enough).
    pub fn remove(&mut self, id: WorkerId) -> Option<WorkerInfo> {
        self.rows.remove(&id)
    }

    /// Takes one event into account, at `now`.
    pub fn observe(&mut self, ev: &PoolEvent, now: Instant) {
        match ev {
            PoolEvent::WorkerSpawned { worker, pid } => {
                self.rows
                    .insert(*worker, WorkerInfo::new(*worker, *pid, now));
            }
            PoolEvent::WorkerSlot { worker, slot } => self.row(*worker, |r| r.slot = Some(*slot)),
            PoolEvent::WorkerHost { worker, host } => {
                self.row(*worker, |r| r.host = Some(host.clone()))
            }
            PoolEvent::WorkerPending { worker, pending } => {
                self.row(*worker, |r| r.pending = *pending)
            }
            PoolEvent::WorkerReady { worker, pid } => self.row(*worker, |r| {
                r.pid = *pid;
                r.ready = true;
                r.pending = false;
            }),
            PoolEvent::WorkerPaused { worker } => self.row(*worker, |r| {
                r.paused_at = Some(now);
                r.progress_at = now;
            }),
            PoolEvent::WorkerResumed { worker } => self.row(*worker, |r| {
                if let (Some(at), Some(h)) = (r.paused_at.take(), r.task.as_mut()) {
                    h.paused_for += now.saturating_duration_since(at.max(h.started));
                }
                r.progress_at = now;
            }),
            PoolEvent::WorkerStopping {
                worker,
                join_timeout,
            } => self.row(*worker, |r| {
                r.stopping = Some(Stopping {
                    deadline: join_timeout.map(|t| now + t),
                })
            }),
            PoolEvent::WorkerExited { worker, how, .. } => self.row(*worker, |r| {
                r.gone = Some((how.clone(), now));
                r.stopping = None;
                r.paused_at = None;
                r.task = None;
                r.hung_since = None;
            }),
            PoolEvent::TaskStarted {
                task,
                worker,
                attempt,
                line,
            } => self.row(*worker, |r| {
                r.ready = true;
                r.progress_at = now;
                r.task = Some(Held {
                    task: *task,
                    line: line.clone(),
                    attempt: *attempt,
                    started: now,
                    paused_for: Duration::ZERO,
                });
            }),
            PoolEvent::TaskRetrying { task, worker, .. } => self.row(*worker, |r| {
                if r.task.as_ref().is_some_and(|h| h.task == *task) {
                    r.task = None;
                }
                r.progress_at = now;
            }),
            PoolEvent::TaskFinished(report) => self.task_finished(report, now),
            PoolEvent::TasksDone(run) => self.row(run.worker(), |r| {
                // Each task of the run started and finished within it.
                let ran = run.first()..run.next();
                if r.task.as_ref().is_some_and(|h| ran.contains(&h.task)) {
                    r.task = None;
                }
                r.done += run.len() as u64;
                r.progress_at = now;
            }),
            PoolEvent::Sample(_)
            | PoolEvent::WorkerHung { .. }
            | PoolEvent::WorkerUnhung { .. } => self.observe_watch(ev, now),
            PoolEvent::TasksQueued { .. }
            | PoolEvent::TaskRetried { .. }
            | PoolEvent::TaskToFront { .. }
            | PoolEvent::TaskOutput { .. }
            | PoolEvent::DispatchHeld(_)
            | PoolEvent::DispatchPaused(_)
            | PoolEvent::Scaled { .. }
            | PoolEvent::Error { .. }
            | PoolEvent::Drained(_)
            | PoolEvent::Stalled { .. }
            | PoolEvent::Stopped(_) => {}
        }
    }

    /// A task ended: its worker holds it no more, and counts it.
    fn task_finished(&mut self, report: &TaskReport, now: Instant) {
        let Some(w) = report.worker else { return };
        self.row(w, |r| {
            if r.task.as_ref().is_some_and(|h| h.task == report.task) {
                r.task = None;
            }
            match report.state {
                TaskState::Done => r.done += 1,
                TaskState::Failed | TaskState::TimedOut => r.failed += 1,
                TaskState::Cancelled => r.cancelled += 1,
            }
            r.progress_at = now;
        });
    }

    /// Takes in a sample: each live worker's CPU and memory.
    pub fn sample(&mut self, sample: &Sample) {
        for w in &sample.workers {
            if let Some(r) = self.rows.get_mut(&w.worker)
                && r.gone.is_none()
            {
                r.stat = Some(w.stat);
            }
        }
    }

    /// The engine's watch over the workers: samples and hung news.
    fn observe_watch(&mut self, ev: &PoolEvent, now: Instant) {
        match ev {
            PoolEvent::Sample(sample) => self.sample(sample),
            PoolEvent::WorkerHung { worker, idle, .. } => self.row(*worker, |r| {
                r.hung_since = Some(now.checked_sub(*idle).unwrap_or(now));
            }),
            PoolEvent::WorkerUnhung { worker, .. } => self.row(*worker, |r| r.hung_since = None),
            _ => {}
        }
    }

    fn row(&mut self, w: WorkerId, f: impl FnOnce(&mut WorkerInfo)) {
        if let Some(r) = self.rows.get_mut(&w) {
            f(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::WorkerStat;
    use crate::engine::events::{DoneRun, TaskReport};

    fn started(task: u64, worker: WorkerId) -> PoolEvent {
        PoolEvent::TaskStarted {
            task: TaskId(task),
            worker,
            attempt: 1,
            line: Arc::from("sleep 1"),
        }
    }

    fn finished(task: u64, worker: WorkerId, state: TaskState) -> PoolEvent {
        PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(task),
            worker: Some(worker),
            state,
            output: Default::default(),
            error: None,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            max_rss: None,
            attempts: 1,
            line: Arc::from("sleep 1"),
        }))
    }

    #[test]
    fn a_queued_worker_is_pending_until_slurm_lets_it_go() {
        let t0 = Instant::now();
        let w = WorkerId(3);
        let mut table = WorkerTable::default();
        table.observe(&PoolEvent::WorkerSpawned { worker: w, pid: 50 }, t0);
        let pending = |pending| PoolEvent::WorkerPending { worker: w, pending };
        table.observe(&pending(true), t0);
        assert_eq!(table.get(w).unwrap().state_word(), "pending");
        table.observe(&pending(false), t0);
        assert_eq!(table.get(w).unwrap().state_word(), "starting");
        table.observe(&pending(true), t0);
        table.observe(&PoolEvent::WorkerReady { worker: w, pid: 50 }, t0);
        assert_eq!(table.get(w).unwrap().state_word(), "idle");
    }

    #[test]
    fn a_worker_goes_from_starting_to_busy_to_gone() {
        let t0 = Instant::now();
        let w = WorkerId(2);
        let mut table = WorkerTable::default();
        table.observe(&PoolEvent::WorkerSpawned { worker: w, pid: 40 }, t0);
        table.observe(&PoolEvent::WorkerSlot { worker: w, slot: 1 }, t0);
        assert_eq!(table.get(w).unwrap().state_word(), "starting");
        table.observe(&PoolEvent::WorkerReady { worker: w, pid: 41 }, t0);
        assert_eq!(table.get(w).unwrap().state_word(), "idle");
        let t1 = t0 + Duration::from_secs(1);
        table.observe(&started(7, w), t1);
        let r = table.get(w).unwrap();
        assert_eq!((r.state_word(), r.pid, r.slot), ("busy", 41, Some(1)));
        assert_eq!(
            r.task.as_ref().map(|h| (h.task, h.started)),
            Some((TaskId(7), t1))
        );
        assert_eq!(r.progress_at, t1);
        table.observe(&finished(7, w, TaskState::Failed), t1);
        table.observe(&finished(8, w, TaskState::Cancelled), t1);
        let r = table.get(w).unwrap();
        assert_eq!((r.done, r.failed, r.cancelled), (0, 1, 1));
        assert_eq!(r.state_word(), "idle");
        let how = ExitHow::Exited(0);
        table.observe(
            &PoolEvent::WorkerExited {
                worker: w,
                pid: 41,
                how,
            },
            t1,
        );
        assert_eq!(table.get(w).unwrap().state_word(), "gone");
        assert!(table.remove(w).is_some() && table.is_empty());
    }

    #[test]
    fn paused_time_does_not_count_as_running() {
        let t0 = Instant::now();
        let w = WorkerId(1);
        let mut table = WorkerTable::default();
        table.observe(&PoolEvent::WorkerSpawned { worker: w, pid: 9 }, t0);
        table.observe(&started(1, w), t0);
        table.observe(
            &PoolEvent::WorkerPaused { worker: w },
            t0 + Duration::from_secs(2),
        );
        let t5 = t0 + Duration::from_secs(5);
        table.observe(&PoolEvent::WorkerResumed { worker: w }, t5);
        let r = table.get(w).unwrap();
        let held = r.task.as_ref().unwrap();
        assert_eq!(
            held.running_for(t5 + Duration::from_secs(1), None),
            Duration::from_secs(3)
        );
        assert_eq!(r.progress_at, t5, "a resume is progress");
    }

    #[test]
    fn a_run_counts_its_tasks_and_ends_a_held_one_among_them() {
        let t0 = Instant::now();
        let w = WorkerId(1);
        let mut table = WorkerTable::default();
        table.observe(&PoolEvent::WorkerSpawned { worker: w, pid: 9 }, t0);
        table.observe(&started(1, w), t0);
        let mut run = DoneRun::with_capacity(w, TaskId(2), 2);
        run.push("1", Duration::from_nanos(5), Arc::from("square 1"));
        run.push("4", Duration::from_nanos(5), Arc::from("square 2"));
        table.observe(&PoolEvent::TasksDone(Box::new(run.clone())), t0);
        let r = table.get(w).unwrap();
        assert_eq!(
            (r.done, r.task.as_ref().map(|h| h.task)),
            (2, Some(TaskId(1)))
        );
        table.observe(&started(2, w), t0);
        table.observe(&PoolEvent::TasksDone(Box::new(run)), t0);
        assert!(
            table.get(w).unwrap().task.is_none(),
            "task 2 ended in the run"
        );
    }

    #[test]
    fn samples_and_hung_news_land_on_their_worker() {
        let t0 = Instant::now();
        let (a, b) = (WorkerId(1), WorkerId(2));
        let mut table = WorkerTable::default();
        table.observe(&PoolEvent::WorkerSpawned { worker: a, pid: 10 }, t0);
        table.observe(&PoolEvent::WorkerSpawned { worker: b, pid: 20 }, t0);
        let stat = ProcStat {
            cpu: 99.0,
            rss: 4096,
            procs: 2,
        };
        let sample = Sample {
            workers: vec![
                WorkerStat {
                    worker: b,
                    pid: 20,
                    stat,
                },
                WorkerStat {
                    worker: WorkerId(3),
                    pid: 30,
                    stat,
                },
            ],
            ..Sample::default()
        };
        table.observe(&PoolEvent::Sample(Box::new(sample)), t0);
        assert_eq!(table.get(a).unwrap().stat, None);
        assert_eq!(table.get(b).unwrap().stat, Some(stat));
        assert_eq!(table.len(), 2, "an unknown worker makes no row");
        let t9 = t0 + Duration::from_secs(9);
        let hung = PoolEvent::WorkerHung {
            worker: a,
            pid: 10,
            task: TaskId(1),
            idle: Duration::from_secs(4),
        };
        table.observe(&hung, t9);
        assert_eq!(
            table.get(a).unwrap().hung_since,
            Some(t0 + Duration::from_secs(5))
        );
        assert!(table.get(a).unwrap().is_hung() && !table.get(b).unwrap().is_hung());
        let unhung = PoolEvent::WorkerUnhung {
            worker: a,
            task: TaskId(1),
        };
        table.observe(&unhung, t9);
        assert!(!table.get(a).unwrap().is_hung());
    }
}
