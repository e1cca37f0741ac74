//! Admission and task limits with real workers: `--memfree`, `--load`,
//! `--delay`, `--task-memory`, and the thread variables each task gets.

mod helpers;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use helpers::*;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(30);

fn events_of(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn events(json: &Path) -> Vec<Value> {
    events_of(&std::fs::read_to_string(json).unwrap_or_default())
}

/// A headless `pooltop run` of `tasks` with `args`; its JSON events.
fn run_json(args: &[&str], tasks: &str, env: &[(&str, &Path)]) -> Vec<Value> {
    let out = run_pooltop(
        &[&["run", "--headless", "--json", "-"][..], args, &["-"]].concat(),
        tasks,
        env,
    );
    let ev = events_of(&String::from_utf8_lossy(&out.stdout));
    assert!(!ev.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    ev
}

fn keep_alive(dir: &Path, name: &str, json: &Path, args: &[&str]) -> Child {
    keep_alive_pool_in(dir, name, "1", json, args, Stdio::null())
}

fn ctl(dir: &Path, args: &[&str]) -> String {
    let out = run_pooltop(args, "", &[("POOLTOP_CONTROL_DIR", dir)]);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts a pool held by `gate`, submits a task, and checks that it does
/// not start while the gate holds, that the JSON says which gate holds, and
/// that `pooltop status` names it.
fn held_by(gate: &str, args: &[&str], status_says: &str) {
    let dir = private_control_dir();
    let d = dir.path();
    let json = d.join("events.jsonl");
    let name = format!("held-{gate}");
    let mut pool = keep_alive(d, &name, &json, args);
    ctl(d, &["submit", "--pool", &name, "--", "square", "3"]);
    wait_for("the gate to be reported", LONG, || {
        events(&json)
            .iter()
            .any(|e| e["event"] == "dispatch_held" && e["gate"] == gate)
    });
    let status = ctl(d, &["status", "--pool", &name]);
    assert!(status.contains(status_says), "{status}");
    let json_status: Value =
        serde_json::from_str(&ctl(d, &["status", "--pool", &name, "--json"])).unwrap();
    assert!(json_status["held"].as_str().unwrap().starts_with(gate));
    // Held across at least one more reading of the gate.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !events(&json).iter().any(|e| e["event"] == "task_started"),
        "a task started while {gate} held"
    );
    ctl(d, &["stop", "--pool", &name]);
    pool.wait().unwrap();
    let summary = events(&json).pop().unwrap();
    assert_eq!(
        (summary["submitted"].as_u64(), summary["cancelled"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn memfree_above_the_free_memory_starts_nothing_and_says_so() {
    held_by("memfree", &["--memfree", "1T"], "dispatch held by memfree:");
}

#[test]
fn load_zero_holds_dispatch_on_a_loaded_machine() {
    // Loaded: a spinning child until the 1-minute load average shows it.
    let mut spinner = std::process::Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    wait_for("a load average above 0", Duration::from_secs(60), || {
        pooltop::platform::load_average().is_some_and(|l| l > 0.0)
    });
    held_by("load", &["--load", "0"], "dispatch held by load:");
    spinner.kill().unwrap();
    spinner.wait().unwrap();
}

#[test]
fn delay_spaces_the_starts() {
    let ev = run_json(
        &["-j", "4", "--delay", "0.2"],
        "square 1\nsquare 2\nsquare 3\nsquare 4\n",
        &[],
    );
    let starts: Vec<f64> = ev
        .iter()
        .filter(|e| e["event"] == "task_started")
        .filter_map(|e| e["t"].as_f64())
        .collect();
    assert_eq!(starts.len(), 4, "{ev:?}");
    // The engine spaces the starts by 0.2 s on its clock; a JSON `t` is when
    // the writer received the event, a few ms later, by a varying amount
    // (the first events of a run come while the workers start up).
    const STAMP_JITTER: f64 = 0.02;
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= 0.2 - STAMP_JITTER, "starts {starts:?}");
    }
    assert!(
        starts[3] - starts[1] >= 0.4 - STAMP_JITTER,
        "starts {starts:?}"
    );
}

#[test]
fn a_task_over_its_memory_limit_fails_and_its_worker_is_replaced() {
    // `tail -c` of an endless pipe keeps its last 200 MB in memory, forever.
    let ev = run_json(
        &["-j", "1", "--task-memory", "100M", "--sample-every", "0.2"],
        "shell cat /dev/zero | tail -c 200000000 >/dev/null\nsquare 5\n",
        &[],
    );
    let first = ev
        .iter()
        .find(|e| e["event"] == "task_finished" && e["task"] == 1)
        .expect("task 1 finished");
    let error = first["error"].as_str().unwrap_or_default();
    assert_eq!(first["state"], "failed", "{error}");
    assert!(error.contains("over memory limit"), "{error}");
    let started = ev.iter().filter(|e| e["event"] == "worker_started").count();
    assert!(started >= 2, "the worker was replaced: {ev:?}");
    let second = ev
        .iter()
        .find(|e| e["event"] == "task_finished" && e["task"] == 2)
        .unwrap();
    assert_eq!(second["state"], "done");
}

#[test]
fn each_task_gets_its_share_of_threads_unless_the_user_set_them() {
    let echo =
        "shell echo $OMP_NUM_THREADS $OPENBLAS_NUM_THREADS $MKL_NUM_THREADS $NUMEXPR_NUM_THREADS\n";
    let result = |ev: &[Value]| {
        ev.iter()
            .find(|e| e["event"] == "task_finished")
            .and_then(|e| e["result"].as_str())
            .unwrap()
            .trim()
            .to_string()
    };
    let cpus = std::thread::available_parallelism().unwrap().get();
    let share = (cpus / 2).max(1);
    assert_eq!(
        result(&run_json(&["-j", "2"], echo, &[])),
        format!("{share} {share} {share} {share}")
    );
    assert_eq!(
        result(&run_json(
            &["-j", "2", "--threads-per-task", "3"],
            echo,
            &[]
        )),
        "3 3 3 3"
    );
    let seven = Path::new("7");
    let ev = run_json(&["-j", "2"], echo, &[("OMP_NUM_THREADS", seven)]);
    assert_eq!(
        result(&ev),
        format!("7 {share} {share} {share}"),
        "the user's own wins"
    );
}

#[test]
fn nice_runs_the_tasks_niced_and_a_bad_value_is_one_line() {
    // Field 19 of /proc/PID/stat is the niceness (no spaces before it in `cut`'s process name).
    let ev = run_json(
        &["-j", "1", "--nice", "5"],
        "shell cut -d' ' -f19 /proc/self/stat\n",
        &[],
    );
    let done = ev.iter().find(|e| e["event"] == "task_finished").unwrap();
    assert_eq!(done["result"].as_str().map(str::trim), Some("5"), "{done}");
    let out = run_pooltop(
        &["run", "--headless", "--nice", "25", "-"],
        "square 1\n",
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("nice must be from 0 to 19, got 25"), "{err}");
}
