//! Everything the dashboard's app reacts to (`App::update`): the user's
//! intents (from the keymap), text edits in a prompt, mouse hits, and what the
//! outside world reports (pool events, monitor samples, the clock, signals).

use pooltop::engine::events::PoolEvent;
use pooltop::engine::monitor::Sample;

/// An intent a key (or a click) stands for. Plain data: the keymap, the help
/// overlay and the footer all talk about these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Select the previous row of the focused pane.
    Up,
    /// Select the next row of the focused pane.
    Down,
    /// Move a page up in the focused pane.
    PageUp,
    /// Move a page down in the focused pane.
    PageDown,
    /// Jump to the first row of the focused pane.
    Home,
    /// Jump to the last row; in the tasks pane, follow the running tasks again.
    End,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Open the task prompt.
    Submit,
    /// Pause the selected worker, or resume it when paused.
    TogglePause,
    /// Pause dispatch for the whole pool, or resume it.
    ToggleDispatch,
    /// Terminate the selected worker with the join timeout, then force-kill it.
    Terminate,
    /// Kill the selected worker now.
    Kill,
    /// Add a worker.
    ScaleUp,
    /// Retire a worker.
    ScaleDown,
    /// Open the task filter prompt.
    Filter,
    /// Show the selected task's detail.
    Detail,
    /// Show the help overlay (or close it).
    Help,
    /// Close the open overlay or prompt; in the main screen, clear the filter.
    Back,
    /// Cancel the selected task (tasks pane): a queued one at once, a
    /// running one by killing its worker.
    CancelTask,
    /// Run the selected ended failed, timed-out or cancelled task again, as
    /// a new task.
    RetryTask,
    /// Run every failed or timed-out task again.
    RetryFailed,
    /// Move the selected queued task to the front of the queue.
    FrontTask,
    /// Shut the pool down gracefully; a second time, kill every worker.
    /// An attached dashboard only detaches (the pool runs on).
    Quit,
    /// Shut the pool down gracefully (also from an attached dashboard);
    /// a second time, kill every worker.
    StopPool,
    /// Show the timeline in place of the tasks pane, or the tasks again.
    Timeline,
    /// Timeline: move the cursor back in time (the window scrolls).
    Earlier,
    /// Timeline: move the cursor forward in time; past the present, live.
    Later,
    /// Timeline: zoom in (half the time per cell).
    ZoomIn,
    /// Timeline: zoom out (twice the time per cell).
    ZoomOut,
    /// Replay: play or pause.
    PlayPause,
    /// Replay: play twice as fast.
    Faster,
    /// Replay: play half as fast.
    Slower,
    /// Replay: seek 10 s (of the recording) back.
    SeekBack,
    /// Replay: seek 10 s forward.
    SeekForward,
    /// Replay: seek to the end of what is recorded.
    SeekEnd,
}

impl Action {
    /// Whether the action steers the pool (refused in a replay).
    pub fn steers(self) -> bool {
        matches!(
            self,
            Action::Submit
                | Action::TogglePause
                | Action::ToggleDispatch
                | Action::Terminate
                | Action::Kill
                | Action::ScaleUp
                | Action::ScaleDown
                | Action::StopPool
        )
    }

    /// Whether the action drives a replay's playback.
    pub fn plays(self) -> bool {
        matches!(
            self,
            Action::PlayPause
                | Action::Faster
                | Action::Slower
                | Action::SeekBack
                | Action::SeekForward
                | Action::SeekEnd
        )
    }
}

impl Action {
    /// What the action does, as the help overlay says it.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Up => "select the previous worker (or task, in the tasks pane)",
            Action::Down => "select the next worker (or task, in the tasks pane)",
            Action::PageUp => "a page up",
            Action::PageDown => "a page down",
            Action::Home => "first row",
            Action::End => "last row; tasks pane: follow the running tasks",
            Action::NextPane => "next pane (workers, tasks, events)",
            Action::PrevPane => "previous pane",
            Action::Submit => "submit a task line (validated as you type)",
            Action::TogglePause => "pause / resume the selected worker",
            Action::ToggleDispatch => "pause / resume dispatch for the whole pool",
            Action::Terminate => "terminate the selected worker (join timeout, then kill)",
            Action::Kill => "kill the selected worker now",
            Action::ScaleUp => "add a worker",
            Action::ScaleDown => "retire a worker",
            Action::Filter => "filter tasks by state or text",
            Action::Detail => "detail of the selected task",
            Action::CancelTask => "cancel the selected task (running: its worker is killed)",
            Action::RetryTask => "retry the selected failed / timed-out / cancelled task",
            Action::RetryFailed => "retry every failed or timed-out task",
            Action::FrontTask => "move the selected queued task to the front",
            Action::Help => "this help",
            Action::Back => "close / clear the filter",
            Action::Quit => "quit: graceful shutdown, again kills; attached: detach",
            Action::StopPool => "stop the pool (also when attached); again kills",
            Action::Timeline => "timeline of every worker in place of the tasks",
            Action::Earlier => "timeline: cursor back in time",
            Action::Later => "timeline: cursor forward (past now: live)",
            Action::ZoomIn => "timeline: zoom in",
            Action::ZoomOut => "timeline: zoom out",
            Action::PlayPause => "replay: play / pause",
            Action::Faster => "replay: faster",
            Action::Slower => "replay: slower",
            Action::SeekBack => "replay: 10 s back",
            Action::SeekForward => "replay: 10 s forward",
            Action::SeekEnd => "replay: to the end",
        }
    }

    /// A one-word label for the footer.
    pub fn label(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Home => "first",
            Action::End => "last",
            Action::NextPane => "pane",
            Action::PrevPane => "pane",
            Action::Submit => "submit",
            Action::TogglePause => "pause",
            Action::ToggleDispatch => "dispatch",
            Action::Terminate => "term",
            Action::Kill => "kill",
            Action::ScaleUp => "add",
            Action::ScaleDown => "retire",
            Action::Filter => "filter",
            Action::Detail => "detail",
            Action::CancelTask => "cancel",
            Action::RetryTask => "retry",
            Action::RetryFailed => "retry failed",
            Action::FrontTask => "front",
            Action::Help => "help",
            Action::Back => "back",
            Action::Quit => "quit",
            Action::StopPool => "stop pool",
            Action::Timeline => "timeline",
            Action::Earlier => "earlier",
            Action::Later => "later",
            Action::ZoomIn => "zoom in",
            Action::ZoomOut => "zoom out",
            Action::PlayPause => "play",
            Action::Faster => "faster",
            Action::Slower => "slower",
            Action::SeekBack => "back",
            Action::SeekForward => "forward",
            Action::SeekEnd => "end",
        }
    }
}

/// An edit of the line in a prompt (submit or filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Insert(char),
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    /// Erase the whole line.
    Clear,
    /// Accept the line (`Enter`).
    Confirm,
    /// Leave the prompt (`Esc`).
    Cancel,
}

/// A signal that asks pooltop to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: someone asks us to stop.
    Terminate,
    /// SIGHUP: the terminal is gone; nothing can be drawn any more.
    Hangup,
}

/// One thing the app reacts to.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key's intent, from the keymap.
    Action(Action),
    /// A keystroke in a prompt.
    Edit(Edit),
    /// A left click at a screen cell.
    Click { col: u16, row: u16 },
    /// A wheel turn over a screen cell.
    Scroll { col: u16, row: u16, down: bool },
    /// The terminal's new size.
    Resize { width: u16, height: u16 },
    /// Something the pool reported.
    Pool(PoolEvent),
    /// The pool's event stream ended (the engine is gone).
    PoolGone,
    /// A monitor sample: cores, the pool's processes, pooltop itself.
    Sample(Sample),
    /// Time passed: countdowns, ages and rates need a redraw.
    Tick,
    /// A signal asked us to stop.
    Signal(Signal),
}

impl From<Action> for Msg {
    fn from(a: Action) -> Msg {
        Msg::Action(a)
    }
}

impl From<Edit> for Msg {
    fn from(e: Edit) -> Msg {
        Msg::Edit(e)
    }
}

impl From<PoolEvent> for Msg {
    fn from(e: PoolEvent) -> Msg {
        Msg::Pool(e)
    }
}
