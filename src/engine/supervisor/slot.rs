//! The supervisor's record of one worker process, and the byte-level side of
//! its connection: collecting frames from a non-blocking socket and writing
//! queued frames without ever blocking the supervisor.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::process::ExitStatus;
use std::time::Instant;

use crate::engine::events::TaskId;
use crate::ipc::Stream;
use crate::protocol::frame::{self, FrameError};
use crate::protocol::{AssignRef, FromWorker};
use crate::task::TaskSpec;

/// How many tasks a worker may hold while all it holds are instant (see
/// `TaskSpec::is_instant`), so it never waits for the manager between them.
/// Behind a task that may take long, nothing is held in advance: the next
/// task goes to whichever worker is free first.
pub const PREFETCH_DEPTH: usize = 128;

/// Why a worker is being stopped, which decides the fate of the task it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The pool is shrinking: finish the current task, no deadline.
    Retire,
    /// The user asked: finish within the join timeout, else killed.
    Terminate,
    /// The pool is shutting down.
    Shutdown,
}

#[derive(Debug)]
pub struct Stopping {
    pub kind: StopKind,
    /// When to send SIGTERM (none: wait as long as the task takes).
    pub deadline: Option<Instant>,
    /// When SIGTERM was sent (SIGKILL follows after a grace period).
    pub term_sent: Option<Instant>,
}

/// What happens to the task a worker holds when the worker ends.
#[derive(Debug, Clone)]
pub enum HeldFate {
    /// It timed out (retried while retries remain).
    TimedOut,
    /// It is cancelled, for this reason.
    Cancelled(String),
}

/// How reading a worker's socket went.
pub enum ReadOutcome {
    /// Everything available was read; the connection is open.
    Open,
    /// The worker closed the connection (or reset it).
    Closed,
    /// The worker sent something that is not a valid frame.
    Broken(String),
}

/// The supervisor's record of one worker process.
pub struct Slot {
    pub pid: u32,
    /// Its job slot (see `PoolEvent::WorkerSlot`).
    pub job_slot: u32,
    pub spawned_at: Instant,
    /// Its connection, once the handshake is done, until it closes.
    pub conn: Option<Stream>,
    /// Bytes read but not yet a whole frame.
    inbox: Vec<u8>,
    /// Frames waiting to be written.
    outbox: Vec<u8>,
    /// Whether the socket is also watched for writability (outbox not empty).
    pub wants_write: bool,
    /// Its connection has ended (or never existed and the process is gone).
    pub closed: bool,
    pub ever_connected: bool,
    pub reaped: Option<io::Result<ExitStatus>>,
    /// Tasks handed to it, in the order it runs them; the first is running.
    pub held: VecDeque<TaskId>,
    /// How many of the held tasks are not instant.
    pub slow_held: usize,
    /// When the first held task started (shifted by the time spent paused).
    pub head_since: Instant,
    pub paused_at: Option<Instant>,
    pub stopping: Option<Stopping>,
    /// Set when pooltop killed it: the signal and why.
    pub killed: Option<(i32, String)>,
    pub held_fate: Option<HeldFate>,
    /// Since when the worker is gone but processes of its group (a shell
    /// task and its children) are still dying.
    pub group_wait: Option<Instant>,
}

impl Slot {
    pub fn new(pid: u32, job_slot: u32, now: Instant) -> Slot {
        Slot {
            pid,
            job_slot,
            spawned_at: now,
            conn: None,
            inbox: Vec::new(),
            outbox: Vec::new(),
            wants_write: false,
            closed: false,
            ever_connected: false,
            reaped: None,
            held: VecDeque::new(),
            slow_held: 0,
            head_since: now,
            paused_at: None,
            stopping: None,
            killed: None,
            held_fate: None,
            group_wait: None,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.conn.is_some() && !self.closed
    }

    /// Counts towards the wanted number of workers.
    pub fn counts_as_alive(&self) -> bool {
        self.stopping.is_none() && self.killed.is_none() && self.reaped.is_none()
    }

    /// Whether the worker may be handed more tasks now, with chunks of
    /// `chunk` tasks: when it holds none, or when it holds only instant
    /// tasks — then its next chunk while it works on its last one (so the
    /// next is there when that one ends), or up to [`PREFETCH_DEPTH`]. Never
    /// behind a task that may take long: one that hangs would hold the tasks
    /// queued behind it while other workers idle.
    pub fn can_take_tasks(&self, chunk: usize) -> bool {
        self.is_ready()
            && self.counts_as_alive()
            && self.paused_at.is_none()
            && (self.held.is_empty()
                || (self.slow_held == 0
                    && (self.held.len() < PREFETCH_DEPTH
                        || (chunk > 1 && self.held.len() <= chunk))))
    }

    /// Gone and settled: reaped, and nothing more can arrive on its socket.
    pub fn is_finished(&self) -> bool {
        self.reaped.is_some() && (self.closed || !self.ever_connected)
    }

    /// Appends a frame to the outbox; it is written at the end of the round.
    /// Fails only for a message over the 16 MiB frame cap (a task built in
    /// code: task lines are limited to 1 MiB), which is then not queued.
    pub fn queue_frame(&mut self, msg: &impl serde::Serialize) -> io::Result<()> {
        if self.is_ready() {
            frame::encode_into(msg, &mut self.outbox)?;
        }
        Ok(())
    }

    /// Queues tasks `first`, `first + 1`, … in one frame and holds them;
    /// when together they are over the frame cap, one frame each, and a
    /// task that alone is over it goes to `unsendable` (no worker could ever
    /// receive it; held unsent, it would never finish).
    pub fn assign(
        &mut self,
        first: TaskId,
        specs: &[&TaskSpec],
        unsendable: &mut Vec<(TaskId, io::Error)>,
    ) {
        let ids = (first.0..).map(TaskId);
        match self.queue_frame(&AssignRef {
            first: first.0,
            specs,
        }) {
            Ok(()) => {
                for (task, spec) in ids.zip(specs) {
                    self.hold(task, spec);
                }
            }
            Err(e) if specs.len() == 1 => unsendable.push((first, e)),
            Err(_) => {
                for (task, spec) in ids.zip(specs) {
                    self.assign(task, &[spec], unsendable);
                }
            }
        }
    }

    /// The task the worker was running ended at `now` (read then): the one
    /// it holds next, if any, is now running. Returns that one.
    pub fn end_head(&mut self, now: Instant) -> Option<TaskId> {
        self.held.pop_front();
        self.head_since = now;
        self.held.front().copied()
    }

    /// Task `task` was sent to the worker, to run after the ones it holds.
    fn hold(&mut self, task: TaskId, spec: &TaskSpec) {
        self.held.push_back(task);
        if !spec.is_instant() {
            self.slow_held += 1;
        }
    }

    pub fn has_output(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Reads everything the socket has (it is non-blocking and edge-
    /// triggered, so until it would block) and passes each whole frame on.
    pub fn read_frames(&mut self, mut on_frame: impl FnMut(FromWorker)) -> ReadOutcome {
        let Some(conn) = self.conn.take() else {
            return ReadOutcome::Closed;
        };
        let outcome = self.read_from(&conn, &mut on_frame);
        self.conn = Some(conn);
        outcome
    }

    fn read_from(&mut self, conn: &Stream, on_frame: &mut impl FnMut(FromWorker)) -> ReadOutcome {
        let mut chunk = [0u8; 16 * 1024];
        let mut ended = false;
        loop {
            match (&mut &*conn).read(&mut chunk) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => self.inbox.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let err = FrameError::Io(e);
                    if err.is_disconnect() {
                        ended = true;
                        break;
                    }
                    return ReadOutcome::Broken(err.to_string());
                }
            }
            // Parse as we go so a flood never piles up unparsed.
            if let Err(e) = self.parse_inbox(on_frame) {
                return ReadOutcome::Broken(e);
            }
        }
        if let Err(e) = self.parse_inbox(on_frame) {
            return ReadOutcome::Broken(e);
        }
        if ended {
            if !self.inbox.is_empty() {
                return ReadOutcome::Broken(FrameError::Truncated.to_string());
            }
            return ReadOutcome::Closed;
        }
        ReadOutcome::Open
    }

    fn parse_inbox(&mut self, on_frame: &mut impl FnMut(FromWorker)) -> Result<(), String> {
        let mut used = 0;
        while let Some((msg, n)) =
            frame::take_frame::<FromWorker>(&self.inbox[used..]).map_err(|e| e.to_string())?
        {
            used += n;
            on_frame(msg);
        }
        self.inbox.drain(..used);
        Ok(())
    }

    /// Writes as much of the outbox as the socket takes without blocking.
    /// Returns whether bytes are left over (the socket is full).
    pub fn flush(&mut self) -> io::Result<bool> {
        let Some(conn) = self.conn.as_ref() else {
            self.outbox.clear();
            return Ok(false);
        };
        let mut written = 0;
        while written < self.outbox.len() {
            match (&mut &*conn).write(&self.outbox[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.outbox.clear();
                    return Err(e);
                }
            }
        }
        self.outbox.drain(..written);
        Ok(!self.outbox.is_empty())
    }
}
