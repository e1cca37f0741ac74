//! `py` tasks end to end (issue 14): the real binary, real python3 (which
//! `.ci/run` installs), one persistent interpreter per worker.

mod helpers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use helpers::{BIN, LiveRun, alive, hermetic_env, pids_with_marker, pooltop_command, wait_for};
use serde_json::Value;

/// The module the tests call, written into a fresh folder per test.
const WORK_PY: &str = r#"
import os, sys, time

inits = 0
calls = 0

def init():
    global inits
    inits += 1

def square(x):
    return x * x

def echo(*args):
    return list(args)

def a_set(n):
    return set(range(n))

def big(n):
    return "x" * n

def count():
    global calls
    calls += 1
    return [calls, inits, os.getpid()]

def pid():
    return os.getpid()

def chatty(n):
    print("line", n)
    print("to stderr", file=sys.stderr)
    return n

def boom():
    raise ValueError("no luck")

def exit1():
    os._exit(1)

def kill9():
    os.kill(os.getpid(), 9)

def sleep(s):
    time.sleep(s)
    return s

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def grow(mib):
    block = bytearray(mib << 20)
    return len(block)

if __name__ == "__main__":
    raise SystemExit("the main block of a script must not run")
"#;

fn module_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("work.py");
    std::fs::write(&module, WORK_PY).unwrap();
    (dir, module)
}

/// Runs `pooltop run --json - ARGS -` on `tasks` to its end; returns its
/// exit code and each task's `task_finished` event by task id.
fn run(args: &[&str], tasks: &str) -> (i32, BTreeMap<u64, Value>, Vec<Value>) {
    let live = LiveRun::start(args, tasks, &[]);
    let (status, events, stderr) = live.finish(Duration::from_secs(60));
    let finished: BTreeMap<u64, Value> = events
        .iter()
        .filter(|e| e["event"] == "task_finished")
        .map(|e| (e["task"].as_u64().unwrap(), e.clone()))
        .collect();
    assert!(
        finished.len() == tasks.lines().count(),
        "not every task finished: {finished:?}\n{stderr}"
    );
    (status.code().unwrap_or(-1), finished, events)
}

fn result(e: &Value) -> &str {
    assert_eq!(e["state"], "done", "{e}");
    e["result"].as_str().unwrap()
}

/// What calling each expression in python3 directly gives, formatted as a
/// `py` task's result: JSON, or the repr when it is not JSON.
fn direct(dir: &Path, exprs: &[&str]) -> Vec<String> {
    let script = format!(
        "import json, sys\nsys.path.insert(0, {dir:?})\nfrom work import *\n\
         for e in {exprs:?}:\n    v = eval(e)\n    try:\n        print(json.dumps(v, ensure_ascii=False, allow_nan=False))\n    \
         except (TypeError, ValueError):\n        print(repr(v))\n",
        dir = dir.to_str().unwrap(),
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn results_match_calling_the_function_directly() {
    let (dir, module) = module_dir();
    let m = module.display();
    let cases = [
        (format!("py {m}:square 7"), "square(7)"),
        (format!("py {m}:square -12"), "square(-12)"),
        (
            format!(r#"py {m}:echo '"a b"' "it's" '"say \"hi\""' plain"#),
            r#"echo("a b", "it's", 'say "hi"', "plain")"#,
        ),
        (
            format!(r#"py {m}:echo '{{"k": [1, {{"n": null}}], "é": true}}' [1,[2,[3]]]"#),
            r#"echo({"k": [1, {"n": None}], "é": True}, [1, [2, [3]]])"#,
        ),
        (format!("py {m}:a_set 3"), "a_set(3)"),
        (format!("py {m}:big 65000"), "big(65000)"),
    ];
    let lines: String = cases.iter().map(|(l, _)| format!("{l}\n")).collect();
    let exprs: Vec<&str> = cases.iter().map(|(_, e)| *e).collect();
    let want = direct(dir.path(), &exprs);
    let (code, finished, _) = run(&["-j", "2"], &lines);
    assert_eq!(code, 0);
    for (i, want) in want.iter().enumerate() {
        assert_eq!(result(&finished[&(i as u64 + 1)]), want, "{}", cases[i].0);
    }
    assert_eq!(want[4], "{0, 1, 2}", "a set is not JSON: its repr");

    // Over the output cap: that task fails, and says why.
    let (code, finished, _) = run(&[], &format!("py {m}:big 70000\n"));
    assert_eq!(code, 1);
    let e = &finished[&1];
    assert_eq!(e["state"], "failed");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("more than the output cap of 65536 bytes"),
        "{e}"
    );
}

#[test]
fn template_mode_calls_the_function_once_per_input_in_order() {
    let (dir, module) = module_dir();
    let target = format!("{}:square", module.display());
    let out = pooltop_command()
        .args(["run", "-j", "2", "-k", "--py", &target, ":::"])
        .args((1..=10).map(|n| n.to_string()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: String = (1..=10).map(|n| format!("{}\n", n * n)).collect();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);

    // Two sources are two arguments; stdin is a source; prints come first.
    let echo = format!("{}:echo", module.display());
    let out = pooltop_command()
        .args(["run", "-k", "--py", &echo, ":::", "1", "a b", ":::", "[2]"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "[1, [2]]\n[\"a b\", [2]]\n"
    );
    let chatty = format!("{}:chatty", module.display());
    let out = helpers::run_pooltop(&["run", "-k", "-j", "1", "--py", &chatty], "5\n6\n", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "line 5\n5\nline 6\n6\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("to stderr"));
    drop(dir);
}

#[test]
fn module_state_persists_and_the_initializer_runs_once_per_interpreter() {
    let (_dir, module) = module_dir();
    let m = module.display().to_string();
    let init = format!("{m}:init");
    let lines = format!("py {m}:count\n").repeat(3);
    let (code, finished, _) = run(&["-j", "1", "--py-init", &init], &lines);
    assert_eq!(code, 0);
    let values: Vec<Value> = finished
        .values()
        .map(|e| serde_json::from_str(result(e)).unwrap())
        .collect();
    let pid = &values[0][2];
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v[0], i as u64 + 1, "the counter goes on: {values:?}");
        assert_eq!(v[1], 1, "the initializer ran once: {values:?}");
        assert_eq!(&v[2], pid, "one interpreter: {values:?}");
    }

    // Recycled after 2 tasks: a new interpreter, initialised again, state anew.
    let lines = format!("py {m}:count\n").repeat(4);
    let (code, finished, _) = run(
        &["-j", "1", "--py-init", &init, "--max-tasks-per-worker", "2"],
        &lines,
    );
    assert_eq!(code, 0);
    let values: Vec<Value> = finished
        .values()
        .map(|e| serde_json::from_str(result(e)).unwrap())
        .collect();
    let counts: Vec<(u64, u64)> = values
        .iter()
        .map(|v| (v[0].as_u64().unwrap(), v[1].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, [(1, 1), (2, 1), (1, 1), (2, 1)], "{values:?}");
    assert_eq!(values[0][2], values[1][2]);
    assert_eq!(values[2][2], values[3][2]);
    assert_ne!(
        values[1][2], values[2][2],
        "a fresh interpreter after 2 tasks"
    );
    let workers: std::collections::BTreeSet<u64> = finished
        .values()
        .map(|e| e["worker"].as_u64().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "a fresh worker after 2 tasks");
}

#[test]
fn a_py_tasks_cpu_time_and_peak_memory_are_the_interpreters() {
    let (_dir, module) = module_dir();
    let m = module.display();
    let (code, finished, _) = run(&["-j", "1"], &format!("py {m}:burn 0.3\npy {m}:grow 200\n"));
    assert_eq!(code, 0);
    // The worker's own thread only waits on a pipe: the CPU is the interpreter's.
    let cpu = finished[&1]["cpu_s"].as_f64().unwrap();
    assert!((0.25..5.0).contains(&cpu), "{}", finished[&1]);
    let rss = finished[&2]["max_rss"].as_u64().unwrap();
    assert!(rss > 200 << 20, "{}", finished[&2]);
}

#[test]
fn an_exception_fails_one_task_and_the_interpreter_lives_on() {
    let (_dir, module) = module_dir();
    let m = module.display();
    let lines = format!(
        "py {m}:pid\npy {m}:boom\npy {m}:pid\npy nosuchmodule_pt:f\npy nosuchmodule_pt:g\n"
    );
    let (code, finished, _) = run(&["-j", "1"], &lines);
    assert_eq!(code, 1);
    assert_eq!(
        result(&finished[&1]),
        result(&finished[&3]),
        "the same interpreter"
    );
    let boom = &finished[&2];
    assert_eq!(boom["state"], "failed");
    assert_eq!(boom["error"], "ValueError: no luck");
    let trace = boom["stderr"].as_str().unwrap();
    assert!(
        trace.starts_with("Traceback (most recent call last):"),
        "{trace}"
    );
    assert!(
        trace.contains("in boom") && trace.ends_with("ValueError: no luck\n"),
        "{trace}"
    );
    // An import error is said in full once, naming the module and sys.path.
    let first = finished[&4]["error"].as_str().unwrap();
    assert!(
        first.starts_with("cannot import `nosuchmodule_pt`: ModuleNotFoundError"),
        "{first}"
    );
    assert!(first.contains("sys.path: ["), "{first}");
    let second = finished[&5]["error"].as_str().unwrap();
    assert!(second.ends_with("(the same error as task #4)"), "{second}");
}

#[test]
fn an_interpreter_that_dies_is_a_worker_crash_and_is_retried() {
    let (_dir, module) = module_dir();
    let m = module.display();
    let lines = format!("py {m}:exit1\npy {m}:kill9\npy {m}:square 3\n");
    let (code, finished, events) = run(&["-j", "1", "--retries", "1"], &lines);
    assert_eq!(code, 1);
    let retried: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "task_retrying")
        .map(|e| e["task"].as_u64().unwrap())
        .collect();
    assert_eq!(retried, [1, 2], "each crash retried once");
    let exit1 = &finished[&1];
    assert_eq!(
        (exit1["state"].as_str(), exit1["attempts"].as_u64()),
        (Some("failed"), Some(2))
    );
    assert!(
        exit1["error"]
            .as_str()
            .unwrap()
            .contains("crashed: exit status 1"),
        "{exit1}"
    );
    let kill9 = &finished[&2];
    assert_eq!(kill9["attempts"], 2);
    assert!(
        kill9["error"].as_str().unwrap().contains("SIGKILL"),
        "{kill9}"
    );
    assert_eq!(result(&finished[&3]), "9", "the pool goes on");
}

#[test]
fn a_timed_out_call_ends_its_worker_and_the_next_runs_on_a_new_interpreter() {
    let (_dir, module) = module_dir();
    let m = module.display();
    let lines = format!("py {m}:pid\npy {m}:sleep 100\npy {m}:pid\n");
    let started = Instant::now();
    // 3 s, not 1: the first task's time includes starting the interpreter,
    // which takes over a second on a loaded machine (a pyenv shim, say).
    let (code, finished, _) = run(&["-j", "1", "--task-timeout", "3"], &lines);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(code, 1);
    assert_eq!(finished[&2]["state"], "timed_out");
    let before: u32 = result(&finished[&1]).parse().unwrap();
    let after: u32 = result(&finished[&3]).parse().unwrap();
    assert_ne!(before, after, "a new interpreter after the timeout");
    assert!(!alive(before), "the old interpreter is gone");
}

#[test]
fn a_killed_manager_leaves_no_interpreter_behind() {
    let (_dir, module) = module_dir();
    let m = module.display();
    let marker = format!("PT_PY_ORPHAN_TEST_{}", std::process::id());
    let lines = format!("py {m}:sleep 100\n").repeat(2);
    let live = LiveRun::start(&["-j", "2"], &lines, &[(&marker, "1")]);
    // Both interpreters running (python itself, not a launcher before it).
    let interpreters = || {
        let runners = pids_with_marker("pooltop's Python runner");
        pids_with_marker(&marker)
            .into_iter()
            .filter(|p| runners.contains(p))
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.starts_with("python"))
            })
            .count()
    };
    wait_for("two interpreters running", Duration::from_secs(30), || {
        interpreters() == 2
    });
    let all = pids_with_marker(&marker);
    // SAFETY: kill(2) on the pooltop process this test started.
    unsafe { libc::kill(live.pid() as i32, libc::SIGKILL) };
    wait_for(
        "no worker or interpreter left",
        Duration::from_secs(2),
        || pids_with_marker(&marker).is_empty(),
    );
    for pid in all {
        assert!(!alive(pid), "pid {pid} survived");
    }
}

#[test]
fn bad_py_lines_are_refused_before_anything_runs() {
    let out = helpers::run_pooltop(
        &["run", "--headless", "-"],
        "py nocolon\npy :f\npy m:\nsquare 2\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1: `py nocolon`: `py` wants MODULE:FUNCTION"),
        "{err}"
    );
    assert!(
        err.contains("line 2: `py :f`: `py :f`: the module name is empty"),
        "{err}"
    );
    assert!(
        err.contains("line 3: `py m:`: `py m:`: the function name is empty"),
        "{err}"
    );
    assert!(err.contains("3 bad line(s); nothing was run"), "{err}");
}

/// A private tmux server (`tmux -L NAME`), killed on drop.
struct Tmux(String);

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.0)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait(&self, what: &str, mut cond: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.run(&["capture-pane", "-p", "-t", "main"]);
            if cond(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}

#[test]
fn a_py_task_submitted_at_the_dashboard_prompt_runs() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        return;
    }
    let (_dir, module) = module_dir();
    let t = Tmux(format!("pooltop-py-test-{}", std::process::id()));
    t.run(&[
        "new-session",
        "-d",
        "-s",
        "main",
        "-x",
        "120",
        "-y",
        "30",
        "env PS1='READY$ ' bash --norc --noprofile",
    ]);
    t.wait("the shell prompt", |s| s.contains("READY$"));
    let cmd = format!(
        "env {} {BIN} run -j 1 /dev/null; echo POOLTOP_EXIT=$?",
        hermetic_env()
    );
    t.run(&["send-keys", "-t", "main", "-l", &cmd]);
    t.run(&["send-keys", "-t", "main", "Enter"]);
    t.wait("the dashboard", |s| s.contains("w1"));
    t.run(&["send-keys", "-t", "main", "s"]);
    t.wait("the submit prompt", |s| s.contains("Submit a task"));
    let line = format!("py {}:square 12", module.display());
    t.run(&["send-keys", "-t", "main", "-l", &line]);
    t.wait("a valid line", |s| s.contains("valid `py` task"));
    t.run(&["send-keys", "-t", "main", "Enter"]);
    t.wait("the result", |s| s.contains("144"));
    t.run(&["send-keys", "-t", "main", "q"]);
    let s = t.wait("the prompt again", |s| s.contains("POOLTOP_EXIT="));
    assert!(s.contains("1 submitted = 1 done"), "{s}");
}
