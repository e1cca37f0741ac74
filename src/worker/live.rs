//! Live output: a running `shell` or template task's stdout and stderr go
//! to the manager as they arrive, in [`FromWorker::Output`] frames, so the
//! dashboard and `pooltop logs -f` can show them before the task ends.
//!
//! Rate-limited: at most one frame per stream every [`LIVE_EVERY`], holding
//! what arrives in between; and bounded: what is held is the tail within the
//! output cap (older bytes are dropped, as the final report's tail drops
//! them). Text only: bytes that are not UTF-8 are shown as U+FFFD, and a
//! character split between two reads is held until it is whole. The final
//! report is unchanged: it still carries the task's own tails.
//!
//! The state is the worker thread's own (the worker runs one task at a
//! time, on one thread), so `capture` can feed it without a handle passed
//! down through every task kind.

use std::cell::RefCell;
use std::fs::File;
use std::time::{Duration, Instant};

use crate::protocol::FromWorker;
use crate::protocol::frame;

/// The shortest time between two output frames of one stream.
pub const LIVE_EVERY: Duration = Duration::from_millis(100);

struct Live {
    /// A second handle on the worker's socket, for output frames.
    out: File,
    cap: usize,
    /// The task whose output is followed, while one runs.
    task: Option<u64>,
    /// Bytes not yet sent, per stream (stdout, stderr).
    held: [Vec<u8>; 2],
    /// When a frame was last sent, per stream.
    sent: [Option<Instant>; 2],
    /// A write failed: the manager is gone; the worker finds out on its socket.
    broken: bool,
}

thread_local! {
    static LIVE: RefCell<Option<Live>> = const { RefCell::new(None) };
}

/// Sends live output on `out` from now on, keeping at most `cap` bytes per stream.
pub(super) fn install(out: File, cap: usize) {
    LIVE.with(|l| {
        *l.borrow_mut() = Some(Live {
            out,
            cap,
            task: None,
            held: [Vec::new(), Vec::new()],
            sent: [None; 2],
            broken: false,
        })
    });
}

/// Output from now on is task `task`'s.
pub(super) fn begin(task: u64) {
    with(|l| {
        l.task = Some(task);
        l.sent = [None; 2];
    });
}

/// The task ended: what is held is sent (before its report), then nothing more.
pub(super) fn end() {
    with(|l| {
        l.flush(true, Instant::now());
        l.task = None;
        l.held = [Vec::new(), Vec::new()];
    });
}

/// The next bytes of stream `stream` (0 stdout, 1 stderr) of the running task.
pub(super) fn push(stream: usize, bytes: &[u8]) {
    with(|l| {
        if l.task.is_none() || l.broken {
            return;
        }
        let held = &mut l.held[stream];
        held.extend_from_slice(bytes);
        if held.len() > l.cap {
            let cut = held.len() - l.cap;
            held.drain(..cut);
        }
        l.flush(false, Instant::now());
    });
}

/// How long the reader may wait for more output before held bytes are
/// due (none: nothing is held).
pub(super) fn due_in() -> Option<Duration> {
    LIVE.with(|l| {
        let l = l.borrow();
        let l = l.as_ref()?;
        let now = Instant::now();
        (0..2)
            .filter(|&i| !l.held[i].is_empty())
            .map(|i| {
                l.sent[i].map_or(Duration::ZERO, |t| {
                    (t + LIVE_EVERY).saturating_duration_since(now)
                })
            })
            .min()
    })
}

/// Sends what is due (called when a wait for output timed out).
pub(super) fn tick() {
    with(|l| l.flush(false, Instant::now()));
}

fn with(f: impl FnOnce(&mut Live)) {
    LIVE.with(|l| {
        if let Some(live) = l.borrow_mut().as_mut() {
            f(live);
        }
    });
}

impl Live {
    /// Sends each stream's held bytes if its last frame is old enough (or `all`).
    fn flush(&mut self, all: bool, now: Instant) {
        let Some(task) = self.task else { return };
        for i in 0..2 {
            let due = self.sent[i].is_none_or(|t| now.duration_since(t) >= LIVE_EVERY);
            if self.held[i].is_empty() || !(all || due) || self.broken {
                continue;
            }
            let keep = if all {
                0
            } else {
                incomplete_tail(&self.held[i])
            };
            let upto = self.held[i].len() - keep;
            if upto == 0 {
                continue;
            }
            let text = String::from_utf8_lossy(&self.held[i][..upto]).into_owned();
            self.held[i].drain(..upto);
            let msg = FromWorker::Output {
                task,
                stderr: i == 1,
                text,
            };
            if frame::write_frame(&mut self.out, &msg).is_err() {
                self.broken = true;
            }
            self.sent[i] = Some(now);
        }
    }
}

/// How many bytes at the end of `bytes` are the start of a UTF-8 character
/// not yet whole (0 to 3).
fn incomplete_tail(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_cut_in_two_waits_for_its_second_half() {
        let e = "é".as_bytes();
        assert_eq!(incomplete_tail(&[b'a', e[0]]), 1);
        assert_eq!(incomplete_tail("aé".as_bytes()), 0);
        assert_eq!(incomplete_tail(&[b'a', 0xff]), 0, "invalid, not incomplete");
    }

    #[test]
    fn output_goes_out_in_frames_within_the_cap_and_the_rest_at_the_end() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let out = File::from(std::os::fd::OwnedFd::from(a));
        install(out, 8);
        push(0, b"lost before any task\n");
        begin(7);
        push(0, b"0123456789\n"); // over the cap: the tail is kept
        push(1, b"err");
        push(0, b"more"); // within LIVE_EVERY: held
        end();
        let mut r = std::io::BufReader::new(b);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for _ in 0..3 {
            match frame::read_frame::<FromWorker>(&mut r, &mut buf).unwrap() {
                FromWorker::Output { task, stderr, text } => got.push((task, stderr, text)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            got,
            [
                (7, false, "3456789\n".to_string()),
                (7, true, "err".to_string()),
                (7, false, "more".to_string()),
            ]
        );
    }
}
