//! `pooltop replay --check` on recordings of real runs: the replay ends in
//! the live run's counts and each worker's done and failed numbers, and a
//! file cut mid-line replays up to the cut and names the line.

mod helpers;

use std::collections::BTreeMap;

use serde_json::Value;

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Each worker's (done, failed) as the live run's stream reported them.
fn live_per_worker(events: &[Value]) -> BTreeMap<u64, (u64, u64)> {
    let mut per = BTreeMap::new();
    for e in events.iter().filter(|e| e["event"] == "task_finished") {
        let Some(w) = e["worker"].as_u64() else {
            continue;
        };
        let row = per.entry(w).or_insert((0, 0));
        match e["state"].as_str() {
            Some("done") => row.0 += 1,
            Some("failed") | Some("timed_out") => row.1 += 1,
            _ => {}
        }
    }
    per
}

fn check(path: &std::path::Path) -> (Value, std::process::Output) {
    let out = helpers::run_pooltop(&["replay", "--check", path.to_str().unwrap()], "", &[]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (v, out)
}

#[test]
fn a_recorded_run_replays_to_its_live_counts_and_per_worker_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("t.tasks");
    let mut text = String::new();
    for i in 0..60 {
        text.push_str(match i % 6 {
            0 => "sleep 0.02\n",
            1 => "fail on purpose\n",
            2 => "spin 1e5\n",
            3 => "shell exit 3\n",
            _ => "square 7\n",
        });
    }
    std::fs::write(&tasks, text).unwrap();
    let rec = dir.path().join("run.jsonl");
    let out = helpers::run_pooltop(
        &[
            "run",
            "--headless",
            "-j",
            "3",
            "--json",
            rec.to_str().unwrap(),
            tasks.to_str().unwrap(),
        ],
        "",
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "some tasks fail on purpose");
    let events = lines(&rec);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");

    let (v, out) = check(&rec);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for k in ["done", "failed", "timed_out", "cancelled"] {
        assert_eq!(v[k], summary[k], "{k}: replay {v} vs live {summary}");
    }
    assert_eq!(v["stopped"], true);
    assert_eq!(v["damage"], Value::Null);
    let replayed: BTreeMap<u64, (u64, u64)> = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let n = |k: &str| w[k].as_u64().unwrap();
            (n("worker"), (n("done"), n("failed")))
        })
        .filter(|(_, (d, f))| d + f > 0)
        .collect();
    assert_eq!(replayed, live_per_worker(&events));
    // Every task that ran has its bar on the timeline.
    let ran = events
        .iter()
        .filter(|e| e["event"] == "task_finished" && e["attempts"].as_u64() > Some(0))
        .count();
    assert_eq!(v["spans"].as_u64(), Some(ran as u64));
}

#[test]
fn a_recording_cut_mid_line_replays_up_to_the_cut_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("run.jsonl");
    let out = helpers::run_pooltop(
        &[
            "run",
            "--headless",
            "-j",
            "2",
            "--json",
            rec.to_str().unwrap(),
            "-",
        ],
        "square 1\nsquare 2\nsleep 0.05\nfail x\nsquare 3\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let whole = std::fs::read_to_string(&rec).unwrap();
    // Cut in the middle of the first task_finished line.
    let at = whole.find("\"event\":\"task_finished\"").unwrap();
    let line = whole[..at].lines().count();
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &whole[..at + 10]).unwrap();
    let (v, out) = check(&cut);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    let name = format!("{}:{line}: the line is cut short", cut.display());
    assert!(said.contains(&name), "{said}");
    assert!(v["damage"].as_str().unwrap().contains(&name));
    assert_eq!(v["done"], 0, "nothing after the cut");
    assert_eq!(v["stopped"], false);
}
