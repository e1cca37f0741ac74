//! `pooltop run --slurm` against a real single-node Slurm (and the harness
//! itself: a step's stdio carries binary frames under `srun -u`, and a
//! cluster leaves nothing behind).

mod helpers;
#[path = "helpers/slurm.rs"]
mod slurm;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use helpers::{LiveRun, pids_with_marker, wait_for};
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

/// `pooltop run --json - ARGS -` against `cluster`, tasks on stdin.
fn run_on(cluster: &slurm::Slurm, args: &[&str], tasks: &str) -> LiveRun {
    let conf = cluster.conf().to_str().expect("a UTF-8 temp path");
    LiveRun::start(args, tasks, &[("SLURM_CONF", conf)])
}

/// The `task_finished` events by task line.
fn finished(events: &[Value]) -> BTreeMap<String, Value> {
    events
        .iter()
        .filter(|e| e["event"] == "task_finished")
        .map(|e| (e["line"].as_str().unwrap_or_default().to_owned(), e.clone()))
        .collect()
}

#[test]
fn slurm_workers_run_tasks_and_their_tasks_run_inside_slurm_jobs() {
    let Some(cluster) = slurm::shared() else {
        return;
    };
    let mut tasks: String = (1..=20).map(|n| format!("square {n}\n")).collect();
    tasks += "shell echo $SLURM_JOB_ID $SLURMD_NODENAME\n";
    let run = run_on(cluster, &["--slurm", "-j", "2"], &tasks);
    let (status, events, stderr) = run.finish(LONG);
    assert!(status.success(), "pooltop failed ({status}): {stderr}");
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
