//! Recordings of real runs (the real binary): what `pooltop report` makes
//! of them agrees with the live run, `--trace` writes a trace that holds
//! every task, a recording cut short reports up to where it stops, and the
//! default recordings are found and pruned where the XDG state dir says.

mod helpers;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use helpers::*;
use serde_json::Value;

fn pooltop(args: &[&str], stdin: &str, env: &[(&str, &Path)]) -> Output {
    run_pooltop(args, stdin, env)
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const TASKS: &str = "square 3\nsleep 0.05\nshell exit 3\nsquare 4\nsleep 0.02\nshell echo hi\n\
                     square 5\nshell exit 1\nsleep 0.01\nsquare 6\n";

/// Runs TASKS headless on 2 workers with the live JSON stream and a
/// recording (and whatever else `extra` asks) in `dir`.
fn recorded_run(dir: &Path, extra: &[&str]) -> (Output, Vec<Value>) {
    let live = dir.join("live.jsonl");
    let rec = dir.join("run.jsonl");
    let mut args = vec![
        "run",
        "--headless",
        "-j",
        "2",
        "--json",
        live.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push("-");
    let out = pooltop(&args, TASKS, &[]);
    (out, json_lines(&live))
}

fn report_json(rec: &Path) -> (Output, Value) {
    let out = pooltop(&["report", "--json", rec.to_str().unwrap()], "", &[]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

#[test]
fn a_recording_reports_what_the_live_run_summed_up() {
    let dir = tempfile::tempdir().unwrap();
    let (out, live) = recorded_run(dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec = json_lines(&dir.path().join("run.jsonl"));
    assert_eq!(rec[0]["event"], "recording");
    assert_eq!(rec[0]["version"], 1);
    assert!(rec[0]["started_unix"].as_f64().unwrap() > 1.5e9);
    assert_eq!(rec[0]["workers"], 2);
    // After the header, the recording holds the live stream's events.
    let kinds = |v: &[Value]| -> Vec<String> {
        v.iter()
            .filter(|e| e["event"] != "sample" && e["event"] != "recording")
            .map(|e| format!("{}/{}", e["event"], e["task"]))
            .collect()
    };
    assert_eq!(kinds(&rec), kinds(&live));

    let (out, r) = report_json(&dir.path().join("run.jsonl"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = live.last().unwrap();
    assert_eq!(summary["event"], "summary");
    for k in ["submitted", "done", "failed", "timed_out", "cancelled"] {
        assert_eq!(r["counts"][k], summary[k], "{k}: {r}");
    }
    assert_eq!(r["complete"], true);
    assert_eq!(r["exit_status"], 1);
    // Per worker, done and failed as the live stream had them.
    let mut want: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for e in live.iter().filter(|e| e["event"] == "task_finished") {
        let w = want.entry(e["worker"].as_u64().unwrap()).or_default();
        match e["state"].as_str().unwrap() {
            "done" => w.0 += 1,
            "failed" => w.1 += 1,
            s => panic!("unexpected state {s}"),
        }
    }
    let got: BTreeMap<u64, (u64, u64)> = r["per_worker"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["done"].as_u64().unwrap() + w["failed"].as_u64().unwrap() > 0)
        .map(|w| {
            let n = |k: &str| w[k].as_u64().unwrap();
            (n("worker"), (n("done"), n("failed")))
        })
        .collect();
    assert_eq!(got, want);
    // The failures' causes, and the kinds' run times.
    let causes: Vec<&str> = r["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["why"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"exit status 3"), "{causes:?}");
    let sleep = r["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "sleep")
        .unwrap();
    assert_eq!(sleep["tasks"], 3);
    assert!(sleep["max_s"].as_f64().unwrap() >= 0.05, "{sleep}");
    assert!(sleep["min_s"].as_f64().unwrap() >= 0.01, "{sleep}");
    assert_eq!(r["slowest"][0]["line"], "sleep 0.05");

    // The text and Markdown forms say the same counts.
    let rec = dir.path().join("run.jsonl");
    let text = pooltop(&["report", rec.to_str().unwrap()], "", &[]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("10 submitted: 8 done, 2 failed"), "{text}");
    let md = pooltop(&["report", "--markdown", rec.to_str().unwrap()], "", &[]);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.starts_with("## pooltop report"), "{md}");
    assert!(
        md.contains("| kind | tasks | min | median | p95 | max | total |"),
        "{md}"
    );
}

#[test]
fn a_trace_holds_one_slice_per_task_with_its_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("run.trace.json");
    let (out, live) = recorded_run(dir.path(), &["--trace", trace.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = t["traceEvents"].as_array().unwrap();
    let walls: BTreeMap<u64, f64> = live
        .iter()
        .filter(|e| e["event"] == "task_finished")
        .map(|e| (e["task"].as_u64().unwrap(), e["wall_s"].as_f64().unwrap()))
        .collect();
    let slices: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(slices.len(), walls.len());
    let mut tids = Vec::new();
    for s in &slices {
        assert!(s["pid"].is_u64() && s["tid"].is_u64(), "{s}");
        let task = s["args"]["task"].as_u64().unwrap();
        let dur_us = s["dur"].as_f64().unwrap();
        // Within the trace's resolution (a nanosecond) of the task's wall time.
        assert!(
            (dur_us - walls[&task] * 1e6).abs() < 0.01,
            "task {task}: {dur_us} µs"
        );
        assert!(
            s["args"]["line"].is_string() && s["args"]["attempt"] == 1,
            "{s}"
        );
        assert!(["done", "failed"].contains(&s["args"]["state"].as_str().unwrap()));
        tids.push(s["tid"].as_u64().unwrap());
    }
    tids.sort_unstable();
    tids.dedup();
    for tid in tids {
        let named = events.iter().any(|e| {
            e["ph"] == "M"
                && e["name"] == "thread_name"
                && e["tid"] == tid
                && e["args"]["name"] == format!("slot {tid}")
        });
        assert!(named, "lane {tid} has no name");
    }
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "M" && e["name"] == "process_name")
    );
    // The same trace from the recording afterwards.
    let again = dir.path().join("again.json");
    let rec = dir.path().join("run.jsonl");
    let out = pooltop(
        &[
            "report",
            "--trace",
            again.to_str().unwrap(),
            rec.to_str().unwrap(),
        ],
        "",
        &[],
    );
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&trace).unwrap()
    );
}

#[test]
fn a_recording_cut_mid_line_reports_up_to_where_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    recorded_run(dir.path(), &[]);
    let rec = dir.path().join("run.jsonl");
    let text = std::fs::read_to_string(&rec).unwrap();
    // Cut in the middle of the 8th line.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let kept: String = lines[..7].concat() + &lines[7][..lines[7].len() / 2];
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, kept).unwrap();
    let (out, r) = report_json(&cut);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:8: the line is cut short", cut.display())),
        "{err}"
    );
    assert_eq!(r["complete"], false);
    assert_eq!(r["lines"], 7);
    assert!(r["stopped"].as_str().unwrap().contains(":8:"));

    // Nothing readable: a non-zero status and the reason.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "not json\n").unwrap();
    let (out, _) = report_json(&junk);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.jsonl:1: not a pooltop recording"),
        "{err}"
    );
}

#[test]
fn default_recordings_go_to_the_state_dir_and_the_newest_are_kept() {
    let state = tempfile::tempdir().unwrap();
    let runs = state.path().join("pooltop/runs");
    std::fs::create_dir_all(&runs).unwrap();
    for day in 1..=5 {
        std::fs::write(runs.join(format!("2020010{day}T000000Z-1.jsonl")), "").unwrap();
    }
    std::fs::write(runs.join("keep-me.txt"), "").unwrap();
    let env = [("XDG_STATE_HOME", state.path())];
    let mut cmd = pooltop_command();
    cmd.env("XDG_STATE_HOME", state.path())
        .env("POOLTOP_RECORD_KEEP", "3")
        .args(["run", "--headless", "-j", "1", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"square 2\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let mut names: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[0], "20200104T000000Z-1.jsonl");
    assert_eq!(names[1], "20200105T000000Z-1.jsonl");
    assert_eq!(names[3], "keep-me.txt");
    let newest = runs.join(&names[2]);
    let lines = json_lines(&newest);
    assert_eq!(lines[0]["event"], "recording");
    assert_eq!(lines.last().unwrap()["event"], "summary");
    assert_eq!(lines.last().unwrap()["done"], 1);

    // A command template is recorded too; --no-record and
    // record.enabled = false record nothing.
    let out = pooltop(&["run", "-j", "1", "--", "echo", "{}"], "a\nb\n", &env);
    assert!(out.status.success());
    let count = || std::fs::read_dir(&runs).unwrap().count();
    assert_eq!(count(), 5);
    let out = pooltop(
        &["run", "--headless", "--no-record", "-"],
        "square 2\n",
        &env,
    );
    assert!(out.status.success());
    assert_eq!(count(), 5);
    let off = tempfile::tempdir().unwrap();
    std::fs::write(
        off.path().join("config.toml"),
        "[record]\nenabled = false\n",
    )
    .unwrap();
    let cfg = off.path().join("config.toml");
    let out = pooltop(
        &["run", "--headless", "--config", cfg.to_str().unwrap(), "-"],
        "square 2\n",
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(), 5);
}
