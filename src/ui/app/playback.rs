//! A replay's playback, as the app sees it: playing or paused, how fast,
//! where in the recording, and the seek the user asked for. The replay loop
//! (`ui::replay`) reads it and moves the recording along; the keys change it
//! here, so the app stays free of files and clocks.

use std::time::Duration;

use crate::ui::msg::Action;
use crate::ui::status::Level;

use super::App;

/// How far a seek key jumps, in recorded time.
pub const SEEK_STEP: Duration = Duration::from_secs(10);
/// The fastest and slowest playback.
pub const MAX_SPEED: f64 = 1024.0;
pub const MIN_SPEED: f64 = 1.0 / 16.0;

/// Where the user asked playback to go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seek {
    /// To this recorded time.
    To(Duration),
    /// To the end of what is recorded.
    End,
}

/// A replay's playback state.
#[derive(Debug, Clone, PartialEq)]
pub struct Playback {
    /// The file replayed, for the header.
    pub file: String,
    pub paused: bool,
    /// Recorded seconds per wall second.
    pub speed: f64,
    /// The recorded time on screen.
    pub at: Duration,
    /// The seek asked for and not yet carried out.
    pub seek: Option<Seek>,
    /// The whole file has been read (and, following, the run has ended).
    pub at_end: bool,
    /// Following a file still being written.
    pub follow: bool,
    /// Where and why reading stopped before the end (`FILE:LINE: …`).
    pub stopped: Option<String>,
}

impl Playback {
    pub fn new(file: impl Into<String>, follow: bool) -> Playback {
        Playback {
            file: file.into(),
            paused: false,
            speed: 1.0,
            at: Duration::ZERO,
            seek: None,
            at_end: false,
            follow,
            stopped: None,
        }
    }
}

impl App {
    /// A key in a replay: steering is refused, quit leaves, the playback
    /// keys drive it. True when the key is dealt with here.
    pub(super) fn replay_action(&mut self, a: Action) -> bool {
        let Some(p) = self.replay.as_mut() else {
            if a.plays() {
                self.toast(Level::Info, "playback keys work in `pooltop replay`");
                return true;
            }
            return false;
        };
        match a {
            Action::Quit => self.detached = true,
            a if a.steers() => {
                self.toast(Level::Warn, "replay: read-only, nothing to steer");
            }
            Action::PlayPause => p.paused = !p.paused,
            Action::Faster => p.speed = (p.speed * 2.0).min(MAX_SPEED),
            Action::Slower => p.speed = (p.speed / 2.0).max(MIN_SPEED),
            Action::SeekBack => p.seek = Some(Seek::To(p.at.saturating_sub(SEEK_STEP))),
            Action::SeekForward => p.seek = Some(Seek::To(p.at + SEEK_STEP)),
            Action::SeekEnd => p.seek = Some(Seek::End),
            _ => return false,
        }
        true
    }
}
