//! Fault injection against the real binary and its workers: crashes, kills,
//! hangs, floods and leftovers. Every test here must end with every task
//! accounted for and no process of the pool left behind.

mod helpers;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use helpers::*;
use pooltop::platform::{GroupSignal, signal_process};
use pooltop::task::TaskSpec;
use pooltop::{Task, TaskState};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(20);

#[test]
fn a_task_too_big_for_a_frame_fails_alone() {
    let mut pool = pool(1).build().unwrap();
    // Built in code, so no line-length check: only the frame cap stops it.
    let huge = Task::from(TaskSpec::Fail("x".repeat(17 * 1024 * 1024)));
    let reports = pool.map([huge, task("square 4")]);
    assert_eq!(reports[0].state, TaskState::Failed);
    let why = reports[0].error.as_deref().unwrap();
    assert!(why.contains("cannot be sent to a worker"), "{why}");
    assert_eq!(reports[1].output.value, "16");
    let counts = pool.shutdown();
    assert_eq!((counts.submitted, counts.finished()), (2, 2));
}

#[test]
fn a_chunk_too_big_for_one_frame_goes_task_by_task() {
    let mut pool = pool(1)
        .chunksize(pooltop::ChunkSize::Fixed(3))
        .build()
        .unwrap();
    // Each fits a frame; the three together (18 MiB) do not.
    let big = |c: char| Task::from(TaskSpec::Fail(c.to_string().repeat(6 * 1024 * 1024)));
    let ids = pool.handle().submit_all([big('a'), big('b'), big('c')]);
    for (id, c) in ids.into_iter().zip(['a', 'b', 'c']) {
        let r = wait_event(&mut pool, LONG, "the big tasks to end", |ev| match ev {
            pooltop::PoolEvent::TaskFinished(r) if r.task == id => Some(r.clone()),
            _ => None,
        });
        assert_eq!(r.state, TaskState::Failed);
        let why = r.error.as_deref().unwrap();
        assert!(
            why.starts_with(c) && why.len() == 6 * 1024 * 1024,
            "{}",
            &why[..40]
        );
    }
    let counts = pool.shutdown();
    assert_eq!((counts.submitted, counts.failed), (3, 3));
}

/// Per task id: its events in order, checked against the accounting rules.
/// Returns the task_finished event of every task, by id.
fn check_task_histories(events: &[Value], submitted: u64) -> BTreeMap<u64, Value> {
    #[derive(Default)]
    struct Hist {
        running_on: Option<u64>,
        starts: u64,
        finished: Option<Value>,
    }
    let mut tasks: BTreeMap<u64, Hist> = BTreeMap::new();
    // Which task each worker is running: one at a time.
    let mut running: HashMap<u64, u64> = HashMap::new();
    for e in events {
        let kind = e["event"].as_str().unwrap();
        let Some(id) = e["task"].as_u64() else {
            if kind == "worker_exited" {
                let w = e["worker"].as_u64().unwrap();
                assert!(
                    !running.contains_key(&w),
                    "worker {w} exited while task {:?} still ran on it: {e}",
                    running.get(&w)
                );
            }
            continue;
        };
        let h = tasks.entry(id).or_default();
        assert!(
            h.finished.is_none(),
            "task {id} has an event after it finished: {e}"
        );
        match kind {
            "task_started" => {
                let w = e["worker"].as_u64().unwrap();
                assert!(
                    h.running_on.is_none(),
                    "task {id} started on worker {w} while running on {:?}",
                    h.running_on
                );
                h.starts += 1;
                assert_eq!(e["attempt"].as_u64(), Some(h.starts), "task {id}: {e}");
                h.running_on = Some(w);
                if let Some(other) = running.insert(w, id) {
                    panic!("worker {w} started task {id} while running task {other}");
                }
            }
            "task_retrying" => {
                let w = h.running_on.take();
                assert!(w.is_some(), "task {id} retried but was not running: {e}");
                running.remove(&w.unwrap());
            }
            "task_finished" => {
                if let Some(w) = h.running_on.take() {
                    assert_eq!(e["worker"].as_u64(), Some(w), "{e}");
                    running.remove(&w);
                } else {
                    assert_eq!(h.starts, 0, "task {id} finished but was not running: {e}");
                }
                assert_eq!(e["attempts"].as_u64(), Some(h.starts), "{e}");
                h.finished = Some(e.clone());
            }
            other => panic!("unexpected task event {other}: {e}"),
        }
    }
    assert_eq!(tasks.len() as u64, submitted, "every task has events");
    let ids: Vec<u64> = tasks.keys().copied().collect();
    assert_eq!(ids, (1..=submitted).collect::<Vec<_>>());
    tasks
        .into_iter()
        .map(|(id, h)| {
            let f = h
                .finished
                .unwrap_or_else(|| panic!("task {id} never finished"));
            (id, f)
        })
        .collect()
}

/// The summary line checked against the events: the same counts, summing to
/// the number submitted.
fn check_summary(events: &[Value], finished: &BTreeMap<u64, Value>) {
    let summary = events.last().expect("events");
    assert_eq!(summary["event"], "summary", "the summary comes last");
    let mut by_state: HashMap<&str, u64> = HashMap::new();
    for f in finished.values() {
        *by_state.entry(f["state"].as_str().unwrap()).or_default() += 1;
    }
    let n = |k: &str| summary[k].as_u64().unwrap();
    assert_eq!(n("submitted"), finished.len() as u64);
    assert_eq!(
        n("submitted"),
        n("done") + n("failed") + n("timed_out") + n("cancelled"),
        "{summary}"
    );
    for state in ["done", "failed", "timed_out", "cancelled"] {
        assert_eq!(
            n(state),
            by_state.get(state).copied().unwrap_or(0),
            "{state} in {summary}"
        );
    }
}

#[test]
fn chaos_every_task_ends_exactly_once() {
    chaos("chaos", &[]);
}

/// The same with chunks: a worker that dies holds tasks it never started,
/// which must go back to the queue, run once, and count once.
#[test]
fn chaos_in_chunks_every_task_ends_exactly_once() {
    chaos("chaos in chunks", &["--chunksize", "3"]);
}

/// 5,000 tasks of every kind on 4 workers, with outside kills at random
/// moments; then every task's history is checked from the JSON stream.
fn chaos(seed: &str, extra_args: &[&str]) {
    const WORKERS: usize = 4;
    const CHAOS_TASKS: u64 = 5000;
    let mut rng = Rng::seeded(seed);
    let dir = tempfile::tempdir().unwrap();
    let locks = dir.path().join("locks");
    std::fs::create_dir(&locks).unwrap();
    let go = dir.path().join("go");
    let have_flock = std::process::Command::new("flock")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut lines = Vec::new();
    for i in 1..=CHAOS_TASKS {
        let line = match rng.below(100) {
            0..5 => "crash".to_string(),
            5..10 => format!("fail chaos {i}"),
            // A task that would notice running twice at once: it holds a
            // lock of its own while it runs (a killed holder releases it).
            10..14 if have_flock => {
                format!("shell flock -n -E 99 {}/{i} sleep 0.02", locks.display())
            }
            12..20 => "sleep 0.005".to_string(),
            _ => format!("square {i}"),
        };
        lines.push(line);
    }
    // The last task waits until the test has counted the workers.
    lines.push(format!(
        "shell while [ ! -e {} ]; do sleep 0.01; done",
        go.display()
    ));
    let submitted = lines.len() as u64;
    let workers = WORKERS.to_string();
    let mut args = vec!["-j", &workers, "--retries", "1"];
    args.extend_from_slice(extra_args);
    let run = LiveRun::start(&args, &(lines.join("\n") + "\n"), &[]);
    run.wait_until("the workers", LONG, |evs| {
        (live_workers(evs).len() == WORKERS).then_some(())
    });
    // Kill workers from outside at random moments while the chaos runs.
    let mut kills = 0;
    let chaos_finished = |evs: &[Value]| {
        evs.iter()
            .filter(|e| e["event"] == "task_finished" && e["task"].as_u64() != Some(submitted))
            .count() as u64
    };
    let deadline = Instant::now() + LONG * 3;
    loop {
        let done = run.with_events(chaos_finished);
        if done >= CHAOS_TASKS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chaos did not finish; {done} tasks finished"
        );
        std::thread::sleep(Duration::from_millis(20 + rng.below(60)));
        // Never more worker processes than wanted (a dead one is replaced
        // only once it is reaped).
        let workers = children_of(run.pid());
        assert!(workers.len() <= WORKERS, "too many workers: {workers:?}");
        if done < CHAOS_TASKS * 9 / 10 {
            let live = run.live_workers();
            let target = (!live.is_empty()).then(|| live[rng.below(live.len() as u64) as usize].1);
            if let Some(pid) = target
                && signal_process(pid, GroupSignal::Kill).is_ok()
            {
                kills += 1;
            }
        }
    }
    // Every death was made good: the pool is back to its size, and no more.
    run.wait_until("the pool to be whole again", LONG, |evs| {
        (live_workers(evs).len() == WORKERS).then_some(())
    });
    let workers_now = children_of(run.pid());
    assert_eq!(
        workers_now.len(),
        WORKERS,
        "worker processes: {workers_now:?}"
    );
    std::fs::write(&go, "").unwrap();
    let (status, events, stderr) = run.finish(LONG);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(1), "some tasks failed: {stderr}");

    let finished = check_task_histories(&events, submitted);
    check_summary(&events, &finished);
    let crashes = events
        .iter()
        .filter(|e| e["event"] == "worker_exited" && e["how"] == "crashed")
        .count();
    let mut outcomes: HashMap<&str, u64> = HashMap::new();
    for (id, f) in &finished {
        let line = f["line"].as_str().unwrap();
        let state = f["state"].as_str().unwrap();
        *outcomes.entry(state).or_default() += 1;
        let kind = line.split_whitespace().next().unwrap();
        match (kind, state) {
            ("crash", s) => assert_eq!(s, "failed", "{f}"),
            ("fail", "failed") => {
                // Its own message, unless an outside kill got it first.
                let err = f["error"].as_str().unwrap();
                assert!(
                    err == format!("chaos {id}") || err.contains("SIGKILL"),
                    "{f}"
                );
            }
            ("square", "done") => assert_eq!(f["result"], (id * id).to_string(), "{f}"),
            ("shell", "failed") => {
                assert_ne!(
                    f["exit_code"], 99,
                    "task {id} ran twice at the same time: {f}"
                );
                assert!(f["error"].as_str().unwrap().contains("SIGKILL"), "{f}");
            }
            (_, "done") => {}
            (_, "failed") => {
                // Only an outside kill (twice: retries 1) fails the others.
                assert!(f["error"].as_str().unwrap().contains("SIGKILL"), "{f}");
            }
            _ => panic!("unexpected end of task {id}: {f}"),
        }
    }
    println!(
        "{seed}: {submitted} tasks, {kills} outside kills, {crashes} crashed workers, \
         outcomes {outcomes:?}"
    );
    assert!(kills >= 5, "the chaos needs outside kills: {kills}");
    assert!(crashes >= kills, "{crashes} crashes, {kills} kills");
}

#[test]
fn output_floods_keep_memory_bounded_and_the_pool_moving() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let cap = 65536;
    let mut tasks = String::from(
        // 1 GB of stdout; then stdout without a single newline beside a flood of stderr.
        "shell head -c 1000000000 /dev/zero\n\
         shell yes | tr -d '\\n' | head -c 300000000 & head -c 300000000 /dev/zero >&2; wait\n",
    );
    for i in 0..40 {
        tasks.push_str(&format!("shell echo {i}\n"));
    }
    tasks.push_str(&format!(
        "shell while [ ! -e {} ]; do sleep 0.01; done\n",
        go.display()
    ));
    let run = LiveRun::start(&["-j", "3", "--output-cap", &cap.to_string()], &tasks, &[]);
    // Measure while the pool is still up: when only the last task is left.
    let floods = run.wait_until("the floods to finish", LONG * 2, |evs| {
        let f: Vec<Value> = evs
            .iter()
            .filter(|e| e["event"] == "task_finished" && e["task"].as_u64().unwrap() <= 2)
            .cloned()
            .collect();
        (f.len() == 2).then_some(f)
    });
    run.wait_until("the other tasks", LONG, |evs| {
        let n = evs.iter().filter(|e| e["event"] == "task_finished").count();
        (n == 42).then_some(())
    });
    let manager_hwm = vm_kib(run.pid(), "VmHWM").unwrap();
    let worker_hwm: Vec<u64> = run
        .live_workers()
        .iter()
        .filter_map(|&(_, pid)| vm_kib(pid, "VmHWM"))
        .collect();
    println!("flood: manager VmHWM {manager_hwm} KiB, workers' VmHWM {worker_hwm:?} KiB");
    assert!(manager_hwm < 64 * 1024, "manager VmHWM {manager_hwm} KiB");
    assert_eq!(worker_hwm.len(), 3);
    assert!(worker_hwm.iter().all(|&k| k < 64 * 1024), "{worker_hwm:?}");
    std::fs::write(&go, "").unwrap();
    let (status, events, stderr) = run.finish(LONG);
    assert_eq!(status.code(), Some(0), "{stderr}");

    // Each flood kept only the tail, and says how much it dropped.
    let text = |f: &Value, k: &str| f[k].as_str().unwrap_or("").to_string();
    let big = floods.iter().find(|f| f["task"] == 1).unwrap();
    let out = text(big, "stdout");
    let marker = format!("…[truncated {} bytes]\n", 1_000_000_000 - cap);
    assert!(out.starts_with(&marker), "{}", &out[..60.min(out.len())]);
    assert_eq!(out.len() - marker.len(), cap);
    let mixed = floods.iter().find(|f| f["task"] == 2).unwrap();
    let (out, err) = (text(mixed, "stdout"), text(mixed, "stderr"));
    let marker = format!("…[truncated {} bytes]\n", 300_000_000 - cap);
    assert!(
        out.starts_with(&marker) && err.starts_with(&marker),
        "{mixed}"
    );
    assert!(out[marker.len()..].bytes().all(|b| b == b'y'));
    assert_eq!(err.len() - marker.len(), cap);
    // Other tasks finished while the floods ran.
    let t = |e: &Value| e["t"].as_f64().unwrap();
    let started = |id: u64| {
        events
            .iter()
            .find(|e| e["event"] == "task_started" && e["task"] == id)
            .map(t)
            .unwrap()
    };
    let flood_span = (started(1).max(started(2)), t(big).min(t(mixed)));
    let meanwhile = events
        .iter()
        .filter(|e| e["event"] == "task_finished" && e["task"].as_u64().unwrap() > 2)
        .filter(|e| (flood_span.0..flood_span.1).contains(&t(e)))
        .count();
    assert!(
        meanwhile > 0,
        "no task finished during the floods {flood_span:?}"
    );
}

#[test]
fn a_stale_socket_dir_from_a_killed_run_does_not_break_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let pooltop = |tasks: &str| {
        let mut cmd = pooltop_command();
        cmd.args(["run", "-j", "1", "--json", "-", "-"])
            .env("TMPDIR", tmp.path())
            .env("POOLTOP_CONTROL_DIR", tmp.path().join("control"))
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(tasks.as_bytes())
            .unwrap();
        child
    };
    let socket_dirs = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("pooltop-")
            })
            .collect()
    };
    // A run killed outright leaves its socket directory behind.
    let mut crashed = pooltop("hang\n");
    wait_for("the first run's worker", LONG, || {
        children_of(crashed.id()).len() == 1
    });
    crashed.kill().unwrap();
    crashed.wait().unwrap();
    let left = socket_dirs();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].join("w.sock").exists(), "the stale socket is there");
    // And some junk under a pooltop-like name.
    std::fs::create_dir(tmp.path().join("pooltop-junk")).unwrap();
    std::fs::write(tmp.path().join("pooltop-junk/w.sock"), "not a socket").unwrap();

    let next = pooltop("square 6\n").wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&next.stderr);
    assert_eq!(next.status.code(), Some(0), "{err}");
    let out = String::from_utf8_lossy(&next.stdout);
    assert!(out.contains(r#""result":"36""#), "{out}");
    assert_eq!(
        socket_dirs().len(),
        2,
        "the next run cleaned up after itself"
    );
    wait_for("the stale run's worker to be gone", LONG, || {
        pids_with_marker(&left[0].to_string_lossy()).is_empty()
    });
}

#[test]
fn a_worker_stopped_from_outside_is_shown_hung_then_timed_out_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (go, go2) = (dir.path().join("go"), dir.path().join("go2"));
    // Task 1 spins for ever on one worker; tasks 2 and 3 spin (in a shell)
    // on the other until released: busy, never hung, each within the timeout.
    let tasks = format!(
        "spin 1e15\nshell while [ ! -e {} ]; do :; done\n\
         shell while [ ! -e {} ]; do :; done\nsquare 5\n",
        go.display(),
        go2.display()
    );
    let run = LiveRun::start(&["-j", "2", "--task-timeout", "3"], &tasks, &[]);
    let started = |task: u64| move |e: &Value| e["event"] == "task_started" && e["task"] == task;
    let victim = run.wait_event("task 1 to start", LONG, started(1))["worker"]
        .as_u64()
        .unwrap();
    run.wait_event("task 2 to start", LONG, started(2));
    let pid = run
        .live_workers()
        .into_iter()
        .find(|w| w.0 == victim)
        .unwrap()
        .1;
    // Stopped by someone else, not by pooltop: only the worker process.
    signal_process(pid, GroupSignal::Stop).unwrap();
    let stopped_at = Instant::now();
    let t0 = run.with_events(|evs| evs.last().unwrap()["t"].as_f64().unwrap());
    let hung = run.wait_event("the hung report", LONG, |e| e["event"] == "worker_hung");
    let seen_after = stopped_at.elapsed();
    assert_eq!(hung["worker"].as_u64(), Some(victim), "{hung}");
    assert_eq!(
        (hung["pid"].as_u64(), hung["task"].as_u64()),
        (Some(pid as u64), Some(1))
    );
    // Half the task timeout, give or take one CPU sample (a quarter of it).
    assert!(hung["idle_s"].as_f64().unwrap() >= 1.5, "{hung}");
    assert!(seen_after >= Duration::from_millis(1100), "{seen_after:?}");
    std::fs::write(&go, "").unwrap();
    let finished = run.wait_event("the timeout", LONG, |e| {
        e["event"] == "task_finished" && e["task"] == 1
    });
    assert_eq!(finished["state"], "timed_out", "{finished}");
    let t = |e: &Value| e["t"].as_f64().unwrap();
    assert!(t(&hung) < t(&finished), "shown hung before the timeout");
    assert!(t(&finished) - t0 < 3.5, "timed out in time: {finished}");
    let exited = run.wait_event("the stopped worker's end", LONG, |e| {
        e["event"] == "worker_exited" && e["worker"].as_u64() == Some(victim)
    });
    assert_eq!(
        (exited["how"].as_str(), exited["signal"].as_u64()),
        (Some("killed"), Some(9))
    );
    assert!(!alive(pid));
    run.wait_until("a replacement", LONG, |evs| {
        let live = live_workers(evs);
        (live.len() == 2 && live.iter().all(|w| w.0 != victim)).then_some(())
    });
    std::fs::write(&go2, "").unwrap();
    let (status, events, stderr) = run.finish(LONG);
    assert_eq!(status.code(), Some(1), "{stderr}");
    let hung_reports: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "worker_hung")
        .collect();
    assert_eq!(
        hung_reports.len(),
        1,
        "only the stopped worker looked hung: {hung_reports:?}"
    );
    let summary = events.last().unwrap();
    assert_eq!(
        (summary["done"].as_u64(), summary["timed_out"].as_u64()),
        (Some(3), Some(1)),
        "{summary}"
    );
}
