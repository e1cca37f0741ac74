//! Orders about tasks (`Command::CancelTask`, `RetryTask`, `RetryFailed`,
//! `FrontTask`), with real workers: each does what it says, and every task
//! still ends exactly once (submitted = done + failed + timed out + cancelled).

mod helpers;

use std::time::Duration;

use helpers::*;
use pooltop::{Command, PoolEvent, TaskId, TaskReport, TaskState};

const LONG: Duration = Duration::from_secs(20);

fn finished(pool: &mut pooltop::Pool, task: TaskId) -> TaskReport {
    wait_event(
        pool,
        LONG,
        &format!("task {task} to finish"),
        |ev| match ev {
            PoolEvent::TaskFinished(r) if r.task == task => Some((**r).clone()),
            _ => None,
        },
    )
}

fn started(pool: &mut pooltop::Pool) -> TaskId {
    wait_event(pool, LONG, "a task to start", |ev| match ev {
        PoolEvent::TaskStarted { task, .. } => Some(*task),
        _ => None,
    })
}

#[test]
fn a_queued_task_is_cancelled_at_once_and_a_running_one_by_its_worker() {
    let mut pool = pool(1).build().unwrap();
    let running = pool.submit(task("sleep 30"));
    let queued = pool.submit(task("sleep 0.01"));
    let later = pool.submit(task("sleep 0.02"));
    let front = pool.submit(task("sleep 0.03"));
    assert_eq!(started(&mut pool), running);
    pool.send(Command::CancelTask(queued));
    let r = finished(&mut pool, queued);
    assert_eq!(r.state, TaskState::Cancelled);
    assert_eq!(
        (r.attempts, r.error.as_deref()),
        (0, Some("cancelled by the user"))
    );
    pool.send(Command::FrontTask(front));
    wait_event(&mut pool, LONG, "the move to the front", |ev| {
        matches!(ev, PoolEvent::TaskToFront { task } if *task == front).then_some(())
    });
    pool.send(Command::CancelTask(running));
    let mut order = Vec::new();
    let mut killed = false;
    wait_event(
        &mut pool,
        LONG,
        "the running task to end and the rest to run",
        |ev| {
            match ev {
                PoolEvent::TaskFinished(r) if r.task == running => {
                    assert_eq!(r.state, TaskState::Cancelled, "{r:?}");
                    assert_eq!(r.error.as_deref(), Some("cancelled by the user"));
                }
                PoolEvent::WorkerExited { how, .. } => {
                    killed = how.word() == "killed";
                }
                PoolEvent::TaskStarted { task, .. } => order.push(*task),
                _ => {}
            }
            (order.len() == 2).then_some(())
        },
    );
    assert!(killed, "the running task's worker was killed");
    assert_eq!(
        order,
        [front, later],
        "the task moved to the front runs first"
    );
    let c = pool.shutdown();
    assert_eq!((c.submitted, c.done, c.cancelled), (4, 2, 2));
    assert_eq!(c.submitted, c.finished());
}

#[test]
fn a_failed_task_retried_runs_again_as_a_new_task() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran-once");
    let mut pool = pool(1).build().unwrap();
    // Fails the first time, succeeds the second.
    let line = format!(
        "shell test -e {0} || {{ touch {0}; exit 3; }}",
        mark.display()
    );
    let first = pool.submit(task(&line));
    assert_eq!(finished(&mut pool, first).state, TaskState::Failed);
    pool.send(Command::RetryTask(first));
    let retry = wait_event(&mut pool, LONG, "the retry", |ev| match ev {
        PoolEvent::TaskRetried { task, retry } if *task == first => Some(*retry),
        _ => None,
    });
    assert!(retry.0 > first.0, "a retry has a new id");
    let r = finished(&mut pool, retry);
    assert_eq!((r.state, &*r.line), (TaskState::Done, line.as_str()));
    // A done task, and one retried already, cannot be retried.
    pool.send(Command::RetryTask(retry));
    pool.send(Command::RetryTask(first));
    for _ in 0..2 {
        let message = wait_event(&mut pool, LONG, "a refusal", |ev| match ev {
            PoolEvent::Error { message, .. } => Some(message.clone()),
            _ => None,
        });
        assert!(
            message.contains("ended done or was retried already"),
            "{message}"
        );
    }
    let c = pool.shutdown();
    assert_eq!((c.submitted, c.done, c.failed, c.retried), (2, 1, 1, 1));
    assert_eq!(c.submitted, c.finished());
}

#[test]
fn retry_failed_runs_every_failed_task_again_and_no_other() {
    let mut pool = pool(2).build().unwrap();
    let ids: Vec<TaskId> = ["fail a", "square 5", "fail b"]
        .iter()
        .map(|l| pool.submit(task(l)))
        .collect();
    wait_event(&mut pool, LONG, "the tasks to end", |ev| {
        matches!(ev, PoolEvent::Drained(_)).then_some(())
    });
    assert_eq!(ids.len(), 3);
    pool.send(Command::RetryFailed);
    let mut retried = Vec::new();
    wait_event(&mut pool, LONG, "two retries to fail again", |ev| {
        if let PoolEvent::TaskRetried { task, retry } = ev {
            retried.push((*task, *retry));
        }
        let again = matches!(ev, PoolEvent::TaskFinished(r) if r.state == TaskState::Failed);
        (again && retried.len() == 2).then_some(())
    });
    let olds: Vec<TaskId> = retried.iter().map(|(old, _)| *old).collect();
    assert_eq!(olds, [ids[0], ids[2]]);
    let c = pool.shutdown();
    assert_eq!((c.submitted, c.done, c.failed, c.retried), (5, 1, 4, 2));
}
