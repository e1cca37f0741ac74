//! The control-socket commands that are more than one request: `attach`
//! (a dashboard on another process's pool) and `submit` (task lines,
//! checked here first so errors name the file as `run` does).

use std::io::{self, IsTerminal};
use std::path::Path;

use crate::cli::{PoolArgs, SubmitArgs};
use crate::control::cli as control_cli;
use pooltop::task;

use super::{Failure, dashboard_options, load_settings, read_taskfile};

pub fn attach(pool: Option<&str>, config: Option<&Path>) -> Result<u8, Failure> {
    if !io::stdout().is_terminal() {
        return Err(Failure::usage(
            "attach needs a terminal; use `pooltop status` from scripts",
        ));
    }
    // The dashboard's settings (theme, keys, refresh) from the config file
    // and the environment; the pool's own are the other process's.
    let args = PoolArgs {
        config: config.map(Path::to_path_buf),
        ..PoolArgs::default()
    };
    let loaded = load_settings(&args)?;
    let (handle, events, name, title) =
        crate::control::client::attach(pool).map_err(Failure::usage)?;
    let opts = crate::ui::Options {
        title: format!("{name}: {title}"),
        ..dashboard_options(&loaded)
    };
    let outcome = crate::ui::run_with(handle, events.into(), Vec::new(), opts)?;
    if outcome.detached {
        pooltop::say!("pooltop: detached from pool `{name}`; it is still running");
        return Ok(0);
    }
    pooltop::say!("{}", outcome.summary_text());
    Ok(outcome.exit_code() as u8)
}

pub fn submit(args: SubmitArgs) -> Result<u8, Failure> {
    let lines = if !args.line.is_empty() {
        vec![control_cli::line_from_words(&args.line)]
    } else {
        let (name, text) = read_taskfile(args.taskfile.as_deref())?;
        let lines: Vec<String> = text.lines().map(String::from).collect();
        // Checked here too, so errors name the file as `run` does.
        if let Err(errors) = task::parse_lines(&text) {
            return Err(Failure::bad_lines(&name, &errors, "submitted"));
        }
        lines
    };
    control_cli::submit(args.pool.pool.as_deref(), lines).map_err(Failure::usage)
}
