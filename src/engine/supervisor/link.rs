//! A worker's connection, byte by byte: collecting frames from a
//! non-blocking socket and writing queued frames without ever blocking the
//! supervisor. Its life is its own, beside the worker's phase: a worker's
//! last frames still arrive after it was killed or reaped (a result that
//! raced with a kill counts), so its socket is read until it closes.

use std::io::{self, Read, Write};

use crate::ipc::Stream;
use crate::protocol::FromWorker;
use crate::protocol::frame::{self, FrameError};

/// How reading a worker's socket went.
pub enum ReadOutcome {
    /// Everything available was read; the connection is open.
    Open,
    /// The worker closed the connection (or reset it).
    Closed,
    /// The worker sent something that is not a valid frame.
    Broken(String),
}

/// Where a worker's connection is.
pub enum Link {
    /// Its handshake has not arrived (and never will, once it is gone).
    Awaiting,
    /// Open, after the handshake.
    Open(Conn),
    /// It has ended; nothing more can arrive.
    Closed,
}

impl Link {
    /// Open: frames can be sent and may arrive.
    pub fn is_open(&self) -> bool {
        matches!(self, Link::Open(_))
    }
}

/// An open connection and its buffers.
pub struct Conn {
    /// The socket, non-blocking, watched by the supervisor's poll.
    pub stream: Stream,
    /// Bytes read but not yet a whole frame.
    inbox: Vec<u8>,
    /// Frames waiting to be written.
    outbox: Vec<u8>,
    /// Whether the socket is also watched for writability (outbox not empty).
    pub wants_write: bool,
}

impl Conn {
    /// A connection just past its handshake, with empty buffers.
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            inbox: Vec::new(),
            outbox: Vec::new(),
            wants_write: false,
        }
    }

    /// Appends a frame to the outbox; it is written at the end of the round.
    /// Fails only for a message over the 16 MiB frame cap, which is then
    /// not queued.
    pub fn queue_frame(&mut self, msg: &impl serde::Serialize) -> io::Result<()> {
        frame::encode_into(msg, &mut self.outbox)
    }

    /// Frames are waiting to be written.
    pub fn has_output(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Reads everything the socket has (it is non-blocking and edge-
    /// triggered, so until it would block) and passes each whole frame on.
    pub fn read_frames(&mut self, on_frame: &mut impl FnMut(FromWorker)) -> ReadOutcome {
        let mut chunk = [0u8; 16 * 1024];
        let mut ended = false;
        loop {
            match (&mut &self.stream).read(&mut chunk) {
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
        let mut written = 0;
        while written < self.outbox.len() {
            match (&mut &self.stream).write(&self.outbox[written..]) {
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
