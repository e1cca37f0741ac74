//! How each task kind runs inside a worker process.
//!
//! [`run`] executes one [`TaskSpec`] on the calling thread and turns every
//! failure into a [`TaskOutcome::Err`] whose message names what went wrong
//! (the path, the OS error, the exit status). It does not panic on bad input.
//! Two kinds never return, on purpose: `hang` blocks the thread forever without
//! using CPU, and `crash` aborts the whole worker process.
//!
//! This module is the entry point and the dispatch, and owns nothing else:
//! the kinds that run in the worker itself are in `kinds`, starting a
//! process (`shell`, command templates) is `spawn`, reading its output is
//! `capture` and `tail`.
//!
//! Paths (`sha256`, `thumbnail`) are taken relative to the worker's current
//! directory.

use std::path::{Path, PathBuf};

use crate::task::{TaskOutcome, TaskSpec};

use super::kinds;
use super::outcome::{fail, ok_value, value_or_fail};
use super::python;
use super::spawn;

pub use super::spawn::HIDDEN_ENV_PREFIX;
pub use super::tail::split_truncated;

/// A sensible [`ExecContext::output_cap`]: 64 KiB of each stream.
pub const DEFAULT_OUTPUT_CAP: usize = 64 * 1024;

/// Where and how a worker runs its tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecContext {
    /// Folder that `thumbnail` writes into (created when missing).
    pub out_dir: PathBuf,
    /// How much output of a `shell` task is kept, per stream: the last
    /// `output_cap` bytes of stdout and of stderr.
    ///
    /// When a stream produced more, its text starts with the line
    /// `…[truncated N bytes]\n`, where N counts the bytes of the stream that are
    /// not shown; the text after that line is at most `output_cap` bytes (invalid
    /// UTF-8 is shown as U+FFFD and counts as 3 bytes; a character cut in half at
    /// the start is dropped whole).
    pub output_cap: usize,
    /// The worker's job slot (1 up), written into [`ExecSpec`](crate::task::ExecSpec) commands.
    pub slot: u32,
    /// Where exec tasks spill output: with a folder, they keep all of it,
    /// exactly (see `PoolConfig::spill_dir`); without, the tail as shell
    /// tasks do.
    pub spill_dir: Option<PathBuf>,
}

/// Runs one task to its end and reports how it went.
///
/// `Hang` never returns and `Crash` aborts the process.
pub fn run(spec: &TaskSpec, ctx: &ExecContext) -> TaskOutcome {
    match spec {
        TaskSpec::Spin(n) => ok_value(kinds::spin(*n).to_string()),
        TaskSpec::Sleep(secs) => value_or_fail(kinds::sleep(*secs)),
        TaskSpec::Square(n) => {
            let mut value = String::new();
            kinds::write_square(*n, &mut value);
            ok_value(value)
        }
        TaskSpec::Sha256(path) => value_or_fail(kinds::sha256_file(Path::new(path))),
        TaskSpec::Thumbnail {
            path,
            width,
            height,
        } => value_or_fail(
            kinds::thumbnail(Path::new(path), *width, *height, &ctx.out_dir)
                .map(|p| p.display().to_string()),
        ),
        TaskSpec::Shell(cmd) => spawn::shell(cmd, ctx.output_cap),
        TaskSpec::Exec(spec) => {
            spawn::exec(spec, ctx.slot, ctx.output_cap, ctx.spill_dir.as_deref())
        }
        TaskSpec::Hang => kinds::hang(),
        TaskSpec::Fail(msg) => fail(msg.clone()),
        TaskSpec::Crash => std::process::abort(),
        TaskSpec::Py(py) => python::run(None, py, ctx.output_cap),
    }
}

/// Tells the runners of the kinds that can take work in advance (`py`)
/// about the tasks that follow, `specs` from task number `first` on, all
/// handed to this worker (see `python::send_ahead`).
pub fn send_ahead(first: u64, specs: &[TaskSpec]) {
    if matches!(specs.first(), Some(TaskSpec::Py(_))) {
        python::send_ahead(first, specs);
    }
}

/// [`run`] for task number `task`: a `py` task's error messages can then
/// point back to the task that first met the same error.
pub fn run_numbered(task: u64, spec: &TaskSpec, ctx: &ExecContext) -> TaskOutcome {
    match spec {
        TaskSpec::Py(py) => python::run(Some(task), py, ctx.output_cap),
        other => run(other, ctx),
    }
}

/// Runs `spec` if it is an instant task that ends with only a value,
/// appending the value to `out` (no allocation: a million squares are not
/// a million strings); false, with nothing written, for any other task,
/// which [`run`] runs.
pub fn value_into(spec: &TaskSpec, out: &mut String) -> bool {
    match spec {
        TaskSpec::Square(n) => {
            kinds::write_square(*n, out);
            true
        }
        _ => false,
    }
}

/// Helpers for the tests of every module that runs tasks: contexts, and
/// running a task through [`run`] with a time limit.
#[cfg(test)]
pub(crate) mod testkit {
    use std::path::Path;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use super::{DEFAULT_OUTPUT_CAP, ExecContext, run};
    use crate::task::{TaskOutcome, TaskOutput, TaskSpec};

    /// A context that writes thumbnails into `out_dir` and keeps `output_cap`
    /// bytes of each stream, as slot 1, without a spill folder.
    pub(crate) fn ctx(out_dir: &Path, output_cap: usize) -> ExecContext {
        ExecContext {
            out_dir: out_dir.to_path_buf(),
            output_cap,
            slot: 1,
            spill_dir: None,
        }
    }

    /// A context for tasks that write nothing.
    pub(crate) fn scratch_ctx() -> ExecContext {
        ctx(Path::new("/nonexistent-pooltop-out"), DEFAULT_OUTPUT_CAP)
    }

    /// The output of a task that succeeded; a failure fails the test.
    pub(crate) fn expect_ok(outcome: TaskOutcome) -> TaskOutput {
        match outcome {
            TaskOutcome::Ok(output) => output,
            TaskOutcome::Err { message, output } => panic!("failed: {message} ({output:?})"),
        }
    }

    /// The message and output of a task that failed; a success fails the test.
    pub(crate) fn expect_err(outcome: TaskOutcome) -> (String, TaskOutput) {
        match outcome {
            TaskOutcome::Err { message, output } => (message, output),
            TaskOutcome::Ok(output) => panic!("succeeded: {output:?}"),
        }
    }

    /// Runs a task on another thread and fails the test (instead of hanging) if
    /// it takes longer than `limit`.
    pub(crate) fn run_within(spec: TaskSpec, ctx: ExecContext, limit: Duration) -> TaskOutcome {
        let (tx, rx) = mpsc::channel();
        let desc = format!("{spec:?}");
        thread::spawn(move || {
            let _ = tx.send(run(&spec, &ctx));
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("{desc} did not finish within {limit:?}"))
    }

    /// Runs a `shell` task keeping `cap` bytes of each stream, within 120 s.
    pub(crate) fn shell_task(cmd: &str, cap: usize) -> TaskOutcome {
        run_within(
            TaskSpec::Shell(cmd.into()),
            ctx(Path::new("."), cap),
            Duration::from_secs(120),
        )
    }
}
