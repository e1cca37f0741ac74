//! The engine features that command batches use, end to end with real
//! workers: exec tasks, job slots, retrying failed tasks, the median timeout.

mod helpers;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use helpers::*;
use pooltop::task::{ExecSpec, TaskSpec};
use pooltop::{Command, PoolEvent, Task, TaskState, WorkerId};

const LONG: Duration = Duration::from_secs(20);

fn exec(argv: &[&str], slot_at: Vec<(u32, u32)>) -> Task {
    Task::from(TaskSpec::Exec(Box::new(ExecSpec {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        env: vec![],
        slot_at,
        slot_env: Some("PARALLEL_JOBSLOT".into()),
    })))
}

/// Reads events until the pool has announced `n` job slots; returns them.
fn slots(pool: &mut pooltop::Pool, n: usize) -> HashMap<WorkerId, u32> {
    let mut slots = HashMap::new();
    while slots.len() < n {
        let (w, s) = wait_event(pool, LONG, "job slots", |ev| match ev {
            PoolEvent::WorkerSlot { worker, slot } => Some((*worker, *slot)),
            _ => None,
        });
        slots.insert(w, s);
    }
    slots
}

#[test]
fn exec_tasks_get_the_slot_of_the_worker_that_runs_them() {
    let mut pool = pool(2).build().unwrap();
    let slots = slots(&mut pool, 2);
    let mut held: Vec<u32> = slots.values().copied().collect();
    held.sort();
    assert_eq!(held, [1, 2], "two workers hold slots 1 and 2");
    let tasks: Vec<Task> = (0..6)
        .map(|_| {
            exec(
                &["sh", "-c", "echo $0 $PARALLEL_JOBSLOT", "slot-"],
                vec![(3, 5)],
            )
        })
        .collect();
    let mut ran_on: HashMap<pooltop::TaskId, WorkerId> = HashMap::new();
    let ids = pool.handle().submit_all(tasks);
    let mut left = ids.len();
    while left > 0 {
        match pool.next_event_timeout(LONG).expect("an event") {
            PoolEvent::TaskStarted { task, worker, .. } => {
                ran_on.insert(task, worker);
            }
            PoolEvent::TaskFinished(r) => {
                left -= 1;
                assert_eq!(r.state, TaskState::Done, "{r:?}");
                let slot = slots[&ran_on[&r.task]];
                assert_eq!(r.output.stdout, format!("slot-{slot} {slot}\n"));
            }
            _ => {}
        }
    }
}

#[test]
fn a_replacement_worker_takes_the_freed_slot() {
    let mut pool = pool(2).build().unwrap();
    let slots = slots(&mut pool, 2);
    let (&victim, _) = slots.iter().find(|(_, s)| **s == 1).unwrap();
    pool.send(Command::Kill(victim));
    let (worker, slot) = wait_event(&mut pool, LONG, "the replacement", |ev| match ev {
        PoolEvent::WorkerSlot { worker, slot } => Some((*worker, *slot)),
        _ => None,
    });
    assert_ne!(worker, victim);
    assert_eq!(slot, 1, "the replacement takes slot 1 back");
}

#[test]
fn failed_tasks_are_retried_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    // Fails the first time, succeeds the second.
    let flaky = format!(
        "shell test -e '{0}' || {{ touch '{0}'; exit 1; }}",
        flag.display()
    );
    let mut pool = pool(1).retries(2).retry_failed(true).build().unwrap();
    let reports = pool.map([task("fail always"), task(&flaky)]);
    assert_eq!(reports[0].state, TaskState::Failed);
    assert_eq!(reports[0].attempts, 3, "1 run + 2 retries");
    assert_eq!(reports[1].state, TaskState::Done, "{:?}", reports[1]);
    assert_eq!(reports[1].attempts, 2);
    let counts = pool.shutdown();
    assert_eq!((counts.submitted, counts.done, counts.failed), (2, 1, 1));

    let mut plain = helpers::pool(1).retries(2).build().unwrap();
    let reports = plain.map([task("fail always")]);
    assert_eq!(
        reports[0].attempts, 1,
        "without retry_failed a failure is final"
    );
}

#[test]
fn the_median_timeout_kills_an_outlier_once_three_tasks_are_done() {
    let mut pool = pool(1).task_timeout_median(3.0).build().unwrap();
    let started = Instant::now();
    // Under the 1 s floor: 3 × 0.4 s gives a limit of 1.2 s for the hang.
    let reports = pool.map(["sleep 0.4", "sleep 0.4", "sleep 0.4", "hang", "square 3"].map(task));
    let states: Vec<TaskState> = reports.iter().map(|r| r.state).collect();
    use TaskState::*;
    assert_eq!(states, [Done, Done, Done, TimedOut, Done]);
    let hang = &reports[3];
    assert!(
        hang.error
            .as_deref()
            .unwrap()
            .starts_with("timed out after 1.2"),
        "{hang:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn dispatch_waits_after_a_failure_when_asked() {
    let mut pool = pool(1)
        .pause_dispatch_after(&[TaskState::Failed])
        .build()
        .unwrap();
    let ids =
        pool.handle()
            .submit_all([task("sleep 0"), task("shell exit 1"), task("shell echo 4")]);
    wait_event(&mut pool, LONG, "the failure", |ev| match ev {
        PoolEvent::TaskFinished(r) if r.task == ids[1] => Some(()),
        PoolEvent::TaskStarted { task, .. } if *task == ids[2] => {
            panic!("the task after the failure started before the pause")
        }
        _ => None,
    });
    wait_event(&mut pool, LONG, "the pause", |ev| {
        matches!(ev, PoolEvent::DispatchPaused(true)).then_some(())
    });
    // Nothing starts while paused …
    assert!(
        pool.next_event_timeout(Duration::from_millis(300))
            .is_none_or(|ev| !matches!(ev, PoolEvent::TaskStarted { .. })),
        "a task started while dispatch was paused"
    );
    // … until the consumer says go on.
    pool.send(Command::ResumeDispatch);
    let done = wait_event(&mut pool, LONG, "the last task", |ev| match ev {
        PoolEvent::TaskFinished(r) if r.task == ids[2] => Some(r.output.value.clone()),
        _ => None,
    });
    assert_eq!(done, "4\n");
}

#[test]
fn quick_tasks_are_handed_out_in_advance_but_never_the_last_ones() {
    let mut pool = pool(2).prefetch_quick(true).build().unwrap();
    let mut lines: Vec<String> = (0..40).map(|i| format!("shell echo {i}")).collect();
    lines.push("sleep 1.5".into());
    lines.push("shell echo last".into());
    let tasks: Vec<Task> = lines.iter().map(|l| task(l)).collect();
    let mut order = Vec::new();
    for r in pool.completed(tasks) {
        assert_eq!(r.state, TaskState::Done, "{r:?}");
        assert_eq!(r.attempts, 1);
        order.push(r.line.to_string());
    }
    assert_eq!(order.len(), 42, "every task exactly once");
    let pos = |l: &str| order.iter().position(|o| o == l).unwrap();
    // The last quick task was not handed to the worker busy with the long
    // one: the other worker, free first, ran it.
    assert!(pos("shell echo last") < pos("sleep 1.5"), "{order:?}");
}
