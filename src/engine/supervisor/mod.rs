//! The supervisor: THE owner of pool state — the workers, the queue, every
//! task's fate, the timers. One thread waits on one `mio::Poll`: the worker
//! sockets (read and written without blocking) and a waker rung whenever an
//! order or news from a handshake thread or reaper arrives in its inbox. It
//! tells everything through the event channel and never waits on a worker.
//!
//! Split by concern: this file holds the state, the loop and the orders;
//! `record` is the record of one worker, `phase` where it is in its life
//! and `link` its connection's bytes; `lifecycle` starts, stops and kills
//! workers; `results` ends the tasks workers report; `exits` settles a
//! worker that is gone; `dispatch` hands out tasks, writes, and runs timers.

mod admission;
mod dispatch;
mod exits;
mod lifecycle;
mod link;
mod oom;
mod phase;
mod placing;
mod record;
mod results;
mod stall;
mod steer;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry, Token};

use super::events::*;
use super::median::RunningMedian;
use super::queue::Queue;
use super::watch::Watch;
use super::{EventSender, conn};
use super::{Inbound, InboxSender, PoolConfig};
use crate::error::Error;
use crate::ipc::{self, SocketDir};
use crate::platform::GroupSignal;
use crate::protocol::FromWorker;
use crate::task::TaskOutput;
use phase::{HeldFate, StopKind};
use record::WorkerRecord;

/// The poll token of the inbox waker; workers use their id (from 1).
pub const WAKE_TOKEN: Token = Token(0);
/// A worker that has not connected by then is killed.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// After SIGTERM, how long before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);
/// After a worker fails to start, wait this long (times the failures in a
/// row) before starting another.
const START_BACKOFF: Duration = Duration::from_millis(50);
/// After this many workers in a row die before their handshake, stop
/// replacing them: something is wrong with the worker program.
const MAX_START_FAILURES: u32 = 5;
/// How often to look again whether a dead worker's process group is empty.
const GROUP_POLL: Duration = Duration::from_millis(5);
/// How long processes of a dead worker's group may outlive SIGKILL before
/// the pool goes on without waiting for them (a process stuck in the kernel).
const GROUP_GRACE: Duration = Duration::from_secs(2);

fn token_of(w: WorkerId) -> Token {
    Token(w.0 as usize)
}

struct Supervisor {
    config: Arc<PoolConfig>,
    program: PathBuf,
    token: Arc<str>,
    socket_dir: SocketDir,
    socket_path: PathBuf,
    accept_stop: Arc<AtomicBool>,
    /// For the reaper threads this supervisor starts.
    inbox: InboxSender,
    registry: Registry,
    events: EventSender,
    workers: BTreeMap<WorkerId, WorkerRecord>,
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
    /// Reused buffer for frames read in one go.
    frames: Vec<FromWorker>,
    /// Run times of the tasks done: for `PoolConfig::task_timeout_median`,
    /// quick prefetch and automatic chunks.
    run_times: RunningMedian,
    /// The sampler's handle and the hung detector, fed from `emit`.
    watch: Watch,
    /// Whether a worker killed by SIGKILL was the OOM killer's doing.
    oom: oom::OomWatch,
    /// The next task id, shared with the pool's handle: a retry is a new task.
    task_ids: Arc<AtomicU64>,
    /// The admission gates' readings (`memfree`, `load`, `delay`).
    admission: admission::Admission,
    /// Hosts whose launcher failed: no worker is started there again.
    dead_hosts: std::collections::HashSet<Arc<str>>,
}

/// Creates the socket and starts the supervisor thread, which spawns the workers.
// Each argument is a separate piece the supervisor takes ownership of.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    config: Arc<PoolConfig>,
    program: PathBuf,
    poll: Poll,
    inbox: InboxSender,
    rx: Receiver<Inbound>,
    events: EventSender,
    watch: Watch,
    task_ids: Arc<AtomicU64>,
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
    conn::spawn_acceptor(listener, token.clone(), accept_stop.clone(), inbox.clone())
        .map_err(Error::Socket)?;
    let registry = poll.registry().try_clone().map_err(Error::Io)?;
    let wanted = config.workers;
    let sup = Supervisor {
        config,
        program,
        token,
        socket_dir,
        socket_path,
        accept_stop,
        inbox,
        registry,
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
        frames: Vec::new(),
        run_times: RunningMedian::default(),
        watch,
        oom: oom::OomWatch::new(),
        task_ids,
        admission: admission::Admission::default(),
        dead_hosts: Default::default(),
    };
    std::thread::Builder::new()
        .name("pooltop-supervisor".into())
        .spawn(move || sup.run(poll, rx))
        .map_err(Error::Io)?;
    Ok(())
}

fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Supervisor {
    fn run(mut self, mut poll: Poll, rx: Receiver<Inbound>) {
        let mut ready = Events::with_capacity(256);
        self.fill_to_wanted();
        let mut woke = Instant::now();
        loop {
            let next = self.next_deadline();
            let next = next.map_or(self.watch.next_check(), |d| d.min(self.watch.next_check()));
            let slept = Instant::now();
            let timeout = next.saturating_duration_since(slept);
            // Whether the last round had news from a socket or the inbox.
            let was_active = !ready.is_empty();
            if let Err(e) = self.wait(&mut poll, &mut ready, Some(timeout), was_active)
                && e.kind() != io::ErrorKind::Interrupted
            {
                self.emit(PoolEvent::Error {
                    worker: None,
                    message: format!("cannot wait for events: {e}; killing the pool"),
                });
                self.shutdown(true);
                std::thread::sleep(Duration::from_millis(10));
            }
            let nap = stall::Nap {
                woke,
                slept,
                timeout,
            };
            woke = Instant::now();
            self.watch.new_round(woke);
            // Before anything is judged on time: see `stall`.
            if let Some(lost) = nap.lost(woke) {
                self.on_stall(lost);
            }
            for ev in ready.iter() {
                if ev.token() != WAKE_TOKEN
                    && (ev.is_readable() || ev.is_read_closed() || ev.is_error())
                {
                    self.on_readable(WorkerId(ev.token().0 as u32));
                }
            }
            // Everything in the inbox, before acting: a burst of orders or
            // results becomes one burst of writes. But a long submission
            // arrives in full slices: idle workers start on the first one
            // while the rest is queued.
            while let Ok(msg) = rx.try_recv() {
                let slice = matches!(&msg, Inbound::Submit { tasks, .. }
                    if tasks.len() >= super::SUBMIT_SLICE);
                self.handle(msg);
                if slice && self.any_idle_worker() {
                    self.dispatch();
                    self.flush_outboxes();
                    self.events.flush();
                }
            }
            self.on_timers(Instant::now());
            for news in self.watch.check() {
                self.emit(news);
            }
            self.retire_spent_workers();
            self.dispatch();
            self.prefetch_quick();
            self.flush_outboxes();
            self.report_drained();
            // The round's news goes out before the supervisor waits again.
            self.events.flush();
            if self.shutting_down && self.workers.is_empty() {
                break;
            }
        }
        debug_assert!(self.queue.balanced());
        self.accept_stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept so the acceptor thread sees the flag.
        let _ = ipc::connect(&self.socket_path);
        // Before the last event: a process that exits on it would otherwise
        // leave the socket directory behind.
        drop(self.socket_dir);
        self.events.send(PoolEvent::Stopped(self.queue.counts()));
    }

    /// Waits for a socket or the inbox, or until `timeout`. While workers
    /// hold only instant tasks their replies come at once, and right after
    /// news went out an order often follows (a caller that submits its next
    /// task on the last one's result), so then the sockets and inbox are
    /// checked again without sleeping for a moment first (see `crate::busy_wait`).
    /// Not while a slower task runs: its processes need the CPU more.
    fn wait(
        &self,
        poll: &mut Poll,
        ready: &mut Events,
        timeout: Option<Duration>,
        was_active: bool,
    ) -> io::Result<()> {
        let (mut slow, mut quick) = (false, false);
        for s in self.workers.values() {
            slow |= s.slow_held > 0;
            quick |= !s.held.is_empty();
        }
        let hot = !slow && (was_active || quick);
        // The reader spins while this thread does: news may follow at once.
        self.events.expect_quick(hot);
        if hot && timeout.is_none_or(|t| t > crate::busy_wait::SPIN) {
            let mut failed = None;
            crate::busy_wait::briefly(|| match poll.poll(ready, Some(Duration::ZERO)) {
                Ok(()) => !ready.is_empty(),
                Err(e) => {
                    failed = Some(e);
                    true
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            if !ready.is_empty() {
                return Ok(());
            }
        }
        poll.poll(ready, timeout)
    }

    /// Whether a ready worker holds no task.
    fn any_idle_worker(&self) -> bool {
        self.workers
            .values()
            .any(|s| s.is_ready() && s.held.is_empty())
    }

    /// Sends an event; a consumer that has gone away is not an error. The
    /// sampler and the hung detector follow the workers through it.
    fn emit(&mut self, event: PoolEvent) {
        if let Some(unhung) = self.watch.observe(&event) {
            self.events.push(unhung);
        }
        self.events.push(event);
    }

    fn handle(&mut self, msg: Inbound) {
        match msg {
            Inbound::Command(cmd) => self.command(cmd),
            Inbound::Submit { tasks, lines } => self.submit(tasks, lines),
            Inbound::Conn(ev) => self.conn_event(ev),
            Inbound::Sample(mut s) => {
                self.remote_figures(&mut s);
                self.task_memory_check(&s);
                let ev = self.watch.sample(*s, |w| self.workers.contains_key(&w));
                self.emit(ev);
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Pause(w) => self.pause(w),
            Command::Resume(w) => self.resume(w),
            Command::PauseDispatch => self.set_dispatch_paused(true),
            Command::ResumeDispatch => self.set_dispatch_paused(false),
            Command::Terminate(w) => {
                if self
                    .workers
                    .get(&w)
                    .is_some_and(|s| s.phase.counts_as_alive())
                {
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
            Command::CancelTask(t) => self.cancel_task(t),
            Command::RetryTask(t) => self.retry_task(t),
            Command::RetryFailed => self.retry_failed_tasks(),
            Command::FrontTask(t) => self.front_task(t),
            Command::Shutdown => self.shutdown(false),
            Command::KillAll => self.shutdown(true),
        }
    }

    /// Queues `tasks`; `lines` are theirs, for the `TasksQueued` event.
    fn submit(&mut self, tasks: Vec<(TaskId, Task)>, lines: Vec<Arc<str>>) {
        let Some(first) = tasks.first().map(|(id, _)| *id) else {
            return;
        };
        let count = tasks.len();
        self.queue.reserve(count);
        if self.shutting_down || self.gave_up_starting {
            // Accounted for all the same: each ends as cancelled.
            let why = if self.shutting_down {
                "the pool is shutting down"
            } else {
                "no worker could be started"
            };
            self.queue.submit_all(tasks);
            self.emit(PoolEvent::TasksQueued {
                first,
                count,
                lines,
            });
            self.cancel_queued(why);
            return;
        }
        self.queue.submit_all(tasks);
        self.drained_reported = false;
        self.emit(PoolEvent::TasksQueued {
            first,
            count,
            lines,
        });
    }

    /// Pauses a connected worker that is ready (see `Phase::pause`).
    fn pause(&mut self, w: WorkerId) {
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        if !worker.is_ready() || !worker.phase.pause(Instant::now()) {
            return;
        }
        worker.signal(GroupSignal::Stop);
        self.emit(PoolEvent::WorkerPaused { worker: w });
    }

    fn resume(&mut self, w: WorkerId) {
        let Some(worker) = self.workers.get_mut(&w) else {
            return;
        };
        let Some(paused_at) = worker.phase.resume() else {
            return;
        };
        worker.signal(GroupSignal::Cont);
        // Time spent paused by the user does not count against the task's timeout.
        worker.head_since += paused_at.elapsed();
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
            .filter(|(_, s)| s.phase.counts_as_alive())
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
                max_rss: None,
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
}
