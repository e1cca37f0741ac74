//! Starting a task's process: `shell` lines through `sh -c`, command
//! templates (`exec` jobs) directly, as a shell would run them.
//!
//! Owns what a child is given: its arguments (with the worker's job slot
//! filled in), its environment (the template's variables in, pooltop's own
//! out), stdin from /dev/null and both output streams piped. The child stays
//! in the worker's process group, so a signal to the group reaches the whole
//! task tree. Reading the output and judging the exit status is `capture`'s
//! job, not this module's.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::task::{ExecSpec, TaskOutcome, TaskOutput};

use super::capture::capture;
use super::outcome::fail;

/// Environment variables whose names start with this are removed from the
/// environment of `shell` tasks: the worker's secrets (its pool token) live there.
pub const HIDDEN_ENV_PREFIX: &str = "POOLTOP_";

/// Runs `sh -c -- CMD` and captures the tails of its stdout and stderr
/// (see [`capture`]).
pub(super) fn shell(cmd: &str, cap: usize) -> TaskOutcome {
    let mut command = Command::new("sh");
    command.arg("-c").arg("--").arg(cmd);
    match spawn_captured(&mut command) {
        Ok(child) => capture(child, "sh", cap, None),
        Err(e) => fail(format!("cannot start `sh`: {e}")),
    }
}

/// Runs a program directly (no shell) and captures it like [`shell`]. The
/// worker's job slot is written into the arguments first (see
/// [`ExecSpec::slot_at`]).
///
/// A program that cannot be started ends as a shell would report it, so that
/// a command template behaves the same with or without a shell: not found is
/// exit status 127, not permitted 126, with the reason on stderr. A file that
/// is not a binary and has no `#!` line is run by `sh`, as `execvp` does.
pub(super) fn exec(spec: &ExecSpec, slot: u32, cap: usize, spill: Option<&Path>) -> TaskOutcome {
    let argv = spec.argv_with_slot(slot);
    let Some((program, args)) = argv.split_first() else {
        return fail("the command is empty".into());
    };
    let mut command = Command::new(program);
    command.args(args);
    let spawned = match spawn_captured(with_template_env(&mut command, spec, slot)) {
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            let mut by_sh = Command::new("sh");
            by_sh.arg(program).args(args);
            spawn_captured(with_template_env(&mut by_sh, spec, slot))
        }
        other => other,
    };
    match spawned {
        Ok(child) => capture(child, program, cap, spill),
        Err(e) => not_started(program, &e),
    }
}

/// Adds a template's own variables to `command`'s environment, and the job
/// slot under the name the template asks for.
fn with_template_env<'a>(command: &'a mut Command, spec: &ExecSpec, slot: u32) -> &'a mut Command {
    for (name, value) in &spec.env {
        command.env(name, value);
    }
    if let Some(name) = &spec.slot_env {
        command.env(name, slot.to_string());
    }
    command
}

/// How a shell reports a `program` it could not start with error `e`: exit
/// status 127 when it is not found, 126 otherwise, with the reason on stderr.
fn not_started(program: &str, e: &io::Error) -> TaskOutcome {
    let (code, reason) = match e.kind() {
        io::ErrorKind::NotFound if !program.contains('/') => (127, "command not found"),
        io::ErrorKind::NotFound => (127, "No such file or directory"),
        io::ErrorKind::PermissionDenied => (126, "Permission denied"),
        _ => (126, ""),
    };
    let reason = if reason.is_empty() {
        e.to_string()
    } else {
        reason.to_string()
    };
    let message = format!("{program}: {reason}");
    TaskOutcome::Err {
        output: TaskOutput {
            stderr: format!("pooltop: {message}\n"),
            exit_code: Some(code),
            ..TaskOutput::default()
        },
        message: format!("exit status {code}: {message}"),
    }
}

/// The variables through which numeric libraries learn how many threads to
/// use: each task gets the worker's share of the CPUs unless its
/// environment already names one (see `--threads-per-task`).
pub const THREAD_VARS: [&str; 4] = [
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
];

static THREADS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// How many threads each task's numeric libraries get (set once, from the
/// manager's welcome).
pub(super) fn set_threads_per_task(n: u32) {
    let _ = THREADS.set(n);
}

/// Starts `command` with stdin from /dev/null, stdout and stderr piped, and
/// without pooltop's own environment variables. It stays in the worker's
/// process group, so signals to the group reach the whole task tree.
fn spawn_captured(command: &mut Command) -> io::Result<std::process::Child> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in hidden_env() {
        command.env_remove(name);
    }
    if let Some(n) = THREADS.get() {
        for var in THREAD_VARS {
            // The user's own setting (or the template's) wins.
            let set_here = command.get_envs().any(|(k, _)| k == var);
            if !set_here && std::env::var_os(var).is_none() {
                command.env(var, n.to_string());
            }
        }
    }
    command.spawn()
}

/// The names of pooltop's own environment variables, found once: a worker's
/// environment does not change, and a task may start thousands of processes.
pub(super) fn hidden_env() -> &'static [std::ffi::OsString] {
    static HIDDEN: std::sync::OnceLock<Vec<std::ffi::OsString>> = std::sync::OnceLock::new();
    HIDDEN.get_or_init(|| {
        std::env::vars_os()
            .map(|(name, _)| name)
            .filter(|name| name.as_bytes().starts_with(HIDDEN_ENV_PREFIX.as_bytes()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;
    use std::process::Command;
    use std::time::Duration;

    use crate::task::{ExecSpec, TaskOutcome, TaskSpec};
    use crate::worker::exec::DEFAULT_OUTPUT_CAP;
    use crate::worker::exec::testkit::{ctx, expect_err, expect_ok, run_within, shell_task};

    #[test]
    fn shell_captures_stdout_stderr_and_exit_code() {
        let out = expect_ok(shell_task("echo out; echo err >&2", DEFAULT_OUTPUT_CAP));
        assert_eq!(out.value, "out\n");
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.exit_code, Some(0));

        let out = expect_ok(shell_task("printf 'no newline'", DEFAULT_OUTPUT_CAP));
        assert_eq!(out.value, "no newline");

        // The command line is not an option to sh, even when it starts with '-'.
        let (msg, _) = expect_err(shell_task("-x", DEFAULT_OUTPUT_CAP));
        assert!(msg.starts_with("exit status 127"), "{msg}");
    }

    /// Runs `argv` directly as worker slot `slot`; the slot number goes at
    /// the start of argv[1] when `argv[0]` is `printf`.
    fn exec_task(argv: &[&str], slot: u32) -> TaskOutcome {
        let spec = ExecSpec {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            env: vec![("PT_EXEC_TEST".into(), "from env".into())],
            slot_at: if argv[0] == "printf" {
                vec![(1, 0)]
            } else {
                vec![]
            },
            slot_env: Some("PT_SLOT".into()),
        };
        let mut ctx = ctx(Path::new("."), DEFAULT_OUTPUT_CAP);
        ctx.slot = slot;
        run_within(
            TaskSpec::Exec(Box::new(spec)),
            ctx,
            Duration::from_secs(120),
        )
    }

    #[test]
    fn exec_passes_arguments_untouched_and_fills_in_the_slot() {
        let out = expect_ok(exec_task(
            &["printf", "|%s|%s|%s\\n", "it's a $HOME `x` * \"q\"", ""],
            7,
        ));
        // The slot went in front of the format; no shell touched the rest.
        assert_eq!(out.stdout, "7|it's a $HOME `x` * \"q\"||\n");
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.signal, None);
        let out = expect_ok(exec_task(&["sh", "-c", "echo $PT_SLOT $PT_EXEC_TEST"], 3));
        assert_eq!(out.stdout, "3 from env\n");
    }

    #[test]
    fn exec_failures_read_like_a_shell_s() {
        let (msg, out) = expect_err(exec_task(&["no-such-program-pooltop", "x"], 1));
        assert_eq!(out.exit_code, Some(127));
        assert_eq!(
            msg,
            "exit status 127: no-such-program-pooltop: command not found"
        );
        assert_eq!(
            out.stderr,
            "pooltop: no-such-program-pooltop: command not found\n"
        );
        let (_, out) = expect_err(exec_task(&["./no/such/file", "x"], 1));
        assert_eq!(out.exit_code, Some(127));
        assert!(out.stderr.contains("No such file or directory"), "{out:?}");

        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        fs::write(&plain, "echo hi\n").unwrap();
        let (_, out) = expect_err(exec_task(&[plain.to_str().unwrap(), "x"], 1));
        assert_eq!(out.exit_code, Some(126), "not executable: {out:?}");

        // No #! line: run by sh, as execvp does.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&plain, fs::Permissions::from_mode(0o755)).unwrap();
        let out = expect_ok(exec_task(&[plain.to_str().unwrap(), "x"], 1));
        assert_eq!(out.stdout, "hi\n");

        let (msg, out) = expect_err(exec_task(&["sh", "-c", "kill -TERM $$"], 1));
        assert_eq!(msg, "killed by signal 15 (SIGTERM)");
        assert_eq!((out.exit_code, out.signal), (None, Some(15)));
    }

    #[test]
    fn shell_hides_pooltop_env() {
        const MARK: &str = "child checked the environment";
        if std::env::var_os("POOLTOP_TOKEN").is_some() {
            // The child test process: the variables were set before it started.
            assert_eq!(std::env::var("POOLTOP_TOKEN").unwrap(), "secret");
            let out = expect_ok(shell_task(
                "echo ${POOLTOP_TOKEN:-unset} ${POOLTOP_X:-unset} ${NOT_POOLTOP:-unset}",
                DEFAULT_OUTPUT_CAP,
            ));
            assert_eq!(out.value, "unset unset kept\n");
            println!("{MARK}");
            return;
        }
        // Setting variables in this multi-threaded test process would race
        // with other tests, so run this test again in a child process that has
        // them from the start.
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "worker::spawn::tests::shell_hides_pooltop_env",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("POOLTOP_TOKEN", "secret")
            .env("POOLTOP_X", "x")
            .env("NOT_POOLTOP", "kept")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(MARK),
            "child test failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
