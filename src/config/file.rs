//! Reading a config file: the TOML parser's spanned tree, walked against
//! [`SETTINGS`], so every error names the file, the line and the key.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::schema::{SECTIONS, SETTINGS};
use super::value::Raw;
use super::{ConfigError, KeyBind, KeyCheck, Layer, Origin, closest, sort_errors};

/// Parses a config file's text; `path` names it in errors and origins.
/// `keys` checks the `[keys]` table (the dashboard's keymap knows the
/// actions and key names). Returns every error, by line.
pub fn parse(text: &str, path: &str, keys: KeyCheck<'_>) -> Result<Layer, Vec<ConfigError>> {
    let doc = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        vec![ConfigError::at(
            path,
            line,
            "",
            format!("not valid TOML: {}", e.message().trim_end()),
        )]
    })?;
    let mut w = Walk {
        text,
        path,
        layer: Layer::default(),
        errors: Vec::new(),
    };
    for (k, v) in doc.get_ref() {
        w.top(k, v);
    }
    w.errors.extend(keys(&w.layer.keys));
    if w.errors.is_empty() {
        Ok(w.layer)
    } else {
        sort_errors(&mut w.errors);
        Err(w.errors)
    }
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Walk<'t> {
    text: &'t str,
    path: &'t str,
    layer: Layer,
    errors: Vec<ConfigError>,
}

/// A key of the file, with its place.
type SpannedKey<'i> = Spanned<Cow<'i, str>>;

impl Walk<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        line_of(self.text, s.span().start)
    }

    fn error(&mut self, line: usize, key: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(ConfigError::at(self.path, line, key, message));
    }

    fn origin<T>(&self, s: &Spanned<T>) -> Origin {
        Origin::File {
            path: self.path.to_string(),
            line: self.line(s),
        }
    }

    /// A top-level entry: one of the tables, or a mistake.
    fn top(&mut self, k: &SpannedKey<'_>, v: &Spanned<DeValue<'_>>) {
        let name = k.get_ref().as_ref();
        let line = self.line(k);
        if SECTIONS.contains(&name) {
            let DeValue::Table(t) = v.get_ref() else {
                let found = v.get_ref().type_str();
                self.error(
                    line,
                    name,
                    format!(
                        "expected a table ([{name}]), found {} {found}",
                        article(found)
                    ),
                );
                return;
            };
            for (k2, v2) in t {
                if name == "keys" {
                    self.key_binding(k2, v2);
                } else {
                    self.setting(name, k2, v2);
                }
            }
            return;
        }
        if let DeValue::Table(_) = v.get_ref() {
            let hint = match closest(name, SECTIONS.iter().copied()) {
                Some(s) => format!("did you mean [{s}]?"),
                None => format!(
                    "the tables are {}",
                    list(SECTIONS.iter().map(|s| format!("[{s}]")))
                ),
            };
            self.error(line, name, format!("unknown table ({hint})"));
            return;
        }
        // A setting outside its table, or a misspelt one.
        let hint = match SETTINGS.iter().find(|s| s.name == name) {
            Some(s) => format!("it belongs in [{}]: {}", s.section, s.qualified()),
            None => {
                let all: Vec<String> = SETTINGS.iter().map(|s| s.qualified()).collect();
                let names = SETTINGS.iter().map(|s| s.name);
                match closest(name, names) {
                    Some(n) => {
                        let s = SETTINGS.iter().find(|s| s.name == n).map(|s| s.qualified());
                        format!("did you mean {}?", s.unwrap_or_default())
                    }
                    None => format!("settings go in tables: {}", all.join(", ")),
                }
            }
        };
        self.error(line, name, format!("unknown key at the top level ({hint})"));
    }

    /// `section.name = value`.
    fn setting(&mut self, section: &str, k: &SpannedKey<'_>, v: &Spanned<DeValue<'_>>) {
        let name = k.get_ref().as_ref();
        let key = format!("{section}.{name}");
        let Some(s) = SETTINGS
            .iter()
            .find(|s| s.section == section && s.name == name)
        else {
            let here = SETTINGS
                .iter()
                .filter(|s| s.section == section)
                .map(|s| s.name);
            let hint = match closest(name, here.clone()) {
                Some(n) => format!("did you mean {n}?"),
                None => match SETTINGS.iter().find(|s| s.name == name) {
                    Some(s) => format!("it belongs in [{}]", s.section),
                    None => format!("[{section}] takes {}", list(here)),
                },
            };
            let line = self.line(k);
            self.error(line, key, format!("unknown key ({hint})"));
            return;
        };
        let raw = raw(v.get_ref());
        match s.kind.parse(raw) {
            Ok(value) => {
                let origin = self.origin(v);
                self.layer.set(s.key, value, origin);
            }
            Err(message) => {
                let line = self.line(v);
                self.error(line, key, message);
            }
        }
    }

    /// `action = "key"` or `action = ["key", …]` in `[keys]`; the names are
    /// the keymap's to check.
    fn key_binding(&mut self, k: &SpannedKey<'_>, v: &Spanned<DeValue<'_>>) {
        let action = k.get_ref().to_string();
        let key = format!("keys.{action}");
        let expects = "expected a key name (\"q\") or a list of them ([\"q\", \"Ctrl-c\"])";
        let keys = match v.get_ref() {
            DeValue::String(s) => vec![(s.to_string(), self.origin(v))],
            DeValue::Array(items) => {
                let mut keys = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => keys.push((s.to_string(), self.origin(item))),
                        other => {
                            let line = self.line(item);
                            let found = found(other);
                            self.error(
                                line,
                                key.clone(),
                                format!("{expects}, found {found} in the list"),
                            );
                        }
                    }
                }
                keys
            }
            other => {
                let line = self.line(v);
                let found = found(other);
                self.error(line, key, format!("{expects}, found {found}"));
                return;
            }
        };
        let origin = self.origin(k);
        self.layer.keys.push(KeyBind {
            action,
            origin,
            keys,
        });
    }
}

/// A TOML value as a setting's grammar reads it: a number keeps its text.
fn raw<'a>(v: &'a DeValue<'_>) -> Raw<'a> {
    match v {
        DeValue::String(s) => Raw::Str(s.as_ref()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Raw::Int(n),
            Err(_) => Raw::Other("integer out of range"),
        },
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(x) => Raw::Float(x, f.as_str()),
            Err(_) => Raw::Other("float"),
        },
        DeValue::Boolean(b) => Raw::Bool(*b),
        other => Raw::Other(other.type_str()),
    }
}

/// What an error says it found.
fn found(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("the string \"{s}\""),
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(f) => format!("the number {f}"),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        other => {
            let t = other.type_str();
            format!("{} {t}", article(t))
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

fn list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    v.join(", ")
}
