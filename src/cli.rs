//! The command line, as clap types. No I/O here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::batch::halt::HaltPolicy;
use crate::batch::{Timeout, parse_timeout};

/// A pool of worker processes you can see and steer.
///
/// With no subcommand, pooltop runs a built-in demo workload (CPU-bound
/// countdowns, file hashes, thumbnails, sleeps).
#[derive(Debug, Parser)]
#[command(name = "pooltop", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the tasks of a task file (or standard input) on a pool of workers,
    /// or, after `--`, a command once per input (like GNU parallel).
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Run the built-in demo workload.
    Demo(PoolArgs),
    /// List the running pools of this user.
    Ls {
        /// One JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Add tasks to a running pool; prints their ids.
    #[command(
        after_help = "Examples:\n  pooltop submit tasks.txt\n  pooltop submit --pool batch -- sha256 'my file.bin'\n  pooltop submit -- shell 'make -j2 && make test'"
    )]
    Submit(SubmitArgs),
    /// Show a running pool: counts and every worker's state and task.
    Status {
        #[command(flatten)]
        pool: PoolSelect,
        /// JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Wait until these tasks (or all submitted so far) have finished.
    /// Exit status 0 when all of them are done, 1 otherwise.
    Wait {
        #[command(flatten)]
        pool: PoolSelect,
        #[arg(value_name = "TASK_ID")]
        tasks: Vec<u64>,
    },
    /// Pause workers (SIGSTOP to each worker's process group).
    Pause(WorkerSelect),
    /// Resume paused workers.
    Resume(WorkerSelect),
    /// Ask workers to stop after their task; killed after the join timeout.
    Terminate(WorkerSelect),
    /// Kill workers now (SIGKILL to their process groups); they are replaced.
    Kill(WorkerSelect),
    /// Change the number of workers of a running pool.
    Scale {
        #[command(flatten)]
        pool: PoolSelect,
        #[arg(value_name = "N", value_parser = parse_workers)]
        workers: usize,
    },
    /// Open the dashboard on a running pool; `q` detaches (the pool runs on),
    /// `X` stops the pool.
    Attach {
        #[command(flatten)]
        pool: PoolSelect,
    },
    /// Shut a running pool down gracefully (with its join timeout).
    Stop {
        #[command(flatten)]
        pool: PoolSelect,
    },
    /// Internal: run as a pool worker (started by pooltop itself).
    #[command(hide = true)]
    Worker,
}

/// Which running pool a command is for.
#[derive(Debug, Clone, Args)]
pub struct PoolSelect {
    /// The pool's name (see `pooltop ls`); may be left out when only one runs
    #[arg(long, value_name = "NAME")]
    pub pool: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerSelect {
    #[command(flatten)]
    pub pool: PoolSelect,
    /// Worker ids, as shown by `pooltop status`
    #[arg(value_name = "WORKER_ID", required = true)]
    pub workers: Vec<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub pool: PoolSelect,
    /// File of task lines; `-` reads standard input
    #[arg(value_name = "TASKFILE", conflicts_with = "line")]
    pub taskfile: Option<PathBuf>,
    /// One task line, given as words after `--`
    #[arg(last = true, value_name = "TASK LINE")]
    pub line: Vec<String>,
}

const RUN_EXAMPLES: &str = "\
Examples:
  pooltop run -j 4 tasks.txt               run a task file on 4 workers
  printf 'square 7\\nsleep 0.5\\n' | pooltop run --headless -
  pooltop run --json events.jsonl --task-timeout 30 --retries 2 tasks.txt
  pooltop run -j 4 -- gzip -9 {} ::: *.log  a command per input, like GNU parallel
  find . -name '*.jpg' -print0 | pooltop run -0 -k --joblog jobs.tsv -- convert {} {.}.png

Task lines: spin N | sleep S | square N | sha256 PATH | thumbnail PATH [WxH]
            shell CMD... | hang | fail [MESSAGE] | crash      (# starts a comment)
Templates:  {} input  {.} without extension  {/} basename  {//} dirname
            {/.} basename without extension  {#} job number  {%} job slot
            {1} {2.} … per input source; no replacement string: input appended

Exit status, task files: 0 every task done; 1 some task failed, timed out or
was cancelled; 2 bad input or options (nothing ran).
Exit status, templates (as GNU parallel): 0 all jobs succeeded; 1-100 the number
of failed jobs; 101 more than 100 failed; with --halt ...,fail=1 the failing
job's status; 255 bad input or options (nothing ran).";

/// Options of any pool.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Number of worker processes [default: number of CPUs]
    #[arg(short = 'j', long = "workers", visible_alias = "jobs", short_alias = 'P',
          value_name = "N", value_parser = parse_workers)]
    pub workers: Option<usize>,
    /// Kill (and replace) the worker of a task that runs longer than this
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub task_timeout: Option<Duration>,
    /// How long a worker asked to stop may take before SIGTERM, then SIGKILL
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub join_timeout: Duration,
    /// Task files: start a task again this many times when its worker dies under
    /// it or it times out. Templates: run a failing job up to N times in all, as
    /// GNU parallel does
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// Never open the dashboard; print progress and a summary on stderr
    #[arg(long)]
    pub headless: bool,
    /// Write one JSON object per event to PATH (`-` for standard output)
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Folder for thumbnails [default: thumbs]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Bytes of stdout and of stderr kept per shell task, the last ones
    /// [default: 65536]. Templates keep all of a job's output: up to BYTES in
    /// memory, more in a temporary file [default: 1048576]
    #[arg(long, value_name = "BYTES")]
    pub output_cap: Option<usize>,
    /// Close the dashboard when every task has finished, printing the summary
    #[arg(long)]
    pub exit_when_done: bool,
    /// Name of the pool's control endpoint [default: pool-PID]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Keep the pool running with an empty queue, waiting for `pooltop submit`, until `pooltop stop`
    #[arg(long)]
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub pool: PoolArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// File of task lines; `-` or nothing reads standard input
    #[arg(value_name = "TASKFILE")]
    pub taskfile: Option<PathBuf>,
    /// After `--`: a command to run once per input, with GNU parallel's
    /// replacement strings. Inputs: standard input (one per line), or
    /// `::: ARG…`, or `:::: FILE…` after the command
    #[arg(last = true, value_name = "CMD")]
    pub command: Option<Vec<String>>,
}

/// Options of command templates (`pooltop run [OPTIONS] -- CMD …`), named as
/// in GNU parallel.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Command templates (after --)")]
pub struct BatchArgs {
    /// Print each job's output in input order (default: as jobs finish)
    #[arg(short = 'k', long)]
    pub keep_order: bool,
    /// Log every finished job to FILE with GNU parallel's columns (`-`: stdout)
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,
    /// Skip the jobs that the --joblog lists
    #[arg(long, requires = "joblog")]
    pub resume: bool,
    /// Skip the jobs that the --joblog lists as succeeded; run the failed again
    #[arg(long, requires = "joblog", conflicts_with = "resume")]
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
            (self.keep_order, "--keep-order"),
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

/// Parses a number of workers: `N`, or as GNU parallel also allows, `N%` of
/// the CPUs or `+N` more than the CPUs.
fn parse_workers(s: &str) -> Result<usize, String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(pct) = s.strip_suffix('%') {
        return match pct.parse::<usize>() {
            Ok(p) if p > 0 => parse_workers(&(cpus * p).div_ceil(100).to_string()),
            _ => Err(format!("`{s}` is not a positive percentage of the CPUs")),
        };
    }
    if let Some(more) = s.strip_prefix('+') {
        return match more.parse::<usize>() {
            Ok(n) => parse_workers(&(cpus + n).to_string()),
            Err(_) => Err(format!("`{s}` is not + a whole number")),
        };
    }
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) if n > 4096 => Err(format!("{n} is more than the limit of 4096")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}

/// Parses a positive number of seconds, fractions allowed.
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("must be a number of seconds above 0, got `{s}`"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rejects_bad_numbers() {
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("NaN").is_err());
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_workers("0").is_err());
        assert!(parse_workers("x").is_err());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(parse_workers("100%"), Ok(cpus));
        assert_eq!(parse_workers("+1"), Ok(cpus + 1));
        assert!(parse_workers("0%").is_err());
    }
}
