//! The options of command templates, as clap types (flattened into
//! `pooltop run`'s). They live with the batch code that reads them, so the
//! command line (`cli`) uses `batch` and not the other way round.

use std::path::PathBuf;

use clap::Args;

use super::halt::HaltPolicy;
use super::{Timeout, parse_timeout};

/// Options of command templates (`pooltop run [OPTIONS] -- CMD …`), named as
/// in GNU parallel.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Command templates (after --)")]
pub struct BatchArgs {
    /// Print each job's output (a task file's: each result) in input order
    /// (default: as they finish)
    #[arg(short = 'k', long)]
    pub keep_order: bool,
    /// Log every finished job to FILE with GNU parallel's columns (`-`: stdout)
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,
    /// Skip the jobs that the --joblog lists
    #[arg(long)]
    pub resume: bool,
    /// Skip the jobs that the --joblog lists as succeeded; run the failed again
    #[arg(long, conflicts_with = "resume")]
    pub resume_failed: bool,
    /// Kill a job that runs longer than SECS (also 2m, 1h), or N% of the
    /// median run time of the jobs done so far
    #[arg(long, value_name = "SECS|N%", value_parser = parse_timeout,
          conflicts_with = "task_timeout")]
    pub timeout: Option<Timeout>,
    /// Stop early: now,fail=1 | soon,fail=N | now,success=1 | soon,done=N% …
    #[arg(long, value_name = "WHEN,WHY=N", value_parser = parse_halt)]
    pub halt: Option<HaltPolicy>,
    /// Print the commands that would run; run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Show progress (done, failed, running, queued, rate, ETA) on stderr and
    /// a summary at the end
    #[arg(long, visible_alias = "progress", alias = "bar")]
    pub eta: bool,
    /// Inputs end with a NUL byte, not a newline (for `find -print0`)
    #[arg(short = '0', long)]
    pub null: bool,
    /// Read inputs from FILE, as `:::: FILE` (may be repeated)
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    pub arg_file: Vec<String>,
    /// Quote the command: its words are taken literally, with no shell syntax
    #[arg(short = 'q', long)]
    pub quote: bool,
    /// Accepted, and ignored, for GNU parallel's scripts
    #[arg(long, hide = true)]
    pub will_cite: bool,
}

impl BatchArgs {
    /// The first option given that only means something with a template.
    pub fn template_only_option(&self) -> Option<&'static str> {
        [
            (self.joblog.is_some(), "--joblog"),
            (self.resume, "--resume"),
            (self.resume_failed, "--resume-failed"),
            (self.timeout.is_some(), "--timeout"),
            (self.halt.is_some(), "--halt"),
            (self.dry_run, "--dry-run"),
            (self.eta, "--eta"),
            (self.null, "--null"),
            (!self.arg_file.is_empty(), "--arg-file"),
            (self.quote, "--quote"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

fn parse_halt(s: &str) -> Result<HaltPolicy, String> {
    s.parse()
}
