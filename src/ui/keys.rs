//! A key as the keymap knows it, and how it is spelt: in the config file
//! (`"Ctrl-c"`, `"PageUp"`, `"K"`) and on screen (`Ctrl-C`, `PgUp`, `K`).
//! With keymap.rs, the only file that names `KeyCode`.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key: a code and the modifiers that matter. Shift is part of the
/// character (`K`) or of the code (`BackTab`), never a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

/// Named keys: the config file's spelling (first) and other spellings it
/// accepts, case aside; the screen's name comes from [`Key::name`].
const NAMES: &[(&str, KeyCode, &[&str])] = &[
    ("Up", KeyCode::Up, &["↑"]),
    ("Down", KeyCode::Down, &["↓"]),
    ("Left", KeyCode::Left, &["←"]),
    ("Right", KeyCode::Right, &["→"]),
    ("PageUp", KeyCode::PageUp, &["PgUp"]),
    ("PageDown", KeyCode::PageDown, &["PgDn", "PgDown"]),
    ("Home", KeyCode::Home, &[]),
    ("End", KeyCode::End, &[]),
    ("Tab", KeyCode::Tab, &[]),
    ("Shift-Tab", KeyCode::BackTab, &["BackTab", "Shift+Tab"]),
    ("Enter", KeyCode::Enter, &["Return"]),
    ("Esc", KeyCode::Esc, &["Escape"]),
    ("Space", KeyCode::Char(' '), &[]),
    ("Backspace", KeyCode::Backspace, &[]),
    ("Delete", KeyCode::Delete, &["Del"]),
    ("Insert", KeyCode::Insert, &["Ins"]),
];

/// What a key name may be, for error messages.
pub const SPELLING: &str = "a character (\"q\", \"K\" for Shift-k), a key name (Up, Down, \
     Left, Right, PageUp, PageDown, Home, End, Tab, Shift-Tab, Enter, Esc, Space, Backspace, \
     Delete, Insert, F1 to F12), or Ctrl- or Alt- and a key";

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
        }
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
        }
    }

    /// The key a terminal event stands for.
    pub fn from_event(k: &KeyEvent) -> Key {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let code = match k.code {
            // Ctrl-Shift-c arrives as Ctrl + `C` on some terminals.
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        Key {
            code,
            ctrl,
            alt: k.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// Reads a key as the config file spells it; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Key> {
        let mut rest = text;
        let (mut ctrl, mut alt, mut shift) = (false, false, false);
        loop {
            let lower = rest.to_ascii_lowercase();
            let Some((flag, len)) =
                [("ctrl", 4), ("alt", 3), ("shift", 5)]
                    .into_iter()
                    .find(|(m, len)| {
                        lower.starts_with(m)
                            && matches!(lower.as_bytes().get(*len), Some(b'-' | b'+'))
                            && lower.len() > len + 1
                    })
            else {
                break;
            };
            // "Shift-Tab" is a name of its own.
            if flag == "shift" && (lower == "shift-tab" || lower == "shift+tab") {
                break;
            }
            match flag {
                "ctrl" => ctrl = true,
                "alt" => alt = true,
                _ => shift = true,
            }
            rest = &rest[len + 1..];
        }
        let code = match (Self::code(rest)?, shift) {
            (KeyCode::Char(c), true) if c.is_ascii_alphabetic() => {
                KeyCode::Char(c.to_ascii_uppercase())
            }
            (KeyCode::Tab, true) => KeyCode::BackTab,
            (_, true) => return None,
            (c, false) => c,
        };
        // Terminals send Ctrl with the letter, whatever Shift says.
        let code = match code {
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            c => c,
        };
        Some(Key { code, ctrl, alt })
    }

    fn code(name: &str) -> Option<KeyCode> {
        let mut chars = name.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Some(KeyCode::Char(c));
        }
        for (main, code, others) in NAMES {
            if main.eq_ignore_ascii_case(name)
                || others.iter().any(|o| o.eq_ignore_ascii_case(name))
            {
                return Some(*code);
            }
        }
        let n = name.strip_prefix(['F', 'f'])?.parse::<u8>().ok()?;
        (1..=12).contains(&n).then_some(KeyCode::F(n))
    }

    /// How the config file spells the key (what [`Key::parse`] reads back).
    pub fn config_name(&self) -> String {
        let base = match self.code {
            KeyCode::Char(c) if c != ' ' => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            code => NAMES
                .iter()
                .find(|(_, c, _)| *c == code)
                .map_or_else(|| format!("{code:?}"), |(n, _, _)| n.to_string()),
        };
        self.with_modifiers(base, false)
    }

    /// How the help and the footer show the key (`↑`, `PgUp`, `Ctrl-C`).
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Delete => "Del".to_string(),
            KeyCode::Insert => "Ins".to_string(),
            KeyCode::Backspace => "Bksp".to_string(),
            _ => self.config_name_base(),
        };
        self.with_modifiers(base, true)
    }

    fn config_name_base(&self) -> String {
        Key::plain(self.code).config_name()
    }

    fn with_modifiers(&self, base: String, upper: bool) -> String {
        let base = if self.ctrl && upper {
            base.to_uppercase()
        } else {
            base
        };
        match (self.ctrl, self.alt) {
            (true, true) => format!("Ctrl-Alt-{base}"),
            (true, false) => format!("Ctrl-{base}"),
            (false, true) => format!("Alt-{base}"),
            (false, false) => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_read_as_keys() {
        let k = |s| Key::parse(s);
        assert_eq!(k("q"), Some(Key::plain(KeyCode::Char('q'))));
        assert_eq!(k("K"), Some(Key::plain(KeyCode::Char('K'))));
        assert_eq!(k("Shift-k"), Some(Key::plain(KeyCode::Char('K'))));
        assert_eq!(k("-"), Some(Key::plain(KeyCode::Char('-'))));
        assert_eq!(k("Ctrl-C"), Some(Key::ctrl('c')));
        assert_eq!(k("ctrl+c"), Some(Key::ctrl('c')));
        assert_eq!(k("Ctrl--"), Some(Key::ctrl('-')));
        assert_eq!(k("pgdn"), Some(Key::plain(KeyCode::PageDown)));
        assert_eq!(k("Shift-Tab"), Some(Key::plain(KeyCode::BackTab)));
        assert_eq!(k("shift-tab"), Some(Key::plain(KeyCode::BackTab)));
        assert_eq!(k("F5"), Some(Key::plain(KeyCode::F(5))));
        assert_eq!(k("Space"), Some(Key::plain(KeyCode::Char(' '))));
        assert_eq!(
            k("Alt-x"),
            Some(Key {
                code: KeyCode::Char('x'),
                ctrl: false,
                alt: true
            })
        );
        for bad in ["", "Ctlr-q", "F13", "Shift-Up", "Ctrl-", "qq", "Hyper-x"] {
            assert_eq!(k(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_names_read_back_and_screen_names_are_short() {
        for s in [
            "q",
            "K",
            "Up",
            "PageDown",
            "Shift-Tab",
            "Enter",
            "Esc",
            "Space",
            "F12",
            "Ctrl-c",
            "Alt-Left",
            "+",
            "?",
        ] {
            let key = Key::parse(s).unwrap();
            assert_eq!(key.config_name(), s);
            assert_eq!(Key::parse(&key.config_name()), Some(key));
        }
        assert_eq!(Key::ctrl('c').name(), "Ctrl-C");
        assert_eq!(Key::plain(KeyCode::Up).name(), "↑");
        assert_eq!(Key::plain(KeyCode::PageUp).name(), "PgUp");
        assert_eq!(Key::plain(KeyCode::BackTab).name(), "Shift-Tab");
    }

    #[test]
    fn events_map_to_keys() {
        let ev = KeyEvent::new(
            KeyCode::Char('C'),
            KeyModifiers::CONTROL | KeyModifiers::SHIFT,
        );
        assert_eq!(Key::from_event(&ev), Key::ctrl('c'));
        let ev = KeyEvent::new(KeyCode::Char('K'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&ev), Key::plain(KeyCode::Char('K')));
    }
}
