//! What each subcommand reads, checks and starts; `main` only picks one.
//! These modules belong to the binary: they turn the command line and the
//! settings into a pool and a face, and every "nothing ran" into a
//! [`Failure`].

pub mod client;
pub mod recording;
pub mod remote;
pub mod replay;
pub mod report;
pub mod run;
pub mod settings;
pub mod template;

use std::io::{self, Read};
use std::path::Path;

use clap::Parser;

use crate::cli::PoolArgs;
use crate::config::{self, ConfigError, Settings};
use crate::report::json::JsonSink;
use crate::report::sink::Sink;
use crate::ui::keymap::Keymap;
use pooltop::task::LineError;

/// Exit status for bad input or options: nothing ran.
pub const EXIT_USAGE: u8 = 2;
/// The same with a command template, as GNU parallel has it (there, 1 to 101
/// count failed jobs).
pub const EXIT_TEMPLATE_USAGE: u8 = 255;

/// Why pooltop stops before running anything, and with which status.
pub struct Failure {
    pub lines: Vec<String>,
    pub code: u8,
}

impl Failure {
    /// One line, exit status 2.
    pub fn usage(line: impl Into<String>) -> Failure {
        Failure {
            lines: vec![line.into()],
            code: EXIT_USAGE,
        }
    }

    /// Every bad line of a task file, each with its number, then what was
    /// not done (`run`, `submitted`).
    pub fn bad_lines(name: &str, errors: &[LineError], not_done: &str) -> Failure {
        let mut lines: Vec<String> = errors.iter().map(|e| format!("{name}: {e}")).collect();
        lines.push(format!(
            "{name}: {} bad line(s); nothing was {not_done}",
            errors.len()
        ));
        Failure {
            lines,
            code: EXIT_USAGE,
        }
    }
}

impl From<pooltop::Error> for Failure {
    fn from(e: pooltop::Error) -> Failure {
        Failure::usage(e.to_string())
    }
}

/// The pool options as they are with no flag given.
pub fn default_pool_args() -> PoolArgs {
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        pool: PoolArgs,
    }
    Wrapper::parse_from(["pooltop"]).pool
}

/// Whether the command line is `pooltop run … -- CMD`, even when it does not
/// parse (its errors then exit as GNU parallel's do).
pub fn template_in_argv() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let run = args.iter().position(|a| a == "run");
    let dashes = args.iter().position(|a| a == "--");
    matches!((run, dashes), (Some(r), Some(d)) if r < d)
}

/// What a pool runs with: the settings in effect (defaults < config file <
/// environment < flags) and the dashboard's keys. Any config error stops
/// pooltop before anything runs.
pub struct Loaded {
    pub settings: Settings,
    pub keys: Keymap,
}

pub fn load_settings(args: &PoolArgs) -> Result<Loaded, Failure> {
    let env = &config::process_env;
    let file = config::locate(args.config.as_deref(), env);
    let flags = config::flags_layer(&args.settings);
    let settings = config::load(&file, env, flags, &check_keys).map_err(config_failure)?;
    let keys = Keymap::from_binds(&settings.keys).map_err(config_failure)?;
    Ok(Loaded { settings, keys })
}

/// The config file's `[keys]`, checked by the dashboard's keymap.
pub fn check_keys(binds: &[config::KeyBind]) -> Vec<ConfigError> {
    Keymap::from_binds(binds).err().unwrap_or_default()
}

/// The dashboard's options from the settings: theme, keys, refresh.
pub fn dashboard_options(loaded: &Loaded) -> crate::ui::Options {
    let theme =
        crate::ui::theme::Theme::from_choice(loaded.settings.theme, crate::ui::theme::no_color());
    crate::ui::Options {
        theme,
        keys: loaded.keys.clone(),
        ..Default::default()
    }
}

pub fn config_failure(errors: Vec<ConfigError>) -> Failure {
    Failure {
        lines: errors.iter().map(ToString::to_string).collect(),
        code: EXIT_USAGE,
    }
}

/// The JSON event stream `--json` asks for, created now: a file that cannot
/// be created stops pooltop before anything runs.
pub fn json_sink(args: &PoolArgs) -> Result<Option<JsonSink>, Failure> {
    let Some(path) = &args.json else {
        return Ok(None);
    };
    let sink = Sink::create("the JSON event stream", path).map_err(|e| {
        Failure::usage(format!(
            "cannot create JSON output `{}`: {e}",
            path.display()
        ))
    })?;
    Ok(Some(sink))
}
/// The control endpoint's name: `--name`, checked, or `pool-PID`.
pub fn pool_name(args: &PoolArgs) -> Result<String, Failure> {
    match &args.name {
        Some(n) => {
            crate::control::validate_name(n).map_err(Failure::usage)?;
            Ok(n.clone())
        }
        None => Ok(crate::control::default_name()),
    }
}
/// Writes `bytes` to stdout; a reader that went away (`| head`) is fine.
pub fn write_stdout(bytes: &[u8]) -> Result<u8, Failure> {
    use std::io::Write as _;
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::usage(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}
/// Reads the task file (or standard input) whole: every line is checked
/// before anything runs.
pub fn read_taskfile(path: Option<&Path>) -> Result<(String, String), Failure> {
    let (name, bytes) = match path {
        None => read_stdin()?,
        Some(p) if p == Path::new("-") => read_stdin()?,
        Some(p) => {
            let name = p.display().to_string();
            let bytes = std::fs::read(p)
                .map_err(|e| Failure::usage(format!("cannot read task file `{name}`: {e}")))?;
            (name, bytes)
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok((name, text)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            Err(Failure::usage(format!(
                "{name}: line {line}: not valid UTF-8; task files must be UTF-8 text"
            )))
        }
    }
}

fn read_stdin() -> Result<(String, Vec<u8>), Failure> {
    let mut bytes = Vec::new();
    io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
    Ok(("<stdin>".to_string(), bytes))
}
