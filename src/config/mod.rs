//! Settings: the built-in defaults, then the config file, then the
//! environment, then the command line; each layer overrides the one before.
//! All three read a setting with the same grammar, its [`Kind`]'s.
//!
//! The file is TOML, at `$XDG_CONFIG_HOME/pooltop/config.toml` (or
//! `~/.config/pooltop/config.toml`), or wherever `--config PATH` or
//! `$POOLTOP_CONFIG` points. Its tables are `[pool]` and `[dashboard]` (one
//! entry each in [`SETTINGS`]) and `[keys]`, the key bindings, which this
//! module only reads as text: the dashboard's keymap checks them. An unknown
//! key or a wrong type is an error naming the file, the line and the key,
//! with the closest valid key when there is one; nothing is silently ignored.
//!
//! No terminal, no pool here: [`load`] returns [`Settings`] or every error.

mod file;
mod flags;
mod schema;
mod value;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pooltop::engine::{ChunkSize, PoolConfig};

pub use file::parse;
pub use flags::SettingFlags;
pub use schema::{Key, SETTINGS, ThemeChoice, Value, Workers, quote};
pub use value::{Raw, worker_count};

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "POOLTOP_CONFIG";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built in.
    Default,
    /// A line of a config file.
    File { path: String, line: usize },
    /// An environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Env(var) => write!(f, "environment {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A problem with a setting: where it is, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Origin,
    /// The key as the file writes it (`pool.workers`, `keys.quit`); empty
    /// for a TOML syntax error.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    /// An error at line `line` of `path`.
    pub fn at(path: &str, line: usize, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            origin: Origin::File {
                path: path.to_string(),
                line,
            },
            key: key.into(),
            message: message.into(),
        }
    }

    fn line(&self) -> usize {
        match self.origin {
            Origin::File { line, .. } => line,
            _ => usize::MAX,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { path, line } if self.key.is_empty() => {
                write!(f, "{path}:{line}: {}", self.message)
            }
            Origin::File { path, line } => {
                write!(f, "{path}:{line}: {}: {}", self.key, self.message)
            }
            Origin::Env(var) => write!(f, "environment variable {var}: {}", self.message),
            Origin::Flag(flag) => write!(f, "{flag}: {}", self.message),
            Origin::Default => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Sorts errors by line, as the file reads.
pub fn sort_errors(errors: &mut [ConfigError]) {
    errors.sort_by_key(|e| e.line());
}

/// One `[keys]` entry, as text: the dashboard's keymap gives it meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBind {
    /// The action's name (`quit`).
    pub action: String,
    /// Where the action is named.
    pub origin: Origin,
    /// Its keys as written (`"Ctrl-c"`), each with its line.
    pub keys: Vec<(String, Origin)>,
}

/// Checks a file's `[keys]` entries: every problem, or none. The dashboard's
/// keymap provides it (`|b| Keymap::from_binds(b).err().unwrap_or_default()`);
/// [`no_key_check`] accepts anything.
pub type KeyCheck<'a> = &'a dyn Fn(&[KeyBind]) -> Vec<ConfigError>;

/// A [`KeyCheck`] that accepts every `[keys]` entry.
#[cfg(test)]
pub fn no_key_check(_: &[KeyBind]) -> Vec<ConfigError> {
    Vec::new()
}

/// Some settings with where each came from: one layer of the stack.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub values: Vec<(Key, Value, Origin)>,
    pub keys: Vec<KeyBind>,
}

impl Layer {
    pub fn set(&mut self, key: Key, value: Value, origin: Origin) {
        self.values.retain(|(k, _, _)| *k != key);
        self.values.push((key, value, origin));
    }
}

/// Every setting, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub workers: Workers,
    pub join_timeout: Duration,
    pub task_timeout: Option<Duration>,
    /// When a headless run reports a busy worker as hung (see `--hung-after`).
    pub hung_after: Duration,
    pub retries: u32,
    pub chunksize: ChunkSize,
    pub out: PathBuf,
    pub output_cap: usize,
    /// How often a headless run samples CPU and memory (the JSON stream's
    /// `sample` events); zero: never.
    pub sample_every: Duration,
    /// The admission gates and task limits (see `PoolConfig`).
    pub memfree: Option<u64>,
    pub load: Option<f64>,
    pub delay: Option<Duration>,
    pub nice: u32,
    pub task_memory: Option<u64>,
    /// 0: the worker's share of the CPUs.
    pub threads_per_task: u32,
    /// The Python interpreter of `py` tasks.
    pub python: PathBuf,
    /// Tasks a worker runs before it is replaced; 0: never.
    pub max_tasks_per_worker: u32,
    /// How often the dashboard samples CPU and memory.
    pub refresh: Duration,
    pub theme: ThemeChoice,
    /// Whether every run is recorded in the default folder (`record.enabled`).
    pub record_enabled: bool,
    /// How many default recordings are kept (`record.keep`; 0: all).
    pub record_keep: u32,
    /// The file's key bindings (over the built-in ones), in the file's order.
    pub keys: Vec<KeyBind>,
    /// The config file that was read, if one was.
    pub file: Option<PathBuf>,
    origins: Vec<(Key, Origin)>,
}

impl Default for Settings {
    fn default() -> Settings {
        let pool = PoolConfig::default();
        Settings {
            workers: Workers::Auto,
            join_timeout: pool.join_timeout,
            task_timeout: pool.task_timeout,
            hung_after: pooltop::engine::DEFAULT_HUNG_AFTER,
            retries: pool.retries,
            chunksize: pool.chunksize,
            out: pool.out_dir,
            output_cap: pool.output_cap,
            sample_every: Duration::from_secs(1),
            memfree: None,
            load: None,
            delay: None,
            nice: 0,
            task_memory: None,
            threads_per_task: 0,
            python: PathBuf::from(pooltop::worker::DEFAULT_PYTHON),
            max_tasks_per_worker: 0,
            refresh: Duration::from_millis(500),
            theme: ThemeChoice::Auto,
            record_enabled: true,
            record_keep: 20,
            keys: Vec::new(),
            file: None,
            origins: Vec::new(),
        }
    }
}

impl Settings {
    /// A setting's value.
    pub fn get(&self, key: Key) -> Value {
        match key {
            Key::Workers => Value::Workers(self.workers),
            Key::JoinTimeout => Value::Secs(self.join_timeout),
            Key::TaskTimeout => Value::Limit(self.task_timeout),
            Key::HungAfter => Value::Secs(self.hung_after),
            Key::Retries => Value::Count(self.retries),
            Key::Chunksize => Value::Chunk(self.chunksize),
            Key::Out => Value::Path(self.out.clone()),
            Key::OutputCap => Value::Bytes(self.output_cap),
            Key::SampleEvery => Value::Secs(self.sample_every),
            Key::Memfree => Value::Size(self.memfree),
            Key::Load => Value::Number(self.load),
            Key::Delay => Value::Limit(self.delay),
            Key::Nice => Value::Count(self.nice),
            Key::TaskMemory => Value::Size(self.task_memory),
            Key::ThreadsPerTask => Value::Count(self.threads_per_task),
            Key::Python => Value::Path(self.python.clone()),
            Key::MaxTasksPerWorker => Value::Count(self.max_tasks_per_worker),
            Key::Refresh => Value::Secs(self.refresh),
            Key::Theme => Value::Theme(self.theme),
            Key::RecordEnabled => Value::Bool(self.record_enabled),
            Key::RecordKeep => Value::Count(self.record_keep),
        }
    }

    /// Sets a setting; a value of another kind than the key's is ignored
    /// (the parser never makes one).
    fn put(&mut self, key: Key, value: Value) {
        match (key, value) {
            (Key::Workers, Value::Workers(w)) => self.workers = w,
            (Key::JoinTimeout, Value::Secs(d)) => self.join_timeout = d,
            (Key::TaskTimeout, Value::Limit(d)) => self.task_timeout = d,
            (Key::HungAfter, Value::Secs(d)) => self.hung_after = d,
            (Key::Retries, Value::Count(n)) => self.retries = n,
            (Key::Chunksize, Value::Chunk(c)) => self.chunksize = c,
            (Key::Out, Value::Path(p)) => self.out = p,
            (Key::OutputCap, Value::Bytes(n)) => self.output_cap = n,
            (Key::SampleEvery, Value::Secs(d)) => self.sample_every = d,
            (Key::Memfree, Value::Size(n)) => self.memfree = n,
            (Key::Load, Value::Number(x)) => self.load = x,
            (Key::Delay, Value::Limit(d)) => self.delay = d,
            (Key::Nice, Value::Count(n)) => self.nice = n,
            (Key::TaskMemory, Value::Size(n)) => self.task_memory = n,
            (Key::ThreadsPerTask, Value::Count(n)) => self.threads_per_task = n,
            (Key::Python, Value::Path(p)) => self.python = p,
            (Key::MaxTasksPerWorker, Value::Count(n)) => self.max_tasks_per_worker = n,
            (Key::Refresh, Value::Secs(d)) => self.refresh = d,
            (Key::Theme, Value::Theme(t)) => self.theme = t,
            (Key::RecordEnabled, Value::Bool(b)) => self.record_enabled = b,
            (Key::RecordKeep, Value::Count(n)) => self.record_keep = n,
            _ => debug_assert!(false, "{key:?} given a value of another kind"),
        }
    }

    /// Lays `layer` over these settings.
    pub fn apply(&mut self, layer: Layer) {
        for (key, value, origin) in layer.values {
            self.put(key, value);
            self.origins.retain(|(k, _)| *k != key);
            self.origins.push((key, origin));
        }
        self.keys.extend(layer.keys);
    }

    /// Where a setting's value came from.
    pub fn origin(&self, key: Key) -> &Origin {
        self.origins
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(&Origin::Default, |(_, o)| o)
    }

    /// The pool's configuration. `work_dir` and `worker_program` stay unset.
    pub fn pool_config(&self) -> PoolConfig {
        let mut c = PoolConfig::default();
        if let Workers::Count(n) = self.workers {
            c.workers = n;
        }
        c.join_timeout = self.join_timeout;
        c.task_timeout = self.task_timeout;
        c.retries = self.retries;
        c.chunksize = self.chunksize;
        c.out_dir = self.out.clone();
        c.output_cap = self.output_cap;
        c.hung_after = self.hung_after;
        // 0 turns sampling (and with it the `sample` events) off.
        c.sample_every = (!self.sample_every.is_zero()).then_some(self.sample_every);
        c.memfree = self.memfree;
        c.load_max = self.load;
        c.delay = self.delay;
        c.nice = i32::try_from(self.nice).unwrap_or(i32::MAX);
        c.task_memory = self.task_memory;
        c.threads_per_task = (self.threads_per_task > 0).then_some(self.threads_per_task);
        c.python.program = Some(self.python.clone());
        c.max_tasks_per_worker =
            (self.max_tasks_per_worker > 0).then_some(self.max_tasks_per_worker.into());
        c
    }

    /// The settings in effect, as a config file whose comments say where
    /// each value came from (`pooltop config`; the keymap shows `[keys]`).
    pub fn show(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for s in SETTINGS {
            if s.section != section {
                if !section.is_empty() {
                    out.push('\n');
                }
                section = s.section;
                out.push_str(&format!("[{section}]\n"));
            }
            let line = format!("{} = {}", s.name, self.get(s.key).to_toml());
            out.push_str(&format!("{line:<30} # {}\n", self.origin(s.key)));
        }
        out
    }
}

/// How the config file was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChoice {
    /// `--config PATH`: it must exist.
    Flag(PathBuf),
    /// `$POOLTOP_CONFIG`: it must exist.
    Env(PathBuf),
    /// The XDG location: it may be missing.
    Xdg(PathBuf),
    /// No location at all (no `$XDG_CONFIG_HOME`, no `$HOME`).
    None,
}

impl FileChoice {
    pub fn path(&self) -> Option<&Path> {
        match self {
            FileChoice::Flag(p) | FileChoice::Env(p) | FileChoice::Xdg(p) => Some(p),
            FileChoice::None => None,
        }
    }
}

/// Reads one environment variable; empty counts as unset.
pub type EnvFn<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// This process's environment, for [`load`].
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

fn env_nonempty(env: EnvFn<'_>, name: &str) -> Option<OsString> {
    env(name).filter(|v| !v.is_empty())
}

/// Which file to read: `--config PATH`, else `$POOLTOP_CONFIG`, else
/// `$XDG_CONFIG_HOME/pooltop/config.toml` (an absolute `XDG_CONFIG_HOME`
/// only, as the XDG spec says), else `$HOME/.config/pooltop/config.toml`.
pub fn locate(flag: Option<&Path>, env: EnvFn<'_>) -> FileChoice {
    if let Some(p) = flag {
        return FileChoice::Flag(p.to_path_buf());
    }
    if let Some(p) = env_nonempty(env, CONFIG_ENV) {
        return FileChoice::Env(PathBuf::from(p));
    }
    let base = env_nonempty(env, "XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env_nonempty(env, "HOME").map(|h| PathBuf::from(h).join(".config")));
    match base {
        Some(b) => FileChoice::Xdg(b.join("pooltop").join("config.toml")),
        None => FileChoice::None,
    }
}

/// Reads and parses the chosen file. `Ok(None)` when the XDG file is not
/// there (the defaults apply).
pub fn read_file(
    choice: &FileChoice,
    keys: KeyCheck<'_>,
) -> Result<Option<(PathBuf, Layer)>, Vec<ConfigError>> {
    let Some(path) = choice.path() else {
        return Ok(None);
    };
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && matches!(choice, FileChoice::Xdg(_)) =>
        {
            return Ok(None);
        }
        Err(e) => {
            let how = match choice {
                FileChoice::Env(_) => format!(" (named by {CONFIG_ENV})"),
                _ => String::new(),
            };
            return Err(vec![ConfigError {
                origin: Origin::Default,
                key: name.clone(),
                message: format!("cannot read this config file{how}: {e}"),
            }]);
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(vec![ConfigError::at(
                &name,
                line,
                "",
                "not valid UTF-8; a config file is UTF-8 text",
            )]);
        }
    };
    let layer = parse(&text, &name, keys)?;
    Ok(Some((path.to_path_buf(), layer)))
}

/// The environment layer: each setting's `POOLTOP_…` variable, when set
/// and not empty.
pub fn env_layer(env: EnvFn<'_>) -> Result<Layer, Vec<ConfigError>> {
    let mut layer = Layer::default();
    let mut errors = Vec::new();
    for s in SETTINGS {
        let Some(v) = env_nonempty(env, s.env) else {
            continue;
        };
        let origin = Origin::Env(s.env);
        let parsed = match v.to_str() {
            Some(text) => s.kind.parse(Raw::Text(text)),
            None => Err("not valid UTF-8".to_string()),
        };
        match parsed {
            Ok(value) => layer.set(s.key, value, origin),
            Err(message) => errors.push(ConfigError {
                origin,
                key: s.env.to_string(),
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(layer)
    } else {
        Err(errors)
    }
}

/// The command-line layer: the setting flags that were given.
pub fn flags_layer(flags: &SettingFlags) -> Layer {
    flags.layer()
}

/// The settings in effect: defaults < file < environment < `flags`. Every
/// error of the file (its `[keys]` checked by `keys`) and of the environment
/// is returned, by line.
pub fn load(
    file: &FileChoice,
    env: EnvFn<'_>,
    flags: Layer,
    keys: KeyCheck<'_>,
) -> Result<Settings, Vec<ConfigError>> {
    let mut settings = Settings::default();
    let mut errors = Vec::new();
    match read_file(file, keys) {
        Ok(Some((path, layer))) => {
            settings.file = Some(path);
            settings.apply(layer);
        }
        Ok(None) => {}
        Err(e) => errors.extend(e),
    }
    match env_layer(env) {
        Ok(layer) => settings.apply(layer),
        Err(e) => errors.extend(e),
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    settings.apply(flags);
    Ok(settings)
}

/// The closest of `candidates` to `word`, if one is close enough to be
/// what was meant (`-` and `_` count as the same).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace('-', "_");
    let w = norm(word);
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&w, &norm(c)), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// One action of the `[keys]` table, for the default file.
#[derive(Debug, Clone)]
pub struct KeyDoc {
    pub name: &'static str,
    /// The default keys, as the file writes them.
    pub keys: Vec<String>,
    pub describe: &'static str,
}

/// The default config file: every setting at its default, each with a
/// comment. It parses, and gives the defaults (tested).
pub fn default_file(keys: &[KeyDoc], key_help: &str) -> String {
    let mut out = String::from(DEFAULT_HEADER);
    let mut section = "";
    for s in SETTINGS {
        if s.section != section {
            section = s.section;
            out.push_str(&format!("\n[{section}]\n"));
        }
        for line in s.doc.lines() {
            out.push_str(&format!("# {}\n", line.trim()));
        }
        match &s.flag {
            Some(flag) => out.push_str(&format!(
                "# Environment: {}. Flag: {}.\n",
                s.env, flag.names
            )),
            None => out.push_str(&format!("# Environment: {}.\n", s.env)),
        }
        out.push_str(&format!(
            "{} = {}\n",
            s.name,
            Settings::default().get(s.key).to_toml()
        ));
    }
    out.push_str("\n[keys]\n");
    for line in key_help.lines() {
        out.push_str(&format!("# {}\n", line.trim()).replace("# \n", "#\n"));
    }
    let width = keys
        .iter()
        .map(|k| k.name.len() + key_list(&k.keys).len() + 3)
        .max()
        .unwrap_or(0);
    for k in keys {
        let line = format!("{} = {}", k.name, key_list(&k.keys));
        out.push_str(&format!("{line:<width$}  # {}\n", k.describe));
    }
    out
}

fn key_list(keys: &[String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| quote(k)).collect();
    format!("[{}]", quoted.join(", "))
}

const DEFAULT_HEADER: &str = "\
# pooltop's configuration file (TOML).
#
# pooltop reads $XDG_CONFIG_HOME/pooltop/config.toml (else
# ~/.config/pooltop/config.toml), or the file named by --config PATH or by
# $POOLTOP_CONFIG. Every value below is the built-in default: keep only the
# ones you change. Environment variables override this file, and
# command-line flags override both.
#
# An unknown key or a value of the wrong type is an error, never ignored.
# Check a file with:  pooltop config --check [PATH]
# See what is in effect, and where each value comes from:  pooltop config
";

#[cfg(test)]
mod tests;
