//! The control server's one thread: a mio poll loop over the listening
//! socket and every client, so clients cost a connection each and never a
//! thread. At most [`MAX_CLIENTS`] connections are open; a client that
//! leaves a hello or a request half-sent for [`super::READ_DEADLINE`] is
//! dropped.
//! The pool's events reach it through [`Wake`]: waits are asked again and
//! attached dashboards get their events.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use interprocess::local_socket::traits::{Listener as _, Stream as _, StreamCommon as _};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use super::answer::Answers;
use super::conn::{Conn, Served};
use super::wire::Reply;
use pooltop::ipc::{self, Listener, Stream};
use pooltop::protocol::frame;

pub use super::limits::MAX_CLIENTS;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// How the pool's event tap and the server's owner reach the loop.
pub struct Wake {
    waker: Waker,
    stop: AtomicBool,
    /// The pool's picture changed since the loop last looked.
    changed: AtomicBool,
    /// How many connections wait on the picture (waits, dashboards).
    watching: AtomicUsize,
}

impl Wake {
    /// Says that the pool's picture changed: wakes the loop if a connection
    /// waits on it and it has not been woken for an earlier change yet
    /// (cheap enough to call for every event).
    pub fn changed(&self) {
        if self.changed.load(SeqCst) {
            return; // the loop has yet to look at the last change
        }
        if !self.changed.swap(true, SeqCst) && self.watching.load(SeqCst) > 0 {
            let _ = self.waker.wake();
        }
    }

    /// Ends the loop (and with it every connection).
    pub fn stop(&self) {
        self.stop.store(true, SeqCst);
        let _ = self.waker.wake();
    }
}

/// How many event streams to attached dashboards are still writing, for a
/// closing pool that lets them receive their last events.
pub type Streams = Arc<(Mutex<usize>, Condvar)>;

/// The loop, ready to run on its thread.
pub struct Server {
    poll: Poll,
    listener: Listener,
    wake: Arc<Wake>,
    answers: Answers,
    streams: Streams,
    conns: HashMap<Token, Conn>,
    /// Connections whose turn ended with more to do.
    again: Vec<Token>,
    next_token: usize,
}

impl Server {
    /// Registers the listener and a waker; returns the server and the
    /// [`Wake`] that reaches it.
    pub fn new(
        listener: Listener,
        answers: Answers,
        streams: Streams,
    ) -> io::Result<(Server, Arc<Wake>)> {
        use interprocess::local_socket::ListenerNonblockingMode;
        listener.set_nonblocking(ListenerNonblockingMode::Both)?;
        let poll = Poll::new()?;
        let fd = listener_fd(&listener);
        poll.registry()
            .register(&mut SourceFd(&fd), LISTENER, Interest::READABLE)?;
        let wake = Arc::new(Wake {
            waker: Waker::new(poll.registry(), WAKER)?,
            stop: AtomicBool::new(false),
            changed: AtomicBool::new(false),
            watching: AtomicUsize::new(0),
        });
        let server = Server {
            poll,
            listener,
            wake: wake.clone(),
            answers,
            streams,
            conns: HashMap::new(),
            again: Vec::new(),
            next_token: 2,
        };
        Ok((server, wake))
    }

    /// Serves until [`Wake::stop`].
    pub fn run(mut self) {
        let mut events = Events::with_capacity(256);
        while !self.wake.stop.load(SeqCst) {
            let timeout = if self.again.is_empty() {
                self.conns
                    .values()
                    .filter_map(Conn::deadline)
                    .min()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                Some(std::time::Duration::ZERO)
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return, // the control socket goes quiet; the pool goes on
            }
            if self.wake.stop.load(SeqCst) {
                break;
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {} // the watchers are served below
                    token => self.serve(token),
                }
            }
            self.serve_again();
            self.serve_watchers();
            self.expire();
        }
    }

    /// Accepts every waiting connection (the listener is edge-triggered).
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok(stream) => self.admit(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                // Out of descriptors, say: the next connection tries again.
                Err(_) => return,
            }
        }
    }

    fn admit(&mut self, stream: Stream) {
        if !same_user(&stream) || stream.set_nonblocking(true).is_err() {
            return;
        }
        if self.conns.len() >= MAX_CLIENTS {
            let oldest_greeting = self
                .conns
                .iter()
                .filter(|(_, c)| c.greeting())
                .min_by_key(|(_, c)| c.deadline())
                .map(|(&t, _)| t);
            match oldest_greeting {
                Some(token) => {
                    if let Some(c) = self.conns.get(&token) {
                        refuse(
                            c.stream(),
                            &format!(
                                "dropped: {MAX_CLIENTS} control connections are open and this one had not said hello"
                            ),
                        );
                    }
                    self.close(token);
                }
                None => {
                    refuse(
                        &stream,
                        &format!(
                            "refused: it already serves {MAX_CLIENTS} control connections, the most it takes; try again when one closes"
                        ),
                    );
                    return;
                }
            }
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        let fd = ipc::raw_fd(&stream);
        let registered = self.poll.registry().register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        );
        if registered.is_err() {
            return;
        }
        self.conns.insert(token, Conn::new(stream));
        // Its hello is usually there already: greet it before the next
        // connection could take its place.
        self.serve(token);
    }

    fn serve(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        match conn.serve(&self.answers) {
            Served::Open => {}
            Served::Again => {
                if !self.again.contains(&token) {
                    self.again.push(token);
                }
            }
            Served::Closed => self.close(token),
            Served::Logs { task, follow } => self.hand_off_logs(token, task, follow),
        }
    }

    /// Serves `pooltop logs` on a thread of its own: following a task's
    /// output writes as long as the task runs, which the loop must not wait
    /// for. The connection leaves the loop (and the count of connections).
    fn hand_off_logs(&mut self, token: Token, task: Option<u64>, follow: bool) {
        let Some(conn) = self.conns.remove(&token) else {
            return;
        };
        let fd = ipc::raw_fd(conn.stream());
        let _ = deregister(self.poll.registry(), fd);
        let stream = conn.into_stream();
        if stream.set_nonblocking(false).is_err() {
            return;
        }
        let view = self.answers.view.clone();
        let _ = std::thread::Builder::new()
            .name("pooltop-logs".into())
            .spawn(move || super::logs::serve(&view, &stream, task, follow));
    }

    /// Gives another turn to the connections that had more to do.
    fn serve_again(&mut self) {
        for token in std::mem::take(&mut self.again) {
            self.serve(token);
        }
    }

    /// Serves the connections that wait on the pool's picture, while it
    /// keeps changing, and publishes how many there are for [`Wake`].
    fn serve_watchers(&mut self) {
        loop {
            let watching: Vec<Token> = self
                .conns
                .iter()
                .filter(|(_, c)| c.watching())
                .map(|(&t, _)| t)
                .collect();
            self.wake.watching.store(watching.len(), SeqCst);
            // Stored before the flag is read back: a change after this
            // wakes the loop again, one before it is served now.
            if watching.is_empty() || !self.wake.changed.swap(false, SeqCst) {
                break;
            }
            for token in watching {
                self.serve(token);
            }
        }
        let streaming = self.conns.values().filter(|c| c.streaming()).count();
        let (count, cond) = &*self.streams;
        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
        if *n != streaming {
            *n = streaming;
            cond.notify_all();
        }
    }

    /// Drops the connections past their deadline.
    fn expire(&mut self) {
        let now = Instant::now();
        let late: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline().is_some_and(|d| d <= now))
            .map(|(&t, _)| t)
            .collect();
        for token in late {
            if let Some(c) = self.conns.get_mut(&token) {
                c.expire();
            }
            self.close(token);
        }
    }

    fn close(&mut self, token: Token) {
        if let Some(mut conn) = self.conns.remove(&token) {
            conn.give_orders(&self.answers);
            let fd = ipc::raw_fd(conn.stream());
            let _ = deregister(self.poll.registry(), fd);
        }
    }
}

fn deregister(registry: &Registry, fd: RawFd) -> io::Result<()> {
    registry.deregister(&mut SourceFd(&fd))
}

/// Tells a client it will not be served, if its socket takes the line at
/// once; the caller then closes it.
fn refuse(stream: &Stream, message: &str) {
    let mut buf = Vec::new();
    let reply = Reply::Error {
        message: message.to_string(),
    };
    if frame::encode_into(&reply, &mut buf).is_ok() {
        let _ = (&mut &*stream).write(&buf);
    }
}

/// Whether the peer runs as our user (the directory's mode says so too;
/// this is the second lock on the door).
fn same_user(conn: &Stream) -> bool {
    let me = rustix::process::geteuid().as_raw();
    conn.peer_creds()
        .ok()
        .and_then(|c| c.euid())
        .is_none_or(|uid| uid == me)
}

fn listener_fd(listener: &Listener) -> RawFd {
    match listener {
        Listener::UdSocket(l) => l.as_fd().as_raw_fd(),
    }
}
