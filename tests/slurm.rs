//! `pooltop run --slurm` against a real single-node Slurm (and the harness
//! itself: a step's stdio carries binary frames under `srun -u`, and a
//! cluster leaves nothing behind).

mod helpers;
#[path = "helpers/slurm.rs"]
mod slurm;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use helpers::{LiveRun, pids_with_marker, private_control_dir, run_pooltop, wait_for};
use pooltop::platform::{GroupSignal, signal_process};
use serde_json::Value;

/// Generous: Slurm and the tests share two cores with other builds.
const LONG: Duration = Duration::from_secs(60);

/// 64 KiB covering every byte value, `\n`, `\r`, `^C` and `^D` included: what
/// pooltop's length-prefixed frames look like to a relay.
fn every_byte_value() -> Vec<u8> {
    (0..64 * 1024).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn srun_u_round_trips_every_byte_value() {
    let Some(cluster) = slurm::shared() else {
        return;
    };
    let sent = every_byte_value();
    let mut child = cluster
        .command("srun")
        .args(["-u", "-n1", "-N1", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("srun starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let to_send = sent.clone();
    // Written from a thread: `cat` echoes as it reads, so a writer that waited
    // for nothing could fill both pipes.
    let writer = std::thread::spawn(move || {
        stdin.write_all(&to_send).expect("srun takes the bytes");
    });
    let mut got = Vec::new();
    let mut stdout = child.stdout.take().expect("piped stdout");
    stdout.read_to_end(&mut got).expect("srun's stdout");
    writer.join().expect("the writer");
    let status = child.wait().expect("srun ends");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("srun's stderr");
    assert!(status.success(), "srun failed ({status}): {stderr}");
    assert_eq!(
        got.len(),
        sent.len(),
        "srun -u changed the length: {stderr}"
    );
    assert!(got == sent, "srun -u changed the bytes");
}

#[test]
fn a_stopped_cluster_leaves_no_process_behind() {
    let Ok(cluster) = slurm::Slurm::start() else {
        println!("skipped: Slurm is not installed");
        return;
    };
    let mut srun = cluster
        .command("srun")
        .args(["-n1", "-J", "left-running", "sleep", "600"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("srun starts");
    wait_for("the step to run", Duration::from_secs(20), || {
        cluster
            .steps()
            .iter()
            .any(|step| step.contains(" left-running "))
    });
    let marker = cluster.dir().display().to_string();
    // munged, slurmctld, slurmd, srun (its two processes), slurmstepd, sleep.
    assert!(pids_with_marker(&marker).len() >= 6, "not all found");
    let dir = cluster.dir().to_owned();
    drop(cluster);
    // Reaped first: a zombie still holds its environment in /proc.
    srun.wait().expect("srun reaped");
    assert_eq!(pids_with_marker(&marker), Vec::<u32>::new(), "left running");
    assert!(!dir.exists(), "{} not removed", dir.display());
}

/// `pooltop run --json - ARGS -` against `cluster`, tasks on stdin, `envs`
/// added.
fn run_on(cluster: &slurm::Slurm, args: &[&str], tasks: &str, envs: &[(&str, &str)]) -> LiveRun {
    let conf = cluster.conf().to_str().expect("a UTF-8 temp path");
    let mut all = vec![("SLURM_CONF", conf)];
    all.extend_from_slice(envs);
    LiveRun::start(args, tasks, &all)
}

/// The `task_finished` events by task line.
fn finished(events: &[Value]) -> BTreeMap<String, Value> {
    events
        .iter()
        .filter(|e| e["event"] == "task_finished")
        .map(|e| (e["line"].as_str().unwrap_or_default().to_owned(), e.clone()))
        .collect()
}

/// The host each worker was last said to run on.
fn hosts(events: &[Value]) -> BTreeMap<u64, String> {
    events
        .iter()
        .filter(|e| e["event"] == "worker_host")
        .map(|e| {
            (
                e["worker"].as_u64().unwrap_or(0),
                e["host"].as_str().unwrap_or("").into(),
            )
        })
        .collect()
}

/// Where in `events` the first event matching `pred` is.
fn position(events: &[Value], what: &str, pred: impl Fn(&Value) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("no {what} in {events:#?}"))
}

#[test]
fn slurm_workers_run_tasks_and_their_tasks_run_inside_slurm_jobs() {
    let Some(cluster) = slurm::shared() else {
        return;
    };
    let mut tasks: String = (1..=20).map(|n| format!("square {n}\n")).collect();
    tasks += "shell echo $SLURM_JOB_ID $SLURMD_NODENAME\n";
    let run = run_on(cluster, &["--slurm", "-j", "2"], &tasks, &[]);
    let (status, events, stderr) = run.finish(LONG);
    assert!(status.success(), "pooltop failed ({status}): {stderr}");
    let started: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "worker_started")
        .map(|e| e["worker"].as_u64().unwrap_or(0))
        .collect();
    let hosts = hosts(&events);
    assert!(!started.is_empty());
    for w in started {
        assert_eq!(hosts[&w], cluster.node(), "worker {w}'s host is its node");
    }
    let done = finished(&events);
    for n in 1..=20u64 {
        let report = &done[&format!("square {n}")];
        assert_eq!(report["state"], "done", "{report}");
        assert_eq!(report["result"], (n * n).to_string(), "{report}");
    }
    let shell = &done["shell echo $SLURM_JOB_ID $SLURMD_NODENAME"];
    let said = shell["stdout"].as_str().unwrap_or_default();
    let words: Vec<&str> = said.split_whitespace().collect();
    assert!(
        matches!(&words[..], [job, node] if job.parse::<u64>().is_ok() && *node == cluster.node()),
        "the task did not run in a Slurm job on {}: {said:?}",
        cluster.node()
    );
}

#[test]
fn a_worker_slurm_queues_is_pending_for_as_long_as_it_waits_then_runs() {
    let Some(cluster) = slurm::shared() else {
        return;
    };
    let control = private_control_dir();
    let dir = control.path().to_str().expect("a UTF-8 temp path");
    let envs = [
        ("SLURM_PARTITION", slurm::GATE),
        ("POOLTOP_CONTROL_DIR", dir),
    ];
    let args = ["--slurm", "-j", "1", "--name", "queued"];
    let run = run_on(cluster, &args, "square 5\nsquare 6\n", &envs);
    run.wait_event("the worker to be pending", LONG, |e| {
        e["event"] == "worker_pending" && e["pending"] == true
    });
    let queued_at = Instant::now();
    assert!(
        cluster
            .jobs()
            .iter()
            .any(|j| j.ends_with(" pooltop-w1 PENDING")),
        "{:?}",
        cluster.jobs()
    );
    let status = run_pooltop(
        &["status", "--pool", "queued", "--json"],
        "",
        &[("POOLTOP_CONTROL_DIR", control.path())],
    );
    let status: Value = serde_json::from_slice(&status.stdout).expect("status as JSON");
    assert_eq!(status["workers"][0]["state"], "pending", "{status}");
    // Past the 10 s a starting worker gets to connect: a queued one has no
    // such deadline (a real queue may hold it for hours).
    wait_for("11 s in Slurm's queue", Duration::from_secs(20), || {
        queued_at.elapsed() > Duration::from_secs(11)
    });
    run.with_events(|events| {
        let ended = events.iter().any(|e| e["event"] == "worker_exited");
        assert!(!ended, "a queued worker was given up: {events:#?}");
    });
    cluster.open_gate();
    let (status, events, stderr) = run.finish(LONG);
    assert!(status.success(), "pooltop failed ({status}): {stderr}");
    let done = finished(&events);
    assert_eq!(
        (
            done["square 5"]["result"].as_str(),
            done["square 6"]["result"].as_str()
        ),
        (Some("25"), Some("36"))
    );
    let pending = position(&events, "pending", |e| {
        e["event"] == "worker_pending" && e["pending"] == true
    });
    let let_go = position(&events, "let go", |e| {
        e["event"] == "worker_pending" && e["pending"] == false
    });
    let started = position(&events, "start", |e| e["event"] == "worker_started");
    assert!(pending < let_go && let_go < started, "{events:#?}");
}

#[test]
fn in_an_allocation_workers_are_steps_and_a_scancelled_step_is_a_crash_retried() {
    let Some(cluster) = slurm::shared() else {
        return;
    };
    let allocation = cluster.allocation(2);
    let scratch = tempfile::tempdir().expect("a scratch dir");
    let said = scratch.path().join("step");
    let f = said.display();
    // The first attempt says which step it runs in and waits; the retry ends.
    let task = format!(
        "shell if [ -s {f} ]; then echo again; else echo $SLURM_JOB_ID.$SLURM_STEP_ID > {f}.new; \
         mv {f}.new {f}; sleep 600; fi"
    );
    let tasks = format!("{task}\nsquare 7\n");
    let envs = [("SLURM_JOB_ID", allocation.job.as_str())];
    let run = run_on(
        cluster,
        &["--slurm", "-j", "2", "--retries", "1"],
        &tasks,
        &envs,
    );
    wait_for("the task to name its step", LONG, || {
        std::fs::read_to_string(&said).is_ok_and(|s| !s.trim().is_empty())
    });
    let step = std::fs::read_to_string(&said)
        .expect("the step")
        .trim()
        .to_owned();
    assert!(step.starts_with(&format!("{}.", allocation.job)), "{step}");
    let steps = cluster.steps();
    let ours: Vec<&String> = steps
        .iter()
        .filter(|s| s.starts_with(&format!("{}.", allocation.job)))
        .collect();
    assert_eq!(ours.len(), 2, "one step per worker: {steps:?}");
    assert!(ours.iter().all(|s| s.contains(" pooltop-w")), "{ours:?}");
    cluster.run("scancel", &[&step]);
    let (status, events, stderr) = run.finish(LONG);
    assert!(status.success(), "pooltop failed ({status}): {stderr}");
    let done = finished(&events);
    let report = &done[&task];
    assert_eq!(report["stdout"], "again\n", "{report}");
    assert_eq!(report["attempts"], 2, "{report}");
    assert_eq!(done["square 7"]["result"], "49");
    let crashed = events
        .iter()
        .any(|e| e["event"] == "worker_exited" && e["how"] == "crashed");
    assert!(crashed, "the cancelled step's worker crashed: {events:#?}");
}

#[test]
fn kill_9_of_the_manager_leaves_no_job_step_or_process_within_10_s() {
    let Some(cluster) = slurm::shared() else {
        return;
    };
    let mark = format!("pooltop-slurm-kill-{}", std::process::id());
    let scratch = tempfile::tempdir().expect("a scratch dir");
    let jobs_file = scratch.path().join("jobs");
    let task = format!(
        "shell echo $SLURM_JOB_ID >> {}; sleep 600",
        jobs_file.display()
    );
    let tasks = format!("{task}\n{task}\n");
    let marked = [("POOLTOP_TEST_MARK", mark.as_str())];
    let running = run_on(cluster, &["--slurm", "-j", "2"], &tasks, &marked);
    let held = [marked[0], ("SLURM_PARTITION", slurm::HELD)];
    let queued = run_on(cluster, &["--slurm", "-j", "1"], "square 2\n", &held);
    running.wait_until("both tasks to run", LONG, |events| {
        let started = events
            .iter()
            .filter(|e| e["event"] == "task_started")
            .count();
        (started == 2).then_some(())
    });
    queued.wait_event("the queued worker", LONG, |e| {
        e["event"] == "worker_pending"
    });
    wait_for("both jobs to name themselves", LONG, || {
        std::fs::read_to_string(&jobs_file).is_ok_and(|s| s.lines().count() == 2)
    });
    let mut ours: Vec<String> = std::fs::read_to_string(&jobs_file)
        .expect("the jobs")
        .lines()
        .map(str::to_owned)
        .collect();
    ours.extend(
        cluster
            .run("squeue", &["-h", "-p", slurm::HELD, "-o", "%i"])
            .lines()
            .map(str::to_owned),
    );
    assert_eq!(ours.len(), 3, "two running jobs, one pending: {ours:?}");
    assert!(
        pids_with_marker(&mark).len() > 4,
        "the workers and their tasks"
    );
    for run in [&running, &queued] {
        signal_process(run.pid(), GroupSignal::Kill).expect("kill -9 the manager");
    }
    let killed = Instant::now();
    let left = || {
        let known = cluster.run("squeue", &["-h", "-o", "%i"]);
        let jobs: Vec<String> = known
            .lines()
            .filter(|j| ours.iter().any(|o| o == j))
            .map(str::to_owned)
            .collect();
        (jobs, pids_with_marker(&mark))
    };
    while left() != (vec![], vec![]) {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "10 s after kill -9 of the manager, left: {:?}",
            left()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("all gone {:?} after kill -9", killed.elapsed());
    drop((running, queued));
}
