//! Accepting workers and checking their handshake, on threads of their own so
//! a silent or hostile client cannot hold anything up. Holds no pool state:
//! everything it learns goes to the supervisor as a [`ConnEvent`]. After the
//! handshake, the supervisor reads and writes the connection itself.

use std::io;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use interprocess::local_socket::traits::{ListenerExt, Stream as _, StreamCommon as _};

use super::events::WorkerId;
use super::{Inbound, InboxSender};
use crate::ipc::{Listener, Stream};
use crate::protocol::frame::{self, FrameError};
use crate::protocol::{FromWorker, Hello, PROTOCOL_VERSION};

/// Stack size of the small helper threads (handshakes here, reapers in
/// `proc`), which tell the supervisor what they learn as a [`ConnEvent`].
pub const SMALL_STACK: usize = 128 * 1024;
/// The handshake is small; a bigger first frame is refused unread.
const MAX_HELLO: u32 = 4096;
/// A connection that has not said hello by then is dropped.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the socket threads and reapers tell the supervisor.
pub enum ConnEvent {
    /// A connection passed the handshake (version, token, peer user and pid).
    Hello { hello: Hello, stream: Stream },
    /// A connection was refused; it gets nothing.
    Refused { reason: String },
    /// A worker process exited and was reaped.
    Reaped {
        worker: WorkerId,
        status: io::Result<ExitStatus>,
    },
    /// A launched worker fell silent or broke its relay (see
    /// `engine::launch`): it is to be killed, its task retried.
    Lost { worker: WorkerId, why: String },
    /// A launcher said that its scheduler queued the worker (`waiting`), or
    /// let it go (see `launch::slurm::QueueNews`).
    Queued { worker: WorkerId, waiting: bool },
    /// A launcher ended before its worker's handshake; `said` is the end of
    /// what it wrote on stderr (what ssh said).
    LaunchFailed { worker: WorkerId, said: String },
}

/// Accepts connections until `stop` is set (the supervisor then connects once
/// to wake the blocking accept). Each handshake runs on its own short thread
/// so a silent client cannot hold up the others.
pub fn spawn_acceptor(
    listener: Listener,
    token: Arc<str>,
    stop: Arc<AtomicBool>,
    tx: InboxSender,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("pooltop-accept".into())
        .spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = conn else { continue };
                let token = token.clone();
                let tx = tx.clone();
                let _ = std::thread::Builder::new()
                    .name("pooltop-hello".into())
                    .stack_size(SMALL_STACK)
                    .spawn(move || {
                        let event = match handshake(stream, &token) {
                            Ok((hello, stream)) => ConnEvent::Hello { hello, stream },
                            // A peer that died before saying anything: not news.
                            Err(reason) if reason.is_empty() => return,
                            Err(reason) => ConnEvent::Refused { reason },
                        };
                        let _ = tx.send(Inbound::Conn(event));
                    });
            }
        })?;
    Ok(())
}

/// Reads and checks the first frame. Returns why the connection is refused,
/// or an empty reason when the peer closed it unsaid because it died: that is
/// one of our own workers killed while it was connecting (at shutdown, for
/// instance), and its death is reported by its reaper.
fn handshake(stream: Stream, token: &str) -> Result<(Hello, Stream), String> {
    let creds = stream.peer_creds().ok();
    stream
        .set_recv_timeout(Some(HELLO_TIMEOUT))
        .map_err(|e| format!("refused a connection: {e}"))?;
    let mut buf = Vec::new();
    let mut reader = &stream;
    let hello = match frame::read_frame_limited::<FromWorker>(&mut reader, &mut buf, MAX_HELLO) {
        Ok(FromWorker::Hello(h)) => h,
        Ok(_) => return Err("refused a connection: first frame was not a handshake".into()),
        Err(FrameError::Closed) if creds.and_then(|c| c.pid()).is_some_and(peer_died) => {
            return Err(String::new());
        }
        Err(FrameError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            return Err(format!(
                "refused a connection: no handshake within {}s",
                HELLO_TIMEOUT.as_secs()
            ));
        }
        Err(e) => return Err(format!("refused a connection: bad handshake: {e}")),
    };
    if hello.version != PROTOCOL_VERSION {
        return Err(format!(
            "refused worker {} (pid {}): protocol version {} (expected {PROTOCOL_VERSION})",
            hello.worker, hello.pid, hello.version
        ));
    }
    if !same_secret(&hello.token, token) {
        return Err(format!(
            "refused a connection claiming to be worker {} (pid {}): wrong token",
            hello.worker, hello.pid
        ));
    }
    if let Some(creds) = creds {
        let me = rustix::process::geteuid().as_raw();
        if creds.euid().is_some_and(|uid| uid != me) {
            return Err(format!(
                "refused a connection from another user (uid {:?})",
                creds.euid()
            ));
        }
        // A relay of this very process (`engine::launch`) speaks for a
        // launched worker, whose handshake names the launcher's pid.
        let relayed = creds
            .pid()
            .is_some_and(|pid| pid as u32 == std::process::id());
        if !relayed && creds.pid().is_some_and(|pid| pid as u32 != hello.pid) {
            return Err(format!(
                "refused a connection: handshake says pid {}, the socket says {:?}",
                hello.pid,
                creds.pid()
            ));
        }
    }
    stream
        .set_recv_timeout(None)
        .map_err(|e| format!("refused a connection: {e}"))?;
    Ok((hello, stream))
}

/// Whether the process `pid` is gone or exiting. Its socket closes early in
/// its exit, a moment before it becomes a zombie: allow it that moment.
fn peer_died(pid: i32) -> bool {
    let Ok(pid) = u32::try_from(pid) else {
        return false;
    };
    let deadline = std::time::Instant::now() + Duration::from_millis(100);
    loop {
        match crate::platform::process_state(pid) {
            None | Some('Z' | 'X') => return true,
            Some(_) if std::time::Instant::now() >= deadline => return false,
            Some(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Compares secrets without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
