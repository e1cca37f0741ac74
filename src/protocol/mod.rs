//! The messages between the manager and its workers. Pure data.
//!
//! One enum per direction: [`ToWorker`] and [`FromWorker`]. Keep every type
//! here plain (no tagged/untagged enums, no `skip_serializing_if`): bincode is
//! not self-describing. How they become bytes is `frame.rs`'s business alone.

pub mod frame;

use serde::{Deserialize, Serialize};

use crate::task::{RunValues, TaskOutcome, TaskSpec};

/// Defined in `task`, beside `RunValues`, whose columns decode through it
/// too (`task` is the lower module: these messages carry tasks).
pub use crate::task::List;

/// Bumped whenever a message changes shape; a worker of another version is refused.
pub const PROTOCOL_VERSION: u32 = 6;

/// The largest frame either side accepts. Checked before anything is allocated.
/// Task results are capped far below this (see `PoolConfig::output_cap`).
pub const MAX_FRAME: u32 = 16 * 1024 * 1024;

/// The worker's first frame: who it is and proof that the manager started it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub worker: u32,
    pub pid: u32,
    /// The per-pool secret the manager put in the worker's environment.
    pub token: String,
    /// The machine it runs on, as a launched worker's side names it (the
    /// Slurm node, else the host name; see `worker::stdio`); empty from a
    /// local worker.
    pub host: String,
}

/// Frames from the manager to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// The handshake was accepted; here is how to run tasks.
    Welcome {
        /// Where `thumbnail` writes its output.
        out_dir: String,
        /// Bytes of stdout and of stderr kept per shell task (the tail).
        output_cap: u64,
        /// The worker's job slot: 1 up, unique among live workers (see
        /// `PoolEvent::WorkerSlot`); exec tasks may write it into their command.
        slot: u32,
        /// Where exec tasks spill output that is long or not text (empty:
        /// they keep its tail, as shell tasks do).
        spill_dir: String,
        /// How much nicer the worker (and so its tasks) is to run, 0 to 19.
        nice: i32,
        /// `OMP_NUM_THREADS` and the like for the tasks' processes (unless
        /// their environment sets them).
        threads: u32,
    },
    /// Run these tasks: ids `first`, `first + 1`, … in order. A worker runs
    /// its tasks one at a time, in the order received. (A chunk of tasks
    /// with consecutive ids travels as one frame.)
    Assign { first: u64, specs: List<TaskSpec> },
    /// Finish the current task (if any), report it, then exit without starting another.
    Shutdown,
    /// To a launched worker (`pooltop worker --stdio`) only: send this
    /// signal to the worker process and its tasks (its process group). The
    /// manager cannot signal a process on another machine; the worker's
    /// side does it. Never sent to a local worker, which is signalled.
    Signal(WireSignal),
    /// To a launched worker only: the manager is alive (sent when it has
    /// had nothing else to say for a while; see `engine::launch`).
    Ping,
}

/// A signal carried as a frame (see [`ToWorker::Signal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireSignal {
    Stop,
    Cont,
    Term,
    Kill,
}

/// The manager's first frame to a launched worker (`pooltop worker
/// --stdio`), on its stdin: who it is and the pool's secret, which thus
/// never appears on a command line or in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    /// First, so that a worker of another version can tell at once.
    pub version: u32,
    pub worker: u32,
    pub token: String,
    /// How the worker runs `py` tasks there (`PythonConfig`): the
    /// interpreter, its initializer, the folder first on `sys.path`.
    pub python: Option<String>,
    pub py_init: Option<String>,
    pub py_path: Option<String>,
}

/// A [`ToWorker::Assign`] made of borrowed specs, for the manager, which
/// keeps each task's spec in its queue: it encodes to the same bytes (a test
/// checks) without copying every spec first.
pub struct AssignRef<'a> {
    pub first: u64,
    pub specs: &'a [&'a TaskSpec],
}

impl Serialize for AssignRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStructVariant;
        /// `Assign`'s place among `ToWorker`'s variants (after `Welcome`).
        const ASSIGN: u32 = 1;
        let mut v = s.serialize_struct_variant("ToWorker", ASSIGN, "Assign", 2)?;
        v.serialize_field("first", &self.first)?;
        v.serialize_field("specs", self.specs)?;
        v.end()
    }
}

/// Frames from a worker to the manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The first frame, always.
    Hello(Hello),
    /// A task ended inside the worker.
    Finished {
        task: u64,
        outcome: TaskOutcome,
        /// Wall time of the run, in nanoseconds.
        wall_ns: u64,
        /// CPU time (user + system, children included), in nanoseconds.
        cpu_ns: u64,
        /// Peak RSS in bytes (see `TaskReport::max_rss`); none when the
        /// worker could not tell.
        max_rss: Option<u64>,
    },
    /// The short form of a run of [`FromWorker::Finished`] frames for
    /// instant tasks (see `TaskSpec::is_instant`) that succeeded with only
    /// a value: task `first` and the tasks held after it, in the order the
    /// worker received them, ended with these values and wall times (their
    /// CPU time is their wall time). Half the bytes and a fraction of the
    /// decoding of one full report each, for the tiniest tasks.
    Values {
        first: u64,
        /// Each task's value and wall time in nanoseconds.
        results: RunValues,
    },
    /// Output of the running task `task` as it arrived (stdout, or stderr
    /// when `stderr`): live output, rate-limited and bounded to the output
    /// cap by the worker. The task's report still carries its own tails.
    Output {
        task: u64,
        stderr: bool,
        text: String,
    },
    /// From a launched worker's side, about once a second: it is alive,
    /// and what it uses (the manager cannot see processes on another
    /// machine).
    Usage(RemoteUsage),
}

/// What a launched worker reports of itself and its machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RemoteUsage {
    /// CPU of the worker and its tasks since the last report, in % of one core.
    pub cpu_percent: f32,
    /// Resident memory of the worker and its tasks, in bytes.
    pub rss: u64,
    /// Each core's busy share since the last report, in %.
    pub cores: Vec<f32>,
}
