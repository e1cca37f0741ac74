//! `pooltop replay`: the dashboard on a recorded run. The recording's lines
//! are read back into pool events ([`crate::report::replay_read`]) and fed
//! through the same [`App::update`] the live dashboard uses, each at its
//! recorded time, so every pane shows the run as it was at that moment.
//!
//! The file is streamed: lines are read only as playback reaches them.
//! Seeking forward reads on; seeking back rebuilds the app from the start of
//! the file (no checkpoints: a rebuild reads about 200,000 lines a second,
//! and a checkpoint would be a copy of every task's row).

use std::io::{self, BufRead};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;

use crate::report::replay_read::{Next, Reader, Replayed};
use pooltop::engine::events::PoolEvent;

use super::app::playback::{Playback, Seek};
use super::app::{App, AppConfig};
use super::msg::Msg;
use super::run::{FRAME_GAP, Incoming, TICK};

/// Lines fed between two frames while seeking, so the screen shows progress.
const SEEK_BATCH: usize = 50_000;

/// Opens the recording afresh (a seek back reads it again from the start).
pub type Open<R> = Box<dyn FnMut() -> io::Result<Reader<R>>>;

/// A recording being played into an app.
pub struct Session<R> {
    open: Open<R>,
    reader: Reader<R>,
    /// The next line, read but not yet due.
    ahead: Option<Replayed>,
    /// The recorded time of the last line fed.
    last_t: Duration,
    /// The file has no more whole lines (for now, when following).
    drained: bool,
}

impl<R: BufRead> Session<R> {
    /// Opens the recording with `open`.
    pub fn new(mut open: Open<R>) -> io::Result<Session<R>> {
        let reader = open()?;
        Ok(Session {
            open,
            reader,
            ahead: None,
            last_t: Duration::ZERO,
            drained: false,
        })
    }

    /// The header's title and pool size, reading up to the first event.
    pub fn config(&mut self) -> AppConfig {
        if self.ahead.is_none()
            && let Next::Line(l) = self.reader.next_line()
        {
            self.ahead = Some(l);
        }
        let mut cfg = AppConfig::default();
        if let Some(h) = self.reader.header() {
            cfg.title = format!("replay of {}", h.title);
            cfg.workers = h.workers;
        }
        cfg
    }

    /// Feeds `app` every line recorded up to `to`, at most `budget` lines.
    /// True when it got there (or to the end of what is recorded).
    pub fn feed_until(&mut self, app: &mut App, to: Duration, budget: usize) -> bool {
        for _ in 0..budget {
            let line = match self.ahead.take() {
                Some(l) => l,
                None => match self.reader.next_line() {
                    Next::Line(l) => l,
                    Next::Pending | Next::End => {
                        self.drained = true;
                        self.at_end(app);
                        return true;
                    }
                    Next::Stopped(why) => {
                        self.drained = true;
                        self.stopped(app, why);
                        return true;
                    }
                },
            };
            self.drained = false;
            if line.t > to {
                self.ahead = Some(line);
                return true;
            }
            self.last_t = self.last_t.max(line.t);
            feed(app, line);
        }
        false
    }

    fn at_end(&self, app: &mut App) {
        if let Some(p) = app.replay.as_mut() {
            p.at_end = true;
        }
    }

    fn stopped(&self, app: &mut App, why: String) {
        let first = app.replay.as_ref().is_some_and(|p| p.stopped.is_none());
        if let Some(p) = app.replay.as_mut() {
            p.stopped = Some(why.clone());
        }
        if first {
            app.log.push(
                app.now,
                super::status::Level::Error,
                format!("replay stopped: {why}"),
            );
        }
    }

    /// Lines read whole so far.
    pub fn lines_read(&self) -> u64 {
        self.reader.lines_read()
    }

    /// Feeds everything recorded (a seek to the end), with no budget.
    pub fn play_to_end(&mut self, app: &mut App) {
        while !self.feed_until(app, Duration::MAX, usize::MAX) {}
        let end = self.last_t;
        set_clock(app, end);
    }

    /// Starts again from the file's first line with a fresh app that keeps
    /// the user's view (keys, size, timeline, playback).
    pub fn rebuild(&mut self, app: &mut App) -> io::Result<()> {
        self.reader = (self.open)()?;
        self.ahead = None;
        self.last_t = Duration::ZERO;
        self.drained = false;
        let mut fresh = App::new(app.cfg.clone(), app.theme, app.start);
        fresh.keys = app.keys.clone();
        fresh.size = app.size;
        fresh.focus = app.focus;
        fresh.timeline.shown = app.timeline.shown;
        fresh.timeline.per_cell = app.timeline.per_cell;
        fresh.replay = app.replay.clone().map(|p| Playback {
            at_end: false,
            stopped: None,
            ..p
        });
        *app = fresh;
        Ok(())
    }
}

/// Opens the dashboard on `session` until the user quits. The terminal is
/// restored on every way out, as the live dashboard's is.
pub fn run<R: BufRead>(
    mut session: Session<R>,
    playback: Playback,
    opts: super::Options,
) -> Result<(), pooltop::error::Error> {
    use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
    use ratatui::crossterm::execute;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let mut cfg = session.config();
    if cfg.title == AppConfig::default().title {
        cfg.title = format!("replay of {}", playback.file);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let fwd = tx.clone();
    let signals = crate::report::signals::SignalWatch::start(move |sig, _| {
        super::run::forward(&fwd, Incoming::Signal(sig))
    })?;
    let mut terminal = ratatui::try_init()?;
    let _ = execute!(io::stdout(), EnableMouseCapture);
    let stop_input = Arc::new(AtomicBool::new(false));
    let input = super::forward_input(tx, stop_input.clone());
    let mut app = App::new(cfg, opts.theme, Instant::now());
    app.keys = opts.keys;
    app.replay = Some(playback);
    if let Ok(size) = terminal.size() {
        app.update(Msg::Resize {
            width: size.width,
            height: size.height,
        });
    }
    play(&mut terminal, &mut app, &mut session, &rx, &Instant::now);
    stop_input.store(true, Ordering::Relaxed);
    drop(input);
    let _ = execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    signals.close();
    if let Some(why) = app.replay.and_then(|p| p.stopped) {
        pooltop::say!("pooltop: replay stopped at {why}");
    }
    Ok(())
}

/// Feeds one recorded line to the app at its time, as the live loop would
/// (samples as samples).
fn feed(app: &mut App, line: Replayed) {
    app.set_now(app.start + line.t);
    for ev in line.events {
        if let PoolEvent::TaskFinished(r) = &ev {
            // The stream names a task's line only when it finishes.
            app.submitted(r.task, [r.line.clone()]);
        }
        match ev {
            PoolEvent::Sample(s) => app.update(Msg::Sample(*s)),
            ev => app.update(Msg::Pool(ev)),
        };
    }
}

/// Puts the app's clock (and the playback's position) at recorded time `at`.
fn set_clock(app: &mut App, at: Duration) {
    app.set_now(app.start + at);
    if let Some(p) = app.replay.as_mut() {
        p.at = at;
    }
}

/// Plays `session` into `app` until the user quits: keys from `rx`, frames
/// on `terminal`, time from `clock`.
pub fn play<B: Backend, R: BufRead>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    session: &mut Session<R>,
    rx: &Receiver<Incoming>,
    clock: &dyn Fn() -> Instant,
) {
    let mut last = clock();
    let mut last_draw = last - FRAME_GAP;
    let mut next_tick = last;
    // A seek under way: where to (MAX: the end).
    let mut target: Option<Duration> = None;
    while !app.detached && !app.hung_up {
        match rx.recv_timeout(FRAME_GAP) {
            Ok(m) => {
                input(app, m);
                while let Ok(m) = rx.try_recv() {
                    input(app, m);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = clock();
        let wall = now.saturating_duration_since(last);
        last = now;
        let Some(p) = app.replay.clone() else { break };
        if let Some(seek) = app.replay.as_mut().and_then(|p| p.seek.take()) {
            let to = match seek {
                Seek::To(t) => t,
                Seek::End => Duration::MAX,
            };
            if to < p.at && session.rebuild(app).is_err() {
                break;
            }
            target = Some(to);
        }
        let pos = match target {
            Some(to) => {
                if session.feed_until(app, to, SEEK_BATCH) {
                    target = None;
                    if to == Duration::MAX {
                        session.last_t
                    } else {
                        to
                    }
                } else {
                    session.last_t
                }
            }
            None if p.paused => p.at,
            None => {
                let to = p.at + wall.mul_f64(p.speed);
                session.feed_until(app, to, usize::MAX);
                to
            }
        };
        // Not following, the clock stops at the last line.
        let pos = if session.drained && !p.follow {
            pos.min(session.last_t)
        } else {
            pos
        };
        set_clock(app, pos);
        if now >= next_tick {
            app.update(Msg::Tick);
            next_tick = now + TICK;
        }
        if app.is_dirty() && now >= last_draw + FRAME_GAP {
            app.take_dirty();
            last_draw = now;
            if terminal.draw(|f| f.render_widget(&*app, f.area())).is_err() {
                app.hung_up = true;
            }
        }
    }
}

/// A key, a click or a resize; signals end the replay.
fn input(app: &mut App, m: Incoming) {
    match m {
        Incoming::Term(ev) => {
            if let Some(msg) = app.keys.lookup(app.mode, &ev) {
                // Nothing goes to a pool: steering keys are refused.
                let _ = app.update(msg);
            }
        }
        Incoming::Signal(_) => app.detached = true,
        Incoming::Pool(_) | Incoming::PoolGone => {}
    }
}
