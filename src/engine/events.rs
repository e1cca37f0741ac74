//! What goes into the engine ([`Command`]) and what comes out of it ([`PoolEvent`]).
//!
//! Every consumer (dashboard, headless runner, library caller, tests) sees the
//! pool only through these two types.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::task::{RunValues, TaskOutput, TaskSpec};

/// A worker's id: stable for the worker's life, never reused within a pool.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct WorkerId(pub u32);

/// A task's id: assigned at submission, in submission order, starting at 1.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct TaskId(pub u64);

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "w{}", self.0)
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A task as submitted: what to run, and the line it was written as.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// What to run.
    pub spec: TaskSpec,
    /// The task line as the user wrote it (shown in events, logs and the dashboard).
    pub line: Arc<str>,
}

impl Task {
    /// Parses a task line (see the README for the syntax).
    pub fn parse(line: &str) -> Result<Task, crate::task::ParseError> {
        let spec = TaskSpec::parse(line)?;
        Ok(Task {
            spec,
            line: Arc::from(line.trim()),
        })
    }
}

impl From<TaskSpec> for Task {
    fn from(spec: TaskSpec) -> Task {
        let line = Arc::from(describe(&spec));
        Task { spec, line }
    }
}

/// A task line that means `spec` (used when a task is built in code, not parsed).
fn describe(spec: &TaskSpec) -> String {
    let q = |s: &str| shell_words::quote(s).into_owned();
    match spec {
        TaskSpec::Spin(n) => format!("spin {n}"),
        TaskSpec::Sleep(s) => format!("sleep {s}"),
        TaskSpec::Square(n) => format!("square {n}"),
        TaskSpec::Sha256(p) => format!("sha256 {}", q(p)),
        TaskSpec::Thumbnail {
            path,
            width,
            height,
        } => format!("thumbnail {} {width}x{height}", q(path)),
        TaskSpec::Shell(c) => format!("shell {c}"),
        TaskSpec::Exec(e) => {
            let words: Vec<String> = e.argv.iter().map(|a| q(a)).collect();
            format!("exec {}", words.join(" "))
        }
        TaskSpec::Hang => "hang".into(),
        TaskSpec::Fail(m) => format!("fail {m}"),
        TaskSpec::Crash => "crash".into(),
        TaskSpec::Py(p) => {
            let mut line = format!("py {}", q(&p.target()));
            for arg in &p.args {
                line.push(' ');
                line.push_str(&q(arg));
            }
            line
        }
    }
}

/// An order to the pool. Sent with [`crate::PoolHandle::send`]; never blocks.
///
/// Tasks are not queued with an order: [`crate::PoolHandle::submit_all`]
/// queues them, because only the handle hands out task ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Stop the worker's process group (SIGSTOP). Its task waits; its timeout clock stops.
    Pause(WorkerId),
    /// Continue a paused worker (SIGCONT).
    Resume(WorkerId),
    /// Stop handing out tasks to any worker; running tasks go on.
    PauseDispatch,
    /// Hand out tasks again.
    ResumeDispatch,
    /// Ask the worker to stop after its current task; after the join timeout,
    /// SIGTERM then SIGKILL its process group. The pool replaces it.
    Terminate(WorkerId),
    /// SIGKILL the worker's process group now. The pool replaces it.
    Kill(WorkerId),
    /// Change the number of workers. Shrinking retires idle workers first.
    Scale(usize),
    /// Cancel every queued task that has not started yet.
    CancelQueued,
    /// Cancel one task: a queued one ends `cancelled` at once; a running one
    /// has its worker killed (and replaced) and ends `cancelled`.
    CancelTask(TaskId),
    /// Run an ended failed, timed-out or cancelled task again, as a new task
    /// with a new id at the back of the queue ([`PoolEvent::TaskRetried`]
    /// links the two). The old task keeps its end state.
    RetryTask(TaskId),
    /// [`Command::RetryTask`] for every task that ended failed or timed out
    /// and was not retried yet.
    RetryFailed,
    /// Move a queued task to the front of the queue.
    FrontTask(TaskId),
    /// Shut the whole pool down: queued tasks are cancelled, workers are asked
    /// to stop; after the join timeout they are killed. `PoolEvent::Stopped` is last.
    Shutdown,
    /// Like [`Command::Shutdown`] but kill every worker at once.
    KillAll,
}

/// How a worker process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitHow {
    /// It left by itself (asked to stop, or retired) with this status code.
    Exited(i32),
    /// pooltop killed it: `reason` says why (user, task timeout, join timeout, shutdown).
    Killed { signal: i32, reason: String },
    /// It died without being asked to: abort, external kill, broken socket.
    Crashed {
        signal: Option<i32>,
        code: Option<i32>,
    },
}

impl ExitHow {
    /// A short word for logs and JSON: `exited`, `killed` or `crashed`.
    pub fn word(&self) -> &'static str {
        match self {
            ExitHow::Exited(_) => "exited",
            ExitHow::Killed { .. } => "killed",
            ExitHow::Crashed { .. } => "crashed",
        }
    }
}

impl std::fmt::Display for ExitHow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitHow::Exited(code) => write!(f, "exited with status {code}"),
            ExitHow::Killed { signal, reason } => {
                write!(
                    f,
                    "killed by {} ({reason})",
                    crate::platform::signal_name(*signal)
                )
            }
            ExitHow::Crashed {
                signal: Some(s), ..
            } => write!(f, "crashed: {}", crate::platform::signal_name(*s)),
            ExitHow::Crashed { code: Some(c), .. } => write!(f, "crashed: exit status {c}"),
            ExitHow::Crashed { .. } => write!(f, "crashed"),
        }
    }
}

/// The terminal state of a task: every submitted task ends in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskState {
    Done,
    Failed,
    TimedOut,
    Cancelled,
}

impl TaskState {
    /// The name used in JSON and the summary: `done`, `failed`, `timed_out`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::TimedOut => "timed_out",
            TaskState::Cancelled => "cancelled",
        }
    }
}

/// How a finished task ended, with what it produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskReport {
    pub task: TaskId,
    /// The worker that ran the last attempt (none if it never started).
    pub worker: Option<WorkerId>,
    pub state: TaskState,
    /// What the task produced (empty when it never ran).
    pub output: TaskOutput,
    /// Why it did not succeed (none when done).
    pub error: Option<String>,
    /// Wall time of the last attempt.
    pub wall: Duration,
    /// CPU time of the last attempt (user + system, including its children).
    pub cpu: Duration,
    /// Peak resident set size of the last attempt, in bytes, from the
    /// kernel: `wait4`'s for a task that runs a process (the largest of its
    /// processes, not their sum), the worker's own peak (VmHWM, reset before
    /// the task) for a built-in one. None for instant tasks and tasks that
    /// never ran.
    pub max_rss: Option<u64>,
    /// How many times it was started (0 when it never ran).
    pub attempts: u32,
    /// The task line as written.
    pub line: Arc<str>,
}

/// Tasks that one worker ran one after another and that each ended done,
/// at its first attempt, with only a value: a run of instant tasks (such as
/// `square`) that the worker reported in one go.
///
/// The pool sends one [`PoolEvent::TasksDone`] for such a run instead of a
/// [`PoolEvent::TaskStarted`] and a [`PoolEvent::TaskFinished`] per task:
/// none of its tasks had a `TaskStarted` of its own; each started and
/// finished within the run. [`DoneRun::events`] gives the per-task events
/// it stands for, [`DoneRun::reports`] the reports.
///
/// Its tasks have consecutive ids, from [`DoneRun::first`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DoneRun {
    worker: WorkerId,
    first: TaskId,
    /// Task `first + i` has the `i`th value and line.
    values: RunValues,
    lines: Vec<Arc<str>>,
}

impl DoneRun {
    /// An empty run of `worker`'s tasks from `first`, with room for `tasks`.
    pub fn with_capacity(worker: WorkerId, first: TaskId, tasks: usize) -> DoneRun {
        DoneRun {
            worker,
            first,
            values: RunValues::with_capacity(tasks),
            lines: Vec::with_capacity(tasks),
        }
    }

    /// Adds the next task: it must be `self.next()`.
    pub fn push(&mut self, value: &str, wall: Duration, line: Arc<str>) {
        self.values.push(value, wall.as_nanos() as u64);
        self.lines.push(line);
    }

    /// Makes an empty run start at `first`.
    pub(crate) fn start_at(&mut self, first: TaskId) {
        debug_assert!(self.is_empty(), "a run holds consecutive ids only");
        self.first = first;
    }

    /// The id the next task pushed must have.
    pub fn next(&self) -> TaskId {
        TaskId(self.first.0 + self.len() as u64)
    }

    pub fn worker(&self) -> WorkerId {
        self.worker
    }

    /// The first task's id.
    pub fn first(&self) -> TaskId {
        self.first
    }

    /// How many tasks the run holds.
    pub fn len(&self) -> usize {
        self.values.len().min(self.lines.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each task's id, value, wall time (which is also its CPU time:
    /// instant tasks run inside the worker) and line, in order.
    pub fn iter(&self) -> impl Iterator<Item = (TaskId, &str, Duration, &Arc<str>)> {
        let first = self.first.0;
        self.values
            .iter()
            .zip(&self.lines)
            .enumerate()
            .map(move |(i, ((value, ns), line))| {
                let task = TaskId(first + i as u64);
                (task, value, Duration::from_nanos(ns), line)
            })
    }

    /// The sum of the tasks' wall times.
    pub fn total_wall(&self) -> Duration {
        Duration::from_nanos(self.values.total_wall_ns())
    }

    /// Each task's report, in order: as its `TaskFinished` would carry it.
    pub fn reports(&self) -> impl Iterator<Item = TaskReport> + '_ {
        let worker = self.worker;
        self.iter()
            .map(move |(task, value, wall, line)| TaskReport {
                task,
                worker: Some(worker),
                state: TaskState::Done,
                output: TaskOutput {
                    value: value.to_string(),
                    ..TaskOutput::default()
                },
                error: None,
                wall,
                cpu: wall,
                max_rss: None,
                attempts: 1,
                line: line.clone(),
            })
    }

    /// The events the run stands for: a `TaskStarted` then a
    /// `TaskFinished` per task, in order.
    pub fn events(&self) -> impl Iterator<Item = PoolEvent> + '_ {
        self.reports().flat_map(started_then_finished)
    }
}

/// A `TaskStarted` then a `TaskFinished` for one task of a [`DoneRun`].
pub(crate) fn started_then_finished(report: TaskReport) -> [PoolEvent; 2] {
    let started = PoolEvent::TaskStarted {
        task: report.task,
        worker: report.worker.unwrap_or_default(),
        attempt: report.attempts,
        line: report.line.clone(),
    };
    [started, PoolEvent::TaskFinished(Box::new(report))]
}

/// Counts of terminal states: the accounting invariant is
/// `submitted == done + failed + timed_out + cancelled` once the pool stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub submitted: u64,
    pub done: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    /// How many of the submitted tasks are retries of ended ones
    /// ([`Command::RetryTask`]): each retry is a new task, so the task it
    /// retries keeps its end state and the invariant above still holds.
    pub retried: u64,
}

impl Counts {
    /// Tasks that have reached a terminal state.
    pub fn finished(&self) -> u64 {
        self.done + self.failed + self.timed_out + self.cancelled
    }

    /// Adds one task in `state`.
    pub fn record(&mut self, state: TaskState) {
        match state {
            TaskState::Done => self.done += 1,
            TaskState::Failed => self.failed += 1,
            TaskState::TimedOut => self.timed_out += 1,
            TaskState::Cancelled => self.cancelled += 1,
        }
    }
}

/// CPU and memory of one process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcStat {
    /// CPU use since the previous sample, in % of one core (0 ..= cores × 100).
    pub cpu: f32,
    /// Resident memory in bytes.
    pub rss: u64,
    /// How many processes were summed (the tracked one and its descendants).
    pub procs: u32,
}

/// One worker's figures in a [`Sample`]: its own process tree (the worker
/// and what its tasks started), children summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerStat {
    pub worker: WorkerId,
    /// The worker process, root of the tree.
    pub pid: u32,
    /// The tree's figures.
    pub stat: ProcStat,
}

/// One snapshot, sent whole to the consumer. Plain serde types only: it
/// crosses the control socket inside a `PoolEvent`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sample {
    /// Load of each core in % of that core (0..=100), in the kernel's order.
    pub cores: Vec<f32>,
    /// Each tracked worker that is alive, by id, with its descendants summed
    /// into it.
    pub workers: Vec<WorkerStat>,
    /// pooltop's own process (manager, dashboard and this sampler).
    pub own: ProcStat,
    /// The sampler thread's own CPU use since the previous sample, in % of one core.
    pub monitor_cpu: f32,
    /// Wall time the last refresh took.
    pub cost: Duration,
    /// The cores of each other host that launched workers run on, as
    /// their sides last reported them (see `engine::launch`).
    pub hosts: Vec<HostCores>,
}

/// One other host's cores, each in % of that core (0..=100).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostCores {
    pub host: std::sync::Arc<str>,
    pub cores: Vec<f32>,
}

impl Sample {
    /// The machine's load: the mean of the cores, in % of the whole machine.
    pub fn machine_load(&self) -> f32 {
        if self.cores.is_empty() {
            0.0
        } else {
            self.cores.iter().sum::<f32>() / self.cores.len() as f32
        }
    }

    /// The figures of `worker`, if the sample has them.
    pub fn worker(&self, worker: WorkerId) -> Option<&WorkerStat> {
        self.workers.iter().find(|w| w.worker == worker)
    }
}

/// An admission gate holding dispatch back ([`PoolEvent::DispatchHeld`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// `memfree` (bytes available below the limit) or `load` (the 1-minute
    /// load average above it); `delay` only in the status, never in an event.
    pub gate: String,
    /// The figure now: bytes available, the load average, seconds since the last start.
    pub now: f64,
    /// The gate's setting, in the same unit.
    pub limit: f64,
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: f64| b / (1024.0 * 1024.0);
        match self.gate.as_str() {
            "memfree" => write!(
                f,
                "memfree: {:.0} MiB free < {:.0} MiB",
                mib(self.now),
                mib(self.limit)
            ),
            "load" => write!(f, "load: {:.2} > {:.2}", self.now, self.limit),
            gate => write!(f, "{gate}: {:.2} / {:.2}", self.now, self.limit),
        }
    }
}

/// Everything the pool reports, in the order it happened.
/// Serializable so a pool can stream its events to an attached dashboard
/// (plain types only: bincode is not self-describing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PoolEvent {
    /// A worker process was started; it is not ready until [`PoolEvent::WorkerReady`].
    WorkerSpawned { worker: WorkerId, pid: u32 },
    /// The job slot of a worker just spawned (this event follows its
    /// [`PoolEvent::WorkerSpawned`]): a number from 1 up that no other live
    /// worker holds, the lowest free one, so a replacement takes the slot of
    /// the worker it replaces. GNU parallel's `{%}`; exec tasks can put it in
    /// their command (see `ExecSpec::slot_at`).
    WorkerSlot { worker: WorkerId, slot: u32 },
    /// The host a launched worker runs on (this event follows its
    /// [`PoolEvent::WorkerSpawned`]; a worker without one runs here).
    WorkerHost {
        worker: WorkerId,
        host: std::sync::Arc<str>,
    },
    /// A launched worker's scheduler queued it (`pending`: Slurm holds its
    /// job or step until resources are free, for as long as that takes),
    /// or, `pending` false, gave it resources: it is starting again.
    WorkerPending { worker: WorkerId, pending: bool },
    /// A worker completed its handshake and can take tasks.
    WorkerReady { worker: WorkerId, pid: u32 },
    /// A worker was paused (SIGSTOP) by a [`Command::Pause`].
    WorkerPaused { worker: WorkerId },
    /// A paused worker was resumed.
    WorkerResumed { worker: WorkerId },
    /// A worker was asked to stop; if it has not left by `join_timeout`, it is killed.
    /// `join_timeout` is none when the pool is shrinking: a retiring worker finishes its task.
    WorkerStopping {
        worker: WorkerId,
        join_timeout: Option<Duration>,
    },
    /// A worker process is gone (and reaped).
    WorkerExited {
        worker: WorkerId,
        pid: u32,
        how: ExitHow,
    },
    /// Tasks were queued: ids `first` to `first + count - 1`, with their lines.
    TasksQueued {
        first: TaskId,
        count: usize,
        lines: Vec<Arc<str>>,
    },
    /// A task was handed to a worker (attempt 1 is the first run).
    TaskStarted {
        task: TaskId,
        worker: WorkerId,
        attempt: u32,
        /// The task line as written.
        line: Arc<str>,
    },
    /// A task will run again: its worker died, it timed out (or, with
    /// `PoolConfig::retry_failed`, it failed), and retries remain.
    TaskRetrying {
        task: TaskId,
        worker: WorkerId,
        reason: String,
    },
    /// The ended task `task` runs again as the new task `retry` (queued
    /// by the [`PoolEvent::TasksQueued`] that follows): a
    /// [`Command::RetryTask`] or [`Command::RetryFailed`].
    TaskRetried { task: TaskId, retry: TaskId },
    /// A queued task was moved to the front of the queue ([`Command::FrontTask`]).
    TaskToFront { task: TaskId },
    /// Output of a running `shell` or template task, as it arrived (stdout,
    /// or stderr when `stderr`): rate-limited and bounded to the output cap
    /// by the worker. Not part of the task's report, which still carries
    /// its own tails.
    TaskOutput {
        task: TaskId,
        worker: WorkerId,
        stderr: bool,
        text: String,
    },
    /// A task reached its terminal state.
    TaskFinished(Box<TaskReport>),
    /// Tasks that one worker started and finished one after another, each
    /// done with only a value: the compact form of their `TaskStarted` and
    /// `TaskFinished` (see [`DoneRun`]).
    TasksDone(Box<DoneRun>),
    /// The pool stopped or restarted handing out tasks.
    DispatchPaused(bool),
    /// An admission gate (`PoolConfig::memfree`, `load_max`) holds dispatch
    /// back, with its figure now (sent again each second while it holds);
    /// `None` once nothing holds it any more.
    DispatchHeld(Option<Hold>),
    /// The wanted number of workers changed.
    Scaled { workers: usize },
    /// Something went wrong that is not a task's result: a refused connection,
    /// a bad frame, a worker that failed to start.
    Error {
        worker: Option<WorkerId>,
        message: String,
    },
    /// Every task submitted so far has finished and no task is queued or running.
    Drained(Counts),
    /// The pool has shut down; this is the last event. Counts prove the invariant.
    Stopped(Counts),
    /// A reading of the workers' processes, the cores and pooltop itself,
    /// every `PoolConfig::sample_every`, keyed by worker id.
    Sample(Box<Sample>),
    /// A busy worker looks hung: its task has made no progress and its
    /// process group has used no CPU for `idle` (at least
    /// `PoolConfig::hung_after`). A hint, not a verdict: a task that sleeps
    /// looks the same; the task timeout is what acts.
    WorkerHung {
        worker: WorkerId,
        pid: u32,
        task: TaskId,
        idle: Duration,
    },
    /// The supervisor's own loop woke `for_` late (the manager was stopped
    /// or starved of CPU; see `supervisor::stall`). Said once per stall,
    /// before anything is judged on time: task timeouts, join and start
    /// deadlines and the hung detector's clocks are moved on by `for_`, and
    /// what the workers sent meanwhile is read first, so no worker is
    /// blamed for the manager's stall.
    Stalled { for_: Duration },
    /// A worker reported hung used CPU again, or its task ended (or it was
    /// paused, resumed or retried): it is no longer flagged.
    WorkerUnhung { worker: WorkerId, task: TaskId },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(values: &[&str]) -> DoneRun {
        let mut run = DoneRun::with_capacity(WorkerId(3), TaskId(10), values.len());
        for (i, v) in values.iter().enumerate() {
            let wall = Duration::from_micros(i as u64 + 1);
            run.push(v, wall, Arc::from(format!("square {i}")));
        }
        run
    }

    #[test]
    fn a_run_numbers_its_tasks_from_its_first() {
        let run = run_of(&["0", "", "4"]);
        assert_eq!((run.len(), run.next()), (3, TaskId(13)));
        let seen: Vec<(u64, &str, u64, &str)> = run
            .iter()
            .map(|(t, v, wall, line)| (t.0, v, wall.as_micros() as u64, &**line))
            .collect();
        assert_eq!(
            seen,
            [
                (10, "0", 1, "square 0"),
                (11, "", 2, "square 1"),
                (12, "4", 3, "square 2")
            ]
        );
        assert_eq!(run.total_wall(), Duration::from_micros(6));
    }

    #[test]
    fn a_run_stands_for_a_start_and_a_finish_per_task() {
        let run = run_of(&["0", "1"]);
        let events: Vec<PoolEvent> = run.events().collect();
        assert_eq!(events.len(), 4);
        for (pair, expected) in events.chunks(2).zip([(10, "0"), (11, "1")]) {
            let PoolEvent::TaskStarted {
                task,
                worker,
                attempt,
                ..
            } = &pair[0]
            else {
                panic!("{pair:?}")
            };
            assert_eq!((task.0, worker.0, *attempt), (expected.0, 3, 1));
            let PoolEvent::TaskFinished(r) = &pair[1] else {
                panic!("{pair:?}")
            };
            assert_eq!((r.task.0, r.output.value.as_str()), expected);
            assert_eq!(
                (r.state, r.attempts, r.worker),
                (TaskState::Done, 1, Some(*worker))
            );
            assert_eq!(r.cpu, r.wall, "an instant task's CPU time is its wall time");
        }
    }

    #[test]
    fn a_run_crosses_the_control_socket_whole() {
        let run = run_of(&["9", "ü", "16"]);
        let bytes =
            bincode::serde::encode_to_vec(&run, bincode::config::standard()).expect("encodes");
        let (back, _): (DoneRun, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
                .expect("decodes");
        let pairs = |r: &DoneRun| -> Vec<(TaskId, String, Duration, Arc<str>)> {
            r.iter()
                .map(|(t, v, w, l)| (t, v.to_string(), w, l.clone()))
                .collect()
        };
        assert_eq!(pairs(&back), pairs(&run));
        assert_eq!(back.worker(), run.worker());
    }
}
