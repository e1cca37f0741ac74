//! The supervisor: THE owner of pool state — the workers, the queue, every
//! task's fate, the timers. One thread; it learns everything through one
//! channel (orders from handles, news from socket threads and reapers) and
//! tells everything through the event channel. It never waits on a worker:
//! the only blocking call is the channel receive, bounded by the next timer.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use interprocess::local_socket::traits::Stream as _;

use super::conn::{self, ConnEvent};
use super::events::*;
use super::proc;
use super::queue::Queue;
use super::{Inbound, PoolConfig};
use crate::error::Error;
use crate::ipc::{self, SocketDir, Stream};
use crate::platform::GroupSignal;
use crate::protocol::frame;
use crate::protocol::{FromWorker, Hello, ToWorker};
use crate::task::{TaskOutcome, TaskOutput};

/// A worker that has not connected by then is killed.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// After SIGTERM, how long before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);
/// A write to a worker that takes longer than this means the worker is stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// How many tasks a worker may hold while all it holds are instant (see
/// `TaskSpec::is_instant`), so it never waits for the manager between them.
/// Behind a task that may take long, nothing is held in advance: the next
/// task goes to whichever worker is free first.
const PREFETCH_DEPTH: usize = 32;
/// After a worker fails to start, wait this long (times the failures in a
/// row) before starting another.
const START_BACKOFF: Duration = Duration::from_millis(50);
/// After this many workers in a row die before their handshake, stop
/// replacing them: something is wrong with the worker program.
const MAX_START_FAILURES: u32 = 5;

/// Why a worker is being stopped, which decides the fate of the task it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopKind {
    /// The pool is shrinking: finish the current task, no deadline.
    Retire,
    /// The user asked: finish within the join timeout, else killed.
    Terminate,
    /// The pool is shutting down.
    Shutdown,
}

#[derive(Debug)]
struct Stopping {
    kind: StopKind,
    /// When to send SIGTERM (none: wait as long as the task takes).
    deadline: Option<Instant>,
    /// When SIGTERM was sent (SIGKILL follows after [`TERM_GRACE`]).
    term_sent: Option<Instant>,
}

/// What happens to the task a worker holds when the worker ends.
#[derive(Debug, Clone)]
enum HeldFate {
    /// It timed out (retried while retries remain).
    TimedOut,
    /// It is cancelled, for this reason.
    Cancelled(String),
}

/// The supervisor's record of one worker process.
struct Slot {
    pid: u32,
    spawned_at: Instant,
    /// The sending half of its socket, once the handshake is done.
    send: Option<Arc<Stream>>,
    /// Frames waiting to be written in one go.
    outbox: Vec<u8>,
    /// Its connection has ended (or never existed and the process is gone).
    closed: bool,
    ever_connected: bool,
    reaped: Option<io::Result<ExitStatus>>,
    /// Tasks handed to it, in the order it runs them; the first is running.
    held: VecDeque<TaskId>,
    /// When the first held task started (shifted by the time spent paused).
    head_since: Instant,
    paused_at: Option<Instant>,
    stopping: Option<Stopping>,
    /// Set when pooltop killed it: the signal and why.
    killed: Option<(i32, String)>,
    held_fate: Option<HeldFate>,
    /// How many of the held tasks are not instant.
    slow_held: usize,
}

impl Slot {
    fn is_ready(&self) -> bool {
        self.send.is_some() && !self.closed
    }

    /// Counts towards the wanted number of workers.
    fn counts_as_alive(&self) -> bool {
        self.stopping.is_none() && self.killed.is_none() && self.reaped.is_none()
    }

    fn can_take_tasks(&self) -> bool {
        self.is_ready()
            && self.counts_as_alive()
            && self.paused_at.is_none()
            && (self.held.is_empty() || (self.slow_held == 0 && self.held.len() < PREFETCH_DEPTH))
    }

    fn is_finished(&self) -> bool {
        self.reaped.is_some() && (self.closed || !self.ever_connected)
    }
}

struct Supervisor {
    config: Arc<PoolConfig>,
    program: PathBuf,
    token: Arc<str>,
    socket_dir: SocketDir,
    socket_path: PathBuf,
    accept_stop: Arc<AtomicBool>,
    tx: Sender<Inbound>,
    events: Sender<PoolEvent>,
    workers: BTreeMap<WorkerId, Slot>,
    next_worker: u32,
    wanted: usize,
    queue: Queue,
    dispatch_paused: bool,
    shutting_down: bool,
    start_failures: u32,
    gave_up_starting: bool,
    /// After a worker failed to start, when to try again.
    respawn_at: Option<Instant>,
    drained_reported: bool,
}

/// Creates the socket and starts the supervisor thread, which spawns the workers.
pub fn spawn(
    config: Arc<PoolConfig>,
    program: PathBuf,
    tx: Sender<Inbound>,
    rx: Receiver<Inbound>,
    events: Sender<PoolEvent>,
) -> Result<(), Error> {
    std::fs::create_dir_all(&config.out_dir).map_err(|source| Error::OutDir {
        path: config.out_dir.clone(),
        source,
    })?;
    let socket_dir = SocketDir::create().map_err(Error::Socket)?;
    let socket_path = socket_dir.socket_path();
    let listener = ipc::listen(&socket_path).map_err(Error::Socket)?;
    let token: Arc<str> = Arc::from(new_token().map_err(Error::Socket)?);
    let accept_stop = Arc::new(AtomicBool::new(false));
    conn::spawn_acceptor(listener, token.clone(), accept_stop.clone(), tx.clone())
        .map_err(Error::Socket)?;
    let wanted = config.workers;
    let sup = Supervisor {
        config,
        program,
        token,
        socket_dir,
        socket_path,
        accept_stop,
        tx,
        events,
        workers: BTreeMap::new(),
        next_worker: 1,
        wanted,
        queue: Queue::default(),
        dispatch_paused: false,
        shutting_down: false,
        start_failures: 0,
        gave_up_starting: false,
        respawn_at: None,
        drained_reported: false,
    };
    std::thread::Builder::new()
        .name("pooltop-supervisor".into())
        .spawn(move || sup.run(rx))
        .map_err(Error::Io)?;
    Ok(())
}

fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Supervisor {
    fn run(mut self, rx: Receiver<Inbound>) {
        self.fill_to_wanted();
        loop {
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match rx.recv_timeout(timeout) {
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Take everything that is already waiting before acting, so that
            // a burst of results becomes one burst of writes.
            for msg in rx.try_iter().take(4096) {
                self.handle(msg);
            }
            self.on_timers(Instant::now());
            self.dispatch();
            self.flush_outboxes();
            self.report_drained();
            if self.shutting_down && self.workers.is_empty() {
                break;
            }
        }
        debug_assert!(self.queue.balanced());
        self.emit(PoolEvent::Stopped(self.queue.counts()));
        self.accept_stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept so the acceptor thread sees the flag.
        let _ = ipc::connect(&self.socket_path);
        drop(self.socket_dir);
    }

    /// Sends an event; a consumer that has gone away is not an error.
    fn emit(&self, event: PoolEvent) {
        let _ = self.events.send(event);
    }

    fn handle(&mut self, msg: Inbound) {
        match msg {
            Inbound::Command(cmd) => self.command(cmd),
            Inbound::Conn(ev) => self.conn_event(ev),
        }
    }

    // ----- orders -----

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Submit(tasks) => self.submit(tasks),
            Command::Pause(w) => self.pause(w),
            Command::Resume(w) => self.resume(w),
            Command::PauseDispatch => self.set_dispatch_paused(true),
            Command::ResumeDispatch => self.set_dispatch_paused(false),
            Command::Terminate(w) => {
                if self.workers.get(&w).is_some_and(|s| s.counts_as_alive()) {
                    self.stop_worker(w, StopKind::Terminate);
                    self.fill_to_wanted();
                }
            }
            Command::Kill(w) => {
                if self.workers.contains_key(&w) {
                    self.kill_worker(
                        w,
                        GroupSignal::Kill,
                        "killed by the user".into(),
                        HeldFate::Cancelled(format!("worker {w} was killed by the user")),
                    );
                    self.fill_to_wanted();
                }
            }
            Command::Scale(n) => self.scale(n),
            Command::CancelQueued => self.cancel_queued("cancelled by the user"),
            Command::Shutdown => self.shutdown(false),
            Command::KillAll => self.shutdown(true),
        }
    }

    fn submit(&mut self, tasks: Vec<(TaskId, Task)>) {
        let Some(first) = tasks.first().map(|(id, _)| *id) else {
            return;
        };
        let count = tasks.len();
        if self.shutting_down || self.gave_up_starting {
            // Accounted for all the same: each ends as cancelled.
            let why = if self.shutting_down {
                "the pool is shutting down"
            } else {
                "no worker could be started"
            };
            for (id, task) in tasks {
                self.queue.submit(id, task);
            }
            self.emit(PoolEvent::TasksQueued { first, count });
            self.cancel_queued(why);
            return;
        }
        for (id, task) in tasks {
            self.queue.submit(id, task);
        }
        self.drained_reported = false;
        self.emit(PoolEvent::TasksQueued { first, count });
    }

    fn pause(&mut self, w: WorkerId) {
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        // A worker that is not connected yet cannot be paused: it would
        // miss its start deadline.
        if slot.paused_at.is_some() || !slot.is_ready() || slot.killed.is_some() {
            return;
        }
        proc::signal(slot.pid, GroupSignal::Stop);
        slot.paused_at = Some(Instant::now());
        self.emit(PoolEvent::WorkerPaused { worker: w });
    }

    fn resume(&mut self, w: WorkerId) {
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        let Some(paused_at) = slot.paused_at.take() else {
            return;
        };
        proc::signal(slot.pid, GroupSignal::Cont);
        // Time spent paused by the user does not count against the task's timeout.
        slot.head_since += paused_at.elapsed();
        self.emit(PoolEvent::WorkerResumed { worker: w });
    }

    fn set_dispatch_paused(&mut self, paused: bool) {
        if self.dispatch_paused != paused {
            self.dispatch_paused = paused;
            self.emit(PoolEvent::DispatchPaused(paused));
        }
    }

    fn scale(&mut self, n: usize) {
        if self.shutting_down {
            return;
        }
        self.wanted = n;
        self.gave_up_starting = false;
        self.start_failures = 0;
        self.respawn_at = None;
        self.emit(PoolEvent::Scaled { workers: n });
        let alive: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, s)| s.counts_as_alive())
            .map(|(id, _)| *id)
            .collect();
        if alive.len() > n {
            // Retire the workers that lose the least: not yet started, then
            // idle, then busy; the newest first among equals.
            let mut order = alive;
            order.sort_by_key(|id| {
                let s = &self.workers[id];
                let rank = if !s.is_ready() {
                    0
                } else if s.held.is_empty() {
                    1
                } else {
                    2
                };
                (rank, std::cmp::Reverse(*id))
            });
            let excess = order.len() - n;
            for w in order.into_iter().take(excess) {
                self.stop_worker(w, StopKind::Retire);
            }
        } else {
            self.fill_to_wanted();
        }
    }

    fn cancel_queued(&mut self, why: &str) {
        for (id, entry) in self.queue.cancel_waiting() {
            self.emit(PoolEvent::TaskFinished(Box::new(TaskReport {
                task: id,
                worker: None,
                state: TaskState::Cancelled,
                output: TaskOutput::default(),
                error: Some(why.to_string()),
                wall: Duration::ZERO,
                cpu: Duration::ZERO,
                attempts: entry.attempts,
                line: entry.task.line,
            })));
        }
    }

    fn shutdown(&mut self, kill_now: bool) {
        let first_time = !self.shutting_down;
        self.shutting_down = true;
        self.cancel_queued("the pool shut down before it started");
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for w in ids {
            if kill_now {
                self.kill_worker(
                    w,
                    GroupSignal::Kill,
                    "pool killed".into(),
                    HeldFate::Cancelled("the pool was killed".into()),
                );
            } else if first_time {
                self.stop_worker(w, StopKind::Shutdown);
            }
        }
    }

    // ----- worker lifecycle -----

    fn fill_to_wanted(&mut self) {
        if self.shutting_down || self.gave_up_starting || self.respawn_at.is_some() {
            return;
        }
        let alive = self
            .workers
            .values()
            .filter(|s| s.counts_as_alive())
            .count();
        for _ in alive..self.wanted {
            if !self.spawn_one() {
                return;
            }
        }
    }

    /// Starts one worker; false if it could not be started.
    fn spawn_one(&mut self) -> bool {
        let id = WorkerId(self.next_worker);
        self.next_worker += 1;
        match proc::spawn_worker(&self.program, &self.socket_path, &self.token, id, &self.tx) {
            Ok(pid) => {
                let now = Instant::now();
                self.workers.insert(
                    id,
                    Slot {
                        pid,
                        spawned_at: now,
                        send: None,
                        outbox: Vec::new(),
                        closed: false,
                        ever_connected: false,
                        reaped: None,
                        held: VecDeque::new(),
                        head_since: now,
                        paused_at: None,
                        stopping: None,
                        killed: None,
                        held_fate: None,
                        slow_held: 0,
                    },
                );
                self.emit(PoolEvent::WorkerSpawned { worker: id, pid });
                true
            }
            Err(e) => {
                self.emit(PoolEvent::Error {
                    worker: Some(id),
                    message: format!("cannot start worker {id} ({}): {e}", self.program.display()),
                });
                self.note_start_failure();
                false
            }
        }
    }

    /// Counts a worker that died or failed before its handshake; the next
    /// start waits a little longer each time, and after a few we give up.
    fn note_start_failure(&mut self) {
        self.start_failures += 1;
        self.respawn_at = Some(Instant::now() + START_BACKOFF * self.start_failures);
        if self.start_failures >= MAX_START_FAILURES && !self.gave_up_starting {
            self.gave_up_starting = true;
            self.emit(PoolEvent::Error {
                worker: None,
                message: format!(
                    "{MAX_START_FAILURES} workers in a row failed to start; not starting more"
                ),
            });
            let anyone_left = self.workers.values().any(|s| s.counts_as_alive());
            if !anyone_left {
                self.cancel_queued("no worker could be started");
            }
        }
    }

    /// Asks a worker to stop after its current task.
    fn stop_worker(&mut self, w: WorkerId, kind: StopKind) {
        let join_timeout = self.config.join_timeout;
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        if slot.reaped.is_some() || slot.killed.is_some() {
            return;
        }
        if !slot.is_ready() {
            // Not connected yet: there is nothing to finish.
            let why = match kind {
                StopKind::Retire => "retired before it started",
                StopKind::Terminate => "terminated before it started",
                StopKind::Shutdown => "pool shut down",
            };
            self.kill_worker(
                w,
                GroupSignal::Kill,
                why.into(),
                HeldFate::Cancelled(why.into()),
            );
            return;
        }
        let deadline = match kind {
            StopKind::Retire => None,
            StopKind::Terminate | StopKind::Shutdown => Some(Instant::now() + join_timeout),
        };
        if slot.paused_at.take().is_some() {
            // A stopped process cannot read the request: let it run again.
            proc::signal(slot.pid, GroupSignal::Cont);
            self.emit(PoolEvent::WorkerResumed { worker: w });
        }
        let slot = self.workers.get_mut(&w).expect("checked above");
        slot.stopping = Some(Stopping {
            kind,
            deadline,
            term_sent: None,
        });
        queue_frame(slot, &ToWorker::Shutdown);
        self.emit(PoolEvent::WorkerStopping {
            worker: w,
            join_timeout: deadline.map(|_| join_timeout),
        });
    }

    /// Signals a worker's process group to end it now. The worker is
    /// finished (its tasks settled) once it is reaped.
    fn kill_worker(&mut self, w: WorkerId, sig: GroupSignal, why: String, fate: HeldFate) {
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        if slot.reaped.is_some() {
            // Already gone: only clean up what it may have left in its group.
            proc::signal(slot.pid, GroupSignal::Kill);
            return;
        }
        proc::signal(slot.pid, sig);
        if sig == GroupSignal::Term {
            // A stopped process keeps SIGTERM pending until it continues.
            proc::signal(slot.pid, GroupSignal::Cont);
        }
        if slot.killed.is_none() {
            slot.killed = Some((sig.number(), why));
        }
        if slot.held_fate.is_none() {
            slot.held_fate = Some(fate);
        }
    }

    // ----- news from the sockets and reapers -----

    fn conn_event(&mut self, ev: ConnEvent) {
        match ev {
            ConnEvent::Hello { hello, stream } => self.on_hello(hello, stream),
            ConnEvent::Refused { reason } => self.emit(PoolEvent::Error {
                worker: None,
                message: reason,
            }),
            ConnEvent::Frames { worker, frames } => {
                for f in frames {
                    self.on_frame(worker, f);
                }
            }
            ConnEvent::Closed { worker, error } => {
                if let Some(message) = error {
                    self.emit(PoolEvent::Error {
                        worker: Some(worker),
                        message: format!("worker {worker}: {message}"),
                    });
                }
                if let Some(slot) = self.workers.get_mut(&worker) {
                    slot.closed = true;
                    slot.send = None;
                    // A worker that was not asked to stop and lost its
                    // connection is of no use and must not linger: end its
                    // group now. It counts as a crash, not as a kill.
                    if slot.reaped.is_none() && slot.killed.is_none() && slot.stopping.is_none() {
                        proc::signal(slot.pid, GroupSignal::Kill);
                    }
                    self.try_finish(worker);
                }
            }
            ConnEvent::Reaped { worker, status } => {
                if let Some(slot) = self.workers.get_mut(&worker) {
                    slot.reaped = Some(status);
                    self.try_finish(worker);
                }
            }
        }
    }

    fn on_hello(&mut self, hello: Hello, stream: Stream) {
        let id = WorkerId(hello.worker);
        let Some(slot) = self.workers.get_mut(&id) else {
            self.emit(PoolEvent::Error {
                worker: None,
                message: format!(
                    "refused a handshake from unknown worker {id} (pid {})",
                    hello.pid
                ),
            });
            return;
        };
        if slot.pid != hello.pid || slot.ever_connected || slot.reaped.is_some() {
            self.emit(PoolEvent::Error {
                worker: Some(id),
                message: format!(
                    "refused a second or mismatched handshake for worker {id} (pid {})",
                    hello.pid
                ),
            });
            return;
        }
        let _ = stream.set_send_timeout(Some(SEND_TIMEOUT));
        let stream = Arc::new(stream);
        if let Err(e) = conn::spawn_reader(id, stream.clone(), self.tx.clone()) {
            self.emit(PoolEvent::Error {
                worker: Some(id),
                message: format!("cannot read from worker {id}: {e}"),
            });
            return;
        }
        slot.send = Some(stream);
        slot.ever_connected = true;
        self.start_failures = 0;
        let welcome = ToWorker::Welcome {
            out_dir: self.config.out_dir.to_string_lossy().into_owned(),
            output_cap: self.config.output_cap as u64,
        };
        queue_frame(slot, &welcome);
        let pid = slot.pid;
        self.emit(PoolEvent::WorkerReady { worker: id, pid });
    }

    fn on_frame(&mut self, w: WorkerId, msg: FromWorker) {
        match msg {
            FromWorker::Finished {
                task,
                outcome,
                wall_ns,
                cpu_ns,
            } => self.on_finished(w, TaskId(task), outcome, wall_ns, cpu_ns),
            FromWorker::Hello(_) => self.protocol_error(w, "sent a second handshake".into()),
        }
    }

    fn protocol_error(&mut self, w: WorkerId, what: String) {
        self.emit(PoolEvent::Error {
            worker: Some(w),
            message: format!("worker {w} {what}; killing it"),
        });
        self.kill_worker(
            w,
            GroupSignal::Kill,
            "protocol error".into(),
            HeldFate::Cancelled("its worker broke the protocol".into()),
        );
        // Its task is retried like after a crash.
        if let Some(s) = self.workers.get_mut(&w) {
            s.held_fate = None;
        }
    }

    fn on_finished(
        &mut self,
        w: WorkerId,
        task: TaskId,
        outcome: TaskOutcome,
        wall_ns: u64,
        cpu_ns: u64,
    ) {
        let Some(slot) = self.workers.get_mut(&w) else {
            return;
        };
        if slot.held.front() != Some(&task) {
            let what = format!("reported task {task}, which it was not running");
            self.protocol_error(w, what);
            return;
        }
        if slot.killed.is_some() {
            // A result that raced with our kill: the task finished, keep it.
        }
        slot.held.pop_front();
        let wall = Duration::from_nanos(wall_ns);
        let was_instant = self
            .queue
            .entry(task)
            .is_some_and(|e| e.task.spec.is_instant());
        if !was_instant {
            slot.slow_held -= 1;
        }
        let now = Instant::now();
        slot.head_since = now;
        let next = slot.held.front().copied();
        let (state, output, error) = match outcome {
            TaskOutcome::Ok(out) => (TaskState::Done, out, None),
            TaskOutcome::Err { message, output } => (TaskState::Failed, output, Some(message)),
        };
        if let Some(entry) = self.queue.finish(task, state) {
            self.emit(PoolEvent::TaskFinished(Box::new(TaskReport {
                task,
                worker: Some(w),
                state,
                output,
                error,
                wall,
                cpu: Duration::from_nanos(cpu_ns),
                attempts: entry.attempts,
                line: entry.task.line,
            })));
        }
        if let Some(next) = next {
            self.mark_started(w, next);
        }
    }

    /// A held task has become the one its worker is running.
    fn mark_started(&mut self, w: WorkerId, task: TaskId) {
        if let Some(entry) = self.queue.entry_mut(task) {
            entry.attempts += 1;
            let attempt = entry.attempts;
            self.emit(PoolEvent::TaskStarted {
                task,
                worker: w,
                attempt,
            });
        }
    }

    /// Once a worker is both reaped and disconnected, settles its tasks,
    /// reports how it ended and replaces it if the pool still wants it.
    fn try_finish(&mut self, w: WorkerId) {
        if !self.workers.get(&w).is_some_and(Slot::is_finished) {
            return;
        }
        let mut slot = self.workers.remove(&w).expect("checked above");
        // Whatever the worker started and left behind in its group goes too.
        proc::signal(slot.pid, GroupSignal::Kill);
        let (signal, code) = proc::status_parts(slot.reaped.as_ref().expect("finished"));
        let how = if let Some((sent, why)) = slot.killed.clone() {
            ExitHow::Killed {
                signal: signal.unwrap_or(sent),
                reason: why,
            }
        } else if slot.stopping.is_some() && code == Some(0) {
            ExitHow::Exited(0)
        } else {
            ExitHow::Crashed { signal, code }
        };
        if !slot.ever_connected && slot.killed.is_none() && slot.stopping.is_none() {
            self.note_start_failure();
        }
        // The first held task was running; the rest never started.
        if let Some(head) = slot.held.pop_front() {
            self.settle_interrupted(w, head, &slot, &how);
        }
        for never_started in slot.held.drain(..).rev() {
            self.queue.put_back(never_started);
        }
        self.emit(PoolEvent::WorkerExited {
            worker: w,
            pid: slot.pid,
            how,
        });
        self.fill_to_wanted();
    }

    /// Decides the fate of the task a worker was running when it ended.
    fn settle_interrupted(&mut self, w: WorkerId, task: TaskId, slot: &Slot, how: &ExitHow) {
        let attempts = self.queue.entry(task).map_or(0, |e| e.attempts);
        let wall = slot.head_since.elapsed();
        let (state, error) = match &slot.held_fate {
            Some(HeldFate::Cancelled(why)) => (TaskState::Cancelled, why.clone()),
            Some(HeldFate::TimedOut) => (
                TaskState::TimedOut,
                format!(
                    "timed out after {:.3}s",
                    self.config.task_timeout.unwrap_or_default().as_secs_f64()
                ),
            ),
            None if self.shutting_down => (
                TaskState::Cancelled,
                format!("the pool shut down while it ran ({how})"),
            ),
            None => (TaskState::Failed, format!("its worker {w} {how}")),
        };
        let retryable = state != TaskState::Cancelled && !self.shutting_down;
        if retryable && attempts <= self.config.retries && !self.gave_up_starting {
            self.queue.put_back(task);
            self.emit(PoolEvent::TaskRetrying {
                task,
                worker: w,
                reason: error,
            });
            return;
        }
        if let Some(entry) = self.queue.finish(task, state) {
            self.emit(PoolEvent::TaskFinished(Box::new(TaskReport {
                task,
                worker: Some(w),
                state,
                output: TaskOutput::default(),
                error: Some(error),
                wall,
                cpu: Duration::ZERO,
                attempts: entry.attempts,
                line: entry.task.line,
            })));
        }
    }

    // ----- timers -----

    fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if let Some(t) = self.respawn_at {
            consider(t);
        }
        for slot in self.workers.values() {
            if slot.reaped.is_some() {
                continue;
            }
            if !slot.ever_connected && slot.killed.is_none() {
                consider(slot.spawned_at + START_TIMEOUT);
            }
            if let Some(stop) = &slot.stopping {
                match (stop.deadline, stop.term_sent) {
                    (_, Some(t)) => consider(t + TERM_GRACE),
                    (Some(d), None) => consider(d),
                    _ => {}
                }
            }
            if let (Some(limit), false, None, None) = (
                self.config.task_timeout,
                slot.held.is_empty(),
                slot.paused_at,
                &slot.killed,
            ) {
                consider(slot.head_since + limit);
            }
        }
        next
    }

    fn on_timers(&mut self, now: Instant) {
        if self.respawn_at.is_some_and(|t| now >= t) {
            self.respawn_at = None;
            self.fill_to_wanted();
        }
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for w in ids {
            let slot = &self.workers[&w];
            if slot.reaped.is_some() {
                continue;
            }
            if !slot.ever_connected
                && slot.killed.is_none()
                && now >= slot.spawned_at + START_TIMEOUT
            {
                let why = format!("did not connect within {}s", START_TIMEOUT.as_secs());
                self.emit(PoolEvent::Error {
                    worker: Some(w),
                    message: format!("worker {w} {why}"),
                });
                self.kill_worker(w, GroupSignal::Kill, why.clone(), HeldFate::Cancelled(why));
                continue;
            }
            if let (Some(limit), Some(&head), None, None) = (
                self.config.task_timeout,
                slot.held.front(),
                slot.paused_at,
                &slot.killed,
            ) && now >= slot.head_since + limit
            {
                self.kill_worker(
                    w,
                    GroupSignal::Kill,
                    format!("task {head} timed out"),
                    HeldFate::TimedOut,
                );
                self.fill_to_wanted();
                continue;
            }
            let slot = self.workers.get_mut(&w).expect("present");
            let Some(stop) = &mut slot.stopping else {
                continue;
            };
            match (stop.deadline, stop.term_sent) {
                (_, Some(t)) if now >= t + TERM_GRACE => {
                    proc::signal(slot.pid, GroupSignal::Kill);
                    stop.term_sent = None;
                    stop.deadline = None;
                    slot.killed = Some((libc::SIGKILL, "did not stop after SIGTERM".into()));
                }
                (Some(d), None) if now >= d => {
                    stop.term_sent = Some(now);
                    let kind = stop.kind;
                    let why = format!(
                        "did not stop within the join timeout of {:.1}s",
                        self.config.join_timeout.as_secs_f64()
                    );
                    let fate = match kind {
                        StopKind::Shutdown => "the pool shut down while it ran",
                        _ => "its worker was terminated by the user",
                    };
                    self.kill_worker(w, GroupSignal::Term, why, HeldFate::Cancelled(fate.into()));
                }
                _ => {}
            }
        }
    }

    // ----- dispatch -----

    fn dispatch(&mut self) {
        if self.dispatch_paused || self.shutting_down || self.queue.waiting() == 0 {
            return;
        }
        let takers: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, s)| s.can_take_tasks())
            .map(|(id, _)| *id)
            .collect();
        // Idle workers first, so that no worker sits idle while another
        // holds tasks in advance.
        for &w in &takers {
            if self.workers[&w].held.is_empty() && !self.assign_next(w) {
                return;
            }
        }
        // Then top up the workers of quick tasks, one task each per round,
        // so the queue is shared out evenly.
        loop {
            let mut gave = false;
            for &w in &takers {
                if self.workers[&w].can_take_tasks() {
                    if !self.assign_next(w) {
                        return;
                    }
                    gave = true;
                }
            }
            if !gave {
                return;
            }
        }
    }

    /// Hands the next waiting task to worker `w`; false when none is waiting.
    fn assign_next(&mut self, w: WorkerId) -> bool {
        let Some(task) = self.queue.take() else {
            return false;
        };
        let spec = self.queue.entry(task).expect("live").task.spec.clone();
        let slot = self.workers.get_mut(&w).expect("present");
        let idle = slot.held.is_empty();
        slot.held.push_back(task);
        if !spec.is_instant() {
            slot.slow_held += 1;
        }
        queue_frame(slot, &ToWorker::Assign { task: task.0, spec });
        if idle {
            slot.head_since = Instant::now();
            self.mark_started(w, task);
        }
        true
    }

    fn flush_outboxes(&mut self) {
        let mut broken = Vec::new();
        for (w, slot) in self.workers.iter_mut() {
            if slot.outbox.is_empty() {
                continue;
            }
            let Some(send) = slot.send.as_deref() else {
                slot.outbox.clear();
                continue;
            };
            if let Err(e) = (&mut &*send).write_all(&slot.outbox) {
                broken.push((*w, e));
            }
            slot.outbox.clear();
        }
        for (w, e) in broken {
            let dead = matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            );
            if dead {
                // The reader and reaper will report the death.
                continue;
            }
            self.emit(PoolEvent::Error {
                worker: Some(w),
                message: format!("cannot write to worker {w}: {e}; killing it"),
            });
            self.kill_worker(
                w,
                GroupSignal::Kill,
                "stuck socket".into(),
                HeldFate::TimedOut,
            );
            if let Some(s) = self.workers.get_mut(&w) {
                s.held_fate = None;
            }
        }
    }

    fn report_drained(&mut self) {
        if !self.drained_reported && self.queue.counts().submitted > 0 && self.queue.is_idle() {
            self.drained_reported = true;
            self.emit(PoolEvent::Drained(self.queue.counts()));
        }
    }
}

/// Appends a frame to a worker's outbox; it is written at the end of the round.
fn queue_frame(slot: &mut Slot, msg: &ToWorker) {
    if slot.send.is_some() {
        // Encoding our own messages only fails for a task line over the
        // frame cap, which the 16 MiB cap makes practically impossible.
        let _ = frame::encode_into(msg, &mut slot.outbox);
    }
}
