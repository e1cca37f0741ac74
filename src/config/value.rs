//! What each kind of setting accepts: one grammar per [`Kind`], read from
//! text. The config file, the environment and the command line all come
//! here, so a value means the same wherever it is written and a mistake
//! reads the same; only the words for what was found depend on where it came
//! from (`the integer 0` in the file, `` `0` `` from a variable or a flag).

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use super::schema::{Kind, ThemeChoice, Value, Workers};
use pooltop::engine::ChunkSize;

/// The most seconds any setting takes (about 31 years).
const MAX_SECS: f64 = 1e9;

/// A value as it arrives: from the file (typed) or as text (the environment
/// and the flags).
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    Int(i64),
    /// A float: its value, and its text as the file writes it.
    Float(f64, &'a str),
    Str(&'a str),
    Bool(bool),
    /// Some other TOML type (array, table, date), by its name.
    Other(&'static str),
    /// Text from an environment variable or a flag.
    Text(&'a str),
}

impl Raw<'_> {
    /// How an error names what it found.
    fn found(&self) -> String {
        match self {
            Raw::Int(n) => format!("the integer {n}"),
            Raw::Float(f, _) => format!("the number {f}"),
            Raw::Str(s) => format!("the string \"{s}\""),
            Raw::Bool(b) => format!("the boolean {b}"),
            Raw::Other(t) => format!("{} {t}", article(t)),
            Raw::Text(s) => format!("`{s}`"),
        }
    }

    /// The value as the text a flag would give, if it has one: a TOML
    /// number reads as it is written (`4`, `0.5`), so `workers = 4` and
    /// `workers = "4"` are one value. Numbers count only for kinds that take
    /// them (a path or a theme is a string).
    fn text(&self, numbers: bool) -> Option<Cow<'_, str>> {
        match *self {
            Raw::Str(s) | Raw::Text(s) => Some(Cow::Borrowed(s)),
            Raw::Int(n) if numbers => Some(Cow::Owned(n.to_string())),
            Raw::Float(_, t) if numbers => Some(Cow::Borrowed(t)),
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

/// The CPUs this machine has, which `N%` and `+N` workers count from.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A whole number, `_` allowed between digits (`65_536`).
fn whole(text: &str) -> Option<i128> {
    text.trim().replace('_', "").parse().ok()
}

/// A number, fractions allowed (`0.5`, `1e3`); `_` as in [`whole`].
fn decimal(text: &str) -> Option<f64> {
    text.trim()
        .replace('_', "")
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite())
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
            Kind::Every { min } => format!("a number of seconds from {min} up (0: never)"),
            Kind::Count => "a whole number, 0 or more".into(),
            Kind::Bytes { .. } => "a number of bytes, 0 or more".into(),
            Kind::Path => "a path, as a string".into(),
            Kind::Size => "a size (bytes, or with K, M, G or T), or \"none\"".into(),
            Kind::Number => "a number, 0 or more, or \"none\"".into(),
            Kind::Bool => "true or false".into(),
            Kind::Theme => {
                let names: Vec<String> = ThemeChoice::NAMES
                    .iter()
                    .map(|(n, _)| format!("\"{n}\""))
                    .collect();
                format!("one of {}", names.join(", "))
            }
        }
    }

    /// Whether a TOML number may stand for the value (and a flag's value
    /// may start with `-`, to reach the check rather than look like a flag).
    pub fn takes_numbers(self) -> bool {
        !matches!(self, Kind::Path | Kind::Theme | Kind::Bool)
    }

    /// Reads `raw` as this kind of value; the error says what was expected
    /// and what was found.
    pub fn parse(self, raw: Raw<'_>) -> Result<Value, String> {
        let refused = |detail: Option<String>| {
            format!(
                "expected {}, found {}{}",
                self.expects(),
                raw.found(),
                detail.unwrap_or_default()
            )
        };
        if let (Kind::Bool, Raw::Bool(b)) = (self, raw) {
            return Ok(Value::Bool(b));
        }
        match raw.text(self.takes_numbers()) {
            // A boolean in the file is TOML's; a string there is not one.
            Some(_) if self == Kind::Bool && matches!(raw, Raw::Str(_)) => Err(refused(None)),
            Some(text) => self.read(&text).map_err(refused),
            None => Err(refused(None)),
        }
    }

    /// The grammar: `text` as this kind of value, or why not (`None` when
    /// "expected …, found …" says it all; else what to add to it).
    fn read(self, text: &str) -> Result<Value, Option<String>> {
        match self {
            Kind::Workers => read_workers(text, cpus()).map(Value::Workers).ok_or(None),
            Kind::Chunk => {
                if text.trim() == "auto" {
                    return Ok(Value::Chunk(ChunkSize::Auto));
                }
                match whole(text).map(usize::try_from) {
                    Some(Ok(n)) if n >= 1 => Ok(Value::Chunk(ChunkSize::Fixed(n))),
                    _ => Err(None),
                }
            }
            Kind::Secs { min, max } => match decimal(text) {
                Some(s) if s > 0.0 && s >= min && s <= max => {
                    Ok(Value::Secs(Duration::from_secs_f64(s)))
                }
                _ => Err(None),
            },
            Kind::Limit => match decimal(text) {
                _ if text.trim() == "none" => Ok(Value::Limit(None)),
                Some(0.0) => Ok(Value::Limit(None)),
                Some(s) if s > 0.0 && s <= MAX_SECS => {
                    Ok(Value::Limit(Some(Duration::from_secs_f64(s))))
                }
                _ => Err(None),
            },
            Kind::Every { min } => match decimal(text) {
                Some(0.0) => Ok(Value::Secs(Duration::ZERO)),
                Some(s) if s >= min && s <= MAX_SECS => Ok(Value::Secs(Duration::from_secs_f64(s))),
                _ => Err(None),
            },
            Kind::Count => match whole(text).map(u32::try_from) {
                Some(Ok(n)) => Ok(Value::Count(n)),
                _ => Err(None),
            },
            Kind::Bytes { max } => match whole(text).map(usize::try_from) {
                Some(Ok(n)) if n > max => Err(Some(format!(
                    ", which is more than the limit of {max} bytes"
                ))),
                Some(Ok(n)) => Ok(Value::Bytes(n)),
                _ => Err(None),
            },
            Kind::Size => {
                if matches!(text.trim(), "none" | "0") {
                    return Ok(Value::Size(None));
                }
                read_size(text).map(|n| Value::Size(Some(n))).ok_or(None)
            }
            Kind::Number => match decimal(text) {
                _ if text.trim() == "none" => Ok(Value::Number(None)),
                Some(x) if x >= 0.0 => Ok(Value::Number(Some(x))),
                _ => Err(None),
            },
            // A path is taken as written, spaces and all.
            Kind::Path if !text.is_empty() => Ok(Value::Path(PathBuf::from(text))),
            Kind::Path => Err(None),
            Kind::Bool => match text.trim() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(None),
            },
            Kind::Theme => {
                let name = text.trim();
                if let Some((_, t)) = ThemeChoice::NAMES.iter().find(|(n, _)| *n == name) {
                    return Ok(Value::Theme(*t));
                }
                let hint = super::closest(name, ThemeChoice::NAMES.iter().map(|(n, _)| *n));
                Err(hint.map(|h| format!(" (did you mean \"{h}\"?)")))
            }
        }
    }
}

/// A size as GNU parallel writes it: bytes, or a number (fractions allowed)
/// with K, M, G or T (powers of 1024, `b`/`B` after them optional).
fn read_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix(['b', 'B'])
        .filter(|r| r.ends_with(char::is_alphabetic))
        .unwrap_or(t);
    let (num, unit) = match t.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, ' '),
    };
    let power = match unit {
        ' ' => 0,
        'K' => 1,
        'M' => 2,
        'G' => 3,
        'T' => 4,
        _ => return None,
    };
    let n = decimal(num).filter(|n| *n >= 0.0)? * 1024f64.powi(power);
    (n < u64::MAX as f64).then_some(n as u64)
}

/// A number of workers on a machine with `cpus` CPUs: `auto` (one per CPU),
/// `N`, or as GNU parallel allows, `N%` of the CPUs (rounded up, so at least
/// 1) or `+N` more than the CPUs; 1 to 4096 in the end.
fn read_workers(text: &str, cpus: usize) -> Option<Workers> {
    let text = text.trim();
    if text == "auto" {
        return Some(Workers::Auto);
    }
    let cpus = cpus as i128;
    let n = if let Some(pct) = text.strip_suffix('%') {
        whole(pct)
            .filter(|p| *p > 0)
            .and_then(|p| p.checked_mul(cpus))
            .map(|n| (n + 99) / 100)
    } else if let Some(more) = text.strip_prefix('+') {
        whole(more).filter(|n| *n >= 0).map(|n| n + cpus)
    } else {
        whole(text)
    };
    match n {
        Some(n @ 1..=4096) => Some(Workers::Count(n as usize)),
        _ => None,
    }
}

/// A number of workers as a flag gives it, `auto` counted out: for `pooltop
/// scale N`, which reads the same grammar as `-j`.
pub fn worker_count(text: &str) -> Result<usize, String> {
    match Kind::Workers.parse(Raw::Text(text))? {
        Value::Workers(Workers::Count(n)) => Ok(n),
        _ => Ok(cpus()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_of_the_cpus_round_up_and_stay_in_range() {
        assert_eq!(read_workers("50%", 3), Some(Workers::Count(2)));
        assert_eq!(read_workers("50%", 1), Some(Workers::Count(1)));
        assert_eq!(read_workers("1%", 8), Some(Workers::Count(1)));
        assert_eq!(read_workers("150%", 4), Some(Workers::Count(6)));
        assert_eq!(read_workers("100%", 8), Some(Workers::Count(8)));
        assert_eq!(read_workers("+2", 8), Some(Workers::Count(10)));
        assert_eq!(read_workers("+0", 8), Some(Workers::Count(8)));
        assert_eq!(read_workers(" 7 ", 8), Some(Workers::Count(7)));
        assert_eq!(read_workers("auto", 8), Some(Workers::Auto));
        for bad in [
            "0%", "-5%", "x%", "%", "+", "+-1", "0", "4097", "x", "", "2.0",
        ] {
            assert_eq!(read_workers(bad, 8), None, "{bad}");
        }
        assert_eq!(read_workers("4000%", 200), None, "8000 workers");
        assert_eq!(read_workers("+4090", 8), None);
    }

    #[test]
    fn numbers_from_the_file_read_as_their_text() {
        let w = Kind::Workers;
        assert_eq!(w.parse(Raw::Int(3)), Ok(Value::Workers(Workers::Count(3))));
        assert_eq!(w.parse(Raw::Str("3")), w.parse(Raw::Int(3)));
        // A float is not a whole number, even 2.0.
        assert!(w.parse(Raw::Float(2.0, "2.0")).is_err());
        let s = Kind::Secs { min: 0.0, max: 1e9 };
        assert_eq!(
            s.parse(Raw::Float(0.5, "0.5")),
            Ok(Value::Secs(Duration::from_millis(500)))
        );
        assert_eq!(s.parse(Raw::Str("0.5")), s.parse(Raw::Float(0.5, "0.5")));
        // A path or a theme is a string, never a number.
        assert!(Kind::Path.parse(Raw::Int(3)).is_err());
        assert_eq!(
            Kind::Path.parse(Raw::Text("3")),
            Ok(Value::Path(PathBuf::from("3")))
        );
    }

    #[test]
    fn sampling_every_zero_is_never() {
        let e = Kind::Every { min: 0.2 };
        assert_eq!(e.parse(Raw::Int(0)), Ok(Value::Secs(Duration::ZERO)));
        assert_eq!(
            e.parse(Raw::Text("0.25")),
            Ok(Value::Secs(Duration::from_millis(250)))
        );
        assert_eq!(
            e.parse(Raw::Text("0.1")),
            Err("expected a number of seconds from 0.2 up (0: never), found `0.1`".into())
        );
        assert!(e.parse(Raw::Text("-1")).is_err());
    }

    #[test]
    fn booleans_from_the_file_and_as_text() {
        let b = Kind::Bool;
        assert_eq!(b.parse(Raw::Bool(false)), Ok(Value::Bool(false)));
        assert_eq!(b.parse(Raw::Text("true")), Ok(Value::Bool(true)));
        assert_eq!(
            b.parse(Raw::Str("false")),
            Err("expected true or false, found the string \"false\"".into())
        );
        assert_eq!(
            b.parse(Raw::Text("yes")),
            Err("expected true or false, found `yes`".into())
        );
    }
}
