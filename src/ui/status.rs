//! The states the dashboard tells apart and the theme gives a style: a
//! worker's [`StateKind`] and a log entry's [`Level`]. The app decides them;
//! the theme only styles them, so they live below both.

/// What the state column says, without the timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// Queued by the scheduler that launches it (Slurm).
    Pending,
    Starting,
    Idle,
    Busy,
    Hung,
    Paused,
    Stopping,
    Retiring,
    Exited,
    Killed,
    Crashed,
}

/// How much an entry matters (it is also written in the text itself, so
/// colour is never the only carrier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}
