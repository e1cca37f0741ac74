//! The command line, as clap types. No I/O here.

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::{Args, Parser, Subcommand};

use crate::batch::BatchArgs;
use crate::config::{SettingFlags, worker_count};

/// A pool of worker processes you can see and steer.
///
/// With no subcommand, pooltop runs a built-in demo workload (CPU-bound
/// countdowns, file hashes, thumbnails, sleeps).
#[derive(Debug, Parser)]
#[command(name = "pooltop", version = version(), about, long_about = None, after_help = TOP_EXAMPLES)]
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
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(PoolArgs),
    /// A post-mortem of a recorded run: counts, speedup, utilisation per
    /// worker, run times per kind, the slowest tasks and stragglers.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// List the running pools of this user.
    #[command(after_help = LS_EXAMPLES)]
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
    #[command(after_help = STATUS_EXAMPLES)]
    Status {
        #[command(flatten)]
        pool: PoolSelect,
        /// JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Wait until these tasks (or all submitted so far) have finished.
    /// Exit status 0 when all of them are done, 1 otherwise.
    #[command(after_help = WAIT_EXAMPLES)]
    Wait {
        #[command(flatten)]
        pool: PoolSelect,
        #[arg(value_name = "TASK_ID")]
        tasks: Vec<u64>,
        /// Print each task's result on stdout and each failure on stderr, as
        /// a headless run does (the pool keeps its last 10000 results)
        #[arg(long)]
        results: bool,
    },
    /// Pause workers (SIGSTOP to each worker's process group).
    #[command(after_help = PAUSE_EXAMPLES)]
    Pause(WorkerSelect),
    /// Resume paused workers.
    #[command(after_help = RESUME_EXAMPLES)]
    Resume(WorkerSelect),
    /// Ask workers to stop after their task; killed after the join timeout.
    #[command(after_help = TERMINATE_EXAMPLES)]
    Terminate(WorkerSelect),
    /// Kill workers now (SIGKILL to their process groups); they are replaced.
    #[command(after_help = KILL_EXAMPLES)]
    Kill(WorkerSelect),
    /// Change the number of workers of a running pool.
    #[command(after_help = SCALE_EXAMPLES)]
    Scale {
        #[command(flatten)]
        pool: PoolSelect,
        #[arg(value_name = "N", value_parser = worker_count)]
        workers: usize,
    },
    /// Cancel tasks: a queued one at once, a running one by killing (and
    /// replacing) its worker; each ends `cancelled`.
    #[command(after_help = CANCEL_EXAMPLES)]
    Cancel(TaskSelect),
    /// Run ended failed, timed-out or cancelled tasks again, each as a new
    /// task (the old one keeps its end state).
    #[command(after_help = RETRY_EXAMPLES)]
    Retry {
        #[command(flatten)]
        pool: PoolSelect,
        /// Task ids, as shown by the dashboard or `pooltop submit`
        #[arg(
            value_name = "TASK_ID",
            required_unless_present = "failed",
            conflicts_with = "failed"
        )]
        tasks: Vec<u64>,
        /// Every task that ended failed or timed out and was not retried yet
        #[arg(long)]
        failed: bool,
    },
    /// Move a queued task to the front of the queue.
    #[command(after_help = FRONT_EXAMPLES)]
    Front {
        #[command(flatten)]
        pool: PoolSelect,
        /// The task's id
        #[arg(value_name = "TASK_ID")]
        task: u64,
    },
    /// Print a task's output so far; with -f, follow it until the task ends.
    #[command(after_help = LOGS_EXAMPLES)]
    Logs {
        #[command(flatten)]
        pool: PoolSelect,
        /// The task's id
        #[arg(
            value_name = "TASK_ID",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        task: Option<u64>,
        /// Go on printing its output as it arrives, until the task ends
        #[arg(short, long)]
        follow: bool,
        /// Every running task, each line prefixed with its task id and worker
        #[arg(long)]
        all: bool,
    },
    /// Open the dashboard on a running pool; `q` detaches (the pool runs on),
    /// `X` stops the pool.
    #[command(after_help = ATTACH_EXAMPLES)]
    Attach {
        #[command(flatten)]
        pool: PoolSelect,
        /// Read the dashboard's settings (theme, keys, refresh) from this config file
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Shut a running pool down gracefully (with its join timeout).
    #[command(after_help = STOP_EXAMPLES)]
    Stop {
        #[command(flatten)]
        pool: PoolSelect,
    },
    /// Open the dashboard on a recorded run (`--record`, or a `--json`
    /// stream), read-only: play, pause, faster, slower, seek.
    #[command(after_help = REPLAY_EXAMPLES)]
    Replay(ReplayArgs),
    /// Show the settings in effect, print a default config file, or check one.
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to complete for
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print pooltop's man page (roff), or write one page per subcommand.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        /// Write pooltop.1 and pooltop-SUBCOMMAND.1 into DIR instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Internal: run as a pool worker (started by pooltop itself).
    #[command(hide = true)]
    Worker {
        /// Speak frames over stdin and stdout (started through a launcher:
        /// ssh, srun, any command prefix); the first frame carries the token
        #[arg(long)]
        stdio: bool,
    },
}

/// `pooltop replay`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The recording (or JSON event stream) to replay
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Follow a run still being written: new lines are played as they come
    #[arg(long)]
    pub follow: bool,
    /// No dashboard: replay the whole file and print the counts it ends
    /// with as JSON (exit status 1 when it stops at a damaged line)
    #[arg(long, conflicts_with = "follow")]
    pub check: bool,
    /// Read the dashboard's settings (theme, keys) from this config file
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

const REPLAY_EXAMPLES: &str = "Examples:
  pooltop run --headless --json run.jsonl tasks.txt && pooltop replay run.jsonl
  pooltop replay --follow run.jsonl     (a run still going)
  pooltop replay --check run.jsonl      (counts at the end, no terminal)

Keys: Space plays / pauses, ] faster, [ slower, < and > seek 10 s, G to the end;
v shows the timeline. Keys that steer a pool are refused.";

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

/// Which tasks of which pool a command is for.
#[derive(Debug, Clone, Args)]
pub struct TaskSelect {
    #[command(flatten)]
    pub pool: PoolSelect,
    /// Task ids, as shown by the dashboard or `pooltop submit`
    #[arg(value_name = "TASK_ID", required = true)]
    pub tasks: Vec<u64>,
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
  pooltop run -k --py work.py:square ::: 1 2 3   a Python function per input, like Pool.map
  find . -name '*.jpg' -print0 | pooltop run -0 -k --joblog jobs.tsv -- convert {} {.}.png
  pooltop run -k hash.txt > sums && sha256sum -c sums   results as sha256sum prints them

Task lines: spin N | sleep S | square N | sha256 PATH | thumbnail PATH [WxH]
            shell CMD... | hang | fail [MESSAGE] | crash      (# starts a comment)
            py MODULE:FUNCTION [ARG...]   (ARG: JSON, else a string)
Output, task files run headless: each task's result on stdout as it finishes
(-k: in input order): sha256 as `HASH  PATH` (as sha256sum), thumbnail its
output path, shell its captured stdout, others their result. On stderr: each
failure, timeout and cancellation with its task id, FILE:LINE and reason, then
the summary. --quiet: the summary only. With --json -, stdout has the JSON
lines only. Two tasks that would write the same file are refused (exit 2).
Templates:  {} input  {.} without extension  {/} basename  {//} dirname
            {/.} basename without extension  {#} job number  {%} job slot
            {1} {2.} … per input source; no replacement string: input appended

Exit status, task files: 0 every task done; 1 some task failed, timed out or
was cancelled; 2 bad input or options (nothing ran).
Exit status, templates (as GNU parallel): 0 all jobs succeeded; 1-100 the number
of failed jobs; 101 more than 100 failed; with --halt ...,fail=1 the failing
job's status; 255 bad input or options (nothing ran).";

const REPORT_EXAMPLES: &str = "Examples:
  pooltop report ~/.local/state/pooltop/runs/20261204T200015Z-4242.jsonl
  pooltop report --markdown run.jsonl > report.md
  pooltop report --svg timeline.svg --trace run.trace.json run.jsonl
  pooltop report --json run.jsonl | jq .speedup";

/// Options of any pool (`Default`: none given).
#[derive(Debug, Clone, Default, Args)]
pub struct PoolArgs {
    /// The settings' flags (`-j`, `--task-timeout` …), one per setting of
    /// the config file that has one, each read with that setting's grammar.
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Never open the dashboard; print progress and a summary on stderr
    #[arg(long)]
    pub headless: bool,
    /// Write one JSON object per event to PATH (`-` for standard output)
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Close the dashboard when every task has finished, printing the summary
    #[arg(long)]
    pub exit_when_done: bool,
    /// Name of the pool's control endpoint [default: pool-PID]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Keep the pool running with an empty queue, waiting for `pooltop submit`, until `pooltop stop`
    #[arg(long)]
    pub keep_alive: bool,
    /// Read settings from this config file [default: $POOLTOP_CONFIG, else
    /// $XDG_CONFIG_HOME/pooltop/config.toml]; flags override it
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Call this Python function once in each worker's interpreter, before
    /// its first `py` task (like Pool's initializer)
    #[arg(long, value_name = "MODULE:FUNCTION", value_parser = parse_py_target)]
    pub py_init: Option<String>,
    /// Record the run to PATH (JSON lines, for `pooltop report` and `replay`)
    /// [default: a new file under $XDG_STATE_HOME/pooltop/runs/]
    #[arg(long, value_name = "PATH")]
    pub record: Option<PathBuf>,
    /// Do not record the run (the `record.enabled` setting)
    #[arg(long, conflicts_with = "record")]
    pub no_record: bool,
    /// At the end of the run, write its timeline to FILE as a Chrome trace
    /// (Perfetto, chrome://tracing)
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Where the workers run: other machines (`--ssh`, `--launcher`)
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Workers on other machines (README "On more than one machine").
#[derive(Debug, Clone, Default, Args)]
pub struct RemoteArgs {
    /// Start workers over ssh on these hosts: `host1,host2`, `4/user@host`
    /// (4 workers there; default: its number of CPUs), `:` for this machine
    #[arg(long, value_name = "HOSTS")]
    pub ssh: Option<String>,
    /// Read the `--ssh` hosts from FILE, one per line (`#` comments, `:` = here)
    #[arg(long, value_name = "FILE", conflicts_with = "ssh")]
    pub ssh_file: Option<PathBuf>,
    /// Start every worker through this command prefix, which must give the
    /// process stdin and stdout (`{cmd}` is the worker's command, else it
    /// goes at the end; `{id}` the worker's id): `'docker exec -i box {cmd}'`
    #[arg(long, value_name = "CMD", conflicts_with_all = ["ssh", "ssh_file"])]
    pub launcher: Option<String>,
    /// Start every worker with Slurm's srun: inside an allocation
    /// (SLURM_JOB_ID set) one step each, else one job each (pending while
    /// Slurm queues it); srun's own SLURM_* variables choose the partition,
    /// time limit, account
    #[arg(long, conflicts_with_all = ["ssh", "ssh_file", "launcher"])]
    pub slurm: bool,
    /// The pooltop executable on the other machines (a shared filesystem);
    /// default: this one is copied once per host into ~/.cache/pooltop/
    #[arg(long, value_name = "PATH")]
    pub remote_pooltop: Option<String>,
}

/// Checks a `MODULE:FUNCTION` (`--py-init`, `--py`) as a `py` task line would.
fn parse_py_target(s: &str) -> Result<String, String> {
    pooltop::task::PySpec::parse(s, &[])
        .map(|_| s.to_string())
        .map_err(|e| e.reason)
}

/// `pooltop report`: what to make of a recording.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The recording (a file under $XDG_STATE_HOME/pooltop/runs/, or `--record PATH`'s)
    #[arg(value_name = "RECORDING")]
    pub file: PathBuf,
    /// The report as Markdown, for pasting into an issue
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// The report's figures as one JSON object
    #[arg(long)]
    pub json: bool,
    /// Also write the timeline as an SVG Gantt chart to FILE
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Also write the timeline as a Chrome trace (Perfetto, chrome://tracing) to FILE
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// `pooltop config`: what it shows or checks.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Print the default config file, every setting with a comment
    #[arg(long, conflicts_with = "check")]
    pub default: bool,
    /// Check a config file (default: the one pooltop reads); exit status 2 if it has errors
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    pub check: Option<Option<PathBuf>>,
    /// The config file to show [default: $POOLTOP_CONFIG, else the XDG location]
    #[arg(long, value_name = "PATH", conflicts_with = "default")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub pool: PoolArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// Task files, headless: print only the summary (no results on stdout,
    /// no failures or progress on stderr)
    #[arg(long)]
    pub quiet: bool,
    /// File of task lines; `-` or nothing reads standard input
    #[arg(value_name = "TASKFILE")]
    pub taskfile: Option<PathBuf>,
    /// After `--`: a command to run once per input, with GNU parallel's
    /// replacement strings. Inputs: standard input (one per line), or
    /// `::: ARG…`, or `:::: FILE…` after the command
    #[arg(last = true, value_name = "CMD")]
    pub command: Option<Vec<String>>,
    /// Call a Python function once per input, like Pool.map: `--py
    /// MODULE:FUNCTION ::: 1 2 3` (or `:::: FILE`, or inputs on standard
    /// input); each input is one argument (JSON when it parses as JSON),
    /// each result (as JSON) is printed on a line of its own
    #[arg(long, value_name = "MODULE:FUNCTION [::: ARG…]", num_args = 1..,
          allow_negative_numbers = true, conflicts_with_all = ["taskfile", "command"])]
    pub py: Option<Vec<String>>,
}

/// `pooltop 0.1.0 (protocol N)`: what `--version` prints after the name.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} (protocol {})",
            env!("CARGO_PKG_VERSION"),
            pooltop::protocol::PROTOCOL_VERSION
        )
    })
}

const TOP_EXAMPLES: &str = "\
Examples:
  pooltop                                  the built-in demo, with the dashboard
  pooltop run -j 4 tasks.txt               your task file on 4 workers
  pooltop run --headless --keep-alive --name batch &
  pooltop submit --pool batch -- sha256 big.iso
  pooltop config --default > ~/.config/pooltop/config.toml

Settings: built-in defaults < config file < POOLTOP_* environment < flags.
`pooltop config` shows what is in effect; `pooltop man` prints the manual.";

const DEMO_EXAMPLES: &str = "\
Examples:
  pooltop demo                             the demo on one worker per CPU
  pooltop demo -j 2 --headless             two workers, progress and summary on stderr
  pooltop demo --out /tmp/thumbs           keep the thumbnails it makes";

const CANCEL_EXAMPLES: &str = "\
Examples:
  pooltop cancel 7 8                       cancel tasks 7 and 8, queued or running";

const RETRY_EXAMPLES: &str = "\
Examples:
  pooltop retry 7                          run the failed task 7 again (as a new task)
  pooltop retry --failed                   run every failed or timed-out task again";

const LOGS_EXAMPLES: &str = "\
Examples:
  pooltop logs 7                           what task 7 has written so far
  pooltop logs -f 7                        and then as it comes, until it ends
  pooltop logs -f --all                    every running task, lines prefixed `#ID wN | `";

const FRONT_EXAMPLES: &str = "\
Examples:
  pooltop front 42                         queued task 42 starts next";

const LS_EXAMPLES: &str = "\
Examples:
  pooltop ls                               name, pid, workers and counts of each pool
  pooltop ls --json | jq -r '.[].name'";

const STATUS_EXAMPLES: &str = "\
Examples:
  pooltop status                           the only running pool
  pooltop status --pool batch --json";

const WAIT_EXAMPLES: &str = "\
Examples:
  pooltop wait                             until every task submitted so far has finished
  pooltop wait 3 4 && echo both done       until tasks 3 and 4 have finished
  id=$(pooltop submit -- spin 1e9) && pooltop wait $id
  pooltop wait --results $(pooltop submit hash.txt) > sums   the hashes, as sha256sum prints them";

const PAUSE_EXAMPLES: &str = "\
Examples:
  pooltop pause 2                          pause worker 2 (and its task's processes)
  pooltop pause --pool batch 1 2 3";

const RESUME_EXAMPLES: &str = "\
Examples:
  pooltop resume 2
  pooltop resume --pool batch 1 2 3";

const TERMINATE_EXAMPLES: &str = "\
Examples:
  pooltop terminate 2                      worker 2 stops; killed after the join timeout
  pooltop terminate --pool batch 1 2";

const KILL_EXAMPLES: &str = "\
Examples:
  pooltop kill 2                           SIGKILL to worker 2's group; a new worker replaces it
  pooltop kill --pool batch 1 2";

const SCALE_EXAMPLES: &str = "\
Examples:
  pooltop scale 8                          grow (or shrink) the only running pool to 8 workers
  pooltop scale --pool batch 1";

const ATTACH_EXAMPLES: &str = "\
Examples:
  pooltop attach                           the dashboard of the only running pool
  pooltop attach --pool batch              q detaches (the pool runs on), X stops the pool";

const STOP_EXAMPLES: &str = "\
Examples:
  pooltop stop                             queued tasks are cancelled, workers get the join timeout
  pooltop stop --pool batch";

const CONFIG_EXAMPLES: &str = "\
Examples:
  pooltop config                           the settings in effect, and where each comes from
  pooltop config --default > ~/.config/pooltop/config.toml
  pooltop config --check                   check the file pooltop reads
  pooltop config --check my.toml           check another one
  POOLTOP_WORKERS=3 pooltop config         see the environment override the file

Files: --config PATH, else $POOLTOP_CONFIG, else $XDG_CONFIG_HOME/pooltop/config.toml,
else ~/.config/pooltop/config.toml. Environment: POOLTOP_WORKERS, POOLTOP_JOIN_TIMEOUT,
POOLTOP_TASK_TIMEOUT, POOLTOP_HUNG_AFTER, POOLTOP_RETRIES, POOLTOP_CHUNKSIZE, POOLTOP_OUT,
POOLTOP_OUTPUT_CAP, POOLTOP_SAMPLE_EVERY, POOLTOP_PYTHON, POOLTOP_MAX_TASKS_PER_WORKER,
POOLTOP_REFRESH, POOLTOP_THEME (and NO_COLOR).";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  pooltop completions bash > ~/.local/share/bash-completion/completions/pooltop
  pooltop completions zsh > ~/.zfunc/_pooltop        (with fpath+=~/.zfunc)
  pooltop completions fish > ~/.config/fish/completions/pooltop.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  pooltop man | man -l -                   read it now
  pooltop man > ~/.local/share/man/man1/pooltop.1
  pooltop man --dir ~/.local/share/man/man1          every subcommand's page too";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_names_the_protocol() {
        assert_eq!(
            version(),
            format!(
                "{} (protocol {})",
                env!("CARGO_PKG_VERSION"),
                pooltop::protocol::PROTOCOL_VERSION
            )
        );
    }

    /// Every visible subcommand shows worked examples under --help.
    #[test]
    fn every_subcommand_has_examples() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.starts_with("Examples:"),
                "{} has no examples",
                sub.get_name()
            );
            assert!(
                after.contains(&format!("pooltop {}", sub.get_name())),
                "{}'s examples do not run it",
                sub.get_name()
            );
        }
    }
}
