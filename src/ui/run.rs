//! The one loop: one channel fed by the input thread, the pool-event
//! forwarder (which brings the engine's samples too) and the signal thread; a dirty flag; separate tick
//! and frame clocks. The only code here that touches the terminal is
//! [`super::run`]'s set-up and tear-down and the `draw` call.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::Event;

use crate::engine::{Command, PoolEvent, PoolHandle};
use crate::headless::Tally;

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
    let Wiring { pool, rx, tally } = w;
    let mut last_draw = Instant::now() - FRAME_GAP;
    let mut next_tick = Instant::now() + TICK;
    let mut kill_deadline: Option<Instant> = None;
    let apply = |app: &mut App, eff: Option<Effect>| {
        let sent = match eff {
            None => true,
            Some(Effect::Send(cmd)) => pool.send(cmd),
            Some(Effect::Submit(task)) => {
                let line = task.line.clone();
                let id = pool.submit(task);
                app.submitted(id, [line]);
                true
            }
        };
        if !sent {
            app.update(Msg::PoolGone);
        }
    };
    loop {
        if app.should_exit() {
            break;
        }
        let now = Instant::now();
        if app.quitting == Quitting::Killing {
            let d = *kill_deadline.get_or_insert(now + KILL_GRACE);
            if now >= d {
                break;
            }
        }
        let wake = if app.is_dirty() {
            next_tick.min(last_draw + FRAME_GAP)
        } else {
            next_tick
        };
        let first = match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut handled = 0;
        let mut next = first;
        while let Some(m) = next {
            app.set_now(Instant::now());
            let msg = match m {
                Incoming::Term(ev) => app.keys.lookup(app.mode, &ev),
                // The engine's samples go to the app as samples.
                Incoming::Pool(PoolEvent::Sample(s)) => Some(Msg::Sample(*s)),
                Incoming::Pool(ev) => {
                    tally.observe(&ev);
                    Some(Msg::Pool(ev))
                }
                Incoming::PoolGone => Some(Msg::PoolGone),
                Incoming::Signal(sig) => Some(Msg::Signal(if sig == libc::SIGHUP {
                    Signal::Hangup
                } else {
                    Signal::Terminate
                })),
            };
            if let Some(msg) = msg {
                let eff = app.update(msg);
                apply(app, eff);
            }
            handled += 1;
            next = if handled < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let now = Instant::now();
        app.set_now(now);
        if now >= next_tick {
            app.update(Msg::Tick);
            next_tick = now + TICK;
        }
        if app.is_dirty() && now >= last_draw + FRAME_GAP && !app.hung_up {
            app.take_dirty();
            last_draw = now;
            if terminal.draw(|f| f.render_widget(&*app, f.area())).is_err() {
                // The terminal is gone (hung up, closed): nobody watches.
                app.hung_up = true;
                if app.quitting != Quitting::Killing {
                    app.quitting = Quitting::Killing;
                    apply(app, Some(Effect::Send(Command::KillAll)));
                }
            }
        }
    }
}
