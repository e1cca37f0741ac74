//! Output capture: draining a child's stdout and stderr together, to their
//! ends, and telling how it ended.
//!
//! Each stream goes to a sink: without a spill folder, the tail of the last
//! `cap` bytes (see `tail`, which owns the `…[truncated N bytes]` marker);
//! with one, every byte, as text when it is short UTF-8 and otherwise in a
//! private file in that folder. Starting the child, and what it is given
//! (arguments, environment, stdin), is `spawn`'s job, not this module's.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use crate::task::{TaskOutcome, TaskOutput};

use super::outcome::fail;
use super::tail::{TRUNCATED, Tail};

/// Size of the read buffer for draining pipes.
const CHUNK: usize = 64 * 1024;

thread_local! {
    /// What the last child [`capture`] reaped used. Kept aside rather than
    /// returned, so that every kind that runs a process through `capture`
    /// reports it without each kind's result changing shape; the worker
    /// takes it when the task ends (`usage::Meter`).
    static LAST_CHILD: std::cell::Cell<Option<crate::platform::ChildUsage>> =
        const { std::cell::Cell::new(None) };
}

/// What the child that [`capture`] reaped last on this thread used, once.
pub(super) fn take_child_usage() -> Option<crate::platform::ChildUsage> {
    LAST_CHILD.take()
}

/// Records what a process the worker does not reap per task used for the
/// task that just ended (a `py` task's interpreter, which reports its own).
pub(super) fn set_child_usage(usage: crate::platform::ChildUsage) {
    LAST_CHILD.set(Some(usage));
}

/// The CPU time of the reading [`take_child_usage`] would give, left in place.
pub(super) fn child_cpu() -> Option<std::time::Duration> {
    LAST_CHILD.get().map(|u| u.cpu)
}

/// Waits for a child started with both output streams piped (see
/// `spawn::spawn_captured`) and captures the tails of its stdout and stderr.
///
/// Both pipes are drained together to the end, on this thread (so the
/// command never blocks on a full pipe), keeping at most `cap` bytes of each;
/// see `ExecContext::output_cap` for the truncation marker. A command that
/// leaves a background process holding its stdout or stderr open is finished
/// only when that process closes them, as with `$(...)`. `name` is the
/// program, for messages. With `spill`, the streams are kept exactly instead
/// (see [`Exact`]).
pub(super) fn capture(
    mut child: std::process::Child,
    name: &str,
    cap: usize,
    spill: Option<&Path>,
) -> TaskOutcome {
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        unreachable!("both streams were set to piped");
    };

    let mut sinks = [Sink::new(cap, spill, "out"), Sink::new(cap, spill, "err")];
    let read_errors = pump(&mut stdout, &mut stderr, &mut sinks);
    // Closed before waiting, as before: a command whose background child
    // keeps writing gets SIGPIPE rather than a full pipe.
    drop((stdout, stderr));
    let [out_sink, err_sink] = sinks;
    let [out_read, err_read] = read_errors;
    let (out, out_err) = out_sink.finish(out_read);
    let (err, err_err) = err_sink.finish(err_read);
    let status = match crate::platform::wait_child(child.id()) {
        Ok((status, usage)) => {
            LAST_CHILD.set(Some(usage));
            status
        }
        Err(e) => return fail(format!("cannot wait for `{name}`: {e}")),
    };

    let output = TaskOutput {
        value: out.text.clone(),
        stdout: out.text,
        stderr: err.text,
        exit_code: status.code(),
        signal: status.signal(),
        stdout_file: out.file,
        stderr_file: err.file,
    };
    if let Some((stream, e)) = [("stdout", out_err), ("stderr", err_err)]
        .into_iter()
        .find_map(|(name, e)| e.map(|e| (name, e)))
    {
        return TaskOutcome::Err {
            message: format!("cannot capture the command's {stream}: {e}"),
            output,
        };
    }
    let message = match (status.code(), status.signal()) {
        (Some(0), _) => return TaskOutcome::Ok(output),
        (Some(code), _) => match last_line(&output.stderr) {
            Some(line) => format!("exit status {code}: {line}"),
            None => format!("exit status {code}"),
        },
        (None, Some(sig)) => format!(
            "killed by signal {sig} ({})",
            crate::platform::signal_name(sig)
        ),
        (None, None) => format!("ended abnormally: {status}"),
    };
    TaskOutcome::Err { message, output }
}

/// The last non-blank line of captured stderr (not the truncation marker), cut to 200 characters.
fn last_line(text: &str) -> Option<String> {
    const SHOWN: usize = 200;
    let line = text
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.starts_with(TRUNCATED))?;
    let mut shown: String = line.chars().take(SHOWN).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    Some(shown)
}

/// Reads both pipes to their ends, whichever has data, into their sinks.
/// Returns the read error of each, if one stopped it.
fn pump(
    stdout: &mut std::process::ChildStdout,
    stderr: &mut std::process::ChildStderr,
    sinks: &mut [Sink; 2],
) -> [Option<io::Error>; 2] {
    use std::os::fd::AsRawFd;
    let fds = [stdout.as_raw_fd(), stderr.as_raw_fd()];
    let mut open = [true, true];
    let mut errors: [Option<io::Error>; 2] = [None, None];
    let mut buf = vec![0u8; CHUNK];
    while open[0] || open[1] {
        let watched = [
            if open[0] { fds[0] } else { -1 },
            if open[1] { fds[1] } else { -1 },
        ];
        // Held live output is due after a while even if nothing more comes.
        let due = super::live::due_in();
        let ready = match crate::platform::wait_readable_within(watched, due) {
            Ok(ready) => ready,
            Err(e) => {
                // Nothing more can be read: say why, on the first open stream.
                let i = usize::from(!open[0]);
                errors[i] = Some(e);
                break;
            }
        };
        if ready == [false, false] {
            super::live::tick();
        }
        for i in 0..2 {
            if !open[i] || !ready[i] {
                continue;
            }
            // A pipe polled readable gives data, its end or an error at
            // once: this read does not block.
            let read = if i == 0 {
                stdout.read(&mut buf)
            } else {
                stderr.read(&mut buf)
            };
            match read {
                Ok(0) => open[i] = false,
                Ok(n) => {
                    sinks[i].push(&buf[..n]);
                    super::live::push(i, &buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    errors[i] = Some(e);
                    open[i] = false;
                }
            }
        }
    }
    errors
}

/// A captured stream: its text, or the file that holds all of it.
#[derive(Debug, Default)]
struct Captured {
    text: String,
    file: Option<String>,
}

/// Where a captured stream goes: its tail in a ring ([`Tail`]), or, with a
/// spill folder, all of it, exactly ([`Exact`]).
enum Sink<'a> {
    Tail(Tail),
    Exact(Exact<'a>),
}

impl<'a> Sink<'a> {
    fn new(cap: usize, spill: Option<&'a Path>, tag: &'static str) -> Sink<'a> {
        match spill {
            None => Sink::Tail(Tail::new(cap)),
            Some(dir) => Sink::Exact(Exact {
                dir,
                tag,
                cap,
                mem: Vec::new(),
                file: None,
                error: None,
            }),
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        match self {
            Sink::Tail(t) => t.push(chunk),
            Sink::Exact(e) => e.push(chunk),
        }
    }

    /// The captured stream, and the first error: `read_error` (from the
    /// pipe), or one of writing the spill file.
    fn finish(self, read_error: Option<io::Error>) -> (Captured, Option<io::Error>) {
        match self {
            Sink::Tail(t) => (
                Captured {
                    text: t.into_text(),
                    file: None,
                },
                read_error,
            ),
            Sink::Exact(e) => e.finish(read_error),
        }
    }
}

/// Keeps every byte of a stream: as text when it is UTF-8 of at most `cap`
/// bytes, else in a new file in `dir` (binary output stays exact; long
/// output costs no memory). A file that cannot be written is an error, but
/// the stream is still read to its end, so the job never blocks on a full
/// pipe.
struct Exact<'a> {
    dir: &'a Path,
    tag: &'static str,
    cap: usize,
    mem: Vec<u8>,
    file: Option<(File, PathBuf)>,
    error: Option<io::Error>,
}

impl Exact<'_> {
    fn push(&mut self, chunk: &[u8]) {
        if self.error.is_some() {
            return; // Only drain.
        }
        if let Some((f, _)) = &mut self.file {
            if let Err(e) = f.write_all(chunk) {
                self.error = Some(e);
            }
        } else if self.mem.len() + chunk.len() <= self.cap {
            self.mem.extend_from_slice(chunk);
        } else {
            let mem = std::mem::take(&mut self.mem);
            match spill_file(self.dir, self.tag).and_then(|(mut f, path)| {
                f.write_all(&mem)?;
                f.write_all(chunk)?;
                Ok((f, path))
            }) {
                Ok(spilled) => self.file = Some(spilled),
                Err(e) => self.error = Some(e),
            }
        }
    }

    fn finish(mut self, read_error: Option<io::Error>) -> (Captured, Option<io::Error>) {
        let mut error = read_error.or(self.error.take());
        if self.file.is_none() && error.is_none() {
            match String::from_utf8(std::mem::take(&mut self.mem)) {
                Ok(text) => return (Captured { text, file: None }, None),
                // Not text: to a file, byte for byte.
                Err(e) => match spill_file(self.dir, self.tag).and_then(|(mut f, path)| {
                    f.write_all(e.as_bytes())?;
                    Ok((f, path))
                }) {
                    Ok(spilled) => self.file = Some(spilled),
                    Err(e) => error = Some(e),
                },
            }
        }
        let file = self
            .file
            .map(|(_, path)| path.to_string_lossy().into_owned());
        (
            Captured {
                text: String::new(),
                file,
            },
            error,
        )
    }
}

/// A new file for a spilled stream, only for this user.
fn spill_file(dir: &Path, tag: &str) -> io::Result<(File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}.{tag}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    Ok((f, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;
    use std::time::Duration;

    use crate::task::{ExecSpec, TaskSpec};
    use crate::worker::exec::DEFAULT_OUTPUT_CAP;
    use crate::worker::exec::testkit::{ctx, expect_err, expect_ok, run_within, shell_task};

    #[test]
    fn last_line_skips_blanks_and_the_marker() {
        assert_eq!(last_line("a\nb\n\n  \n"), Some("b".into()));
        assert_eq!(last_line("…[truncated 5 bytes]\n"), None);
        assert_eq!(last_line(""), None);
        assert_eq!(last_line(&"x".repeat(300)).unwrap().chars().count(), 201);
    }

    #[test]
    fn shell_failure_is_an_error_with_its_output() {
        let (msg, out) = expect_err(shell_task(
            "echo partial; echo first >&2; echo boom >&2; exit 3",
            DEFAULT_OUTPUT_CAP,
        ));
        assert_eq!(msg, "exit status 3: boom");
        assert_eq!(out.stdout, "partial\n");
        assert_eq!(out.stderr, "first\nboom\n");
        assert_eq!(out.exit_code, Some(3));

        let (msg, _) = expect_err(shell_task("exit 3", DEFAULT_OUTPUT_CAP));
        assert_eq!(msg, "exit status 3");

        let (msg, out) = expect_err(shell_task("kill -TERM $$", DEFAULT_OUTPUT_CAP));
        assert_eq!(msg, "killed by signal 15 (SIGTERM)");
        assert_eq!(out.exit_code, None);
    }

    #[test]
    fn exec_with_a_spill_folder_keeps_all_output_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let run_spilling = |script: &str, cap: usize| {
            let mut ctx = ctx(Path::new("."), cap);
            ctx.spill_dir = Some(dir.path().to_path_buf());
            let spec = ExecSpec::new(vec!["sh".into(), "-c".into(), script.into()]);
            run_within(
                TaskSpec::Exec(Box::new(spec)),
                ctx,
                Duration::from_secs(120),
            )
        };
        // Short text stays inline.
        let out = expect_ok(run_spilling("printf 'héllo'; printf e >&2", 16));
        assert_eq!(
            (out.stdout.as_str(), out.stdout_file.as_deref()),
            ("héllo", None)
        );
        assert_eq!(out.stderr, "e");
        // Binary output goes to a file, byte for byte.
        let out = expect_ok(run_spilling("printf 'a\\377\\000b'", 1024));
        let file = out.stdout_file.expect("spilled");
        assert_eq!(fs::read(&file).unwrap(), b"a\xff\0b");
        assert_eq!(out.stdout, "");
        // Longer than the cap, on both streams at once: whole files.
        let out = expect_ok(run_spilling(
            "head -c 300000 /dev/zero | tr '\\0' x; head -c 200000 /dev/zero >&2",
            1000,
        ));
        let stdout = fs::read(out.stdout_file.unwrap()).unwrap();
        assert_eq!(stdout.len(), 300_000);
        assert!(stdout.iter().all(|&b| b == b'x'));
        assert_eq!(fs::read(out.stderr_file.unwrap()).unwrap().len(), 200_000);
        // The files are private.
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A folder that cannot be written: an error, and no job left blocked.
        let mut ctx = ctx(Path::new("."), 10);
        ctx.spill_dir = Some(dir.path().join("missing"));
        let spec = ExecSpec::new(vec![
            "sh".into(),
            "-c".into(),
            "head -c 1000000 /dev/zero".into(),
        ]);
        let (msg, _) = expect_err(run_within(
            TaskSpec::Exec(Box::new(spec)),
            ctx,
            Duration::from_secs(120),
        ));
        assert!(
            msg.starts_with("cannot capture the command's stdout"),
            "{msg}"
        );
    }

    #[test]
    fn shell_keeps_a_bounded_tail_of_a_flood() {
        // 10 MB to stderr first: reading stdout alone would deadlock here.
        let cap = 4096;
        let out = expect_ok(shell_task(
            "head -c 10000000 /dev/zero >&2; head -c 50000000 /dev/zero; printf end",
            cap,
        ));
        let marker = "…[truncated 49995907 bytes]\n";
        assert!(out.stdout.starts_with(marker), "{:?}", &out.stdout[..40]);
        assert_eq!(out.stdout.len(), marker.len() + cap);
        assert!(out.stdout.ends_with("\0\0\0end"));
        assert_eq!(out.value, out.stdout);
        assert!(out.stderr.starts_with("…[truncated 9995904 bytes]\n"));
        assert!(out.stderr.len() <= cap + 40);
    }
}
