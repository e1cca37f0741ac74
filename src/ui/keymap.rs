//! The one table from keys to intents. The only file that names `KeyCode`:
//! the footer and the help overlay read their key names from here, so what
//! they show is what the keys do.

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::app::Mode;
use super::msg::{Action, Edit, Msg};

/// One key of the table: a key code, whether Ctrl is held, and its intent.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub ctrl: bool,
    pub action: Action,
}

const fn key(code: KeyCode, action: Action) -> Binding {
    Binding {
        code,
        ctrl: false,
        action,
    }
}

const fn ch(c: char, action: Action) -> Binding {
    key(KeyCode::Char(c), action)
}

const fn ctrl(c: char, action: Action) -> Binding {
    Binding {
        code: KeyCode::Char(c),
        ctrl: true,
        action,
    }
}

/// The main screen (issue 3's key table, plus paging keys and Ctrl-C).
pub const NORMAL: &[Binding] = &[
    key(KeyCode::Up, Action::Up),
    ch('k', Action::Up),
    key(KeyCode::Down, Action::Down),
    ch('j', Action::Down),
    key(KeyCode::PageUp, Action::PageUp),
    key(KeyCode::PageDown, Action::PageDown),
    key(KeyCode::Home, Action::Home),
    key(KeyCode::End, Action::End),
    key(KeyCode::Tab, Action::NextPane),
    key(KeyCode::BackTab, Action::PrevPane),
    ch('s', Action::Submit),
    ch('p', Action::TogglePause),
    ch('P', Action::ToggleDispatch),
    ch('t', Action::Terminate),
    ch('K', Action::Kill),
    ch('+', Action::ScaleUp),
    ch('=', Action::ScaleUp),
    ch('-', Action::ScaleDown),
    ch('/', Action::Filter),
    key(KeyCode::Enter, Action::Detail),
    ch('?', Action::Help),
    key(KeyCode::Esc, Action::Back),
    ch('q', Action::Quit),
    ch('X', Action::StopPool),
    ctrl('c', Action::Quit),
];

/// The help overlay.
pub const HELP: &[Binding] = &[
    ch('?', Action::Help),
    key(KeyCode::Esc, Action::Back),
    ch('q', Action::Back),
    key(KeyCode::Up, Action::Up),
    ch('k', Action::Up),
    key(KeyCode::Down, Action::Down),
    ch('j', Action::Down),
    ctrl('c', Action::Quit),
];

/// The task detail overlay.
pub const DETAIL: &[Binding] = &[
    key(KeyCode::Esc, Action::Back),
    key(KeyCode::Enter, Action::Back),
    ch('q', Action::Back),
    key(KeyCode::Up, Action::Up),
    ch('k', Action::Up),
    key(KeyCode::Down, Action::Down),
    ch('j', Action::Down),
    key(KeyCode::PageUp, Action::PageUp),
    key(KeyCode::PageDown, Action::PageDown),
    ctrl('c', Action::Quit),
];

/// What the main screen's footer offers, in order.
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
    Action::Filter,
    Action::ToggleDispatch,
    Action::Detail,
];

/// What the prompts' footer offers.
pub const PROMPT_FOOTER: &[(&str, &str)] =
    &[("Enter", "accept"), ("Esc", "cancel"), ("Ctrl-U", "clear")];

/// The intent of a terminal event in `mode`, if it has one.
pub fn lookup(mode: Mode, event: &Event) -> Option<Msg> {
    match event {
        Event::Key(k) if k.kind != KeyEventKind::Release => lookup_key(mode, k),
        Event::Mouse(m) => lookup_mouse(m),
        Event::Resize(width, height) => Some(Msg::Resize {
            width: *width,
            height: *height,
        }),
        _ => None,
    }
}

fn lookup_key(mode: Mode, k: &KeyEvent) -> Option<Msg> {
    match mode {
        Mode::Normal => find(NORMAL, k).map(Msg::Action),
        Mode::Help => find(HELP, k).map(Msg::Action),
        Mode::Detail => find(DETAIL, k).map(Msg::Action),
        Mode::Submit | Mode::Filter => edit(k),
    }
}

fn find(table: &[Binding], k: &KeyEvent) -> Option<Action> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if k.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    table
        .iter()
        .find(|b| b.code == k.code && b.ctrl == ctrl)
        .map(|b| b.action)
}

fn edit(k: &KeyEvent) -> Option<Msg> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let e = match k.code {
        KeyCode::Char('c') if ctrl => return Some(Msg::Action(Action::Quit)),
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

/// A key's name as the help and the footer show it.
pub fn key_name(b: &Binding) -> String {
    let base = match b.code {
        KeyCode::Up => "↑".to_string(),
        KeyCode::Down => "↓".to_string(),
        KeyCode::Left => "←".to_string(),
        KeyCode::Right => "→".to_string(),
        KeyCode::PageUp => "PgUp".to_string(),
        KeyCode::PageDown => "PgDn".to_string(),
        KeyCode::Home => "Home".to_string(),
        KeyCode::End => "End".to_string(),
        KeyCode::Tab => "Tab".to_string(),
        KeyCode::BackTab => "Shift-Tab".to_string(),
        KeyCode::Enter => "Enter".to_string(),
        KeyCode::Esc => "Esc".to_string(),
        KeyCode::Char(c) => c.to_string(),
        other => format!("{other:?}"),
    };
    if b.ctrl {
        format!("Ctrl-{}", base.to_uppercase())
    } else {
        base
    }
}

/// Every key bound to `action` in `table`, joined for display (`↑ k`).
pub fn keys_for(table: &[Binding], action: Action) -> String {
    let names: Vec<String> = table
        .iter()
        .filter(|b| b.action == action)
        .map(key_name)
        .collect();
    names.join(" ")
}

/// The first key bound to `action` in `table` (the one the footer shows).
pub fn first_key(table: &[Binding], action: Action) -> Option<String> {
    table.iter().find(|b| b.action == action).map(key_name)
}

/// Actions the help overlay shows on one line, as pairs.
const HELP_PAIRS: &[(Action, Action)] = &[
    (Action::Up, Action::Down),
    (Action::PageUp, Action::PageDown),
    (Action::Home, Action::End),
    (Action::NextPane, Action::PrevPane),
    (Action::ScaleUp, Action::ScaleDown),
];

/// The help overlay's lines: the keys of each action of the main screen (two
/// related actions share a line), and what it does, in the table's order.
pub fn help_lines() -> Vec<(String, &'static str)> {
    let mut seen: Vec<Action> = Vec::new();
    let mut out = Vec::new();
    for b in NORMAL {
        if seen.contains(&b.action) {
            continue;
        }
        seen.push(b.action);
        match HELP_PAIRS.iter().find(|(a, _)| *a == b.action) {
            Some((a, z)) => {
                seen.push(*z);
                let keys = format!("{} {}", keys_for(NORMAL, *a), keys_for(NORMAL, *z));
                out.push((keys, pair_describe(*a)));
            }
            None => out.push((keys_for(NORMAL, b.action), b.action.describe())),
        }
    }
    out
}

fn pair_describe(a: Action) -> &'static str {
    match a {
        Action::Up => "select a worker (or a task, in the tasks pane)",
        Action::PageUp => "a page up / down",
        Action::Home => "first / last row (End in tasks: follow the running ones)",
        Action::NextPane => "next / previous pane (workers, tasks, events)",
        Action::ScaleUp => "add a worker / retire one",
        other => other.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(code, mods))
    }

    fn action(mode: Mode, code: KeyCode, mods: KeyModifiers) -> Option<Action> {
        match lookup(mode, &press(code, mods)) {
            Some(Msg::Action(a)) => Some(a),
            _ => None,
        }
    }

    #[test]
    fn issue_key_table_maps_to_intents() {
        let none = KeyModifiers::NONE;
        let shift = KeyModifiers::SHIFT;
        let n = Mode::Normal;
        for (code, mods, want) in [
            (KeyCode::Up, none, Action::Up),
            (KeyCode::Char('k'), none, Action::Up),
            (KeyCode::Down, none, Action::Down),
            (KeyCode::Char('j'), none, Action::Down),
            (KeyCode::Tab, none, Action::NextPane),
            (KeyCode::BackTab, shift, Action::PrevPane),
            (KeyCode::Char('s'), none, Action::Submit),
            (KeyCode::Char('p'), none, Action::TogglePause),
            (KeyCode::Char('P'), shift, Action::ToggleDispatch),
            (KeyCode::Char('t'), none, Action::Terminate),
            (KeyCode::Char('K'), shift, Action::Kill),
            (KeyCode::Char('+'), shift, Action::ScaleUp),
            (KeyCode::Char('-'), none, Action::ScaleDown),
            (KeyCode::Char('/'), none, Action::Filter),
            (KeyCode::Char('?'), shift, Action::Help),
            (KeyCode::Esc, none, Action::Back),
            (KeyCode::Char('q'), none, Action::Quit),
            (KeyCode::Char('c'), KeyModifiers::CONTROL, Action::Quit),
        ] {
            assert_eq!(action(n, code, mods), Some(want), "{code:?}");
        }
        assert_eq!(action(n, KeyCode::Char('x'), none), None);
        assert_eq!(action(n, KeyCode::Char('q'), KeyModifiers::ALT), None);
    }

    #[test]
    fn help_closes_with_question_mark_or_esc() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            action(Mode::Help, KeyCode::Char('?'), none),
            Some(Action::Help)
        );
        assert_eq!(action(Mode::Help, KeyCode::Esc, none), Some(Action::Back));
        assert_eq!(action(Mode::Help, KeyCode::Char('s'), none), None);
    }

    #[test]
    fn prompts_take_text_not_commands() {
        let none = KeyModifiers::NONE;
        for mode in [Mode::Submit, Mode::Filter] {
            assert!(matches!(
                lookup(mode, &press(KeyCode::Char('q'), none)),
                Some(Msg::Edit(Edit::Insert('q')))
            ));
            assert!(matches!(
                lookup(mode, &press(KeyCode::Enter, none)),
                Some(Msg::Edit(Edit::Confirm))
            ));
            assert!(matches!(
                lookup(mode, &press(KeyCode::Esc, none)),
                Some(Msg::Edit(Edit::Cancel))
            ));
        }
    }

    #[test]
    fn releases_are_ignored_and_mouse_maps_to_cells() {
        let mut k = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        k.kind = KeyEventKind::Release;
        assert!(lookup(Mode::Normal, &Event::Key(k)).is_none());
        let m = MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 3,
            row: 7,
            modifiers: KeyModifiers::NONE,
        };
        assert!(matches!(
            lookup(Mode::Normal, &Event::Mouse(m)),
            Some(Msg::Click { col: 3, row: 7 })
        ));
    }

    #[test]
    fn help_lists_every_action_once_with_its_keys() {
        let lines = help_lines();
        assert_eq!(lines[0].0, "↑ k ↓ j");
        // Every action of the table is on some line.
        for b in NORMAL {
            let named = lines.iter().any(|(_, d)| *d == b.action.describe())
                || HELP_PAIRS
                    .iter()
                    .any(|(x, z)| *x == b.action || *z == b.action);
            assert!(named, "{:?} missing from help", b.action);
        }
        let quit = lines
            .iter()
            .find(|(_, d)| *d == Action::Quit.describe())
            .unwrap();
        assert_eq!(quit.0, "q Ctrl-C");
        for a in FOOTER {
            assert!(first_key(NORMAL, *a).is_some(), "{a:?} has no key");
        }
    }
}
