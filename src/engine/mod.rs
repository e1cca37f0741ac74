//! The pool engine: the one owner of pool state.
//!
//! [`start`] spawns the supervisor thread and returns a [`PoolHandle`] (orders
//! in) and a receiver of [`PoolEvent`]s (news out). Nothing here knows about
//! terminals.

pub mod buckets;
mod channel;
mod conn;
pub mod events;
mod hung;
mod idmap;
pub mod launch;
mod median;
pub mod monitor;
mod proc;
mod queue;
mod stream;
mod supervisor;
mod watch;
pub mod workers;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

pub use channel::{EventReceiver, EventSender, event_channel};
pub use events::{
    Command, Counts, DoneRun, ExitHow, Hold, PoolEvent, Task, TaskId, TaskReport, TaskState,
    WorkerId,
};
pub use hung::DEFAULT_HUNG_AFTER;
pub use stream::{EventStream, Tap};
pub use workers::{WorkerInfo, WorkerTable};

use crate::error::Error;

/// The largest [`PoolConfig::output_cap`]: a shell task's report carries its
/// stdout twice (as the value and as stdout) and its stderr, and must fit in
/// one frame (16 MiB).
pub const MAX_OUTPUT_CAP: usize = 4 * 1024 * 1024;

/// How a pool runs.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Number of worker processes (default: the number of CPUs).
    pub workers: usize,
    /// How long a worker asked to stop may take before it is killed.
    pub join_timeout: Duration,
    /// A task running longer than this has its worker killed and replaced.
    pub task_timeout: Option<Duration>,
    /// How many more times a task is started after its worker died under it
    /// or it timed out (and, with [`PoolConfig::retry_failed`], after it failed).
    pub retries: u32,
    /// Also retry a task that failed by itself (an error result, a non-zero
    /// exit status), as GNU parallel's `--retries` does; by default only a
    /// task whose worker died or that timed out is started again.
    pub retry_failed: bool,
    /// A task running longer than this multiple of the median run time of the
    /// tasks done so far has its worker killed and replaced, like GNU
    /// parallel's `--timeout 200%` (factor 2.0). It applies once 3 tasks are
    /// done, and is never below 1 s. With `task_timeout` too, the shorter wins.
    pub task_timeout_median: Option<f64>,
    /// Pause dispatch (as [`Command::PauseDispatch`] does) when a task ends
    /// in one of these states, before any other task starts: the consumer
    /// then decides to go on ([`Command::ResumeDispatch`]), cancel the queue
    /// or stop — GNU parallel's `--halt`. Instant tasks that a worker was
    /// handed in advance (see `TaskSpec::is_instant`) still run. Empty by
    /// default.
    pub pause_dispatch_after: Vec<TaskState>,
    /// While tasks are quick (a median under 10 ms), hand each busy worker
    /// its next task in advance, so it starts it without waiting for the
    /// manager. A task handed in advance runs after the one before it on that
    /// worker, even if another worker frees up first; so this is only done
    /// while at least one task per worker is waiting, and never with
    /// `pause_dispatch_after`. Off by default; command templates turn it on.
    pub prefetch_quick: bool,
    /// How many tasks a worker is handed at once: `Pool.map`'s chunksize.
    /// Every task is still reported on its own, as it ends.
    pub chunksize: ChunkSize,
    /// A folder where exec tasks put output that is not UTF-8 text or is
    /// longer than `output_cap`, whole, one file per stream (named in
    /// `TaskOutput::stdout_file`); the consumer reads and removes the files,
    /// and owns the folder. Without one, exec tasks keep the tail of their
    /// output, as shell tasks do. Command templates set it: a job's output is
    /// the product.
    pub spill_dir: Option<PathBuf>,
    /// Where `thumbnail` writes its output.
    pub out_dir: PathBuf,
    /// The folder workers run in, against which relative task paths resolve
    /// (default: pooltop's own working folder).
    pub work_dir: Option<PathBuf>,
    /// Bytes of stdout and of stderr kept per shell task (the last ones).
    pub output_cap: usize,
    /// The executable to start as a worker (default: this executable). It is
    /// started with the argument `worker` and must call
    /// [`crate::worker::run_if_worker`] before anything else.
    pub worker_program: Option<PathBuf>,
    /// How often the engine samples the workers' CPU and memory, the cores
    /// and its own process, and publishes a [`PoolEvent::Sample`]; none
    /// turns sampling off. Never more often than every
    /// [`monitor::MIN_INTERVAL`] (200 ms). Default: every second.
    pub sample_every: Option<Duration>,
    /// A busy worker whose task has made no progress and whose processes
    /// have used no CPU for this long is reported hung
    /// ([`PoolEvent::WorkerHung`]); with a task timeout, at most half of it,
    /// so the report comes before the kill (see
    /// [`PoolConfig::hung_report_after`]). Default: [`DEFAULT_HUNG_AFTER`].
    pub hung_after: Duration,
    /// Start no task while the memory available (`MemAvailable`) is below
    /// this many bytes; below half of it, kill the youngest running task and
    /// requeue it — GNU parallel's `--memfree`. None by default.
    pub memfree: Option<u64>,
    /// Start no task while the 1-minute load average is above this — GNU
    /// parallel's `--load`. None by default.
    pub load_max: Option<f64>,
    /// At least this long between two task starts — GNU parallel's `--delay`.
    pub delay: Option<Duration>,
    /// How much nicer than pooltop the workers (and so their tasks) run, 0 to 19.
    pub nice: i32,
    /// A task whose worker's process tree has more resident memory than this
    /// at a sample is killed and ends failed, "over memory limit" (checked at
    /// each [`PoolConfig::sample_every`]). None by default.
    pub task_memory: Option<u64>,
    /// The threads each task's numeric libraries may use (`OMP_NUM_THREADS`
    /// and the like, unless the environment sets them); none: the worker's
    /// share of the CPUs (CPUs / workers, at least 1).
    pub threads_per_task: Option<u32>,
    /// How `py` tasks run: which interpreter, its initializer and the folder
    /// first on its `sys.path`.
    pub python: PythonConfig,
    /// Retire a worker once this many tasks were handed to it and have
    /// ended, and start a fresh one in its place (`maxtasksperchild`):
    /// leaks and module state go with the old process. None: never.
    pub max_tasks_per_worker: Option<u64>,
    /// Where workers start (`--ssh`, `--launcher`; see [`launch`]): each
    /// placement's share of them. Empty: all on this machine.
    pub placements: Vec<launch::Placement>,
}

/// How a worker runs `py` tasks (see `TaskSpec::Py`): one interpreter per
/// worker, started on its first `py` task and kept until the worker ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonConfig {
    /// The interpreter (default: `python3` on `PATH`).
    pub program: Option<PathBuf>,
    /// `MODULE:FUNCTION` called once in each interpreter before its first
    /// task, as `multiprocessing.Pool(initializer=)`.
    pub init: Option<String>,
    /// The folder put first on `sys.path` (a task file's folder); the
    /// worker's current folder comes next.
    pub path: Option<PathBuf>,
}

/// How many tasks a worker is handed at once ([`PoolConfig::chunksize`]).
///
/// Handing a worker several tasks at once spares it a round trip to the
/// manager between them, which is most of the cost of a tiny task. The
/// tasks of a chunk run one after another on that worker, even if another
/// worker frees up: that is the price, as with `multiprocessing.Pool.map`.
/// A worker gets its next chunk when it is done with the last one; only
/// instant tasks (see `TaskSpec::is_instant`) are handed a chunk ahead.
/// Only the first task of a chunk is running; the others are waiting on that
/// worker (the dashboard counts them as queued), and go back to the queue if
/// the worker dies. With [`PoolConfig::pause_dispatch_after`] (`--halt`),
/// tasks are handed out one at a time whatever is set here, so that none
/// starts before the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkSize {
    /// Up to this many tasks at once. 1, the default, hands out one task at
    /// a time; quick tasks may still be handed one ahead (see
    /// [`PoolConfig::prefetch_quick`]).
    Fixed(usize),
    /// Chunks sized from the tasks themselves: one at a time until three
    /// tasks are done, then as many as take about [`AUTO_CHUNK_TIME`] at the
    /// median run time, but never more than a quarter of each worker's share
    /// of the waiting tasks (`Pool.map`'s own rule, so that the last tasks
    /// still spread over every worker) nor [`AUTO_CHUNK_MAX`].
    Auto,
}

/// What an automatic chunk aims to take, at the median run time: long enough
/// to make the round trip between chunks negligible, short enough that the
/// tasks behind it do not wait noticeably.
pub const AUTO_CHUNK_TIME: Duration = Duration::from_millis(20);

/// The largest automatic chunk. Beyond it the round trip between chunks is
/// already lost in the work of one (a chunk of the tiniest tasks takes over
/// 100 µs), while buffers sized for bigger chunks only cost memory.
pub const AUTO_CHUNK_MAX: usize = 2048;

impl std::str::FromStr for ChunkSize {
    type Err = String;

    /// `auto`, or a number of tasks from 1 up.
    fn from_str(s: &str) -> Result<ChunkSize, String> {
        let s = s.trim();
        if s == "auto" {
            return Ok(ChunkSize::Auto);
        }
        match s.replace('_', "").parse::<usize>() {
            Ok(n) if n >= 1 => Ok(ChunkSize::Fixed(n)),
            _ => Err(format!(
                "expected a number of tasks from 1 up, or \"auto\", found `{s}`"
            )),
        }
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            join_timeout: Duration::from_secs(5),
            task_timeout: None,
            retries: 0,
            retry_failed: false,
            task_timeout_median: None,
            pause_dispatch_after: Vec::new(),
            spill_dir: None,
            prefetch_quick: false,
            chunksize: ChunkSize::Fixed(1),
            out_dir: PathBuf::from("thumbs"),
            work_dir: None,
            output_cap: 64 * 1024,
            worker_program: None,
            sample_every: Some(DEFAULT_SAMPLE_EVERY),
            hung_after: DEFAULT_HUNG_AFTER,
            memfree: None,
            load_max: None,
            delay: None,
            nice: 0,
            task_memory: None,
            threads_per_task: None,
            python: PythonConfig::default(),
            max_tasks_per_worker: None,
            placements: Vec::new(),
        }
    }
}

/// How often a pool samples by default ([`PoolConfig::sample_every`]).
pub const DEFAULT_SAMPLE_EVERY: Duration = Duration::from_secs(1);

impl PoolConfig {
    /// After how long without progress and CPU a busy worker is reported
    /// hung: [`PoolConfig::hung_after`], or half the task timeout if that is
    /// shorter.
    pub fn hung_report_after(&self) -> Duration {
        match self.task_timeout {
            Some(limit) => self.hung_after.min(limit / 2),
            None => self.hung_after,
        }
    }

    /// Checks the values that have limits.
    pub fn validate(&self) -> Result<(), Error> {
        if self.workers == 0 {
            return Err(Error::Config("workers must be at least 1".into()));
        }
        if self.output_cap > MAX_OUTPUT_CAP {
            return Err(Error::Config(format!(
                "output cap of {} bytes is more than the limit of {MAX_OUTPUT_CAP}",
                self.output_cap
            )));
        }
        if self.chunksize == ChunkSize::Fixed(0) {
            return Err(Error::Config("chunk size must be at least 1".into()));
        }
        if !(0..=19).contains(&self.nice) {
            return Err(Error::Config(format!(
                "nice must be from 0 to 19, got {}",
                self.nice
            )));
        }
        if self.task_memory.is_some() && self.sample_every.is_none() {
            return Err(Error::Config(
                "a task memory limit needs sampling (sample every must not be 0)".into(),
            ));
        }
        if self.max_tasks_per_worker == Some(0) {
            return Err(Error::Config(
                "max tasks per worker must be at least 1".into(),
            ));
        }
        if self.task_timeout == Some(Duration::ZERO) {
            return Err(Error::Config("task timeout must be more than 0".into()));
        }
        if let Some(f) = self.task_timeout_median
            && !(f.is_finite() && f > 0.0)
        {
            return Err(Error::Config(format!(
                "the median-based task timeout must be a positive factor, got {f}"
            )));
        }
        Ok(())
    }
}

/// Everything that reaches the supervisor from other threads.
pub(crate) enum Inbound {
    /// An order from a [`PoolHandle`].
    Command(Command),
    /// Tasks from [`PoolHandle::submit_all`], with their lines for the
    /// `TasksQueued` event already copied out on the caller's thread (where
    /// the lines were just made, so taking a reference to each is cheap).
    Submit {
        tasks: Vec<(TaskId, Task)>,
        lines: Vec<Arc<str>>,
    },
    /// From the handshake threads and the reapers.
    Conn(conn::ConnEvent),
    /// From the sampler thread.
    Sample(Box<monitor::Sample>),
}

/// The sending side of the supervisor's inbox: a channel, plus a waker that
/// interrupts the supervisor's wait on its sockets.
#[derive(Clone)]
pub(crate) struct InboxSender {
    tx: Sender<Inbound>,
    waker: Arc<mio::Waker>,
}

impl InboxSender {
    /// Delivers `msg`; false once the supervisor has gone.
    pub(crate) fn send(&self, msg: Inbound) -> bool {
        if self.tx.send(msg).is_err() {
            return false;
        }
        // The supervisor may be gone by now; the message is then moot.
        let _ = self.waker.wake();
        true
    }
}

/// A pool running in another process, reached through its control socket
/// (see `control::client`), so a dashboard can attach to it.
pub trait AttachedPool: Send + Sync {
    /// Sends an order; false once the pool is gone.
    fn send(&self, cmd: Command) -> bool;
    /// Queues tasks; the pool chooses their ids.
    fn submit_all(&self, tasks: Vec<Task>) -> Vec<TaskId>;
    /// How many task ids the pool has handed out.
    fn tasks_allocated(&self) -> u64;
}

/// Where a handle's orders go.
#[derive(Clone)]
enum Orders {
    /// This process's supervisor; task ids are allocated here.
    Local {
        tx: InboxSender,
        next_task: Arc<AtomicU64>,
    },
    Attached(Arc<dyn AttachedPool>),
}

/// How many tasks one submission hands the supervisor at most.
pub const SUBMIT_SLICE: usize = 4096;

/// A cheap, clonable way to give the pool orders. Never blocks (for a pool
/// in this process; an attached one answers over a local socket).
#[derive(Clone)]
pub struct PoolHandle {
    orders: Orders,
    config: Arc<PoolConfig>,
}

impl PoolHandle {
    /// A handle on a pool in another process. `config` describes it as far
    /// as it is known (the dashboard shows the worker count and timeouts).
    pub fn attached(pool: Arc<dyn AttachedPool>, config: PoolConfig) -> PoolHandle {
        PoolHandle {
            orders: Orders::Attached(pool),
            config: Arc::new(config),
        }
    }

    /// Whether the pool runs in another process.
    pub fn is_attached(&self) -> bool {
        matches!(self.orders, Orders::Attached(_))
    }

    /// Sends an order; returns false once the pool has stopped.
    pub fn send(&self, cmd: Command) -> bool {
        match &self.orders {
            Orders::Local { tx, .. } => tx.send(Inbound::Command(cmd)),
            Orders::Attached(pool) => pool.send(cmd),
        }
    }

    /// Queues one task and returns its id (none if the pool is gone).
    pub fn submit(&self, task: Task) -> TaskId {
        self.submit_all([task])
            .first()
            .copied()
            .unwrap_or(TaskId(0))
    }

    /// Queues tasks in order and returns their ids (consecutive).
    ///
    /// A long list goes to the pool in slices of [`SUBMIT_SLICE`], so that
    /// workers start on the first tasks while the rest are still being queued.
    pub fn submit_all(&self, tasks: impl IntoIterator<Item = Task>) -> Vec<TaskId> {
        match &self.orders {
            Orders::Local { tx, next_task } => {
                let mut ids = Vec::new();
                let mut tasks = tasks.into_iter().peekable();
                while tasks.peek().is_some() {
                    // Numbered once their count is known: one atomic add per slice.
                    let mut slice: Vec<(TaskId, Task)> = tasks
                        .by_ref()
                        .take(SUBMIT_SLICE)
                        .map(|t| (TaskId(0), t))
                        .collect();
                    let first = next_task.fetch_add(slice.len() as u64, Ordering::Relaxed);
                    for (id, (task_id, _)) in (first..).zip(slice.iter_mut()) {
                        *task_id = TaskId(id);
                    }
                    let lines = slice.iter().map(|(_, t)| t.line.clone()).collect();
                    ids.extend(slice.iter().map(|(id, _)| *id));
                    tx.send(Inbound::Submit {
                        tasks: slice,
                        lines,
                    });
                }
                ids
            }
            Orders::Attached(pool) => pool.submit_all(tasks.into_iter().collect()),
        }
    }

    /// How many task ids have been handed out (ids run from 1 to this).
    pub fn tasks_allocated(&self) -> u64 {
        match &self.orders {
            Orders::Local { next_task, .. } => next_task.load(Ordering::Relaxed) - 1,
            Orders::Attached(pool) => pool.tasks_allocated(),
        }
    }

    /// The configuration the pool was started with.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }
}

/// Starts a pool: its socket, its workers and the supervisor thread.
pub fn start(config: PoolConfig) -> Result<(PoolHandle, EventReceiver), Error> {
    config.validate()?;
    let program = match &config.worker_program {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(Error::WorkerProgram)?,
    };
    // Absolute, so that a worker started in another folder finds it too.
    let program = std::fs::canonicalize(&program).map_err(|e| {
        Error::WorkerProgram(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", program.display()),
        ))
    })?;
    let poll = mio::Poll::new().map_err(Error::Io)?;
    let waker = mio::Waker::new(poll.registry(), supervisor::WAKE_TOKEN).map_err(Error::Io)?;
    let (tx, rx) = mpsc::channel();
    let tx = InboxSender {
        tx,
        waker: Arc::new(waker),
    };
    let (events_tx, events_rx) = event_channel();
    let config = Arc::new(config);
    // Without a sampler the pool runs all the same, only without samples.
    let sampler = config.sample_every.and_then(|every| {
        let inbox = tx.clone();
        monitor::start(every, move |s| inbox.send(Inbound::Sample(Box::new(s)))).ok()
    });
    let watch = watch::Watch::new(&config, sampler);
    let next_task = Arc::new(AtomicU64::new(1));
    supervisor::spawn(
        config.clone(),
        program,
        poll,
        tx.clone(),
        rx,
        events_tx,
        watch,
        next_task.clone(),
    )?;
    let handle = PoolHandle {
        orders: Orders::Local { tx, next_task },
        config,
    };
    Ok((handle, events_rx))
}
