//! The event log: what happened to workers and tasks, newest first.

use std::collections::VecDeque;
use std::time::Instant;

use crate::ui::status::Level;

/// Entries kept; older ones fall off.
pub const CAPACITY: usize = 1000;

/// One line of the log.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: Instant,
    pub level: Level,
    pub text: String,
}

/// The log itself, and how far the user scrolled back.
#[derive(Debug, Default)]
pub struct EventLog {
    /// Newest at the front.
    pub entries: VecDeque<Entry>,
    /// Rows scrolled down from the newest (0 = newest on top).
    pub scroll: usize,
}

impl EventLog {
    /// Adds an entry; a reader scrolled back keeps seeing the same lines.
    pub fn push(&mut self, at: Instant, level: Level, text: impl Into<String>) {
        if self.entries.len() == CAPACITY {
            self.entries.pop_back();
        }
        self.entries.push_front(Entry {
            at,
            level,
            text: text.into(),
        });
        if self.scroll > 0 {
            self.scroll = (self.scroll + 1).min(self.entries.len().saturating_sub(1));
        }
    }

    /// Scrolls by `delta` rows (positive: older).
    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.entries.len().saturating_sub(1) as isize;
        self.scroll = (self.scroll as isize + delta).clamp(0, max) as usize;
    }
}
