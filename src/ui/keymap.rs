//! The one table from keys to intents, and the [`Keymap`] built from it and
//! the config file's `[keys]`. With keys.rs, the only file that names
//! `KeyCode`: the footer, the help overlay and the banners read their key
//! names from the keymap, so what they show is what the keys do.
//!
//! Every [`Action`] has one entry in [`ACTIONS`]: its name in the config
//! file and its built-in keys. A new action is one entry there (plus its
//! `describe` and `label` in msg.rs). The overlays (help, detail) reuse the
//! main screen's keys through [`overlay`]; the prompts take text, with fixed
//! editing keys; Ctrl-C quits everywhere and cannot be rebound.

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::config::{ConfigError, KeyBind, KeyDoc, Origin, closest, quote};

use super::focus::Mode;
pub use super::keys::Key;
use super::keys::SPELLING;
use super::msg::{Action, Edit, Msg};

/// An action's entry: its name in the config file's `[keys]` and its
/// built-in keys, as the file spells them.
#[derive(Debug)]
pub struct ActionKeys {
    pub action: Action,
    pub name: &'static str,
    pub keys: &'static [&'static str],
}

const fn entry(action: Action, name: &'static str, keys: &'static [&'static str]) -> ActionKeys {
    ActionKeys { action, name, keys }
}

/// Every action a key can stand for, in the help overlay's order (issue 3's
/// key table, plus paging keys). Names are the variants' in snake_case.
pub const ACTIONS: &[ActionKeys] = &[
    entry(Action::Up, "up", &["Up", "k"]),
    entry(Action::Down, "down", &["Down", "j"]),
    entry(Action::PageUp, "page_up", &["PageUp"]),
    entry(Action::PageDown, "page_down", &["PageDown"]),
    entry(Action::Home, "home", &["Home"]),
    entry(Action::End, "end", &["End"]),
    entry(Action::NextPane, "next_pane", &["Tab"]),
    entry(Action::PrevPane, "prev_pane", &["Shift-Tab"]),
    entry(Action::Submit, "submit", &["s"]),
    entry(Action::TogglePause, "toggle_pause", &["p"]),
    entry(Action::ToggleDispatch, "toggle_dispatch", &["P"]),
    entry(Action::Terminate, "terminate", &["t"]),
    entry(Action::Kill, "kill", &["K"]),
    entry(Action::ScaleUp, "scale_up", &["+", "="]),
    entry(Action::ScaleDown, "scale_down", &["-"]),
    entry(Action::Filter, "filter", &["/"]),
    entry(Action::Detail, "detail", &["Enter"]),
    entry(Action::CancelTask, "cancel_task", &["c"]),
    entry(Action::RetryTask, "retry_task", &["r"]),
    entry(Action::RetryFailed, "retry_failed", &["R"]),
    entry(Action::FrontTask, "front_task", &["f"]),
    entry(Action::Help, "help", &["?"]),
    entry(Action::Back, "back", &["Esc"]),
    entry(Action::Quit, "quit", &["q"]),
    entry(Action::StopPool, "stop_pool", &["X"]),
    entry(Action::Timeline, "timeline", &["v"]),
    entry(Action::Earlier, "earlier", &["Left"]),
    entry(Action::Later, "later", &["Right"]),
    entry(Action::ZoomIn, "zoom_in", &["z"]),
    entry(Action::ZoomOut, "zoom_out", &["Z"]),
    entry(Action::PlayPause, "play_pause", &["Space"]),
    entry(Action::Faster, "faster", &["]"]),
    entry(Action::Slower, "slower", &["["]),
    entry(Action::SeekBack, "seek_back", &["<"]),
    entry(Action::SeekForward, "seek_forward", &[">"]),
    entry(Action::SeekEnd, "seek_end", &["G"]),
];

/// Ctrl-C: quits in every mode, prompts included. Not rebindable, so there
/// is always a way out.
pub const INTERRUPT: Key = Key::ctrl('c');

/// What the config file's `[keys]` comment says.
pub const CONFIG_HELP: &str = "\
Each dashboard action and its keys: one key (\"q\") or a list ([\"Up\", \"k\"]);
[] leaves the action without a key. A key is a character (\"K\" is Shift-k),
a name (Up, Down, Left, Right, PageUp, PageDown, Home, End, Tab, Shift-Tab,
Enter, Esc, Space, Backspace, Delete, Insert, F1 to F12), or Ctrl- or Alt-
and a key (\"Ctrl-r\"). A key bound to two actions is an error. Ctrl-C always
quits. The help overlay (?) and the footer show the keys bound here; the
overlays scroll and close with the same keys (quit's keys close them).";

/// What the main screen's footer offers, most useful first (the footer drops
/// the last ones when the terminal is narrow).
pub const FOOTER: &[Action] = &[
    Action::Quit,
    Action::Help,
    Action::Submit,
    Action::TogglePause,
    Action::Terminate,
    Action::Kill,
    Action::ScaleUp,
    Action::ScaleDown,
    Action::NextPane,
    Action::Timeline,
    Action::Filter,
    Action::ToggleDispatch,
    Action::Detail,
    Action::CancelTask,
    Action::RetryTask,
    Action::RetryFailed,
    Action::FrontTask,
];

/// What the prompts' footer offers (fixed editing keys).
pub const PROMPT_FOOTER: &[(&str, &str)] =
    &[("Enter", "accept"), ("Esc", "cancel"), ("Ctrl-U", "clear")];

/// One key of the main screen and its intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub key: Key,
    pub action: Action,
}

/// A key while a keymap is built: the key, as written, and where.
type Written = (Key, String, Origin);

/// The keys in force: the built-in ones with the config file's over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    /// In [`ACTIONS`] order; each action's keys in the order written.
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    /// The built-in keys.
    fn default() -> Keymap {
        let bindings = ACTIONS
            .iter()
            .flat_map(|e| {
                e.keys.iter().filter_map(|k| {
                    Key::parse(k).map(|key| Binding {
                        key,
                        action: e.action,
                    })
                })
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// The built-in keys with `binds` (the config file's `[keys]`) over
    /// them: each entry replaces that action's keys. Every problem is an
    /// error: an unknown action, a key that is not one, Ctrl-C, and a key
    /// bound to two actions.
    pub fn from_binds(binds: &[KeyBind]) -> Result<Keymap, Vec<ConfigError>> {
        let mut keys: Vec<(Action, Vec<Written>)> = ACTIONS
            .iter()
            .map(|e| {
                let ks = e
                    .keys
                    .iter()
                    .filter_map(|k| Key::parse(k).map(|key| (key, k.to_string(), Origin::Default)))
                    .collect();
                (e.action, ks)
            })
            .collect();
        let mut errors = Vec::new();
        for b in binds {
            let err = |origin: &Origin, message: String| ConfigError {
                origin: origin.clone(),
                key: format!("keys.{}", b.action),
                message,
            };
            let Some(slot) = ACTIONS.iter().position(|e| e.name == b.action) else {
                let hint = match closest(&b.action, ACTIONS.iter().map(|e| e.name)) {
                    Some(n) => format!("did you mean {n}?"),
                    None => "`pooltop config --default` lists them".to_string(),
                };
                errors.push(err(&b.origin, format!("unknown action ({hint})")));
                continue;
            };
            let mut mine = Vec::new();
            for (text, origin) in &b.keys {
                match Key::parse(text) {
                    None => errors.push(err(
                        origin,
                        format!("\"{text}\" is not a key: write {SPELLING}"),
                    )),
                    Some(k) if k == INTERRUPT => errors.push(err(
                        origin,
                        format!("\"{text}\" always quits; it cannot be bound"),
                    )),
                    Some(k) if mine.iter().any(|(m, _, _)| *m == k) => {}
                    Some(k) => mine.push((k, text.clone(), origin.clone())),
                }
            }
            keys[slot].1 = mine;
        }
        // A key may stand for one action only.
        let mut taken: Vec<(Key, Action, &str, &Origin)> = Vec::new();
        for (action, ks) in &keys {
            for (key, text, origin) in ks {
                let Some((_, other, other_text, other_origin)) =
                    taken.iter().find(|(k, a, _, _)| k == key && a != action)
                else {
                    taken.push((*key, *action, text, origin));
                    continue;
                };
                // Report it where the file wrote it (the later line when both are).
                let this = (*action, text.as_str(), origin);
                let that = (*other, *other_text, *other_origin);
                let (here, there) = if weight(this.2) >= weight(that.2) {
                    (this, that)
                } else {
                    (that, this)
                };
                let where_ = match there.2 {
                    Origin::Default => format!("by default; bind {} to other keys", name(there.0)),
                    Origin::File { line, .. } => format!("line {line}"),
                    o => o.to_string(),
                };
                errors.push(ConfigError {
                    origin: here.2.clone(),
                    key: format!("keys.{}", name(here.0)),
                    message: format!(
                        "\"{}\" is also bound to {} ({where_})",
                        here.1,
                        name(there.0)
                    ),
                });
            }
        }
        if !errors.is_empty() {
            crate::config::sort_errors(&mut errors);
            return Err(errors);
        }
        let bindings = keys
            .into_iter()
            .flat_map(|(action, ks)| {
                ks.into_iter()
                    .map(move |(key, _, _)| Binding { key, action })
            })
            .collect();
        Ok(Keymap { bindings })
    }

    /// The `[keys]` table in effect, each action with where its keys come
    /// from: `binds` (the file's) or the defaults (`pooltop config`).
    pub fn show(&self, binds: &[KeyBind]) -> String {
        let mut out = String::from("[keys]\n");
        for e in ACTIONS {
            let keys: Vec<String> = self
                .bindings
                .iter()
                .filter(|b| b.action == e.action)
                .map(|b| quote(&b.key.config_name()))
                .collect();
            let line = format!("{} = [{}]", e.name, keys.join(", "));
            let origin = binds
                .iter()
                .rev()
                .find(|b| b.action == e.name)
                .map_or(Origin::Default, |b| b.origin.clone());
            out.push_str(&format!("{line:<30} # {origin}\n"));
        }
        out
    }

    /// Every binding of the main screen.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The intent of a terminal event in `mode`, if it has one.
    pub fn lookup(&self, mode: Mode, event: &Event) -> Option<Msg> {
        match event {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.lookup_key(mode, k),
            Event::Mouse(m) => lookup_mouse(m),
            Event::Resize(width, height) => Some(Msg::Resize {
                width: *width,
                height: *height,
            }),
            _ => None,
        }
    }

    fn lookup_key(&self, mode: Mode, k: &KeyEvent) -> Option<Msg> {
        if Key::from_event(k) == INTERRUPT {
            return Some(Msg::Action(Action::Quit));
        }
        match mode {
            Mode::Normal => self.action(k).map(Msg::Action),
            Mode::Help | Mode::Detail => self
                .action(k)
                .and_then(|a| overlay(mode, a))
                .map(Msg::Action),
            Mode::Submit | Mode::Filter => edit(k),
        }
    }

    /// The main screen's action for a key.
    pub fn action(&self, k: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(k);
        self.bindings
            .iter()
            .find(|b| b.key == key)
            .map(|b| b.action)
    }

    /// The keys of `action`, as the screen names them; quit's end with Ctrl-C.
    pub fn keys(&self, action: Action) -> Vec<String> {
        let mut names: Vec<String> = self
            .bindings
            .iter()
            .filter(|b| b.action == action)
            .map(|b| b.key.name())
            .collect();
        if action == Action::Quit {
            names.push(INTERRUPT.name());
        }
        names
    }

    /// Every key of `action`, joined for display (`↑ k`); `–` when none.
    pub fn keys_for(&self, action: Action) -> String {
        let names = self.keys(action);
        if names.is_empty() {
            "–".to_string()
        } else {
            names.join(" ")
        }
    }

    /// The first key of `action` (the one the footer and banners show).
    pub fn first_key(&self, action: Action) -> Option<String> {
        self.keys(action).into_iter().next()
    }

    /// The first key of each of `actions` that has one, joined (`? Esc`;
    /// one-character keys run together: `↑↓`).
    pub fn first_keys(&self, actions: &[Action]) -> String {
        let names: Vec<String> = actions.iter().filter_map(|a| self.first_key(*a)).collect();
        let sep = if names.iter().all(|n| n.chars().count() == 1) {
            ""
        } else {
            " "
        };
        names.join(sep)
    }

    /// The help overlay's lines: the keys of each action of the main screen
    /// (two related actions share a line), and what it does, in table order.
    pub fn help_lines(&self) -> Vec<(String, &'static str)> {
        let mut seen: Vec<Action> = Vec::new();
        let mut out = Vec::new();
        for e in ACTIONS {
            if seen.contains(&e.action) {
                continue;
            }
            seen.push(e.action);
            match HELP_PAIRS.iter().find(|(a, _)| *a == e.action) {
                Some((a, z)) => {
                    seen.push(*z);
                    let keys = format!("{} {}", self.keys_for(*a), self.keys_for(*z));
                    out.push((keys, pair_describe(*a)));
                }
                None => out.push((self.keys_for(e.action), e.action.describe())),
            }
        }
        out
    }
}

/// Which of two places a conflict is reported at: the file's, the later line.
fn weight(o: &Origin) -> usize {
    match o {
        Origin::Default => 0,
        Origin::File { line, .. } => *line,
        _ => usize::MAX,
    }
}

/// The config file's name of an action.
pub fn name(action: Action) -> &'static str {
    ACTIONS
        .iter()
        .find(|e| e.action == action)
        .map_or("?", |e| e.name)
}

/// The `[keys]` table of the default config file.
pub fn config_docs() -> Vec<KeyDoc> {
    ACTIONS
        .iter()
        .map(|e| KeyDoc {
            name: e.name,
            keys: e.keys.iter().map(|k| k.to_string()).collect(),
            describe: e.action.describe(),
        })
        .collect()
}

/// What a main-screen action does in an overlay: scroll keys scroll, back
/// and quit close it, and the key that opened it closes it.
pub fn overlay(mode: Mode, a: Action) -> Option<Action> {
    match a {
        Action::Up | Action::Down | Action::PageUp | Action::PageDown => Some(a),
        Action::Back | Action::Quit => Some(Action::Back),
        Action::Help if mode == Mode::Help => Some(Action::Help),
        Action::Detail if mode == Mode::Detail => Some(Action::Back),
        _ => None,
    }
}

fn edit(k: &KeyEvent) -> Option<Msg> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let e = match k.code {
        KeyCode::Char('u') if ctrl => Edit::Clear,
        KeyCode::Char('a') if ctrl => Edit::Home,
        KeyCode::Char('e') if ctrl => Edit::End,
        KeyCode::Char(_) if ctrl || k.modifiers.contains(KeyModifiers::ALT) => return None,
        KeyCode::Char(c) => Edit::Insert(c),
        KeyCode::Backspace => Edit::Backspace,
        KeyCode::Delete => Edit::Delete,
        KeyCode::Left => Edit::Left,
        KeyCode::Right => Edit::Right,
        KeyCode::Home => Edit::Home,
        KeyCode::End => Edit::End,
        KeyCode::Enter => Edit::Confirm,
        KeyCode::Esc => Edit::Cancel,
        _ => return None,
    };
    Some(Msg::Edit(e))
}

fn lookup_mouse(m: &MouseEvent) -> Option<Msg> {
    let (col, row) = (m.column, m.row);
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(Msg::Click { col, row }),
        MouseEventKind::ScrollDown => Some(Msg::Scroll {
            col,
            row,
            down: true,
        }),
        MouseEventKind::ScrollUp => Some(Msg::Scroll {
            col,
            row,
            down: false,
        }),
        _ => None,
    }
}

/// Actions the help overlay shows on one line, as pairs.
const HELP_PAIRS: &[(Action, Action)] = &[
    (Action::Up, Action::Down),
    (Action::PageUp, Action::PageDown),
    (Action::Home, Action::End),
    (Action::NextPane, Action::PrevPane),
    (Action::ScaleUp, Action::ScaleDown),
    (Action::Earlier, Action::Later),
    (Action::ZoomIn, Action::ZoomOut),
    (Action::Faster, Action::Slower),
    (Action::SeekBack, Action::SeekForward),
];

fn pair_describe(a: Action) -> &'static str {
    match a {
        Action::Up => "select a worker (or a task, in the tasks pane)",
        Action::PageUp => "a page up / down",
        Action::Home => "first / last row (End in tasks: follow the running ones)",
        Action::NextPane => "next / previous pane (workers, tasks, events)",
        Action::ScaleUp => "add a worker / retire one",
        Action::Earlier => "timeline: cursor back / forward in time (past now: live)",
        Action::ZoomIn => "timeline: zoom in / out",
        Action::Faster => "replay: faster / slower",
        Action::SeekBack => "replay: seek 10 s back / forward",
        other => other.describe(),
    }
}

#[cfg(test)]
mod tests;
