//! The manager itself stalls (SIGSTOP, then SIGCONT: what a host that
//! stalls under load does to it too) while its workers go on: no verdict
//! is passed on time the manager did not see.

mod helpers;

use std::time::{Duration, Instant};

use helpers::*;
use pooltop::platform::{GroupSignal, signal_process};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(30);

#[test]
fn a_stopped_and_continued_manager_kills_nothing_and_reports_its_stall_once() {
    const TASKS: u64 = 8;
    let tasks = "sleep 0.5\n".repeat(TASKS as usize);
    let run = LiveRun::start(&["-j", "2", "--task-timeout", "2"], &tasks, &[]);
    // Both workers are running a task.
    run.wait_until("two tasks to start", LONG, |evs| {
        let n = evs.iter().filter(|e| e["event"] == "task_started").count();
        (n >= 2).then_some(())
    });
    signal_process(run.pid(), GroupSignal::Stop).unwrap();
    let stopped = Instant::now();
    // The stall itself is what is tested: the workers finish their tasks
    // and then idle while the manager does not run.
    std::thread::sleep(Duration::from_secs(3));
    signal_process(run.pid(), GroupSignal::Cont).unwrap();
    let stall = stopped.elapsed();
    let (status, events, stderr) = run.finish(LONG);
    assert_eq!(status.code(), Some(0), "{stderr}");
    let named =
        |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["event"] == kind).collect() };
    assert!(
        named("worker_hung").is_empty(),
        "{:?}",
        named("worker_hung")
    );
    for e in named("worker_exited") {
        assert_eq!(e["how"], "exited", "a worker was killed: {e}");
    }
    let finished = named("task_finished");
    assert_eq!(finished.len() as u64, TASKS, "{stderr}");
    for e in &finished {
        assert_eq!(e["state"], "done", "{e}");
        let wall = e["wall_s"].as_f64().unwrap();
        assert!(wall < 1.5, "a task's own time, not the stall's: {e}");
    }
    let stalls = named("manager_stalled");
    assert_eq!(stalls.len(), 1, "{stalls:?}");
    let stalled_s = stalls[0]["stalled_s"].as_f64().unwrap();
    assert!(
        stalled_s >= 2.0 && stalled_s <= stall.as_secs_f64() + 1.0,
        "stalled {stalled_s} s, stopped {stall:?}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("pooltop: manager stalled "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let summary = events.last().unwrap();
    assert_eq!(
        (summary["done"].as_u64(), summary["timed_out"].as_u64()),
        (Some(TASKS), Some(0)),
        "{summary}"
    );
}
