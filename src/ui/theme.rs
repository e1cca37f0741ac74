//! Styles. Three looks: the default (16 colours, readable on dark and light
//! terminals), high contrast, and mono (bold, dim and reverse only; what
//! `NO_COLOR` gives). Colour never carries a state alone: every state is also
//! written out.
//!
//! The default look only sets a foreground from the colours that terminal
//! schemes make readable on their own background, dark or light (red, green,
//! blue, magenta, cyan: never yellow, white or black, whose contrast depends
//! on the background); yellow, white and black appear only as a background
//! with an explicit foreground. Text keeps the terminal's own colour.

use ratatui::style::{Color, Modifier, Style};

use crate::config::ThemeChoice;

use super::status::{Level, StateKind};

/// One of the looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Default,
    HighContrast,
    Mono,
}

/// The styles the views use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    look: Look,
}

impl Theme {
    /// The default look: 16 colours, dark or light terminals.
    pub const COLOR: Theme = Theme {
        look: Look::Default,
    };
    /// Bold text, no dimming, states and banners on solid backgrounds.
    pub const HIGH_CONTRAST: Theme = Theme {
        look: Look::HighContrast,
    };
    /// The look without colours.
    pub const MONO: Theme = Theme { look: Look::Mono };

    /// The theme `choice` names; `auto` is [`Theme::COLOR`], or
    /// [`Theme::MONO`] when `no_color`. An explicit choice wins over
    /// `NO_COLOR`, as no-color.org asks of configuration files.
    pub fn from_choice(choice: ThemeChoice, no_color: bool) -> Theme {
        match choice {
            ThemeChoice::Auto if no_color => Theme::MONO,
            ThemeChoice::Auto | ThemeChoice::Default => Theme::COLOR,
            ThemeChoice::HighContrast => Theme::HIGH_CONTRAST,
            ThemeChoice::Mono => Theme::MONO,
        }
    }

    /// The `auto` theme under this process's environment: `NO_COLOR` set to
    /// anything non-empty picks [`Theme::MONO`] (no-color.org).
    pub fn from_env() -> Theme {
        Theme::from_choice(ThemeChoice::Auto, no_color())
    }

    /// Whether this theme draws no colour at all.
    pub fn is_mono(self) -> bool {
        self.look == Look::Mono
    }

    fn fg(self, c: Color) -> Style {
        match self.look {
            Look::Mono => Style::new(),
            _ => Style::new().fg(c),
        }
    }

    /// A solid chip: `fg` on `bg` (reverse video in mono).
    fn chip(self, fg: Color, bg: Color) -> Style {
        match self.look {
            Look::Mono => Style::new().add_modifier(Modifier::REVERSED),
            _ => Style::new().fg(fg).bg(bg),
        }
    }

    pub fn text(self) -> Style {
        Style::new()
    }

    /// Secondary text; high contrast does not dim.
    pub fn dim(self) -> Style {
        match self.look {
            Look::HighContrast => Style::new(),
            _ => Style::new().add_modifier(Modifier::DIM),
        }
    }

    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// A pane's title; the focused one stands out.
    pub fn title(self, focused: bool) -> Style {
        let s = Style::new().add_modifier(Modifier::BOLD);
        if focused {
            s.add_modifier(Modifier::REVERSED)
        } else {
            s
        }
    }

    /// Pane borders.
    pub fn border(self) -> Style {
        match self.look {
            Look::Default => Style::new().fg(Color::DarkGray),
            _ => Style::new(),
        }
    }

    /// A table's column header.
    pub fn header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// The selected row (explicit colours rather than reverse video, which
    /// some renderers of captured screens drop).
    pub fn selected(self) -> Style {
        match self.look {
            Look::Default => Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD),
            Look::HighContrast => Style::new()
                .fg(Color::Black)
                .bg(Color::White)
                .add_modifier(Modifier::BOLD),
            Look::Mono => Style::new().add_modifier(Modifier::REVERSED),
        }
    }

    /// A key name in the footer and the help.
    pub fn key(self) -> Style {
        match self.look {
            Look::HighContrast => Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            _ => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        }
    }

    /// A loud banner (dispatch paused, shutting down).
    pub fn banner(self) -> Style {
        self.chip(Color::Black, Color::Yellow)
            .add_modifier(Modifier::BOLD)
    }

    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(self) -> Style {
        match self.look {
            Look::HighContrast => self.chip(Color::Black, Color::Yellow),
            _ => self.fg(Color::Magenta),
        }
    }

    pub fn bad(self) -> Style {
        match self.look {
            Look::HighContrast => self
                .chip(Color::White, Color::Red)
                .add_modifier(Modifier::BOLD),
            _ => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    /// A worker's state cell.
    pub fn state(self, k: StateKind) -> Style {
        let hc = self.look == Look::HighContrast;
        match k {
            StateKind::Starting | StateKind::Pending if hc => self.chip(Color::Black, Color::Cyan),
            StateKind::Starting | StateKind::Pending => self.fg(Color::Blue),
            StateKind::Idle | StateKind::Exited => self.dim(),
            StateKind::Busy if hc => self.chip(Color::Black, Color::Green),
            StateKind::Busy => self.fg(Color::Green),
            StateKind::Hung => self.bad(),
            StateKind::Paused => self
                .chip(Color::Black, Color::Yellow)
                .add_modifier(Modifier::BOLD),
            StateKind::Stopping | StateKind::Retiring if hc => self
                .chip(Color::Black, Color::Magenta)
                .add_modifier(Modifier::BOLD),
            StateKind::Stopping | StateKind::Retiring => {
                self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
            }
            StateKind::Killed | StateKind::Crashed if hc => self.bad(),
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

    /// A load figure, from calm to hot (gauges and sparklines: foreground
    /// only, so the empty part of a gauge stays empty).
    pub fn load(self, pct: f32) -> Style {
        let s = if pct >= 90.0 {
            self.fg(Color::Red)
        } else if pct >= 60.0 {
            self.fg(Color::Magenta)
        } else if pct >= 25.0 {
            self.fg(Color::Green)
        } else if self.look == Look::Default {
            self.fg(Color::DarkGray)
        } else {
            Style::new()
        };
        if self.look == Look::HighContrast {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }
}

/// Whether `NO_COLOR` is set to something (no-color.org: empty means unset).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_no_color_and_an_explicit_choice_wins() {
        assert_eq!(Theme::from_choice(ThemeChoice::Auto, false), Theme::COLOR);
        assert_eq!(Theme::from_choice(ThemeChoice::Auto, true), Theme::MONO);
        assert_eq!(
            Theme::from_choice(ThemeChoice::HighContrast, true),
            Theme::HIGH_CONTRAST
        );
        assert_eq!(Theme::from_choice(ThemeChoice::Mono, false), Theme::MONO);
    }

    /// The default look never sets yellow, white or black as a foreground
    /// without a background of its own (unreadable on one background or the
    /// other), and uses only the 16 ANSI colours.
    #[test]
    fn default_look_suits_dark_and_light_terminals_in_16_colours() {
        let th = Theme::COLOR;
        let mut styles = vec![
            th.text(),
            th.dim(),
            th.bold(),
            th.title(true),
            th.title(false),
            th.border(),
            th.header(),
            th.selected(),
            th.key(),
            th.banner(),
            th.good(),
            th.warn(),
            th.bad(),
        ];
        use StateKind::*;
        for k in [
            Starting, Idle, Busy, Hung, Paused, Stopping, Retiring, Exited, Killed, Crashed,
        ] {
            styles.push(th.state(k));
        }
        for pct in [0.0, 30.0, 70.0, 95.0] {
            styles.push(th.load(pct));
        }
        for s in styles {
            for c in [s.fg, s.bg].into_iter().flatten() {
                assert!(
                    !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                    "{s:?} is beyond 16 colours"
                );
            }
            if s.bg.is_none() {
                assert!(
                    !matches!(
                        s.fg,
                        Some(
                            Color::Yellow
                                | Color::LightYellow
                                | Color::White
                                | Color::Gray
                                | Color::Black
                        )
                    ),
                    "{s:?}: foreground without a background"
                );
            }
        }
    }
}
