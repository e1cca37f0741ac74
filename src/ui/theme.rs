//! Styles. Two themes: colour, and `NO_COLOR` (bold, dim and reverse only).
//! Colour never carries a state alone: every state is also written out.

use ratatui::style::{Color, Modifier, Style};

use super::app::log::Level;
use super::app::workers::StateKind;

/// The styles the views use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// No colours at all (`NO_COLOR`).
    pub mono: bool,
}

impl Theme {
    /// The colour theme.
    pub const COLOR: Theme = Theme { mono: false };
    /// The theme without colours.
    pub const MONO: Theme = Theme { mono: true };

    /// `NO_COLOR` set to anything non-empty picks [`Theme::MONO`] (no-color.org).
    pub fn from_env() -> Theme {
        match std::env::var_os("NO_COLOR") {
            Some(v) if !v.is_empty() => Theme::MONO,
            _ => Theme::COLOR,
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.mono {
            Style::new()
        } else {
            Style::new().fg(c)
        }
    }

    pub fn text(self) -> Style {
        Style::new()
    }

    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// A pane's title; the focused one stands out.
    pub fn title(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        }
    }

    /// Pane borders.
    pub fn border(self) -> Style {
        self.fg(Color::DarkGray)
    }

    /// A table's column header.
    pub fn header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// The selected row (explicit colours rather than reverse video, which
    /// some renderers of captured screens drop).
    pub fn selected(self) -> Style {
        if self.mono {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD)
        }
    }

    /// A key name in the footer and the help.
    pub fn key(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// A loud banner (dispatch paused, shutting down).
    pub fn banner(self) -> Style {
        if self.mono {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        }
    }

    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// A worker's state cell.
    pub fn state(self, k: StateKind) -> Style {
        match k {
            StateKind::Starting => self.fg(Color::Blue),
            StateKind::Idle => self.dim(),
            StateKind::Busy => self.fg(Color::Green),
            StateKind::Hung => self.bad(),
            StateKind::Paused => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            StateKind::Stopping | StateKind::Retiring => {
                self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
            }
            StateKind::Exited => self.dim(),
            StateKind::Killed | StateKind::Crashed => self.fg(Color::Red),
        }
    }

    /// An event log line.
    pub fn level(self, l: Level) -> Style {
        match l {
            Level::Info => self.text(),
            Level::Warn => self.warn(),
            Level::Error => self.bad(),
        }
    }

    /// A load figure, from calm to hot.
    pub fn load(self, pct: f32) -> Style {
        if pct >= 90.0 {
            self.fg(Color::Red)
        } else if pct >= 60.0 {
            self.fg(Color::Yellow)
        } else if pct >= 25.0 {
            self.fg(Color::Green)
        } else {
            self.fg(Color::DarkGray)
        }
    }
}
