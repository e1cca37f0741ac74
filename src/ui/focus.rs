//! Where the user's input goes: what has the keyboard ([`Mode`]) and which
//! pane ↑/↓ act on ([`Pane`]). The app keeps both; the keymap looks keys up
//! by mode and the layout names the pane under a click, so both live below
//! all three.

/// What has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    Help,
    Submit,
    Filter,
    Detail,
}

/// The pane that ↑/↓ act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Workers,
    Tasks,
    Log,
}

impl Pane {
    /// The pane after this one, going round (Tab).
    pub fn next(self) -> Pane {
        match self {
            Pane::Workers => Pane::Tasks,
            Pane::Tasks => Pane::Log,
            Pane::Log => Pane::Workers,
        }
    }

    /// The pane before this one, going round (Shift-Tab).
    pub fn prev(self) -> Pane {
        match self {
            Pane::Workers => Pane::Log,
            Pane::Tasks => Pane::Workers,
            Pane::Log => Pane::Tasks,
        }
    }
}
