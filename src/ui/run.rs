//! The one loop: one channel fed by the input thread, the pool-event
//! forwarder (which brings the engine's samples too) and the signal thread;
//! a dirty flag; separate tick//! and frame clocks. The only code here that touches the terminal is
//! [`super::run`]'s set-up and tear-down and the `draw` call.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::Event;

use crate::report::Tally;
use pooltop::engine::{Command, PoolEvent, PoolHandle};

use super::app::{App, Effect, Quitting};
use super::msg::{Msg, Signal};

/// At most this many frames a second.
pub const FRAME_GAP: Duration = Duration::from_millis(33);
/// Clocks on screen (ages, countdowns, rates) advance this often.
pub const TICK: Duration = Duration::from_millis(250);
/// Once every worker is ordered killed, wait this long at most for the pool's
/// last word before leaving anyway.
pub const KILL_GRACE: Duration = Duration::from_secs(10);
/// Messages handled between two looks at the clocks (keeps frames coming
/// while a million events pour in).
const BATCH: usize = 4096;

/// Everything that reaches the loop, from any thread.
#[derive(Debug)]
pub enum Incoming {
    /// A terminal event (key, mouse, resize).
    Term(Event),
    /// A pool event.
    Pool(PoolEvent),
    /// The pool's event stream ended.
    PoolGone,
    /// A Unix signal number (SIGTERM, SIGINT, SIGHUP).
    Signal(i32),
}

/// Best-effort send: the loop may be gone at shutdown, which is fine.
pub fn forward(tx: &Sender<Incoming>, m: Incoming) -> bool {
    tx.send(m).is_ok()
}

/// What the loop needs besides the app.
pub struct Wiring<'a> {
    pub pool: &'a PoolHandle,
    pub rx: &'a Receiver<Incoming>,
    pub tally: &'a mut Tally,
}

/// Runs the app until the pool has stopped (or is gone). Draw errors mean the
/// terminal is gone: the workers are killed and drawing stops.
pub fn drive<B: Backend>(terminal: &mut Terminal<B>, app: &mut App, w: Wiring<'_>) {
    drive_on(terminal, app, w, &Instant::now);
}

/// [`drive`] on the clock `clock` (a test stops it, so that every time and
/// rate on screen is fixed).
fn drive_on<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    w: Wiring<'_>,
    clock: &dyn Fn() -> Instant,
) {
    let rx = w.rx;
    let mut lp = Loop::new(w, clock);
    loop {
        if app.should_exit() || lp.kill_grace_over(app) {
            break;
        }
        let wait = lp.wake(app).saturating_duration_since(clock());
        let first = match rx.recv_timeout(wait) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        lp.handle_batch(app, rx, first);
        let now = clock();
        app.set_now(now);
        if now >= lp.next_tick {
            app.update(Msg::Tick);
            lp.next_tick = now + TICK;
        }
        if app.is_dirty() && now >= lp.last_draw + FRAME_GAP && !app.hung_up {
            app.take_dirty();
            lp.last_draw = now;
            lp.draw(terminal, app);
        }
    }
}

/// The loop's own state, besides the app: where orders go, the tally of
/// pool events, and the clocks.
struct Loop<'a> {
    pool: &'a PoolHandle,
    tally: &'a mut Tally,
    clock: &'a dyn Fn() -> Instant,
    last_draw: Instant,
    next_tick: Instant,
    /// Set once every worker is ordered killed: the loop leaves by then.
    kill_deadline: Option<Instant>,
}

impl<'a> Loop<'a> {
    fn new(w: Wiring<'a>, clock: &'a dyn Fn() -> Instant) -> Loop<'a> {
        let now = clock();
        Loop {
            pool: w.pool,
            tally: w.tally,
            clock,
            last_draw: now - FRAME_GAP,
            next_tick: now + TICK,
            kill_deadline: None,
        }
    }

    /// Whether the workers were ordered killed more than [`KILL_GRACE`] ago
    /// (the clock starts at the first look after the order).
    fn kill_grace_over(&mut self, app: &App) -> bool {
        if app.quitting != Quitting::Killing {
            return false;
        }
        let now = (self.clock)();
        now >= *self.kill_deadline.get_or_insert(now + KILL_GRACE)
    }

    /// When the loop must look up from the channel: the next tick, or the
    /// next frame when there is something to draw.
    fn wake(&self, app: &App) -> Instant {
        if app.is_dirty() {
            self.next_tick.min(self.last_draw + FRAME_GAP)
        } else {
            self.next_tick
        }
    }

    /// Handles `first` and whatever else is waiting, up to [`BATCH`] messages.
    fn handle_batch(&mut self, app: &mut App, rx: &Receiver<Incoming>, first: Option<Incoming>) {
        let mut handled = 0;
        let mut next = first;
        while let Some(m) = next {
            app.set_now((self.clock)());
            if let Some(msg) = self.message_for(app, m) {
                let eff = app.update(msg);
                self.apply(app, eff);
            }
            handled += 1;
            next = if handled < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
    }

    /// What an incoming message means to the app (nothing, for a key that
    /// is bound to nothing). Pool events are tallied; the engine's samples
    /// go to the app as samples.
    fn message_for(&mut self, app: &App, m: Incoming) -> Option<Msg> {
        match m {
            Incoming::Term(ev) => app.keys.lookup(app.mode, &ev),
            Incoming::Pool(PoolEvent::Sample(s)) => Some(Msg::Sample(*s)),
            Incoming::Pool(ev) => {
                self.tally.observe(&ev);
                Some(Msg::Pool(ev))
            }
            Incoming::PoolGone => Some(Msg::PoolGone),
            Incoming::Signal(sig) => Some(Msg::Signal(if sig == libc::SIGHUP {
                Signal::Hangup
            } else {
                Signal::Terminate
            })),
        }
    }

    /// Carries out the app's effect; a pool that no longer takes orders is
    /// gone, and the app hears so.
    fn apply(&self, app: &mut App, eff: Option<Effect>) {
        let sent = match eff {
            None => true,
            Some(Effect::Send(cmd)) => self.pool.send(cmd),
            Some(Effect::Submit(task)) => {
                let line = task.line.clone();
                let id = self.pool.submit(task);
                app.submitted(id, [line]);
                true
            }
        };
        if !sent {
            app.update(Msg::PoolGone);
        }
    }

    /// Draws a frame. A draw error means the terminal is gone (hung up,
    /// closed): nobody watches, so the workers are killed.
    fn draw<B: Backend>(&self, terminal: &mut Terminal<B>, app: &mut App) {
        if terminal.draw(|f| f.render_widget(&*app, f.area())).is_ok() {
            return;
        }
        app.hung_up = true;
        if app.quitting != Quitting::Killing {
            app.quitting = Quitting::Killing;
            self.apply(app, Some(Effect::Send(Command::KillAll)));
        }
    }
}

#[cfg(test)]
mod tests;
