//! The dashboard's view-model and its one entry point, [`App::update`].
//!
//! No I/O, no terminal, no pool: `update` changes state and *returns* the
//! effect (a [`Command`] to send, or a task to submit) for the loop to carry
//! out. Every action aims at a worker id or a task id, never a row index.

mod input;
pub mod live;
pub mod log;
pub mod machine;
pub mod playback;
mod pool;
pub mod prompt;
mod steer;
pub mod tasks;
pub mod timeline;
mod timeline_keys;
pub mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::layout::Rect;

use pooltop::engine::events::{Command, Counts, Task, TaskId};

pub use self::timeline_keys::LABEL_WIDTH;

use self::log::EventLog;
use self::machine::{Machine, Rate};
use self::playback::Playback;
use self::prompt::Prompt;
use self::tasks::Tasks;
use self::timeline::Timeline;
use self::workers::Workers;
use super::focus::{Mode, Pane};
use super::keymap::Keymap;
use super::layout::Areas;
use super::msg::Msg;
use super::status::Level;
use super::theme::Theme;

/// How long a toast stays in the corner.
pub const TOAST_FOR: Duration = Duration::from_secs(4);

/// What the loop must do for the app: `update`'s result.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Send this command to the pool.
    Send(Command),
    /// Submit this task (the pool's handle allocates its id; the loop then
    /// calls [`App::submitted`]).
    Submit(Task),
}

/// Where quitting stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quitting {
    #[default]
    No,
    /// Shutdown sent: workers get the join timeout.
    Graceful,
    /// KillAll sent.
    Killing,
}

/// What the app needs to know about the pool it shows.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Shown in the header (e.g. `demo` or the task file's name).
    pub title: String,
    /// Workers wanted at start.
    pub workers: usize,
    pub join_timeout: Duration,
    pub task_timeout: Option<Duration>,
    /// Shut down as soon as every task has finished.
    pub exit_when_done: bool,
    /// Attached to a pool of another process (`pooltop attach`): quitting
    /// detaches and leaves the pool running.
    pub attached: bool,
}

impl Default for AppConfig {
    fn default() -> AppConfig {
        AppConfig {
            title: "pooltop".into(),
            workers: 2,
            join_timeout: Duration::from_secs(5),
            task_timeout: None,
            exit_when_done: false,
            attached: false,
        }
    }
}

/// The whole dashboard state.
#[derive(Debug)]
pub struct App {
    pub cfg: AppConfig,
    pub theme: Theme,
    /// The keys in force: what they do, and what the footer and help show.
    pub keys: Keymap,
    /// When the run started (elapsed time and log stamps count from here).
    pub start: Instant,
    /// The clock as of the last [`App::set_now`].
    pub now: Instant,
    pub mode: Mode,
    pub focus: Pane,
    /// The terminal's size, for layout and mouse hits.
    pub size: Rect,
    pub workers: Workers,
    pub tasks: Tasks,
    pub log: EventLog,
    pub machine: Machine,
    pub rate: Rate,
    pub dispatch_paused: bool,
    /// Workers wanted (changes with +/- before the pool confirms).
    pub target_workers: usize,
    pub quitting: Quitting,
    /// The pool's counts when it last drained (every task finished).
    pub drained: Option<Counts>,
    /// The pool's final counts: the loop ends once this is set.
    pub stopped: Option<Counts>,
    /// The pool's event stream ended without `Stopped`.
    pub pool_gone: bool,
    /// The user detached from a pool of another process.
    pub detached: bool,
    /// The terminal hung up: nothing can be drawn any more.
    pub hung_up: bool,
    pub submit: Prompt,
    /// Why the submit prompt's line is not a task (none when it is, or empty).
    pub submit_error: Option<String>,
    /// The run's output files, checked before a submitted task is sent.
    pub claims: Option<crate::report::outputs::SharedClaims>,
    pub filter: Prompt,
    /// Lines scrolled in the help or detail overlay.
    pub overlay_scroll: usize,
    /// The task the detail overlay shows.
    pub detail: Option<TaskId>,
    /// The running tasks' output so far (the detail view shows it).
    pub live: live::LiveOutput,
    /// The admission gate holding dispatch back, if one does (the header shows it).
    pub held: Option<pooltop::engine::Hold>,
    pub toast: Option<(String, Level, Instant)>,
    /// Every worker slot's tasks in time (the timeline view).
    pub timeline: Timeline,
    /// Set when the app shows a recording (`pooltop replay`): read-only.
    pub replay: Option<Playback>,
    dirty: bool,
}

impl App {
    /// A fresh dashboard, started at `now`.
    pub fn new(cfg: AppConfig, theme: Theme, now: Instant) -> App {
        App {
            target_workers: cfg.workers,
            cfg,
            theme,
            keys: Keymap::default(),
            start: now,
            now,
            mode: Mode::Normal,
            focus: Pane::Workers,
            size: Rect::new(0, 0, 80, 24),
            workers: Workers::default(),
            tasks: Tasks::default(),
            log: EventLog::default(),
            machine: Machine::default(),
            rate: Rate::default(),
            dispatch_paused: false,
            quitting: Quitting::No,
            drained: None,
            stopped: None,
            pool_gone: false,
            detached: false,
            hung_up: false,
            submit: Prompt::default(),
            submit_error: None,
            claims: None,
            filter: Prompt::default(),
            overlay_scroll: 0,
            detail: None,
            live: live::LiveOutput::default(),
            held: None,
            toast: None,
            timeline: Timeline::default(),
            replay: None,
            dirty: true,
        }
    }

    /// Sets the clock (the loop calls this before each batch of messages;
    /// tests set it to whatever they like).
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// Whether anything changed since the last [`App::take_dirty`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Returns the dirty flag and clears it (the loop draws when it was set).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::replace(&mut self.dirty, false)
    }

    /// Whether the loop is done: the pool stopped, or it is gone.
    pub fn should_exit(&self) -> bool {
        self.stopped.is_some() || self.pool_gone || self.detached
    }

    /// The frame's layout for the current size.
    pub fn areas(&self) -> Areas {
        Areas::compute(
            self.size,
            self.machine.cores.len(),
            self.workers.lines_wanted(),
        )
    }

    /// Milliseconds since the start, for compact task timestamps.
    pub fn ms_since_start(&self) -> u32 {
        u32::try_from(self.now.saturating_duration_since(self.start).as_millis())
            .unwrap_or(u32::MAX)
    }

    /// The instant `ms` milliseconds after the start.
    pub fn at_ms(&self, ms: u32) -> Instant {
        self.start + Duration::from_millis(u64::from(ms))
    }

    /// Records tasks the loop submitted: ids `first, first+1, …` carry these lines.
    pub fn submitted(&mut self, first: TaskId, lines: impl IntoIterator<Item = Arc<str>>) {
        if first == TaskId(0) {
            // No id: the pool refused them (an attached pool says why to
            // `pooltop submit`; here only that it did).
            self.toast(Level::Warn, "the pool refused the task: not submitted");
            return;
        }
        self.tasks.submitted(first, lines);
        self.dirty = true;
    }

    /// Shows a short message in the corner.
    pub fn toast(&mut self, level: Level, text: impl Into<String>) {
        self.toast = Some((text.into(), level, self.now));
    }

    /// Reacts to one message; returns what the loop must do.
    pub fn update(&mut self, msg: Msg) -> Option<Effect> {
        self.dirty = true;
        match msg {
            Msg::Action(a) => self.action(a),
            Msg::Edit(e) => self.edit(e),
            Msg::Click { col, row } => {
                self.click(col, row);
                None
            }
            Msg::Scroll { col, row, down } => {
                self.wheel(col, row, down);
                None
            }
            Msg::Resize { width, height } => {
                self.size = Rect::new(0, 0, width, height);
                None
            }
            Msg::Pool(ev) => {
                // Once per event: the table counts a run of tasks as a run.
                self.workers.observe(&ev, self.now);
                self.timeline.observe(&ev, self.timeline_now());
                self.pool_event(ev)
            }
            Msg::PoolGone => {
                self.pool_gone = true;
                None
            }
            Msg::Sample(s) => {
                self.sample(&s);
                None
            }
            Msg::Tick => {
                self.tick();
                None
            }
            Msg::Signal(sig) => self.signal(sig),
        }
    }

    /// Takes in one of the engine's samples: the cores pane and the
    /// workers' CPU and memory.
    fn sample(&mut self, s: &pooltop::engine::monitor::Sample) {
        self.machine.sample(s);
        self.workers.sample(s);
    }

    fn tick(&mut self) {
        self.workers.prune(self.now);
        let h = self.areas().worker_rows();
        self.workers.ensure_visible(h);
        self.tasks.refresh_filter(self.now);
        self.rate.note(self.now, self.tasks.counts.finished());
        if self
            .toast
            .as_ref()
            .is_some_and(|(_, _, at)| self.now.saturating_duration_since(*at) >= TOAST_FOR)
        {
            self.toast = None;
        }
    }

    fn signal(&mut self, sig: super::msg::Signal) -> Option<Effect> {
        use super::msg::Signal;
        if self.cfg.attached {
            // The pool belongs to another process: a signal to this
            // dashboard only ends the dashboard.
            self.detached = true;
            self.hung_up |= sig == Signal::Hangup;
            return None;
        }
        self.log.push(
            self.now,
            Level::Warn,
            format!("{sig:?} signal: stopping the pool"),
        );
        if sig == Signal::Terminate {
            // Like the headless runner: graceful first, a second one kills.
            return self.quit();
        }
        // Hangup: the terminal is gone and nobody watches a graceful
        // shutdown: kill at once.
        self.hung_up = true;
        if self.quitting == Quitting::Killing {
            return None;
        }
        self.quitting = Quitting::Killing;
        Some(Effect::Send(Command::KillAll))
    }

    /// Average tasks per second since the start.
    pub fn avg_rate(&self) -> f64 {
        let secs = self.now.saturating_duration_since(self.start).as_secs_f64();
        if secs <= 0.0 {
            0.0
        } else {
            self.tasks.counts.finished() as f64 / secs
        }
    }

    /// Estimated time until the queue and running tasks are done.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.tasks.counts.queued + self.tasks.counts.running;
        let r = self.rate.per_sec();
        (left > 0 && r > 0.0).then(|| Duration::from_secs_f64(left as f64 / r))
    }
}

#[cfg(test)]
mod tests;
