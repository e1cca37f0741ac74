//! The live dashboard (issue 3): the pool's workers, cores and tasks, steered
//! by keypress.
//!
//! Shape: [`app::App`] is the view-model and the only owner of dashboard
//! state; [`msg::Msg`] is everything it reacts to; [`keymap`] turns keys into
//! intents; `view` draws the app (`impl Widget for &App`); `run` is the one
//! loop and the only code that touches the terminal.

pub mod app;
pub mod fmt;
pub mod focus;
pub mod keymap;
pub mod keys;
pub mod layout;
pub mod msg;
pub mod replay;
#[cfg(test)]
mod replay_tests;
mod run;
pub mod status;
// Helpers for the ui's tests; benches/ui.rs includes the file too.
#[cfg(test)]
pub mod testkit;
pub mod theme;
mod view;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;

use crate::report::Tally;
use crate::report::signals::SignalWatch;
use pooltop::engine::{self, EventStream, PoolHandle, Task};
use pooltop::error::Error;

pub use run::{Incoming, Wiring, drive};

/// How the dashboard runs, beyond the pool's own configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Shown in the header: what is being run (e.g. `demo`, `tasks.txt`).
    pub title: String,
    /// Shut the pool down and leave once every task has finished.
    pub exit_when_done: bool,
    /// The colours.
    pub theme: theme::Theme,
    /// The keys (the built-in ones, or the config file's).
    pub keys: keymap::Keymap,
    /// The run's output files: the submit prompt refuses a task that would
    /// write one of them (none: nothing is checked here, as when attached).
    pub claims: Option<crate::report::outputs::SharedClaims>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            title: "pooltop".into(),
            exit_when_done: false,
            theme: theme::Theme::from_env(),
            keys: keymap::Keymap::default(),
            claims: None,
        }
    }
}

/// How a dashboard run ended: the same tally the headless runner keeps, so
/// `main` prints the same summary and picks the same exit status.
#[derive(Debug)]
pub struct Outcome {
    pub tally: Tally,
    /// The signal that ended the run, if one did.
    pub signal: Option<i32>,
    /// An attached dashboard was closed; the pool runs on.
    pub detached: bool,
}

impl Outcome {
    /// The closing summary (the headless runner's words).
    pub fn summary_text(&self) -> String {
        self.tally.summary_text()
    }

    /// 0 when every task is done, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        self.tally.exit_code()
    }
}

/// Runs `tasks` on a started pool (its events may pass through a control
/// server first) with the live dashboard until the pool stops (the user
/// quits, or every task is done with `exit_when_done`). The terminal is
/// restored on every way out: return, error, panic, SIGTERM, SIGHUP.
pub fn run_with(
    pool: PoolHandle,
    events: EventStream,
    tasks: Vec<Task>,
    opts: Options,
) -> Result<Outcome, Error> {
    let cfg = pool.config();
    let app_cfg = app::AppConfig {
        title: opts.title.clone(),
        workers: cfg.workers,
        join_timeout: cfg.join_timeout,
        task_timeout: cfg.task_timeout,
        exit_when_done: opts.exit_when_done,
        attached: pool.is_attached(),
    };
    let mut tally = Tally::new(cfg.workers);
    let (tx, rx) = mpsc::channel();

    forward_events(tx.clone(), events)?;

    // SIGINT, SIGTERM and SIGHUP go to the loop (the app decides).
    let fwd = tx.clone();
    let signals = SignalWatch::start(move |sig, _| run::forward(&fwd, Incoming::Signal(sig)))?;

    let mut terminal = ratatui::try_init()?;
    let _ = execute!(io::stdout(), EnableMouseCapture);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(io::stdout(), DisableMouseCapture);
        prev(info);
    }));

    let stop_input = Arc::new(AtomicBool::new(false));
    let input = forward_input(tx.clone(), stop_input.clone());
    drop(tx);

    let mut app = app::App::new(app_cfg, opts.theme, std::time::Instant::now());
    app.keys = opts.keys;
    app.claims = opts.claims;
    if let Ok(size) = terminal.size() {
        app.update(msg::Msg::Resize {
            width: size.width,
            height: size.height,
        });
    }
    let lines: Vec<Arc<str>> = tasks.iter().map(|t| t.line.clone()).collect();
    let ids = pool.submit_all(tasks);
    if let Some(first) = ids.first() {
        app.submitted(*first, lines);
    }

    drive(
        &mut terminal,
        &mut app,
        Wiring {
            pool: &pool,
            rx: &rx,
            tally: &mut tally,
        },
    );

    // The input thread notices the flag within one poll. It is not joined:
    // once the terminal has hung up, crossterm 0.29's reader spins inside
    // `poll` (a read of 0 bytes or EIO is retried for ever) and never
    // returns; the process ends right after this function anyway.
    stop_input.store(true, Ordering::Relaxed);
    drop(input);
    let _ = execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    signals.close();
    // If the loop left early (pool gone, grace over), make sure no worker stays.
    // (An attached dashboard leaves the pool of the other process alone.)
    if app.stopped.is_none() && !app.detached {
        pool.send(engine::Command::KillAll);
    }
    Ok(Outcome {
        tally,
        signal: signals.caught(),
        detached: app.detached,
    })
}

/// Passes the pool's events (and its samples among them) to the loop.
fn forward_events(tx: mpsc::Sender<Incoming>, events: EventStream) -> io::Result<()> {
    thread::Builder::new()
        .name("pooltop-events".into())
        .spawn(move || {
            for ev in events {
                if !run::forward(&tx, Incoming::Pool(ev)) {
                    return;
                }
            }
            run::forward(&tx, Incoming::PoolGone);
        })?;
    Ok(())
}

/// Passes terminal events to the loop until `stop` is set.
fn forward_input(
    tx: mpsc::Sender<Incoming>,
    stop: Arc<AtomicBool>,
) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("pooltop-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match event::poll(Duration::from_millis(200)) {
                    Ok(true) => match event::read() {
                        Ok(ev) => {
                            if !run::forward(&tx, Incoming::Term(ev)) {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        })
}
