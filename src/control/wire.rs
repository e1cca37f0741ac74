//! Messages on a pool's control socket (`pooltop status`, `submit`, …).
//! Pure data, framed like the worker protocol (`protocol::frame`).

use serde::{Deserialize, Serialize};

use crate::report::results::Shown;
use pooltop::engine::{Counts, PoolEvent};

/// Bumped whenever a message changes shape.
pub const CONTROL_VERSION: u32 = 5;

/// What a client asks. Each request gets exactly one [`Reply`].
///
/// Every order to the pool is one [`Request::Order`], whoever gives it: the
/// CLI's `pause`, `resume`, `terminate`, `kill`, `scale` and `stop`, and an
/// attached dashboard's keys. See [`Order`] for why it is the wire's own type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// The first request on every connection: the client's protocol version.
    Hello { version: u32 },
    /// The header figures and every worker's state.
    Status,
    /// Queue these task lines (all are checked first; one bad line refuses all).
    /// The only way to submit: the pool chooses the tasks' ids. (Its place,
    /// third, is part of the wire: tests/hostile.rs writes it out by hand.)
    Submit { lines: Vec<String> },
    /// Block until these tasks (or, when empty, all submitted so far) finished.
    Wait { tasks: Vec<u64> },
    /// Give the pool an order; answered with [`Reply::Done`] (or
    /// [`Reply::Error`]), after which the order is carried out.
    Order(Order),
    /// A task's output (`pooltop logs`): what it has written so far, as
    /// [`Reply::Output`]s; with `follow`, then its output as it arrives
    /// until it ends; then one [`Reply::Done`] (or [`Reply::Error`]).
    /// `task: None` follows every running task. The connection serves
    /// nothing else afterwards.
    Logs { task: Option<u64>, follow: bool },
    /// Stream the pool's events on this connection from now on: first a
    /// replay that rebuilds the pool's current picture, then every event
    /// as it happens. The connection serves nothing else afterwards.
    Subscribe,
    /// Like [`Request::Wait`], answered with [`Reply::Results`]: what each
    /// awaited task shows (`pooltop wait --results`).
    WaitResults { tasks: Vec<u64> },
}

/// An order to the pool, in the wire's own words rather than as the
/// engine's `Command`: a worker order takes a list of workers, since the CLI
/// names several at once and a dashboard key names one; the shape changes
/// only with [`CONTROL_VERSION`], not with the engine; and no order can carry
/// a submission. `control::orders` turns a `Command` into an `Order` and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    /// Stop these workers' process groups (SIGSTOP).
    Pause { workers: Vec<u32> },
    /// Continue these paused workers (SIGCONT).
    Resume { workers: Vec<u32> },
    /// Ask these workers to stop after their task; killed after the join
    /// timeout, and replaced.
    Terminate { workers: Vec<u32> },
    /// Kill these workers now; they are replaced.
    Kill { workers: Vec<u32> },
    /// Hand out no more tasks; running ones go on.
    PauseDispatch,
    /// Hand out tasks again.
    ResumeDispatch,
    /// Cancel every queued task that has not started.
    CancelQueued,
    /// Cancel these tasks: queued ones at once, running ones by killing
    /// (and replacing) their workers.
    Cancel { tasks: Vec<u64> },
    /// Run these ended failed, timed-out or cancelled tasks again, each as
    /// a new task.
    Retry { tasks: Vec<u64> },
    /// Run every task that ended failed or timed out again.
    RetryFailed,
    /// Move a queued task to the front of the queue.
    Front { task: u64 },
    /// Change the number of workers (at least 1).
    Scale { workers: u32 },
    /// Shut the pool down gracefully (with the join timeout).
    Stop,
    /// Shut the pool down killing every worker at once.
    KillAll,
}

/// What the pool answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// The pool accepted the hello.
    Welcome { name: String, pid: u32 },
    /// The answer to [`Request::Status`].
    Status(StatusView),
    /// The submitted tasks' ids, in order.
    Submitted { ids: Vec<u64> },
    /// Nothing was submitted: these lines are bad (same messages as `run`).
    Refused { errors: Vec<String> },
    /// The awaited tasks finished: how they ended (`submitted` is how many
    /// were awaited).
    Waited(Counts),
    /// Done; the message says what happened.
    Done { message: String },
    /// The request could not be carried out.
    Error { message: String },
    /// Output of task `task`, run by `worker` (see [`Request::Logs`]).
    Output {
        task: u64,
        worker: u32,
        stderr: bool,
        text: String,
    },
    /// The subscription starts; [`Reply::Event`]s follow.
    Subscribed { config: PoolSummary },
    /// One event of a subscription.
    Event(PoolEvent),
    /// The answer to [`Request::WaitResults`]: how the tasks ended, what
    /// each shows, in the order asked (those the pool still keeps: see
    /// `control::results`), and how many it no longer keeps.
    Results {
        counts: Counts,
        shown: Vec<Shown>,
        let_go: u64,
    },
}

/// What an attached dashboard needs to know of a pool's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    pub workers: u32,
    pub join_timeout_s: f64,
    pub task_timeout_s: Option<f64>,
    /// What the pool runs: a task file's name, a command template, `demo`.
    pub title: String,
}

/// The pool at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub name: String,
    /// What the pool runs (a task file, a command template).
    pub title: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub started_unix: u64,
    pub uptime_s: f64,
    pub workers_wanted: u32,
    pub dispatch_paused: bool,
    /// The admission gate holding dispatch back and its figure now
    /// (`memfree: 310 MiB free < 1024 MiB`), if one does.
    pub held: Option<String>,
    pub counts: Counts,
    pub running: u64,
    pub queued: u64,
    pub workers: Vec<WorkerView>,
    /// Each core's load (% of that core) at the latest sample; empty when
    /// the pool does not sample or has not yet.
    pub cores: Vec<f32>,
}

/// One worker at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerView {
    pub id: u32,
    pub pid: u32,
    /// `starting`, `idle`, `busy`, `paused`, `stopping`.
    pub state: String,
    /// The task it runs, its line, and for how long.
    pub task: Option<u64>,
    pub task_line: Option<String>,
    pub task_s: f64,
    pub done: u64,
    pub failed: u64,
    /// CPU (% of one core, its process tree summed) and resident memory
    /// (bytes) at the latest sample; none until one covered it.
    pub cpu: Option<f32>,
    pub rss: Option<u64>,
    /// Whether the pool reports it hung (see `PoolEvent::WorkerHung`).
    pub hung: bool,
    /// The host it was launched on (`--ssh`, `--launcher`); none: the pool's.
    pub host: Option<String>,
}
