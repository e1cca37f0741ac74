//! The manager's end of a launched worker: the launcher process, its pipes
//! joined to the pool's local socket, and what it says on stderr.
//!
//! Four small threads per launched worker, holding no pool state:
//! - *up* passes frames from the launcher's stdout to the socket. It waits
//!   for the worker's handshake first (rewriting its pid to the launcher's,
//!   which is what this machine can signal and reap) and only then connects,
//!   so a slow ssh never trips the acceptor's handshake timeout. A worker
//!   silent for [`LOST_AFTER`] is reported lost.
//! - *down* passes frames from the socket to the launcher's stdin, whole,
//!   with a ping between them when there was nothing to say for
//!   [`PING_EVERY`]; when the supervisor closes the socket it closes stdin,
//!   which ends the worker on the far side.
//! - *said* keeps the last lines of the launcher's stderr: if it ends before
//!   the handshake, they are why the worker did not start. It also reads
//!   srun's news of Slurm's queue (`slurm::QueueLines`): a queued worker
//!   is pending, with no start deadline, until Slurm lets it go.
//! - the reaper waits for the launcher and reports its exit as the worker's.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use interprocess::local_socket::traits::Stream as _;

use super::{LOST_AFTER, PING_EVERY, START_TIMEOUT, slurm};
use crate::engine::conn::{ConnEvent, SMALL_STACK};
use crate::engine::events::WorkerId;
use crate::engine::{Inbound, InboxSender};
use crate::ipc;
use crate::platform::{self, GroupSignal};
use crate::protocol::frame;
use crate::protocol::{FromWorker, Launch, PROTOCOL_VERSION, ToWorker};

/// Bytes of a launcher's stderr kept to explain a failed start.
const SAID_CAP: usize = 2048;
/// How often a worker awaiting its handshake looks whether its scheduler
/// still queues it.
const QUEUE_LOOK: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts worker `worker` with `argv` (see `Launcher::argv`) and the threads
/// that join it to the pool's socket at `socket`. Returns the launcher's
/// pid. Call from the supervisor thread, like `proc::spawn_worker`.
pub(crate) fn spawn_launched(
    argv: &[std::ffi::OsString],
    socket: &Path,
    token: &str,
    worker: WorkerId,
    work_dir: Option<&Path>,
    python: &crate::engine::PythonConfig,
    tx: &InboxSender,
) -> io::Result<u32> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty launcher"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = work_dir {
        cmd.current_dir(dir);
    }
    // Its own group: killing the launcher kills whatever it started here.
    platform::prepare_worker_command(&mut cmd);
    // The supervisor thread spawns it and lives as long as the pool.
    platform::term_when_this_thread_ends(&mut cmd);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = platform::signal_group(pid, GroupSignal::Kill);
        return Err(io::Error::other("launcher without pipes"));
    };
    let launch = Launch {
        version: PROTOCOL_VERSION,
        worker: worker.0,
        token: token.to_string(),
        python: python
            .program
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        py_init: python.init.clone(),
        py_path: python
            .path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
    };
    // Small: the pipe takes it at once, read or not.
    frame::write_frame(&mut stdin, &launch)?;
    let said_hello = Arc::new(AtomicBool::new(false));
    let queued = Arc::new(AtomicBool::new(false));
    let started = (|| {
        let up = Up {
            stdout,
            stdin,
            socket: socket.to_path_buf(),
            pid,
            worker,
            said_hello: said_hello.clone(),
            queued: queued.clone(),
            tx: tx.clone(),
        };
        helper(format!("pooltop-up-{worker}"), move || up.run())?;
        let tx2 = tx.clone();
        helper(format!("pooltop-said-{worker}"), move || {
            said(stderr, worker, &said_hello, &queued, &tx2)
        })?;
        let tx3 = tx.clone();
        helper(format!("pooltop-reap-{worker}"), move || {
            let status = child.wait();
            let _ = tx3.send(Inbound::Conn(ConnEvent::Reaped { worker, status }));
        })
    })();
    if let Err(e) = started {
        let _ = platform::signal_group(pid, GroupSignal::Kill);
        return Err(e);
    }
    Ok(pid)
}

fn helper(name: String, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(SMALL_STACK)
        .spawn(f)
        .map(drop)
}

struct Up {
    stdout: ChildStdout,
    stdin: ChildStdin,
    socket: std::path::PathBuf,
    pid: u32,
    worker: WorkerId,
    said_hello: Arc<AtomicBool>,
    /// Set while the launcher says its scheduler queues the worker (see
    /// `slurm::QueueLines`): no start deadline runs meanwhile.
    queued: Arc<AtomicBool>,
    tx: InboxSender,
}

impl Up {
    fn run(mut self) {
        let mut buf = Vec::with_capacity(64 * 1024);
        let Some(hello_len) = self.await_hello(&mut buf) else {
            return;
        };
        let Ok(sock) = ipc::connect(&self.socket) else {
            return;
        };
        let Ok(mut to_sock) = ipc::second_handle(&sock) else {
            return;
        };
        if to_sock.write_all(&buf[..hello_len]).is_err() {
            return;
        }
        buf.drain(..hello_len);
        self.said_hello.store(true, Ordering::SeqCst);
        let stdin = self.stdin;
        if helper(format!("pooltop-down-{}", self.worker), move || {
            down(sock, stdin)
        })
        .is_err()
        {
            return;
        }
        let why = pass(&mut self.stdout, &mut to_sock, &mut buf, LOST_AFTER);
        // The launcher's output ended (or fell silent): end the connection
        // both ways at once, for the supervisor and for *down*.
        let _ = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(to_sock))
            .shutdown(std::net::Shutdown::Both);
        if let Some(why) = why {
            let _ = self.tx.send(Inbound::Conn(ConnEvent::Lost {
                worker: self.worker,
                why,
            }));
        }
    }

    /// Reads until the worker's handshake is whole; rewrites its pid and
    /// leaves the frame at the front of `buf`. Returns its length.
    fn await_hello(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        let mut deadline = Instant::now() + START_TIMEOUT;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match frame::take_frame::<FromWorker>(buf) {
                Ok(Some((FromWorker::Hello(mut hello), used))) => {
                    hello.pid = self.pid;
                    let mut head = Vec::new();
                    frame::encode_into(&FromWorker::Hello(hello), &mut head).ok()?;
                    let len = head.len();
                    buf.splice(..used, head);
                    return Some(len);
                }
                Ok(Some(_)) | Err(_) => {
                    let _ = self.tx.send(Inbound::Conn(ConnEvent::Lost {
                        worker: self.worker,
                        why: "its first frame was not a handshake".into(),
                    }));
                    return None;
                }
                Ok(None) => {}
            }
            // A queued worker waits as long as its scheduler takes; the
            // start deadline counts from when it is let go.
            if self.queued.load(Ordering::SeqCst) {
                deadline = Instant::now() + START_TIMEOUT;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = platform::wait_readable_within(
                [self.stdout.as_raw_fd(), -1],
                Some(left.min(QUEUE_LOOK)),
            );
            if matches!(ready, Ok([false, _])) && Instant::now() < deadline {
                continue;
            }
            if !matches!(ready, Ok([true, _])) {
                let _ = self.tx.send(Inbound::Conn(ConnEvent::Lost {
                    worker: self.worker,
                    why: format!("no handshake within {} s", START_TIMEOUT.as_secs()),
                }));
                return None;
            }
            match self.stdout.read(&mut chunk) {
                // Ended before its handshake: `said` reports why.
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// Copies whole frames from `from` to `to` until `from` ends (None) or is
/// silent for `silence` (Some(why)).
fn pass(
    from: &mut ChildStdout,
    to: &mut impl Write,
    buf: &mut Vec<u8>,
    silence: std::time::Duration,
) -> Option<String> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match frame::whole_frames(buf) {
            Ok(0) => {}
            Ok(whole) => {
                if to.write_all(&buf[..whole]).is_err() {
                    return None;
                }
                buf.drain(..whole);
            }
            Err(e) => return Some(format!("sent a bad frame: {e}")),
        }
        match platform::wait_readable_within([from.as_raw_fd(), -1], Some(silence)) {
            Ok([true, _]) => {}
            Ok(_) => {
                return Some(format!(
                    "no word from it for {} s: marked lost",
                    silence.as_secs()
                ));
            }
            Err(_) => return None,
        }
        match from.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Socket → the launcher's stdin, whole frames, pinging when idle. Ends
/// (closing stdin, the worker's lifeline) when the supervisor closes the
/// socket or the launcher's stdin fails.
fn down(sock: ipc::Stream, mut stdin: ChildStdin) {
    let mut ping = Vec::new();
    if frame::encode_into(&ToWorker::Ping, &mut ping).is_err()
        || sock.set_recv_timeout(Some(PING_EVERY)).is_err()
    {
        return;
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match (&mut &sock).read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let Ok(whole) = frame::whole_frames(&buf) else {
                    return;
                };
                if whole > 0 {
                    if stdin.write_all(&buf[..whole]).is_err() {
                        return;
                    }
                    buf.drain(..whole);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // Between frames only: a half frame waits for its rest.
                if buf.is_empty() && stdin.write_all(&ping).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Keeps the last lines of the launcher's stderr; if it ends before the
/// worker's handshake, reports them as why the worker did not start.
fn said(
    mut stderr: std::process::ChildStderr,
    worker: WorkerId,
    hello: &AtomicBool,
    queued: &AtomicBool,
    tx: &InboxSender,
) {
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut queue = slurm::QueueLines::default();
    loop {
        match stderr.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if hello.load(Ordering::SeqCst) {
                    continue;
                }
                if let Some(news) = queue.feed(&chunk[..n]) {
                    let waiting = news == slurm::QueueNews::Waiting;
                    queued.store(waiting, Ordering::SeqCst);
                    let _ = tx.send(Inbound::Conn(ConnEvent::Queued { worker, waiting }));
                }
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > SAID_CAP {
                    kept.drain(..kept.len() - SAID_CAP);
                }
            }
        }
    }
    if hello.load(Ordering::SeqCst) {
        return;
    }
    let text = String::from_utf8_lossy(&kept);
    let said = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    let _ = tx.send(Inbound::Conn(ConnEvent::LaunchFailed { worker, said }));
}
