//! Every setting of the config file, in one table: its section and name,
//! its environment variable, its flag, what it takes and its documentation.
//! The default file, the parser, the environment layer and `pooltop config`
//! all read this table, so a new setting is one entry here (plus its field in
//! [`Settings`](super::Settings)).

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::ChunkSize;

/// A setting, as code names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Workers,
    JoinTimeout,
    TaskTimeout,
    HungAfter,
    Retries,
    Chunksize,
    Out,
    OutputCap,
    Refresh,
    Theme,
}

/// How many workers a pool starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// One per CPU.
    Auto,
    /// Exactly this many.
    Count(usize),
}

/// The dashboard's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeChoice {
    /// `default`, or `mono` when `NO_COLOR` is set.
    Auto,
    /// 16 colours, readable on dark and light terminals.
    Default,
    /// Bold, no dimming, states on solid backgrounds.
    HighContrast,
    /// No colour: bold, dim and reverse video only.
    Mono,
}

impl ThemeChoice {
    /// Every theme by its name in the config file.
    pub const NAMES: &[(&str, ThemeChoice)] = &[
        ("auto", ThemeChoice::Auto),
        ("default", ThemeChoice::Default),
        ("high-contrast", ThemeChoice::HighContrast),
        ("mono", ThemeChoice::Mono),
    ];

    /// The name the config file uses.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("auto", |(n, _)| n)
    }
}

/// A setting's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Workers(Workers),
    Secs(Duration),
    /// Seconds, or no limit.
    Limit(Option<Duration>),
    Count(u32),
    Bytes(usize),
    Path(PathBuf),
    Theme(ThemeChoice),
    Chunk(ChunkSize),
}

/// What a setting takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A number of workers, or `"auto"`.
    Workers,
    /// Seconds, fractions allowed, within `min..=max` (min excluded when 0).
    Secs { min: f64, max: f64 },
    /// Seconds above 0, or 0 for no limit.
    Limit,
    /// A whole number, 0 or more.
    Count,
    /// A number of bytes, 0 or more.
    Bytes,
    /// A path (a string).
    Path,
    /// A theme name.
    Theme,
    /// A number of tasks from 1 up, or `"auto"`.
    Chunk,
}

/// One setting of the file.
#[derive(Debug)]
pub struct Setting {
    pub key: Key,
    /// Its table: `pool` or `dashboard`.
    pub section: &'static str,
    /// Its name in the table.
    pub name: &'static str,
    /// The environment variable that overrides the file.
    pub env: &'static str,
    /// The command-line flag that overrides both, if there is one.
    pub flag: Option<&'static str>,
    pub kind: Kind,
    /// What it means: the comment above it in the default file.
    pub doc: &'static str,
}

impl Setting {
    /// `section.name`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }
}

/// The tables of the file, in order (`keys` is the key bindings').
pub const SECTIONS: &[&str] = &["pool", "dashboard", "keys"];

/// Every setting, in the order of the default file.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: Key::Workers,
        section: "pool",
        name: "workers",
        env: "POOLTOP_WORKERS",
        flag: Some("-j, --workers"),
        kind: Kind::Workers,
        doc: "Number of worker processes: 1 to 4096, or \"auto\" for one per CPU.",
    },
    Setting {
        key: Key::JoinTimeout,
        section: "pool",
        name: "join_timeout",
        env: "POOLTOP_JOIN_TIMEOUT",
        flag: Some("--join-timeout"),
        kind: Kind::Secs { min: 0.0, max: 1e9 },
        doc: "Seconds a worker asked to stop may take before SIGTERM, then SIGKILL.",
    },
    Setting {
        key: Key::TaskTimeout,
        section: "pool",
        name: "task_timeout",
        env: "POOLTOP_TASK_TIMEOUT",
        flag: Some("--task-timeout"),
        kind: Kind::Limit,
        doc: "Seconds a task may run before its worker is killed and replaced\n\
              (the task ends timed_out, or is retried); 0: no limit.",
    },
    Setting {
        key: Key::HungAfter,
        section: "pool",
        name: "hung_after",
        env: "POOLTOP_HUNG_AFTER",
        flag: Some("--hung-after"),
        kind: Kind::Secs { min: 0.0, max: 1e9 },
        doc: "Seconds a busy worker may finish nothing and use no CPU before a\n\
              headless run reports it hung (at most half the task timeout).",
    },
    Setting {
        key: Key::Retries,
        section: "pool",
        name: "retries",
        env: "POOLTOP_RETRIES",
        flag: Some("--retries"),
        kind: Kind::Count,
        doc: "Times a task is started again when its worker dies under it or it\n\
              times out.",
    },
    Setting {
        key: Key::Chunksize,
        section: "pool",
        name: "chunksize",
        env: "POOLTOP_CHUNKSIZE",
        flag: Some("--chunksize"),
        kind: Kind::Chunk,
        doc: "Tasks handed to a worker at once (like Pool.map's chunksize), or\n\
              \"auto\": sized from the median run time. Each is still reported.",
    },
    Setting {
        key: Key::Out,
        section: "pool",
        name: "out",
        env: "POOLTOP_OUT",
        flag: Some("--out"),
        kind: Kind::Path,
        doc: "Folder for thumbnails (relative to the folder pooltop runs in).",
    },
    Setting {
        key: Key::OutputCap,
        section: "pool",
        name: "output_cap",
        env: "POOLTOP_OUTPUT_CAP",
        flag: Some("--output-cap"),
        kind: Kind::Bytes,
        doc: "Bytes of stdout and of stderr kept per shell task (the last ones).",
    },
    Setting {
        key: Key::Refresh,
        section: "dashboard",
        name: "refresh",
        env: "POOLTOP_REFRESH",
        flag: None,
        kind: Kind::Secs {
            min: 0.2,
            max: 60.0,
        },
        doc: "Seconds between two samples of CPU and memory use (0.2 to 60).",
    },
    Setting {
        key: Key::Theme,
        section: "dashboard",
        name: "theme",
        env: "POOLTOP_THEME",
        flag: None,
        kind: Kind::Theme,
        doc: "Colours: \"default\" (16 colours, dark or light terminals),\n\
              \"high-contrast\", \"mono\" (no colour), or \"auto\": default, or mono\n\
              when NO_COLOR is set. A theme named here wins over NO_COLOR.",
    },
];

/// The table's entry for `key`.
pub fn setting(key: Key) -> &'static Setting {
    SETTINGS
        .iter()
        .find(|s| s.key == key)
        .unwrap_or(&SETTINGS[0])
}

/// A value as it arrives: from the file (typed) or the environment (text).
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    /// Some other TOML type (array, table, date), by its name.
    Other(&'static str),
    /// Text from an environment variable: numbers are parsed from it.
    Text(&'a str),
}

impl Raw<'_> {
    /// How an error names what it found.
    fn found(&self) -> String {
        match self {
            Raw::Int(n) => format!("the integer {n}"),
            Raw::Float(f) => format!("the number {f}"),
            Raw::Str(s) => format!("the string \"{s}\""),
            Raw::Bool(b) => format!("the boolean {b}"),
            Raw::Other(t) => format!("{} {t}", article(t)),
            Raw::Text(s) => format!("`{s}`"),
        }
    }

    /// The value as a number, if it is one (or, from the environment, reads as one).
    fn number(&self) -> Option<f64> {
        match *self {
            Raw::Int(n) => Some(n as f64),
            Raw::Float(f) => Some(f),
            Raw::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a whole number, if it is one.
    fn whole(&self) -> Option<i128> {
        match *self {
            Raw::Int(n) => Some(i128::from(n)),
            Raw::Text(s) => s.trim().replace('_', "").parse().ok(),
            _ => None,
        }
    }

    /// The value as text, if it is a string.
    fn text(&self) -> Option<&str> {
        match *self {
            Raw::Str(s) | Raw::Text(s) => Some(s),
            _ => None,
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

impl Kind {
    /// What the setting expects, for error messages.
    pub fn expects(self) -> String {
        match self {
            Kind::Workers => "a number of workers from 1 to 4096, or \"auto\"".into(),
            Kind::Chunk => "a number of tasks from 1 up, or \"auto\"".into(),
            Kind::Secs { min, max } if min > 0.0 => {
                format!("a number of seconds from {min} to {max}")
            }
            Kind::Secs { .. } => "a number of seconds above 0".into(),
            Kind::Limit => "a number of seconds (0: no limit)".into(),
            Kind::Count => "a whole number, 0 or more".into(),
            Kind::Bytes => "a number of bytes, 0 or more".into(),
            Kind::Path => "a path, as a string".into(),
            Kind::Theme => {
                let names: Vec<String> = ThemeChoice::NAMES
                    .iter()
                    .map(|(n, _)| format!("\"{n}\""))
                    .collect();
                format!("one of {}", names.join(", "))
            }
        }
    }

    /// Reads `raw` as this kind of value; the error says what was expected
    /// and what was found.
    pub fn parse(self, raw: Raw<'_>) -> Result<Value, String> {
        let wrong = || format!("expected {}, found {}", self.expects(), raw.found());
        match self {
            Kind::Workers => {
                if raw.text().is_some_and(|s| s.trim() == "auto") {
                    return Ok(Value::Workers(Workers::Auto));
                }
                match raw.whole() {
                    Some(n @ 1..=4096) => Ok(Value::Workers(Workers::Count(n as usize))),
                    _ => Err(wrong()),
                }
            }
            Kind::Chunk => {
                if raw.text().is_some_and(|s| s.trim() == "auto") {
                    return Ok(Value::Chunk(ChunkSize::Auto));
                }
                match raw.whole().map(usize::try_from) {
                    Some(Ok(n)) if n >= 1 => Ok(Value::Chunk(ChunkSize::Fixed(n))),
                    _ => Err(wrong()),
                }
            }
            Kind::Secs { min, max } => match raw.number() {
                Some(s) if s.is_finite() && s > 0.0 && s >= min && s <= max => {
                    Ok(Value::Secs(Duration::from_secs_f64(s)))
                }
                _ => Err(wrong()),
            },
            Kind::Limit => match raw.number() {
                Some(0.0) => Ok(Value::Limit(None)),
                Some(s) if s.is_finite() && s > 0.0 && s <= 1e9 => {
                    Ok(Value::Limit(Some(Duration::from_secs_f64(s))))
                }
                _ => Err(wrong()),
            },
            Kind::Count => match raw.whole().map(u32::try_from) {
                Some(Ok(n)) => Ok(Value::Count(n)),
                _ => Err(wrong()),
            },
            Kind::Bytes => match raw.whole().map(usize::try_from) {
                Some(Ok(n)) => Ok(Value::Bytes(n)),
                _ => Err(wrong()),
            },
            Kind::Path => match raw.text() {
                Some(s) if !s.is_empty() => Ok(Value::Path(PathBuf::from(s))),
                _ => Err(wrong()),
            },
            Kind::Theme => {
                let Some(s) = raw.text() else {
                    return Err(wrong());
                };
                if let Some((_, t)) = ThemeChoice::NAMES.iter().find(|(n, _)| *n == s.trim()) {
                    return Ok(Value::Theme(*t));
                }
                let hint = super::closest(s, ThemeChoice::NAMES.iter().map(|(n, _)| *n));
                Err(match hint {
                    Some(h) => format!("{} (did you mean \"{h}\"?)", wrong()),
                    None => wrong(),
                })
            }
        }
    }
}

impl Value {
    /// The value as the config file writes it.
    pub fn to_toml(&self) -> String {
        match self {
            Value::Workers(Workers::Auto) => "\"auto\"".into(),
            Value::Workers(Workers::Count(n)) => n.to_string(),
            Value::Secs(d) => secs(*d),
            Value::Limit(None) => "0".into(),
            Value::Limit(Some(d)) => secs(*d),
            Value::Count(n) => n.to_string(),
            Value::Bytes(n) => n.to_string(),
            Value::Path(p) => quote(&p.to_string_lossy()),
            Value::Theme(t) => quote(t.name()),
            Value::Chunk(ChunkSize::Auto) => "\"auto\"".into(),
            Value::Chunk(ChunkSize::Fixed(n)) => n.to_string(),
        }
    }
}

/// Seconds as the file writes them: `5`, `0.5`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    format!("{s}")
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_entry_and_env_names_follow_the_key() {
        for s in SETTINGS {
            assert_eq!(SETTINGS.iter().filter(|t| t.key == s.key).count(), 1);
            assert_eq!(setting(s.key).name, s.name);
            assert_eq!(s.env, format!("POOLTOP_{}", s.name.to_uppercase()));
            assert!(SECTIONS.contains(&s.section));
        }
    }

    #[test]
    fn values_from_the_file_and_from_the_environment() {
        let w = Kind::Workers;
        assert_eq!(w.parse(Raw::Int(3)), Ok(Value::Workers(Workers::Count(3))));
        assert_eq!(
            w.parse(Raw::Text("3")),
            Ok(Value::Workers(Workers::Count(3)))
        );
        assert_eq!(w.parse(Raw::Str("auto")), Ok(Value::Workers(Workers::Auto)));
        assert!(w.parse(Raw::Int(0)).is_err());
        assert!(w.parse(Raw::Int(5000)).is_err());
        assert!(w.parse(Raw::Float(2.0)).is_err());
        // A string in the file is not a number, even if it reads as one.
        assert!(w.parse(Raw::Str("3")).is_err());
        let l = Kind::Limit;
        assert_eq!(l.parse(Raw::Int(0)), Ok(Value::Limit(None)));
        assert_eq!(
            l.parse(Raw::Text("1.5")),
            Ok(Value::Limit(Some(Duration::from_millis(1500))))
        );
        assert!(l.parse(Raw::Float(-1.0)).is_err());
        let r = SETTINGS
            .iter()
            .find(|s| s.key == Key::Refresh)
            .unwrap()
            .kind;
        assert!(r.parse(Raw::Float(0.1)).is_err());
        assert_eq!(
            r.parse(Raw::Float(0.2)),
            Ok(Value::Secs(Duration::from_millis(200)))
        );
        assert_eq!(
            Kind::Count.parse(Raw::Bool(true)),
            Err("expected a whole number, 0 or more, found the boolean true".into())
        );
        assert_eq!(
            Kind::Theme.parse(Raw::Str("hight-contrast")),
            Err(
                "expected one of \"auto\", \"default\", \"high-contrast\", \"mono\", \
                 found the string \"hight-contrast\" (did you mean \"high-contrast\"?)"
                    .into()
            )
        );
    }

    /// What `to_toml` writes (the default file, `pooltop config`) reads
    /// back as the same value.
    #[test]
    fn values_written_back_read_the_same() {
        let samples = [
            (Key::Workers, Value::Workers(Workers::Auto)),
            (Key::Workers, Value::Workers(Workers::Count(7))),
            (Key::JoinTimeout, Value::Secs(Duration::from_millis(500))),
            (Key::JoinTimeout, Value::Secs(Duration::from_secs(5))),
            (Key::TaskTimeout, Value::Limit(None)),
            (
                Key::TaskTimeout,
                Value::Limit(Some(Duration::from_secs(30))),
            ),
            (Key::HungAfter, Value::Secs(Duration::from_secs(10))),
            (Key::Retries, Value::Count(3)),
            (Key::Chunksize, Value::Chunk(ChunkSize::Auto)),
            (Key::Chunksize, Value::Chunk(ChunkSize::Fixed(64))),
            (Key::Out, Value::Path(PathBuf::from("a \"b\"\\c"))),
            (Key::OutputCap, Value::Bytes(65536)),
            (Key::Refresh, Value::Secs(Duration::from_millis(250))),
            (Key::Theme, Value::Theme(ThemeChoice::HighContrast)),
        ];
        for (key, v) in samples {
            let s = setting(key);
            let text = format!("[{}]\n{} = {}\n", s.section, s.name, v.to_toml());
            let layer = super::super::parse(&text, "t.toml", &super::super::no_key_check)
                .unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(layer.values[0].1, v, "{text}");
        }
        assert_eq!(Value::Secs(Duration::from_secs(5)).to_toml(), "5");
        assert_eq!(Value::Secs(Duration::from_millis(500)).to_toml(), "0.5");
        assert_eq!(quote("a \"b\"\\c"), r#""a \"b\"\\c""#);
    }
}
