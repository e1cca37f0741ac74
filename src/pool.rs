//! The library face: a [`Pool`] you build, submit to and map over from Rust.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::engine::events::started_then_finished;
use crate::engine::{
    self, Command, Counts, PoolConfig, PoolEvent, PoolHandle, Task, TaskId, TaskReport,
};
use crate::error::Error;

/// A pool of worker processes.
///
/// Workers are started from this program's own executable (or
/// [`PoolBuilder::worker_program`]), so `main` must begin with
/// [`crate::worker::run_if_worker`].
///
/// ```rust,standalone_crate
/// use pooltop::{Pool, Task, TaskState};
///
/// fn main() -> Result<(), pooltop::Error> {
///     pooltop::worker::run_if_worker(); // a worker process stops here
///     let mut pool = Pool::builder().workers(2).build()?;
///     let tasks = (1..=5).map(|n| Task::parse(&format!("square {n}")).unwrap());
///     let squares: Vec<String> = pool.map(tasks).into_iter().map(|r| r.output.value).collect();
///     assert_eq!(squares, ["1", "4", "9", "16", "25"]);
///
///     // Completion order, with failures reported, not raised:
///     let lines = ["sleep 0.2", "square 6", "fail nope"].map(|l| Task::parse(l).unwrap());
///     let reports: Vec<_> = pool.completed(lines).collect();
///     assert_eq!(reports.len(), 3);
///     assert_eq!(reports.last().unwrap().line.as_ref(), "sleep 0.2");
///     assert!(reports.iter().any(|r| r.state == TaskState::Failed));
///
///     let counts = pool.shutdown(); // dropping the pool does the same
///     assert_eq!(counts.submitted, counts.done + counts.failed);
///     Ok(())
/// }
/// ```
pub struct Pool {
    handle: PoolHandle,
    events: crate::engine::EventReceiver,
    /// Events read while waiting for something else, kept for [`Pool::next_event`].
    backlog: VecDeque<PoolEvent>,
    /// Reports taken out of a [`crate::DoneRun`] for the `map` or
    /// `completed` under way, not yet returned.
    unpacked: VecDeque<TaskReport>,
    stopped: Option<Counts>,
}

/// Builds a [`Pool`]; every setting has a default (see [`PoolConfig`]).
#[derive(Debug, Clone, Default)]
pub struct PoolBuilder {
    config: PoolConfig,
}

impl PoolBuilder {
    /// Number of worker processes (default: the number of CPUs).
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = n;
        self
    }
    /// How long a worker asked to stop may take before it is killed (default 5 s).
    pub fn join_timeout(mut self, d: Duration) -> Self {
        self.config.join_timeout = d;
        self
    }
    /// Kill and replace the worker of a task that runs longer than this.
    pub fn task_timeout(mut self, d: Duration) -> Self {
        self.config.task_timeout = Some(d);
        self
    }
    /// Restart a task this many times when its worker dies under it or it times out.
    pub fn retries(mut self, n: u32) -> Self {
        self.config.retries = n;
        self
    }
    /// Also restart a task that failed by itself (error result, non-zero
    /// exit), up to the retries, as GNU parallel's `--retries` does.
    pub fn retry_failed(mut self, yes: bool) -> Self {
        self.config.retry_failed = yes;
        self
    }
    /// Kill and replace the worker of a task that runs longer than `factor`
    /// times the median run time of the tasks done so far (see
    /// [`PoolConfig::task_timeout_median`]).
    pub fn task_timeout_median(mut self, factor: f64) -> Self {
        self.config.task_timeout_median = Some(factor);
        self
    }
    /// Pause dispatch when a task ends in one of these states, until
    /// [`Command::ResumeDispatch`] (see [`PoolConfig::pause_dispatch_after`]).
    pub fn pause_dispatch_after(mut self, states: &[crate::TaskState]) -> Self {
        self.config.pause_dispatch_after = states.to_vec();
        self
    }
    /// Hand busy workers their next task in advance while tasks are quick
    /// (see [`PoolConfig::prefetch_quick`]).
    pub fn prefetch_quick(mut self, yes: bool) -> Self {
        self.config.prefetch_quick = yes;
        self
    }
    /// How many tasks a worker is handed at once (see [`PoolConfig::chunksize`]).
    pub fn chunksize(mut self, chunk: crate::ChunkSize) -> Self {
        self.config.chunksize = chunk;
        self
    }

    /// Folder for thumbnails (default `thumbs`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.out_dir = dir.into();
        self
    }
    /// Bytes of stdout and of stderr kept per shell task (default 64 KiB).
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.config.output_cap = bytes;
        self
    }
    /// The executable to run as a worker (default: this executable).
    pub fn worker_program(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.worker_program = Some(path.into());
        self
    }
    /// Starts the pool.
    pub fn build(self) -> Result<Pool, Error> {
        Pool::with_config(self.config)
    }
}

impl Pool {
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// Starts a pool with this configuration.
    pub fn with_config(config: PoolConfig) -> Result<Pool, Error> {
        let (handle, events) = engine::start(config)?;
        Ok(Pool {
            handle,
            events,
            backlog: VecDeque::new(),
            unpacked: VecDeque::new(),
            stopped: None,
        })
    }

    /// A handle that can give orders from other threads.
    pub fn handle(&self) -> &PoolHandle {
        &self.handle
    }

    /// Queues a task; its result arrives as a [`PoolEvent::TaskFinished`]
    /// (or in a [`PoolEvent::TasksDone`]).
    pub fn submit(&self, task: impl Into<Task>) -> TaskId {
        self.handle.submit(task.into())
    }

    /// Sends an order (pause, resume, terminate, kill, scale …).
    pub fn send(&self, cmd: Command) -> bool {
        self.handle.send(cmd)
    }

    /// The next event, waiting for it; none once the pool has stopped.
    pub fn next_event(&mut self) -> Option<PoolEvent> {
        self.next_event_timeout(Duration::MAX)
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event_timeout(&mut self, timeout: Duration) -> Option<PoolEvent> {
        self.shelve_unpacked();
        if let Some(ev) = self.backlog.pop_front() {
            return Some(ev);
        }
        self.recv(timeout)
    }

    fn recv(&mut self, timeout: Duration) -> Option<PoolEvent> {
        let ev = match self.events.recv_timeout(timeout) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
        };
        if let PoolEvent::Stopped(c) = &ev {
            self.stopped = Some(*c);
        }
        Some(ev)
    }

    /// Runs `tasks` and returns their reports in input order (like
    /// `Pool.map`). A task that fails is reported, not raised.
    pub fn map(&mut self, tasks: impl IntoIterator<Item = Task>) -> Vec<TaskReport> {
        self.shelve_unpacked();
        let ids = self.handle.submit_all(tasks);
        let index: HashMap<TaskId, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut out: Vec<Option<TaskReport>> = vec![None; ids.len()];
        let mut left = ids.len();
        while left > 0 {
            let Some(report) = self.next_report_of(&index) else {
                break;
            };
            let slot = &mut out[index[&report.task]];
            if slot.is_none() {
                left -= 1;
            }
            *slot = Some(report);
        }
        out.into_iter().flatten().collect()
    }

    /// Runs `tasks` and yields their reports as they finish (like
    /// `imap_unordered` or `as_completed`).
    pub fn completed(
        &mut self,
        tasks: impl IntoIterator<Item = Task>,
    ) -> impl Iterator<Item = TaskReport> + '_ {
        self.shelve_unpacked();
        let ids = self.handle.submit_all(tasks);
        let index: HashMap<TaskId, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut left = ids.len();
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let report = self.next_report_of(&index)?;
            left -= 1;
            Some(report)
        })
    }

    /// Waits for the next report of one of `wanted`; other events are kept.
    fn next_report_of(&mut self, wanted: &HashMap<TaskId, usize>) -> Option<TaskReport> {
        loop {
            if let Some(report) = self.unpacked.pop_front() {
                return Some(report);
            }
            match self.recv(Duration::MAX)? {
                PoolEvent::TaskFinished(r) if wanted.contains_key(&r.task) => return Some(*r),
                PoolEvent::TasksDone(run) => {
                    for report in run.reports() {
                        if wanted.contains_key(&report.task) {
                            self.unpacked.push_back(report);
                        } else {
                            self.backlog.extend(started_then_finished(report));
                        }
                    }
                }
                PoolEvent::TaskStarted { task, .. } | PoolEvent::TaskRetrying { task, .. }
                    if wanted.contains_key(&task) => {}
                PoolEvent::Stopped(_) => return None,
                other => self.backlog.push_back(other),
            }
        }
    }

    /// Reports unpacked for a `completed` iterator dropped before its end
    /// go to the backlog, as the events they stand for. (While reports are
    /// unpacked nothing more is read, so they follow what the backlog holds.)
    fn shelve_unpacked(&mut self) {
        for report in self.unpacked.drain(..) {
            self.backlog.extend(started_then_finished(report));
        }
    }

    /// Shuts the pool down (queued tasks are cancelled, workers are asked to
    /// stop and killed after the join timeout) and returns the final counts.
    pub fn shutdown(mut self) -> Counts {
        self.stop()
    }

    fn stop(&mut self) -> Counts {
        if let Some(c) = self.stopped {
            return c;
        }
        self.handle.send(Command::Shutdown);
        while self.recv(Duration::MAX).is_some() {
            if let Some(c) = self.stopped {
                return c;
            }
        }
        self.stopped.unwrap_or_default()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}
