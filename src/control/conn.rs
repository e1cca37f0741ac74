//! One control client's connection, served without blocking: the bytes
//! read and not yet used, the bytes not yet written, and where the
//! conversation is (saying hello, asking, waiting, or streaming events to
//! an attached dashboard). The server's poll loop calls [`Conn::serve`]
//! whenever the socket or the pool's picture changes, and drops a
//! connection at its [`Conn::deadline`].

use std::io::{self, Read, Write};
use std::sync::mpsc::TryRecvError;
use std::time::Instant;

use super::answer::{Answer, Answers, SUBSCRIBER_BACKLOG, Subscription, Wait};
use super::wire::{Reply, Request};
use pooltop::engine::{Command, PoolEvent};
use pooltop::ipc::Stream;
use pooltop::protocol::{MAX_FRAME, frame};

pub use super::limits::READ_DEADLINE;
/// The largest frame a client may send before its hello: a hello is a few
/// bytes, and this bounds what a crowd of half-open connections can hold.
const HELLO_FRAME_CAP: usize = 4096;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Encoded events held for one attached dashboard; more wait in its
/// channel (up to [`SUBSCRIBER_BACKLOG`] events).
const STREAM_BUFFER: usize = 1024 * 1024;

/// Steps one connection gets before the others have their turn.
const STEPS_PER_TURN: usize = 64;

/// How a turn of [`Conn::serve`] left the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Open; served again when its socket or the pool's picture changes.
    Open,
    /// Open with more to do at once: served again after the others (the
    /// socket will not say so again).
    Again,
    /// Asks for a task's output: to be taken out of the poll loop and
    /// served by [`super::logs::serve`] on a thread of its own.
    Logs { task: Option<u64>, follow: bool },
    /// To be dropped.
    Closed,
}

/// Where a connection's conversation is.
enum Phase {
    /// Connected; nothing but a hello is answered.
    Hello,
    /// Greeted: each request gets its reply.
    Ready,
    /// Greeted and waiting for tasks to finish; requests wait behind it.
    Waiting(Wait),
    /// Streaming events to an attached dashboard; what it sends is ignored.
    Streaming(Box<Subscription>),
}

/// One client of the control socket.
pub struct Conn {
    stream: Stream,
    phase: Phase,
    /// Bytes read and not yet decoded (whole frames and the start of one).
    input: Vec<u8>,
    output: Output,
    opened: Instant,
    /// When the first byte of the frame now arriving came; none between frames.
    partial_since: Option<Instant>,
    /// Orders to give once the reply before them is written.
    orders: Vec<Command>,
    /// The client closed its end (or the socket failed).
    read_closed: bool,
    /// Since when the connection has been closing: it ends once its output
    /// is written (after an error, or at the end of a stream).
    closing: Option<Instant>,
    /// A `pooltop logs` request taken: the connection leaves the loop.
    logs: Option<(Option<u64>, bool)>,
}

/// Bytes to write, and how far the socket has taken them.
#[derive(Default)]
struct Output {
    buf: Vec<u8>,
    at: usize,
    /// Since when written bytes have waited for the client to read them.
    stalled_since: Option<Instant>,
}

impl Output {
    fn pending(&self) -> usize {
        self.buf.len() - self.at
    }

    /// Writes what the socket takes. An error means the client is gone.
    fn write_to(&mut self, stream: &Stream) -> io::Result<()> {
        while self.at < self.buf.len() {
            match (&mut &*stream).write(&self.buf[self.at..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.at += n;
                    self.stalled_since = None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stalled_since.get_or_insert_with(Instant::now);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        } else if self.at > STREAM_BUFFER {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        Ok(())
    }

    fn push(&mut self, reply: &Reply) {
        if let Err(e) = frame::encode_into(reply, &mut self.buf) {
            let message = format!("cannot send the answer: {e}");
            // A one-line error always fits in a frame.
            let _ = frame::encode_into(&Reply::Error { message }, &mut self.buf);
        }
    }
}

impl Conn {
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            phase: Phase::Hello,
            input: Vec::new(),
            output: Output::default(),
            opened: Instant::now(),
            partial_since: None,
            orders: Vec::new(),
            read_closed: false,
            closing: None,
            logs: None,
        }
    }

    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The connection's socket, for a thread that takes it over.
    pub fn into_stream(self) -> Stream {
        self.stream
    }

    /// Whether the client has yet to say hello.
    pub fn greeting(&self) -> bool {
        matches!(self.phase, Phase::Hello)
    }

    /// Whether the connection waits on the pool's picture (a wait or an
    /// event stream), so must be served again when it changes.
    pub fn watching(&self) -> bool {
        matches!(self.phase, Phase::Waiting(_) | Phase::Streaming(_))
    }

    /// Whether it streams events to an attached dashboard.
    pub fn streaming(&self) -> bool {
        matches!(self.phase, Phase::Streaming(_))
    }

    /// When the connection is to be dropped if nothing happens: its hello,
    /// a frame begun, or a reply left unread are [`READ_DEADLINE`] late, or
    /// its last words are not taken in that time. An attached dashboard has
    /// none (its backlog bounds it), nor has a greeted client between requests.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(since) = self.closing {
            return Some(since + READ_DEADLINE);
        }
        let since = match self.phase {
            Phase::Streaming(_) => None,
            Phase::Hello => Some(self.opened),
            Phase::Ready | Phase::Waiting(_) => {
                match (self.partial_since, self.output.stalled_since) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        };
        since.map(|s| s + READ_DEADLINE)
    }

    /// Tells a client dropped at its deadline why, if the socket takes it.
    pub fn expire(&mut self) {
        if self.closing.is_some() || self.output.pending() > 0 {
            return; // it does not read what it was sent already
        }
        let why = match self.phase {
            Phase::Hello => "no hello",
            _ => "part of a request and nothing more",
        };
        let message = format!("dropped: {why} within {}s", READ_DEADLINE.as_secs_f64());
        self.output.push(&Reply::Error { message });
        let _ = self.output.write_to(&self.stream);
    }

    /// Gives the orders whose reply was written (or can no longer be): the
    /// loop calls it before it drops the connection.
    pub fn give_orders(&mut self, answers: &Answers) {
        for cmd in self.orders.drain(..) {
            answers.pool.send(cmd);
        }
    }

    /// Does what there is to do now, up to [`STEPS_PER_TURN`] steps: reads
    /// what the client sent, answers, writes.
    pub fn serve(&mut self, answers: &Answers) -> Served {
        self.read();
        for _ in 0..STEPS_PER_TURN {
            if self.output.write_to(&self.stream).is_err() {
                return Served::Closed;
            }
            if self.output.pending() > 0 {
                return Served::Open; // the socket is full: served again once writable
            }
            self.give_orders(answers);
            if self.closing.is_some() {
                return Served::Closed;
            }
            let stepped = self.step(answers);
            if let Some((task, follow)) = self.logs.take() {
                // What came before (a welcome) is written first.
                if self.output.write_to(&self.stream).is_err() || self.output.pending() > 0 {
                    return Served::Closed;
                }
                return Served::Logs { task, follow };
            }
            if !stepped {
                // Nothing more to do now. A client that closed its end is
                // dropped once its last request is answered.
                return if self.read_closed {
                    Served::Closed
                } else {
                    Served::Open
                };
            }
            self.read();
        }
        Served::Again
    }

    /// Reads what the socket holds, up to the end of the first whole frame
    /// (the rest waits until that one is answered). A dashboard's bytes are
    /// read and dropped, only to see it leave.
    fn read(&mut self) {
        let mut dropped = [0u8; 4096];
        while !self.read_closed && !self.whole_frame() {
            let len = self.input.len();
            let got = if self.streaming() {
                (&mut &self.stream).read(&mut dropped).map(|n| (n, 0))
            } else {
                self.input.resize(len + READ_CHUNK, 0);
                let got = (&mut &self.stream).read(&mut self.input[len..]);
                self.input.truncate(len + got.as_ref().map_or(0, |&n| n));
                got.map(|n| (n, n))
            };
            match got {
                Ok((0, _)) => self.read_closed = true,
                Ok((_, kept)) => {
                    if len == 0 && kept > 0 {
                        self.partial_since = Some(Instant::now());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => self.read_closed = true,
            }
        }
    }

    /// Whether `input` starts with a whole frame (or a header already past
    /// the cap, which is answered at once).
    fn whole_frame(&self) -> bool {
        if self.streaming() {
            return false;
        }
        let Some(header) = self.input.first_chunk::<4>() else {
            return false;
        };
        let len = u32::from_le_bytes(*header) as usize;
        len > self.frame_cap() || self.input.len() >= 4 + len
    }

    fn frame_cap(&self) -> usize {
        match self.phase {
            Phase::Hello => HELLO_FRAME_CAP,
            _ => MAX_FRAME as usize,
        }
    }

    /// One step of the conversation; returns whether it made any.
    fn step(&mut self, answers: &Answers) -> bool {
        match &mut self.phase {
            Phase::Streaming(s) => {
                let more = refill(s, &mut self.output);
                if more.ended {
                    self.closing = Some(Instant::now());
                }
                more.wrote
            }
            Phase::Waiting(w) => match answers.waited(w) {
                Some(reply) => {
                    self.output.push(&reply);
                    self.phase = Phase::Ready;
                    true
                }
                // Asked again when the pool's picture changes (and a
                // client that leaves meanwhile is not waited for).
                None => false,
            },
            Phase::Hello | Phase::Ready => self.next_request(answers),
        }
    }

    /// Answers the frame at the front of `input`, if it is whole.
    fn next_request(&mut self, answers: &Answers) -> bool {
        if !self.whole_frame() {
            if self.input.is_empty() {
                self.partial_since = None;
            }
            return false;
        }
        let len = self
            .input
            .first_chunk::<4>()
            .map_or(0, |h| u32::from_le_bytes(*h));
        let taken = if len as usize > self.frame_cap() {
            Err(frame::FrameError::TooLarge(len))
        } else {
            frame::take_frame::<Request>(&self.input)
        };
        let req = match taken {
            Ok(Some((req, used))) => {
                self.input.drain(..used);
                if self.input.capacity() > 4 * READ_CHUNK && self.input.len() < READ_CHUNK {
                    self.input.shrink_to(READ_CHUNK); // a big submission is over
                }
                self.partial_since = (!self.input.is_empty()).then(Instant::now);
                req
            }
            Ok(None) => return false,
            Err(e) => {
                let message = format!("bad request: {e}");
                self.output.push(&Reply::Error { message });
                self.closing = Some(Instant::now());
                return true;
            }
        };
        match answers.answer(!self.greeting(), req) {
            Answer::Reply(reply, orders) => {
                self.output.push(&reply);
                self.orders = orders;
            }
            Answer::Welcome(reply) => {
                self.output.push(&reply);
                self.phase = Phase::Ready;
            }
            Answer::Wait(wait) => self.phase = Phase::Waiting(wait),
            Answer::Logs { task, follow } => {
                self.logs = Some((task, follow));
                return true;
            }
            Answer::Subscribe => {
                let s = answers.subscribe();
                self.output.push(&s.hello);
                self.input.clear();
                self.partial_since = None;
                self.phase = Phase::Streaming(Box::new(s));
            }
        }
        true
    }
}

/// What a refill of a dashboard's output did.
struct Refill {
    wrote: bool,
    /// The stream is over: the pool stopped, or the dashboard fell too far
    /// behind (it is told so).
    ended: bool,
}

/// Moves a dashboard's next events into its output, up to [`STREAM_BUFFER`].
fn refill(s: &mut Subscription, out: &mut Output) -> Refill {
    let before = out.buf.len();
    let mut ended = false;
    while out.pending() < STREAM_BUFFER {
        let ev = match s.replay.next() {
            Some(ev) => ev,
            None => match s.events.try_recv() {
                Ok(ev) => ev,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    // The view drops a stream whose channel is full.
                    let message = format!(
                        "this dashboard fell {SUBSCRIBER_BACKLOG} events behind the pool and was dropped; attach again"
                    );
                    out.push(&Reply::Error { message });
                    ended = true;
                    break;
                }
            },
        };
        let last = matches!(ev, PoolEvent::Stopped(_));
        out.push(&Reply::Event(ev));
        if last {
            ended = true;
            break;
        }
    }
    Refill {
        wrote: out.buf.len() != before,
        ended,
    }
}
