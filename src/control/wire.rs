//! Messages on a pool's control socket (`pooltop status`, `submit`, …).
//! Pure data, framed like the worker protocol (`protocol::frame`).

use serde::{Deserialize, Serialize};

use crate::engine::{Command, PoolEvent};

/// Bumped whenever a message changes shape.
pub const CONTROL_VERSION: u32 = 3;

/// What a client asks. Each request gets exactly one [`Reply`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// The first request on every connection: the client's protocol version.
    Hello {
        version: u32,
    },
    /// The header figures and every worker's state.
    Status,
    /// Queue these task lines (all are checked first; one bad line refuses all).
    Submit {
        lines: Vec<String>,
    },
    /// Block until these tasks (or, when empty, all submitted so far) finished.
    Wait {
        tasks: Vec<u64>,
    },
    Pause {
        workers: Vec<u32>,
    },
    Resume {
        workers: Vec<u32>,
    },
    Terminate {
        workers: Vec<u32>,
    },
    Kill {
        workers: Vec<u32>,
    },
    Scale {
        workers: u32,
    },
    /// Shut the pool down gracefully (with the join timeout).
    Stop,
    /// Any order but a submission (an attached dashboard's keys).
    Order(Command),
    /// Stream the pool's events on this connection from now on: first a
    /// replay that rebuilds the pool's current picture, then every event
    /// as it happens. The connection serves nothing else afterwards.
    Subscribe,
}

/// What the pool answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// The pool accepted the hello.
    Welcome {
        name: String,
        pid: u32,
    },
    Status(StatusView),
    /// The submitted tasks' ids, in order.
    Submitted {
        ids: Vec<u64>,
    },
    /// Nothing was submitted: these lines are bad (same messages as `run`).
    Refused {
        errors: Vec<String>,
    },
    /// The awaited tasks finished: how they ended.
    Waited(CountsView),
    /// Done; the message says what happened.
    Done {
        message: String,
    },
    /// The request could not be carried out.
    Error {
        message: String,
    },
    /// The subscription starts; [`Reply::Event`]s follow.
    Subscribed {
        config: PoolSummary,
    },
    /// One event of a subscription.
    Event(PoolEvent),
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

/// Counts of tasks by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsView {
    pub submitted: u64,
    pub done: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub cancelled: u64,
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
    pub counts: CountsView,
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
}
