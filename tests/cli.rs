//! The `pooltop` command line end to end: exit codes, errors, JSON, signals.

mod helpers;

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;

use helpers::*;
use serde_json::Value;

fn pooltop(args: &[&str], stdin: &str) -> Output {
    run_pooltop(args, stdin, &[])
}

/// Starts pooltop in the background with `marker` in its environment (which
/// its workers and their tasks inherit, so `pids_with_marker` finds them all),
/// feeds it `stdin` and closes it. `capture` keeps stdout and stderr.
fn spawn_marked(args: &[&str], marker: &str, stdin: &[u8], capture: bool) -> std::process::Child {
    let out = || {
        if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let mut child = pooltop_command()
        .args(args)
        .env("PT_TEST_MARKER", marker)
        .stdin(Stdio::piped())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn all_done_exits_0_and_the_json_stream_follows_the_schema() {
    let out = pooltop(
        &["run", "-j", "2", "--json", "-"],
        "# squares\nsquare 3\n\nsquare 4\nshell echo hi\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = json_lines(&out);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"worker_started"));
    assert!(kinds.contains(&"worker_exited"));
    assert_eq!(kinds.iter().filter(|k| **k == "task_started").count(), 3);
    let finished: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "task_finished")
        .collect();
    assert_eq!(finished.len(), 3);
    for f in &finished {
        for field in [
            "task", "worker", "state", "wall_s", "cpu_s", "line", "result",
        ] {
            assert!(!f[field].is_null(), "task_finished lacks {field}: {f}");
        }
        assert_eq!(f["state"], "done");
    }
    let by_line = |l: &str| finished.iter().find(|f| f["line"] == l).unwrap()["result"].clone();
    assert_eq!(by_line("square 4"), "16");
    assert_eq!(by_line("shell echo hi"), "hi\n");
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["submitted"], 3);
    assert_eq!(summary["done"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("3 submitted = 3 done + 0 failed + 0 timed out + 0 cancelled"),
        "{err}"
    );
    assert!(err.contains("speedup"), "{err}");
}

#[test]
fn chunked_runs_report_every_task_once() {
    let lines: String = (0..3000).map(|i| format!("square {i}\n")).collect();
    for chunk in ["auto", "7"] {
        let out = pooltop(
            &["run", "-j", "2", "--chunksize", chunk, "--json", "-"],
            &lines,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mut values = std::collections::HashMap::new();
        let mut started = std::collections::HashSet::new();
        for e in json_lines(&out) {
            if e["event"] == "task_started" {
                let id = e["task"].as_u64().unwrap();
                assert!(started.insert(id), "task {id} started twice");
            }
            if e["event"] == "task_finished" {
                assert_eq!(e["state"], "done", "{e}");
                let id = e["task"].as_u64().unwrap();
                // Tasks reported in a run get their lines all the same.
                assert!(started.contains(&id), "task {id} finished unstarted");
                let value = e["result"].as_str().unwrap().to_string();
                assert!(values.insert(id, value).is_none(), "task {id} twice");
            }
        }
        assert_eq!(values.len(), 3000, "--chunksize {chunk}");
        for (id, value) in values {
            let n = id - 1;
            assert_eq!(value, (n * n).to_string(), "--chunksize {chunk}: task {id}");
        }
    }
}

#[test]
fn a_failure_exits_1_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tasks.txt");
    std::fs::write(&file, "sha256 /no/such/file\nsquare 5\nshell exit 3\n").unwrap();
    let json = dir.path().join("events.jsonl");
    let out = pooltop(
        &[
            "run",
            "-j",
            "2",
            "--json",
            json.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = std::fs::read_to_string(&json).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let states: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["event"] == "task_finished")
        .map(|e| {
            (
                e["line"].as_str().unwrap().into(),
                e["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(states.contains(&("square 5".into(), "done".into())));
    assert!(states.contains(&("sha256 /no/such/file".into(), "failed".into())));
    let failed_shell = events.iter().find(|e| e["line"] == "shell exit 3").unwrap();
    assert_eq!(failed_shell["exit_code"], 3);
    assert!(
        failed_shell["error"]
            .as_str()
            .unwrap()
            .contains("exit status 3")
    );
    let summary = events.last().unwrap();
    assert_eq!(
        (summary["done"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn every_bad_line_is_reported_and_nothing_runs() {
    let out = pooltop(
        &["run", "--json", "-"],
        "square 2\nbogus 1\nspin lots\nsha256 'unclosed\nsleep -1\nshell echo fine\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran, so no events");
    let err = stderr(&out);
    for needle in [
        "<stdin>: line 2: `bogus 1`: unknown task kind `bogus`",
        "<stdin>: line 3: `spin lots`",
        "<stdin>: line 4: `sha256 'unclosed`",
        "<stdin>: line 5: `sleep -1`",
        "4 bad line(s); nothing was run",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
}

#[test]
fn bad_files_and_options_are_one_line_errors_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.txt");
    std::fs::write(&latin1, b"square 1\nsha256 caf\xe9\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["run".into(), "/no/such/tasks".into()],
            "cannot read task file `/no/such/tasks`",
        ),
        (
            vec!["run".into(), latin1.to_str().unwrap().into()],
            "line 2: not valid UTF-8",
        ),
        (
            vec!["run".into(), "--workers".into(), "0".into()],
            "from 1 to 4096",
        ),
        (
            vec!["run".into(), "--task-timeout".into(), "-1".into()],
            "-1",
        ),
        (
            vec!["run".into(), "--join-timeout".into(), "soon".into()],
            "expected a number of seconds above 0, found `soon`",
        ),
        (vec!["run".into(), "--frobnicate".into()], "--frobnicate"),
        (
            vec!["run".into(), "--json".into(), "/no/such/dir/x.json".into()],
            "cannot create JSON output",
        ),
        // A directory is unreadable as a task file, even for root.
        (
            vec!["run".into(), dir.path().to_str().unwrap().into()],
            "Is a directory",
        ),
        // Negative numbers reach the checks instead of being taken for options.
        (
            vec!["run".into(), "--join-timeout".into(), "-1".into()],
            "expected a number of seconds above 0, found `-1`",
        ),
        (
            vec!["run".into(), "--task-timeout=-0.5".into()],
            "expected a number of seconds (0: no limit), found `-0.5`",
        ),
        (
            vec!["run".into(), "--retries".into(), "-1".into()],
            "--retries",
        ),
        (vec!["run".into(), "-j".into(), "-4".into()], "--workers"),
        (
            vec!["run".into(), "--output-cap".into(), "100000000".into()],
            "more than the limit of 4194304 bytes",
        ),
        (
            vec!["run".into(), "--chunksize".into(), "0".into()],
            "expected a number of tasks from 1 up, or \"auto\", found `0`",
        ),
        (
            vec!["run".into(), "--chunksize".into(), "lots".into()],
            "--chunksize",
        ),
        (vec!["frobnicate".into()], "frobnicate"),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = pooltop(&args, "square 1\n");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line:\n{err}");
    }
}

#[test]
fn an_unreadable_task_file_is_one_line_error() {
    if rustix::process::geteuid().is_root() {
        // Root reads a mode-000 file anyway; the directory case above covers it.
        println!("skipped: running as root, who can read any file");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.tasks");
    std::fs::write(&file, "square 1\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let out = pooltop(&["run", file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_10_mb_line_is_a_short_error_and_nothing_runs() {
    let line = format!("shell echo {}\nsquare 2\n", "x".repeat(10_000_000));
    let out = pooltop(&["run", "--json", "-"], &line);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    let err = stderr(&out);
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("the limit is 1048576 bytes"), "{err}");
    assert!(
        err.len() < 1000,
        "the error quotes the line cut short: {err}"
    );
}

#[test]
fn an_empty_task_list_runs_nothing_and_exits_0() {
    for input in ["", "# only a comment\n\n"] {
        let out = pooltop(&["run", "-j", "4", "--json", "-"], input);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let events = json_lines(&out);
        assert!(
            !events.iter().any(|e| e["event"] == "error"),
            "no error for an empty run: {events:?}"
        );
        assert_eq!(events.last().unwrap()["submitted"], 0);
    }
}

#[test]
fn a_pool_that_drains_while_workers_start_reports_no_false_errors() {
    // One instant task on many workers: the pool shuts down while most of
    // them are still connecting. Their deaths are not refused connections.
    for _ in 0..5 {
        let out = pooltop(&["run", "-j", "8", "--json", "-"], "square 1\n");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let errors: Vec<Value> = json_lines(&out)
            .into_iter()
            .filter(|e| e["event"] == "error")
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn an_unwritable_output_folder_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out_dir = blocker.join("thumbs");
    let out = pooltop(&["run", "--out", out_dir.to_str().unwrap()], "square 1\n");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot create output folder"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_killed_manager_leaves_no_process_behind() {
    let marker = format!("pooltop-orphan-test-{}", std::process::id());
    let mut child = spawn_marked(
        &["run", "-j", "3", "--headless", "-"],
        &marker,
        b"shell sh -c 'sleep 60 & sleep 60'\nshell sleep 60\nspin 1e15\n",
        false,
    );
    // The manager, 3 workers, a shell with 2 sleeps, and a shell with a sleep.
    wait_for(
        "the pool and its shell tasks",
        Duration::from_secs(20),
        || pids_with_marker(&marker).len() >= 8,
    );
    // One worker's whole group is stopped, as a paused worker is: SIGTERM
    // alone would stay pending there.
    let workers = children_of(child.id());
    assert_eq!(workers.len(), 3, "{workers:?}");
    let paused = workers[0];
    pooltop::platform::signal_group(paused, pooltop::platform::GroupSignal::Stop).unwrap();
    wait_for("the stopped worker", Duration::from_secs(5), || {
        pooltop::platform::process_state(paused) == Some('T')
    });
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for(
        "every pool process to be gone",
        Duration::from_secs(2),
        || pids_with_marker(&marker).is_empty(),
    );
}

#[test]
fn sigterm_shuts_the_pool_down_gracefully() {
    stop_signal_shuts_the_pool_down(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_of_a_closed_terminal_shuts_the_pool_down_gracefully() {
    stop_signal_shuts_the_pool_down(libc::SIGHUP, "SIGHUP");
}

fn stop_signal_shuts_the_pool_down(signal: i32, name: &str) {
    let marker = format!("pooltop-{name}-test-{}", std::process::id());
    let child = spawn_marked(
        &[
            "run",
            "-j",
            "1",
            "--join-timeout",
            "0.5",
            "--json",
            "-",
            "-",
        ],
        &marker,
        b"hang\nsquare 2\n",
        true,
    );
    wait_for("the worker", Duration::from_secs(20), || {
        pids_with_marker(&marker).len() >= 2
    });
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let events = json_lines(&out);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["submitted"], 2);
    assert_eq!(summary["cancelled"], 2, "{summary}");
    assert!(stderr(&out).contains(&format!("stopped by {name}")));
    assert!(pids_with_marker(&marker).is_empty());
}

#[test]
fn the_json_stream_has_samples_of_each_worker_and_the_cores() {
    let out = pooltop(
        &["run", "--headless", "--json", "-", "-j", "2", "-"],
        "spin 1500000000\nspin 1500000000\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let samples: Vec<&Value> = events.iter().filter(|e| e["event"] == "sample").collect();
    assert!(!samples.is_empty(), "no sample in {events:?}");
    // Some sample saw a worker spinning: its CPU well above an idle one's
    // (near a whole core on a quiet machine; a busy one shares the cores).
    let busy = samples
        .iter()
        .flat_map(|s| s["workers"].as_array().unwrap());
    let busy: Vec<&Value> = busy.filter(|w| w["cpu"].as_f64().unwrap() > 5.0).collect();
    assert!(!busy.is_empty(), "{samples:?}");
    for w in &busy {
        assert!((1..=2).contains(&w["worker"].as_u64().unwrap()), "{w}");
        assert!(
            w["pid"].as_u64().unwrap() > 0 && w["rss"].as_u64().unwrap() > 0,
            "{w}"
        );
    }
    for s in &samples {
        assert!(s["t"].as_f64().unwrap() > 0.0, "{s}");
        assert!(!s["cores"].as_array().unwrap().is_empty(), "{s}");
        assert!(s["own"]["rss"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn the_readme_shows_what_version_prints() {
    let out = pooltop(&["--version"], "");
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(printed.contains("(protocol "), "{printed}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let shown: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("pooltop --version"))
        .filter_map(|l| l.split_once('#').map(|(_, c)| c.trim()))
        .collect();
    assert!(
        !shown.is_empty(),
        "README shows no `pooltop --version` line"
    );
    for line in shown {
        assert_eq!(line, printed, "README's `pooltop --version` line");
    }
}
