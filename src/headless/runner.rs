//! The one loop of the headless runner, shared by task-file runs and
//! command batches: read the pool's events, count them, write them to the
//! JSON stream, keep the progress line, and let the mode act on each one.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::report::Tally;
use crate::report::json::JsonLines;
use crate::report::record::Recorder;
use crate::report::signals::SignalWatch;
use pooltop::engine::{Command, EventStream, PoolEvent, PoolHandle};

/// What the mode may use while it acts on an event.
pub(super) struct Out {
    pub pool: PoolHandle,
    pub json: JsonLines,
    /// The run's recording, fed the same events.
    pub record: Option<Recorder>,
    pub progress: Progress,
}

impl Out {
    /// Whether a recording asked for with `--record PATH` was not written
    /// whole (a default one lost is said on stderr, and that is all).
    pub fn record_lost(&self) -> bool {
        self.record
            .as_ref()
            .is_some_and(|r| r.asked && r.lost().is_some())
    }
}

/// What differs between a task-file run and a command batch.
pub(super) trait Mode {
    /// The mode's turn after the event was counted and written.
    fn after(&mut self, ev: &PoolEvent, out: &mut Out);
    /// The event stream went quiet: time to flush what the mode buffers.
    fn idle(&mut self) {}
    /// Whether a pool error goes to stderr (when nothing else shows it).
    fn prints_errors(&self, out: &Out) -> bool;
}

/// The progress line on stderr: redrawn in place on a terminal, or written
/// as one line now and then into a log.
pub(super) struct Progress {
    on: bool,
    live: bool,
    every: Duration,
    last: Instant,
}

impl Progress {
    /// A task-file run's: live on a terminal, none elsewhere (nor when
    /// `quiet`).
    pub fn when_terminal(quiet: bool) -> Progress {
        let live = !quiet && io::stderr().is_terminal();
        Progress {
            on: live,
            live,
            every: Duration::from_millis(100),
            last: Instant::now() - Duration::from_secs(1),
        }
    }

    /// A batch's (`--eta`): live on a terminal, a line a second in a log.
    /// A live line shows at once; lines in a log start after a second.
    pub fn asked(on: bool) -> Progress {
        let live = on && io::stderr().is_terminal();
        let now = Instant::now();
        Progress {
            on,
            live,
            every: if live {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            },
            last: if live {
                now - Duration::from_secs(1)
            } else {
                now
            },
        }
    }

    /// Whether the progress line is redrawn in place (so other lines must
    /// clear it first).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Clears the live line so another line can be written on stderr.
    pub fn clear(&self) {
        if self.live {
            say_inline("\r\x1b[K");
        }
    }

    /// Clears the live line and draws it again at the next chance.
    pub fn clear_and_redraw(&mut self) {
        if self.live {
            self.clear();
            self.last = Instant::now() - Duration::from_secs(1);
        }
    }

    fn tick(&mut self, tally: &Tally) {
        if !self.on || self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        if self.live {
            say_inline(&format!("\r\x1b[K{}", tally.progress_line()));
        } else {
            pooltop::say!("{}", tally.progress_line());
        }
    }
}

/// Reads the pool's events until it has stopped (or is gone); returns the
/// tally and the output, for the mode's closing words.
pub(super) fn run(
    mut events: EventStream,
    mut out: Out,
    mode: &mut dyn Mode,
    workers: usize,
) -> (Tally, Out) {
    let mut tally = Tally::new(workers);
    loop {
        // Take the events already waiting without flushing in between;
        // flush the JSON lines when the stream goes quiet, so a reader
        // (`tail -f`, a script) sees every event promptly without a write
        // per event.
        let ev = match events.try_recv() {
            Ok(ev) => ev,
            Err(_) => {
                out.json.flush();
                mode.idle();
                if let Some(r) = out.record.as_mut() {
                    r.flush();
                }
                match events.recv() {
                    Ok(ev) => ev,
                    Err(_) => break,
                }
            }
        };
        tally.observe(&ev);
        out.json.event(&ev);
        if let Some(r) = out.record.as_mut() {
            r.event(&ev);
        }
        mode.after(&ev, &mut out);
        match ev {
            PoolEvent::Error { ref message, .. } if mode.prints_errors(&out) => {
                pooltop::say!("pooltop: {message}");
            }
            // Said in every mode: the run's times include the stall.
            PoolEvent::Stalled { for_ } => {
                out.progress.clear();
                pooltop::say!("pooltop: manager stalled {:.1} s", for_.as_secs_f64());
            }
            PoolEvent::Stopped(_) => break,
            _ => {}
        }
        out.progress.tick(&tally);
    }
    out.progress.clear();
    out.json.finish(&tally);
    if let Some(r) = out.record.as_mut() {
        r.finish();
    }
    (tally, out)
}

/// Turns SIGINT, SIGTERM and SIGHUP into a graceful shutdown; a second one
/// kills the workers at once. With `int_kills`, a first SIGINT kills the
/// workers at once too.
pub(super) fn watch_signals(pool: PoolHandle, int_kills: bool) -> SignalWatch {
    let watch = SignalWatch::start(move |sig, n| {
        if n == 0 && !(int_kills && sig == libc::SIGINT) {
            pool.send(Command::Shutdown);
        } else {
            pool.send(Command::KillAll);
        }
        true
    });
    // Without a watcher the signals keep their default action.
    watch.unwrap_or_else(|_| SignalWatch::none())
}

/// Writes to stderr without a newline (the live progress line); a closed
/// stderr is not an error.
fn say_inline(text: &str) {
    let mut err = io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}
