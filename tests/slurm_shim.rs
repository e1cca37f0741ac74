//! `pooltop run --slurm`'s plumbing with a stand-in `srun` on PATH, which
//! records its words, says on stderr what srun says of Slurm's queue when
//! asked to, drops the options and runs the rest: the words pooltop gives
//! srun, the host each worker names, and the pending state. (The real Slurm
//! is in tests/slurm.rs.)

mod helpers;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use helpers::{BIN, LiveRun};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(30);

/// The stand-in: words to `$SHIM_LOG/<pid>`, one a line. With
/// `SHIM_GATE` set, it says the job is queued and waits for that file.
const SHIM: &str = r#"#!/bin/sh
printf '%s\n' "$@" > "$SHIM_LOG/$$"
while [ $# -gt 0 ]; do case $1 in -*) shift ;; *) break ;; esac; done
if [ -n "$SHIM_GATE" ]; then
  echo "srun: job $$ queued and waiting for resources" >&2
  while [ ! -e "$SHIM_GATE" ]; do sleep 0.02; done
  echo "srun: job $$ has been allocated resources" >&2
fi
SLURMD_NODENAME=shim-node exec "$@"
"#;

/// A folder holding the stand-in `srun` and, under `log/`, its records.
struct Shim {
    dir: tempfile::TempDir,
}

impl Shim {
    fn new() -> Shim {
        let dir = tempfile::tempdir().expect("a temp dir");
        let srun = dir.path().join("srun");
        std::fs::write(&srun, SHIM).expect("the shim");
        std::fs::set_permissions(&srun, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::create_dir(dir.path().join("log")).expect("the log folder");
        Shim { dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// PATH with the stand-in first.
    fn path(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_default();
        format!("{}:{rest}", self.dir.path().display())
    }

    /// `pooltop run --slurm -j WORKERS` on `tasks`, with `envs` added.
    fn run(&self, workers: &str, tasks: &str, envs: &[(&str, &str)]) -> LiveRun {
        let (path, log) = (self.path(), self.log());
        let log = log.to_str().expect("a UTF-8 temp path");
        let mut all = vec![("PATH", path.as_str()), ("SHIM_LOG", log)];
        all.extend_from_slice(envs);
        LiveRun::start(&["--slurm", "-j", workers], tasks, &all)
    }

    /// The words each srun was given.
    fn calls(&self) -> Vec<Vec<String>> {
        let mut calls: Vec<Vec<String>> = std::fs::read_dir(self.log())
            .expect("the log")
            .map(|entry| {
                let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("a log");
                text.lines().map(str::to_owned).collect()
            })
            .collect();
        calls.sort();
        calls
    }
}

/// The words srun gets before pooltop's own command, which must end them.
fn options(call: &[String]) -> &[String] {
    let tail = [BIN, "worker", "--stdio"];
    assert!(call.ends_with(&tail.map(String::from)), "{call:?}");
    &call[..call.len() - tail.len()]
}

fn finish_ok(run: LiveRun) -> Vec<Value> {
    let (status, events, stderr) = run.finish(LONG);
    assert!(status.success(), "pooltop failed ({status}): {stderr}");
    events
}

fn results(events: &[Value]) -> Vec<String> {
    let mut values: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "task_finished")
        .map(|e| e["result"].as_str().unwrap_or_default().to_owned())
        .collect();
    values.sort();
    values
}

#[test]
fn outside_an_allocation_each_worker_is_an_unbuffered_job_of_its_own() {
    let shim = Shim::new();
    // Two tasks of a second each: both workers start and take one.
    let run = shim.run("2", "sleep 1\nsleep 1\nsquare 3\n", &[]);
    let events = finish_ok(run);
    assert_eq!(results(&events).last().map(String::as_str), Some("9"));
    let calls = shim.calls();
    assert_eq!(calls.len(), 2, "one srun per worker: {calls:?}");
    for call in &calls {
        let options = options(call);
        assert_eq!(
            options[..3],
            ["-u", "-n1", "-N1"],
            "always unbuffered: {call:?}"
        );
        let in_allocation = |o: &String| o == "--exact" || o.starts_with("--jobid");
        assert!(!options.iter().any(in_allocation), "{call:?}");
    }
    let names: Vec<&str> = calls.iter().map(|c| options(c)[3].as_str()).collect();
    assert_eq!(names, ["--job-name=pooltop-w1", "--job-name=pooltop-w2"]);
    // Each worker is shown as "slurm" until its handshake names its node.
    let mut host = std::collections::BTreeMap::new();
    for e in &events {
        match e["event"].as_str() {
            Some("worker_host") => {
                host.insert(e["worker"].as_u64(), e["host"].clone());
            }
            Some("worker_started") => {
                assert_eq!(host[&e["worker"].as_u64()], "shim-node", "{events:#?}")
            }
            _ => {}
        }
    }
    assert!(
        host.values().all(|h| h == "slurm" || h == "shim-node"),
        "{host:?}"
    );
}

#[test]
fn inside_an_allocation_each_worker_is_an_exact_step_of_it() {
    let shim = Shim::new();
    let run = shim.run("1", "square 5\n", &[("SLURM_JOB_ID", "4242")]);
    assert_eq!(results(&finish_ok(run)), ["25"]);
    let calls = shim.calls();
    let words = "-u -n1 -N1 --exact --jobid=4242 --job-name=pooltop-w1";
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(options(&calls[0]).join(" "), words);
}

#[test]
fn a_worker_srun_says_is_queued_is_pending_until_srun_says_it_runs() {
    let shim = Shim::new();
    let gate = shim.dir.path().join("gate");
    let gate_str = gate.to_str().expect("a UTF-8 temp path");
    let run = shim.run("1", "square 6\n", &[("SHIM_GATE", gate_str)]);
    run.wait_event("the worker to be pending", LONG, |e| {
        e["event"] == "worker_pending" && e["pending"] == true
    });
    run.with_events(|events| {
        assert!(!events.iter().any(|e| e["event"] == "worker_started"));
    });
    open(&gate);
    let events = finish_ok(run);
    assert_eq!(results(&events), ["36"]);
    let at = |what: &str, pred: &dyn Fn(&Value) -> bool| {
        events
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("no {what}: {events:#?}"))
    };
    let let_go = at("let go", &|e| {
        e["event"] == "worker_pending" && e["pending"] == false
    });
    let started = at("start", &|e| e["event"] == "worker_started");
    assert!(let_go < started, "{events:#?}");
}

fn open(gate: &Path) {
    std::fs::write(gate, "").expect("the gate file");
}
