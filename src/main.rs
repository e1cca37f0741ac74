//! The switchboard: parse the command line, pick a face. Owns nothing.

mod batch;
mod cli;
mod cli_docs;
mod commands;
mod config;
mod control;
mod demo;
mod headless;
mod report;
mod ui;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Cmd};
use crate::control::cli::{self as control_cli, Verb};
use commands::{EXIT_TEMPLATE_USAGE, EXIT_USAGE, Failure, client, run, settings};

// Why not the system allocator: see the "mimalloc" feature in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: pooltop::alloc::ByRole = pooltop::alloc::ByRole;

/// Prints a command-line error as one line and exits with status 2 (help and
/// --version print as usual, status 0).
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("bad command line");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("pooltop: {first} (see `pooltop --help`)");
    let code = if commands::template_in_argv() {
        EXIT_TEMPLATE_USAGE
    } else {
        EXIT_USAGE
    };
    std::process::exit(code.into());
}

fn main() -> ExitCode {
    // A worker is recognised by its environment, before any argument parsing.
    pooltop::worker::run_if_worker();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    let result = match cli.command {
        None => run::run_demo(commands::default_pool_args()),
        Some(Cmd::Demo(args)) => run::run_demo(args),
        Some(Cmd::Run(args)) => run::run_tasks(args),
        Some(Cmd::Report(args)) => commands::report::report(args),
        Some(Cmd::Ls { json }) => control_cli::ls(json).map_err(Failure::usage),
        Some(Cmd::Submit(args)) => client::submit(args),
        Some(Cmd::Status { pool, json }) => {
            control_cli::status(pool.pool.as_deref(), json).map_err(Failure::usage)
        }
        Some(Cmd::Wait {
            pool,
            tasks,
            results,
        }) => control_cli::wait(pool.pool.as_deref(), tasks, results).map_err(Failure::usage),
        Some(Cmd::Pause(w)) => control_cli::workers(w, Verb::Pause).map_err(Failure::usage),
        Some(Cmd::Resume(w)) => control_cli::workers(w, Verb::Resume).map_err(Failure::usage),
        Some(Cmd::Terminate(w)) => control_cli::workers(w, Verb::Terminate).map_err(Failure::usage),
        Some(Cmd::Kill(w)) => control_cli::workers(w, Verb::Kill).map_err(Failure::usage),
        Some(Cmd::Scale { pool, workers }) => {
            control_cli::scale(pool.pool.as_deref(), workers).map_err(Failure::usage)
        }
        Some(Cmd::Cancel(sel)) => control_cli::cancel(sel).map_err(Failure::usage),
        Some(Cmd::Retry {
            pool,
            tasks,
            failed,
        }) => control_cli::retry(pool.pool.as_deref(), tasks, failed).map_err(Failure::usage),
        Some(Cmd::Logs {
            pool,
            task,
            follow,
            all,
        }) => control_cli::logs(pool.pool.as_deref(), task, follow, all).map_err(Failure::usage),
        Some(Cmd::Front { pool, task }) => {
            control_cli::front(pool.pool.as_deref(), task).map_err(Failure::usage)
        }
        Some(Cmd::Stop { pool }) => control_cli::stop(pool.pool.as_deref()).map_err(Failure::usage),
        Some(Cmd::Replay(args)) => commands::replay::replay(args),
        Some(Cmd::Attach { pool, config }) => {
            client::attach(pool.pool.as_deref(), config.as_deref())
        }
        Some(Cmd::Config(args)) => settings::config_cmd(args),
        Some(Cmd::Completions { shell }) => {
            commands::write_stdout(&crate::cli_docs::completions(shell))
        }
        Some(Cmd::Man { dir }) => settings::man(dir.as_deref()),
        Some(Cmd::Worker { stdio: true }) => pooltop::worker::stdio::run(),
        Some(Cmd::Worker { stdio: false }) => Err(Failure::usage(
            "`pooltop worker` is started by pooltop itself, not by hand",
        )),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            for line in &f.lines {
                pooltop::say!("pooltop: {line}");
            }
            ExitCode::from(f.code)
        }
    }
}
