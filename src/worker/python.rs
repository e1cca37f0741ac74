//! `py` tasks: a Python function called in the worker's own interpreter.
//!
//! A worker starts one Python interpreter on its first `py` task and keeps
//! it for the next ones, so a module is imported once per worker and its
//! module-level state lives on between tasks. The interpreter runs the
//! runner script embedded here (`python/runner.py`, standard library only)
//! with `python -c`, in the worker's process group (pause, the task timeout
//! and kills reach it with the worker) and with a parent-death signal (it
//! never outlives its worker). The two talk over pipes, one JSON line each
//! way per task; the runner moves them off its fds 0 and 1 at once, so what
//! a task prints is captured per task and never reaches the protocol.
//!
//! How a task ends:
//! - a return value: its JSON text (or its `repr`) is the task's value;
//! - an exception: that task fails with `ExceptionType: message` and the
//!   traceback in its stderr; the interpreter lives on;
//! - an import error, a missing function or a failed `--py-init`: the task
//!   fails with a message that names the module and `sys.path`; later
//!   tasks on the same interpreter that need the same module fail at once
//!   with "the same error as task #N" (each interpreter says it in full once);
//! - the interpreter dies (`os._exit`, a signal, the OOM killer): the worker
//!   ends the same way (the same exit code or signal), so the pool sees a
//!   worker crash, retries the task per `--retries` and starts a new worker.
//!
//! Which interpreter, the initializer and the folder put first on
//! `sys.path` come from the worker's environment ([`ENV_PROGRAM`],
//! [`ENV_INIT`], [`ENV_PATH`]), which the engine sets from its
//! `PythonConfig`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;

use crate::platform;
use crate::task::{PySpec, TaskOutcome, TaskOutput};

use super::outcome::fail;
use super::spawn::hidden_env;
use super::tail::TRUNCATED;

/// Environment variable with the Python interpreter to start (default `python3`).
pub const ENV_PROGRAM: &str = "POOLTOP_PY_PROGRAM";
/// Environment variable with the `MODULE:FUNCTION` run once per interpreter.
pub const ENV_INIT: &str = "POOLTOP_PY_INIT";
/// Environment variable with the folder put first on `sys.path`.
pub const ENV_PATH: &str = "POOLTOP_PY_PATH";

/// The interpreter a worker uses when none is configured.
pub const DEFAULT_PROGRAM: &str = "python3";

/// The Python side, run with `python -c`.
const RUNNER: &str = include_str!("python/runner.py");

/// The worker's interpreter, from its first `py` task on. Tasks run on the
/// worker's main thread, one at a time; the lock only makes that safe to say.
static STATE: Mutex<State> = Mutex::new(State::NotStarted);

enum State {
    NotStarted,
    Running(Interpreter),
    /// The interpreter could not be started; `task` was told why in full.
    Broken {
        task: Option<u64>,
        message: String,
    },
}

/// Runs one `py` task (task number `task`, when known) in the worker's
/// interpreter, keeping `output_cap` bytes of each output stream, starting it first if this is the worker's first.
///
/// Does not return when the interpreter dies under the task: the worker
/// then ends as the interpreter did (see the module doc).
pub(super) fn run(task: Option<u64>, spec: &PySpec, output_cap: usize) -> TaskOutcome {
    let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    if let State::NotStarted = *state {
        *state = match Interpreter::start(&Setup::from_env(), output_cap) {
            Ok(interpreter) => State::Running(interpreter),
            Err(message) => {
                let outcome = fail(message.clone());
                *state = State::Broken { task, message };
                return outcome;
            }
        };
    }
    match &mut *state {
        State::Running(interpreter) => match interpreter.call(task, spec) {
            Ok(outcome) => outcome,
            Err(status) => platform::exit_like(status),
        },
        State::Broken { task, message } => fail(format!("{message} ({})", same_as(*task))),
        State::NotStarted => unreachable!("started above"),
    }
}

/// Hands the worker's interpreter, if it runs, the requests of the `py`
/// tasks at the start of `specs` (numbered from `first`) that it was not
/// sent yet, so that it goes from one call to the next without waiting for
/// the worker: the tasks of a chunk run back to back anyway. Each is still
/// read, and reported, by [`run`] in turn. Stops at the first task of
/// another kind (it must run before the calls after it), and at
/// [`AHEAD_BYTES`] of unanswered requests, so writing never blocks.
pub(super) fn send_ahead(first: u64, specs: &[crate::task::TaskSpec]) {
    let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    let State::Running(interpreter) = &mut *state else {
        return;
    };
    for (task, spec) in (first..).zip(specs) {
        let crate::task::TaskSpec::Py(py) = spec else {
            return;
        };
        if interpreter.ahead.iter().any(|(t, _)| *t == task) {
            continue;
        }
        if interpreter.ahead_bytes() >= AHEAD_BYTES {
            return;
        }
        let request = request_line(Some(task), py);
        if interpreter.requests.write_all(request.as_bytes()).is_err() {
            // It is gone: the task's own call finds out and says how.
            return;
        }
        interpreter.ahead.push_back((task, request.len()));
    }
}

/// Unanswered requests sent ahead stay under this many bytes: far below a
/// pipe's 64 KiB, so a write never waits for the runner, which may itself
/// be waiting to write a reply nobody reads yet.
const AHEAD_BYTES: usize = 16 * 1024;

fn same_as(task: Option<u64>) -> String {
    match task {
        Some(n) => format!("the same error as task #{n}"),
        None => "the same error as an earlier task".into(),
    }
}

/// What the worker was told about Python.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setup {
    program: String,
    init: String,
    path0: String,
}

impl Setup {
    fn from_env() -> Setup {
        let var = |name| std::env::var(name).unwrap_or_default();
        let program = var(ENV_PROGRAM);
        Setup {
            program: if program.is_empty() {
                DEFAULT_PROGRAM.into()
            } else {
                program
            },
            init: var(ENV_INIT),
            path0: var(ENV_PATH),
        }
    }
}

/// A running interpreter and the two ends of its protocol pipes.
struct Interpreter {
    child: Child,
    requests: ChildStdin,
    replies: BufReader<ChildStdout>,
    line: String,
    /// Tasks whose requests were sent ahead (see [`send_ahead`]), in order,
    /// with each request's length.
    ahead: std::collections::VecDeque<(u64, usize)>,
}

/// The runner's first line.
#[derive(Deserialize)]
struct Ready {
    #[allow(dead_code)]
    ready: u32,
}

/// The runner's answer to one task (see `runner.py`).
#[derive(Deserialize)]
struct Reply {
    ok: bool,
    v: String,
    o: String,
    ot: u64,
    e: String,
    et: u64,
    /// The interpreter's CPU time in the call, in nanoseconds.
    #[serde(default)]
    c: u64,
    /// The interpreter's peak RSS so far, in bytes.
    #[serde(default)]
    m: u64,
}

impl Interpreter {
    /// Starts the runner and waits for its ready line; says why in one line
    /// (with what the interpreter wrote to stderr) when it cannot.
    fn start(setup: &Setup, output_cap: usize) -> Result<Interpreter, String> {
        let mut command = Command::new(&setup.program);
        command
            .arg("-c")
            .arg(RUNNER)
            .arg(&setup.path0)
            .arg(&setup.init)
            .arg(output_cap.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in hidden_env() {
            command.env_remove(name);
        }
        platform::die_with_this_process(&mut command);
        let program = &setup.program;
        let mut child = command.spawn().map_err(|e| {
            format!("cannot start the Python interpreter `{program}`: {e} (set it with --python, POOLTOP_PYTHON or pool.python)")
        })?;
        let (Some(requests), Some(replies), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("all three were piped");
        };
        let mut interpreter = Interpreter {
            child,
            requests,
            replies: BufReader::with_capacity(64 * 1024, replies),
            line: String::new(),
            ahead: std::collections::VecDeque::new(),
        };
        let ready = interpreter
            .read_line()
            .ok()
            .filter(|n| *n > 0)
            .and_then(|_| serde_json::from_str::<Ready>(&interpreter.line).ok());
        if ready.is_some() {
            return Ok(interpreter);
        }
        // It ended (or said nothing sensible): say how, with its last words.
        let _ = interpreter.child.kill();
        let status = interpreter.child.wait();
        let mut said = String::new();
        let _ = stderr.by_ref().take(64 * 1024).read_to_string(&mut said);
        let said = said.trim().lines().last().unwrap_or("").to_string();
        let how = match status {
            Ok(s) => describe_exit(s),
            Err(e) => e.to_string(),
        };
        Err(format!(
            "the Python interpreter `{program}` did not start: {how}{}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ))
    }

    fn ahead_bytes(&self) -> usize {
        self.ahead.iter().map(|(_, n)| n).sum()
    }

    fn read_line(&mut self) -> std::io::Result<usize> {
        self.line.clear();
        self.replies.read_line(&mut self.line)
    }

    /// Reads and drops the replies of requests sent ahead.
    fn drain_ahead(&mut self) -> std::io::Result<()> {
        while self.ahead.pop_front().is_some() {
            if self.read_line()? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// Sends one task and reads its reply. When the interpreter dies first,
    /// returns how it ended.
    fn call(
        &mut self,
        task: Option<u64>,
        spec: &PySpec,
    ) -> Result<TaskOutcome, std::process::ExitStatus> {
        // Sent ahead already: its reply is next. (Anything else sent ahead
        // would answer first, so then this call waits for those replies;
        // the worker never skips a task it was handed, so it does not happen.)
        let sent = match (task, self.ahead.front()) {
            (Some(t), Some(&(front, _))) if front == t => {
                self.ahead.pop_front();
                Ok(())
            }
            _ => self.drain_ahead().and_then(|()| {
                let request = request_line(task, spec);
                self.requests.write_all(request.as_bytes())
            }),
        };
        let read = match sent {
            Ok(()) => self.read_line(),
            Err(e) => Err(e),
        };
        let reply = match read {
            Ok(n) if n > 0 => serde_json::from_str::<Reply>(&self.line).ok(),
            _ => None,
        };
        match reply {
            Some(reply) => {
                super::capture::set_child_usage(platform::ChildUsage {
                    max_rss: reply.m,
                    cpu: std::time::Duration::from_nanos(reply.c),
                });
                Ok(outcome(reply))
            }
            None => {
                // Gone, or out of its mind: either way it cannot go on.
                let _ = self.child.kill();
                Err(self.child.wait().unwrap_or_else(|_| killed_status()))
            }
        }
    }
}

/// The request for one task, as one line of JSON (the arguments are JSON
/// text already; one that spans lines is written again on one).
fn request_line(task: Option<u64>, spec: &PySpec) -> String {
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let id = task.map_or_else(|| "null".to_string(), |n| n.to_string());
    let mut line = format!(
        r#"{{"id":{id},"m":{},"f":{},"a":["#,
        quote(&spec.module),
        quote(&spec.function)
    );
    for (i, arg) in spec.args.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if arg.contains(['\n', '\r']) {
            match serde_json::from_str::<serde_json::Value>(arg) {
                Ok(value) => line.push_str(&value.to_string()),
                Err(_) => line.push_str(&quote(arg)),
            }
        } else {
            line.push_str(arg);
        }
    }
    line.push_str("]}\n");
    line
}

/// A reply as the task's outcome.
fn outcome(reply: Reply) -> TaskOutcome {
    let stream = |text: String, dropped: u64| {
        if dropped == 0 {
            text
        } else {
            format!("{TRUNCATED}{dropped} bytes]\n{text}")
        }
    };
    let mut output = TaskOutput {
        stdout: stream(reply.o, reply.ot),
        stderr: stream(reply.e, reply.et),
        ..TaskOutput::default()
    };
    if reply.ok {
        output.value = reply.v;
        TaskOutcome::Ok(output)
    } else {
        TaskOutcome::Err {
            message: reply.v,
            output,
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {}", platform::signal_name(sig)),
        _ => status.to_string(),
    }
}

/// The status of a process killed by SIGKILL, for an interpreter that could
/// not be waited for.
fn killed_status() -> std::process::ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    std::process::ExitStatus::from_raw(libc::SIGKILL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(module: &str, function: &str, args: &[&str]) -> PySpec {
        PySpec {
            module: module.into(),
            function: function.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn python_setup() -> Setup {
        Setup {
            program: DEFAULT_PROGRAM.into(),
            init: String::new(),
            path0: String::new(),
        }
    }

    #[test]
    fn request_lines_are_one_line_of_json() {
        let line = request_line(Some(7), &spec("m\"od", "f", &["3", "[1,\n2]", r#""a b""#]));
        assert_eq!(
            line,
            "{\"id\":7,\"m\":\"m\\\"od\",\"f\":\"f\",\"a\":[3,[1,2],\"a b\"]}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["a"][2], "a b");
        assert!(request_line(None, &spec("m", "f", &[])).starts_with("{\"id\":null,"));
    }

    #[test]
    fn an_interpreter_keeps_its_state_and_survives_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("counter.py");
        std::fs::write(
            &module,
            "import os\nn = 0\ndef bump(by):\n    global n\n    n += by\n    print('at', n)\n    return [n, os.getpid()]\n\
             def boom():\n    raise ValueError('no luck')\n\
             if __name__ == '__main__':\n    raise SystemExit('the guard ran')\n",
        )
        .unwrap();
        let module = module.to_str().unwrap();
        let mut interp = Interpreter::start(&python_setup(), 1024).unwrap();
        let ok = |o: TaskOutcome| match o {
            TaskOutcome::Ok(out) => out,
            other => panic!("{other:?}"),
        };
        let first = ok(interp.call(Some(1), &spec(module, "bump", &["2"])).unwrap());
        let pid = interp.child.id();
        assert_eq!(first.value, format!("[2, {pid}]"));
        assert_eq!(first.stdout, "at 2\n");
        let TaskOutcome::Err { message, output } =
            interp.call(Some(2), &spec(module, "boom", &[])).unwrap()
        else {
            panic!("boom succeeded");
        };
        assert_eq!(message, "ValueError: no luck");
        assert!(output.stderr.contains("Traceback"), "{}", output.stderr);
        assert!(
            output.stderr.contains("raise ValueError"),
            "{}",
            output.stderr
        );
        let again = ok(interp.call(Some(3), &spec(module, "bump", &["3"])).unwrap());
        assert_eq!(
            again.value,
            format!("[5, {pid}]"),
            "same interpreter, same state"
        );
        let _ = interp.child.kill();
        let _ = interp.child.wait();
    }

    #[test]
    fn a_missing_module_is_explained_once() {
        let mut interp = Interpreter::start(&python_setup(), 1024).unwrap();
        let err = |o: TaskOutcome| match o {
            TaskOutcome::Err { message, .. } => message,
            other => panic!("{other:?}"),
        };
        let first = err(interp
            .call(Some(4), &spec("no_such_mod_pt", "f", &[]))
            .unwrap());
        assert!(
            first.starts_with("cannot import `no_such_mod_pt`: ModuleNotFoundError"),
            "{first}"
        );
        assert!(first.contains("sys.path: ["), "{first}");
        let second = err(interp
            .call(Some(5), &spec("no_such_mod_pt", "g", &[]))
            .unwrap());
        assert!(second.ends_with("(the same error as task #4)"), "{second}");
        let missing = err(interp.call(Some(6), &spec("json", "nope", &[])).unwrap());
        assert!(
            missing.starts_with("`json` has no function `nope`"),
            "{missing}"
        );
        let _ = interp.child.kill();
        let _ = interp.child.wait();
    }

    #[test]
    fn an_interpreter_that_cannot_start_says_why() {
        let setup = Setup {
            program: "/no/such/python3".into(),
            ..python_setup()
        };
        let e = Interpreter::start(&setup, 10).err().unwrap();
        assert!(
            e.starts_with("cannot start the Python interpreter `/no/such/python3`"),
            "{e}"
        );
        let setup = Setup {
            program: "false".into(),
            ..python_setup()
        };
        let e = Interpreter::start(&setup, 10).err().unwrap();
        assert_eq!(
            e,
            "the Python interpreter `false` did not start: exit status 1"
        );
    }
}
