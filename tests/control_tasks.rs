//! Task orders from another shell: `pooltop cancel`, `retry`, `front`
//! against a real running pool.

mod helpers;

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use helpers::*;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(20);

fn pooltop(dir: &Path, args: &[&str]) -> Output {
    run_pooltop(args, "", &[("POOLTOP_CONTROL_DIR", dir)])
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = pooltop(dir, args);
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(0), "{args:?}: {o}{e}");
    o + &e
}

/// `pooltop run --headless --keep-alive --name NAME -j WORKERS --json JSON`.
pub fn keep_alive_pool(dir: &Path, name: &str, workers: &str, json: &Path) -> Child {
    let args = ["--join-timeout", "0.5"];
    keep_alive_pool_in(dir, name, workers, json, &args, Stdio::piped())
}

fn events(json: &Path) -> Vec<Value> {
    std::fs::read_to_string(json)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn finished(json: &Path, task: u64) -> Option<Value> {
    events(json)
        .into_iter()
        .find(|e| e["event"] == "task_finished" && e["task"] == task)
}

#[test]
fn cancel_front_and_retry_from_another_shell() {
    let dir = private_control_dir();
    let d = dir.path();
    let json = d.join("events.jsonl");
    let mut pool = keep_alive_pool(d, "steer", "1", &json);
    let p = ["--pool", "steer"];
    let ids = ok(d, &[&["submit"][..], &p, &["--", "sleep", "30"]].concat());
    assert_eq!(ids.trim(), "1");
    for line in ["sleep 0.01", "fail nope", "sleep 0.02"] {
        let words: Vec<&str> = line.split(' ').collect();
        ok(d, &[&["submit"][..], &p, &["--"], &words].concat());
    }
    wait_for("#1 to start", LONG, || {
        events(&json)
            .iter()
            .any(|e| e["event"] == "task_started" && e["task"] == 1)
    });
    let said = ok(d, &[&["cancel"][..], &p, &["2"]].concat());
    assert!(said.contains("cancelling 1 task(s)"), "{said}");
    wait_for("#2 cancelled", LONG, || finished(&json, 2).is_some());
    assert_eq!(finished(&json, 2).unwrap()["state"], "cancelled");
    ok(d, &[&["front"][..], &p, &["4"]].concat());
    ok(d, &[&["cancel"][..], &p, &["1"]].concat());
    wait_for("#3 failed", LONG, || finished(&json, 3).is_some());
    let e = events(&json);
    let started: Vec<u64> = e
        .iter()
        .filter(|e| e["event"] == "task_started")
        .filter_map(|e| e["task"].as_u64())
        .collect();
    assert_eq!(started, [1, 4, 3], "#4 was moved to the front");
    assert_eq!(finished(&json, 1).unwrap()["state"], "cancelled");
    assert_eq!(finished(&json, 3).unwrap()["state"], "failed");
    let said = ok(d, &[&["retry"][..], &p, &["--failed"]].concat());
    assert!(said.contains("retrying"), "{said}");
    wait_for("the retry #5 to fail", LONG, || {
        finished(&json, 5).is_some()
    });
    let retried = events(&json)
        .into_iter()
        .find(|e| e["event"] == "task_retried")
        .expect("a task_retried line");
    assert_eq!(
        (&retried["task"], &retried["retry"]),
        (&Value::from(3), &Value::from(5))
    );
    // A usage mistake is one line, before anything is sent.
    let out = pooltop(d, &["retry", "--pool", "steer"]);
    assert_eq!(out.status.code(), Some(2));
    ok(d, &[&["stop"][..], &p].concat());
    pool.wait().unwrap();
    let summary = events(&json).pop().unwrap();
    assert_eq!(summary["event"], "summary");
    let n = |k: &str| summary[k].as_u64().unwrap();
    assert_eq!((n("submitted"), n("retried")), (5, 1));
    assert_eq!(
        n("submitted"),
        n("done") + n("failed") + n("timed_out") + n("cancelled")
    );
}

/// Starts `pooltop logs ARGS` with its stdout read line by line into a channel.
fn logs_child(dir: &Path, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = pooltop_command()
        .arg("logs")
        .args(args)
        .env("POOLTOP_CONTROL_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[test]
fn logs_follow_a_running_task_before_it_ends_and_all_prefixes_each_line() {
    let dir = private_control_dir();
    let d = dir.path();
    let json = d.join("events.jsonl");
    let mut pool = keep_alive_pool(d, "logs", "2", &json);
    let p = ["--pool", "logs"];
    let ticker =
        |name: &str| format!("for i in 1 2 3 4 5 6 7 8 9 10; do echo {name} $i; sleep 0.1; done");
    for name in ["one", "two"] {
        let line = ticker(name);
        ok(d, &[&["submit"][..], &p, &["--", "shell", &line]].concat());
    }
    wait_for("both to start", LONG, || {
        events(&json)
            .iter()
            .filter(|e| e["event"] == "task_started")
            .count()
            == 2
    });
    let (mut one, lines) = logs_child(d, &[&["-f"][..], &p, &["1"]].concat());
    let (mut all, all_lines) = logs_child(d, &[&["-f", "--all"][..], &p].concat());
    let first = lines.recv_timeout(LONG).expect("a line of task 1");
    assert!(first.starts_with("one "), "{first}");
    assert!(
        finished(&json, 1).is_none(),
        "the line came before the task ended"
    );
    assert_eq!(one.wait().unwrap().code(), Some(0), "-f ends with the task");
    let got: Vec<String> = std::iter::once(first).chain(lines.try_iter()).collect();
    assert_eq!(got.last().map(String::as_str), Some("one 10"), "{got:?}");
    let numbers: Vec<u32> = got.iter().filter_map(|l| l[4..].parse().ok()).collect();
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "in order: {got:?}"
    );
    // --all: both tasks' lines, each whole and prefixed.
    let mut merged: Vec<String> = Vec::new();
    wait_for("lines of both tasks from --all", LONG, || {
        merged.extend(all_lines.try_iter());
        ["#1 w", "#2 w"]
            .iter()
            .all(|tag| merged.iter().any(|l| l.starts_with(tag)))
    });
    wait_for("task 2 to end", LONG, || finished(&json, 2).is_some());
    for name in ["one", "two"] {
        let id = if name == "one" { 1 } else { 2 };
        let mine: Vec<&String> = merged
            .iter()
            .filter(|l| l.starts_with(&format!("#{id} w")))
            .collect();
        assert!(!mine.is_empty(), "no line of #{id}: {merged:?}");
        for l in &mine {
            let (_, text) = l.split_once(" | ").expect("prefixed");
            assert!(text.starts_with(name), "{l}");
        }
    }
    assert!(merged.iter().all(|l| l.contains(" | ")), "{merged:?}");
    // An ended task's output is still there without -f.
    let out = ok(d, &[&["logs"][..], &p, &["2"]].concat());
    assert!(out.contains("two 10"), "{out}");
    ok(d, &[&["stop"][..], &p].concat());
    pool.wait().unwrap();
    let _ = all.wait();
}
