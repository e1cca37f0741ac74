//! The engine end to end, with real worker processes, sockets and signals.

mod helpers;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use helpers::*;
use pooltop::platform::{GroupSignal, signal_process};
use pooltop::{ChunkSize, Command, ExitHow, PoolEvent, TaskState, WorkerId};

const LONG: Duration = Duration::from_secs(20);

/// Waits until `n` workers are ready; returns their ids and pids.
fn ready_workers(pool: &mut pooltop::Pool, n: usize) -> Vec<(WorkerId, u32)> {
    let mut ready = Vec::new();
    while ready.len() < n {
        let w = wait_event(pool, LONG, "workers to start", |ev| match ev {
            PoolEvent::WorkerReady { worker, pid } => Some((*worker, *pid)),
            _ => None,
        });
        ready.push(w);
    }
    ready
}

#[test]
fn every_task_ends_exactly_once_in_a_mixed_run() {
    let mut pool = pool(3).retries(1).build().unwrap();
    let mut lines = Vec::new();
    for i in 0..60 {
        lines.push(match i % 6 {
            0 => "fail on purpose".to_string(),
            1 => "crash".to_string(),
            2 => "sleep 0.01".to_string(),
            3 => "shell echo $((6 * 7))".to_string(),
            _ => format!("square {i}"),
        });
    }
    let tasks: Vec<_> = lines.iter().map(|l| task(l)).collect();
    let reports = pool.map(tasks);
    assert_eq!(reports.len(), 60, "every task reports exactly once");
    let mut by_state: HashMap<TaskState, usize> = HashMap::new();
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(&*r.line, lines[i], "map keeps input order");
        *by_state.entry(r.state).or_default() += 1;
        match i % 6 {
            0 => assert_eq!(r.error.as_deref(), Some("on purpose")),
            1 => {
                assert_eq!(r.state, TaskState::Failed);
                assert_eq!(r.attempts, 2, "a crash is retried once, then fails");
                assert!(r.error.as_deref().unwrap().contains("SIGABRT"), "{r:?}");
            }
            3 => assert_eq!(r.output.value, "42\n"),
            2 => assert_eq!(r.state, TaskState::Done),
            _ => assert_eq!(r.output.value, (i * i).to_string()),
        }
    }
    assert_eq!(by_state[&TaskState::Failed], 20);
    assert_eq!(by_state[&TaskState::Done], 40);
    let counts = pool.shutdown();
    assert_eq!(counts.submitted, 60);
    assert_eq!(counts.finished(), 60);
    assert_eq!((counts.done, counts.failed), (40, 20));
}

#[test]
fn sha256_matches_sha256sum() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, len) in [
        ("empty", 0usize),
        ("small file.txt", 100),
        ("big.bin", 3_000_007),
    ] {
        let p = dir.path().join(name);
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&p, data).unwrap();
        paths.push(p);
    }
    let mut pool = pool(2).build().unwrap();
    let tasks = paths.iter().map(|p| {
        task(&format!(
            "sha256 {}",
            shell_words::quote(p.to_str().unwrap())
        ))
    });
    let reports = pool.map(tasks);
    for (p, r) in paths.iter().zip(&reports) {
        let out = std::process::Command::new("sha256sum")
            .arg(p)
            .output()
            .unwrap();
        let expected = String::from_utf8(out.stdout).unwrap();
        let expected = expected.split_whitespace().next().unwrap();
        assert_eq!(r.state, TaskState::Done, "{r:?}");
        assert_eq!(r.output.value, expected, "{}", p.display());
    }
}

#[test]
fn thumbnails_fit_the_box_and_keep_the_aspect() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.png");
    let tall = dir.path().join("tall.jpg");
    image::RgbImage::from_fn(400, 200, |x, y| image::Rgb([x as u8, y as u8, 128]))
        .save(&wide)
        .unwrap();
    image::RgbImage::from_fn(90, 300, |x, y| image::Rgb([x as u8, y as u8, 50]))
        .save(&tall)
        .unwrap();
    let out = dir.path().join("out");
    let mut pool = pool(1).out_dir(&out).build().unwrap();
    let reports = pool.map([
        task(&format!("thumbnail {}", wide.display())),
        task(&format!("thumbnail {} 50x50", tall.display())),
    ]);
    let first = &reports[0];
    assert_eq!(first.state, TaskState::Done, "{first:?}");
    let made = image::open(&first.output.value).unwrap();
    assert_eq!((made.width(), made.height()), (128, 64));
    let second = image::open(&reports[1].output.value).unwrap();
    assert_eq!((second.width(), second.height()), (15, 50));
}

#[test]
fn pause_stops_the_worker_and_resume_lets_it_finish() {
    let mut pool = pool(1).build().unwrap();
    let (w, pid) = ready_workers(&mut pool, 1)[0];
    pool.submit(task("sleep 0.3"));
    wait_event(&mut pool, LONG, "the task to start", |ev| {
        matches!(ev, PoolEvent::TaskStarted { .. }).then_some(())
    });
    pool.send(Command::Pause(w));
    wait_for("state T", LONG, || {
        pooltop::platform::process_state(pid) == Some('T')
    });
    // Longer than the task: a paused worker must finish nothing.
    let deadline = Instant::now() + Duration::from_millis(800);
    while let Some(ev) = pool.next_event_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        assert!(
            !matches!(ev, PoolEvent::TaskFinished(_)),
            "a paused worker finished a task"
        );
    }
    assert_eq!(pooltop::platform::process_state(pid), Some('T'));
    pool.send(Command::Resume(w));
    let r = wait_event(&mut pool, LONG, "the task to finish", |ev| match ev {
        PoolEvent::TaskFinished(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(r.state, TaskState::Done);
    assert_ne!(pooltop::platform::process_state(pid), Some('T'));
}

#[test]
fn terminate_a_hung_worker_within_the_join_timeout() {
    let join = Duration::from_millis(500);
    let mut pool = pool(1).join_timeout(join).build().unwrap();
    let (w, pid) = ready_workers(&mut pool, 1)[0];
    pool.submit(task("hang"));
    wait_event(&mut pool, LONG, "hang to start", |ev| {
        matches!(ev, PoolEvent::TaskStarted { .. }).then_some(())
    });
    let asked = Instant::now();
    pool.send(Command::Terminate(w));
    // The replacement may be ready before the old worker is gone.
    let mut replacement = None;
    let how = wait_event(&mut pool, LONG, "the worker to exit", |ev| match ev {
        PoolEvent::WorkerExited { worker, how, .. } if *worker == w => Some(how.clone()),
        PoolEvent::WorkerReady { worker, .. } => {
            replacement = Some(*worker);
            None
        }
        _ => None,
    });
    let took = asked.elapsed();
    assert!(
        took < join + Duration::from_millis(1500),
        "terminate took {took:?}"
    );
    assert!(matches!(how, ExitHow::Killed { .. }), "{how:?}");
    assert!(!alive(pid), "the terminated worker is gone");
    // Its task is cancelled, and a new worker takes its place.
    let new_worker = replacement.unwrap_or_else(|| ready_workers(&mut pool, 1)[0].0);
    assert_ne!(new_worker, w);
    let counts = pool.shutdown();
    assert_eq!((counts.submitted, counts.cancelled), (1, 1));
}

#[test]
fn an_externally_killed_worker_is_replaced_and_its_task_retried() {
    let mut pool = pool(1).retries(1).build().unwrap();
    let (_, pid) = ready_workers(&mut pool, 1)[0];
    let id = pool.submit(task("sleep 0.5"));
    wait_event(&mut pool, LONG, "the task to start", |ev| {
        matches!(ev, PoolEvent::TaskStarted { .. }).then_some(())
    });
    signal_process(pid, GroupSignal::Kill).unwrap();
    let mut crashed = false;
    let r = wait_event(
        &mut pool,
        LONG,
        "the retried task to finish",
        |ev| match ev {
            PoolEvent::WorkerExited { how, .. } => {
                crashed = matches!(
                    how,
                    ExitHow::Crashed {
                        signal: Some(9),
                        ..
                    }
                );
                None
            }
            PoolEvent::TaskFinished(r) => Some(r.clone()),
            _ => None,
        },
    );
    assert!(crashed, "the death is reported as a crash by SIGKILL");
    assert_eq!(r.task, id);
    assert_eq!(r.state, TaskState::Done);
    assert_eq!(r.attempts, 2);
}

#[test]
fn a_task_over_its_timeout_is_killed_and_its_worker_replaced() {
    let mut pool = pool(1)
        .task_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (w, pid) = ready_workers(&mut pool, 1)[0];
    let reports = pool.map([task("hang"), task("square 3")]);
    assert_eq!(reports[0].state, TaskState::TimedOut);
    assert!(reports[0].error.as_deref().unwrap().contains("timed out"));
    assert_eq!(reports[1].state, TaskState::Done);
    assert!(!alive(pid));
    let _ = w;
}

#[test]
fn scaling_up_and_down_while_running() {
    let mut pool = pool(1).build().unwrap();
    ready_workers(&mut pool, 1);
    pool.send(Command::Scale(3));
    ready_workers(&mut pool, 2);
    pool.send(Command::Scale(1));
    let mut exits = 0;
    while exits < 2 {
        wait_event(&mut pool, LONG, "retired workers to exit", |ev| match ev {
            PoolEvent::WorkerExited { how, .. } => {
                assert_eq!(*how, ExitHow::Exited(0), "retiring is graceful");
                Some(())
            }
            _ => None,
        });
        exits += 1;
    }
    let reports = pool.map((0..20).map(|i| task(&format!("square {i}"))));
    assert!(reports.iter().all(|r| r.state == TaskState::Done));
}

/// Which worker ran each task (its last attempt), from the start events.
fn runners(pool: &mut pooltop::Pool, n: usize) -> HashMap<u64, WorkerId> {
    let mut ran = HashMap::new();
    let mut finished = 0;
    while finished < n {
        match wait_event(pool, LONG, "the tasks to finish", |ev| Some(ev.clone())) {
            PoolEvent::TaskStarted { task, worker, .. } => {
                ran.insert(task.0, worker);
            }
            PoolEvent::TaskFinished(r) => {
                assert_eq!(r.state, TaskState::Done, "{r:?}");
                assert_eq!(
                    ran.get(&r.task.0),
                    r.worker.as_ref(),
                    "started where it ended"
                );
                finished += 1;
            }
            _ => {}
        }
    }
    ran
}

/// Submits `n` copies of `line` in one submission, so that the pool sees
/// them all at once; returns their ids.
fn submit_at_once(pool: &pooltop::Pool, line: &str, n: usize) -> Vec<u64> {
    let ids = pool.handle().submit_all((0..n).map(|_| task(line)));
    ids.iter().map(|id| id.0).collect()
}

#[test]
fn a_chunk_of_tasks_goes_to_one_worker_and_each_is_reported() {
    let mut pool = pool(2).chunksize(ChunkSize::Fixed(4)).build().unwrap();
    ready_workers(&mut pool, 2);
    let ids = submit_at_once(&pool, "sleep 0.02", 8);
    let ran = runners(&mut pool, 8);
    assert_eq!(ran.len(), 8, "every task started once");
    let first = ran[&ids[0]];
    let second = ran[&ids[4]];
    assert_ne!(first, second, "the second chunk went to the other worker");
    for (i, id) in ids.iter().enumerate() {
        let expected = if i < 4 { first } else { second };
        assert_eq!(ran[id], expected, "task {id} ran with its chunk");
    }
    assert_eq!(pool.shutdown().done, 8);
}

#[test]
fn a_killed_worker_gives_back_the_rest_of_its_chunk() {
    let mut pool = pool(2)
        .chunksize(ChunkSize::Fixed(3))
        .retries(1)
        .build()
        .unwrap();
    let workers = ready_workers(&mut pool, 2);
    let ids = submit_at_once(&pool, "sleep 0.6", 6);
    let victim = wait_event(&mut pool, LONG, "a task to start", |ev| match ev {
        PoolEvent::TaskStarted { worker, .. } => Some(*worker),
        _ => None,
    });
    let pid = workers.iter().find(|(w, _)| *w == victim).unwrap().1;
    signal_process(pid, GroupSignal::Kill).unwrap();
    let mut attempts = HashMap::new();
    let mut finished = 0;
    while finished < 6 {
        if let PoolEvent::TaskFinished(r) =
            wait_event(&mut pool, LONG, "the tasks to finish", |ev| {
                Some(ev.clone())
            })
        {
            assert_eq!(r.state, TaskState::Done, "{r:?}");
            attempts.insert(r.task.0, r.attempts);
            finished += 1;
        }
    }
    let mut ids = ids;
    ids.sort();
    let mut seen: Vec<u64> = attempts.keys().copied().collect();
    seen.sort();
    assert_eq!(seen, ids, "every task ended exactly once");
    let retried = attempts.values().filter(|&&a| a == 2).count();
    assert_eq!(
        retried, 1,
        "only the running task was started twice; the rest of its chunk waited: {attempts:?}"
    );
    let counts = pool.shutdown();
    assert_eq!((counts.submitted, counts.done), (6, 6));
}

#[test]
fn automatic_chunks_report_every_task_in_order_of_input() {
    let mut pool = pool(2).chunksize(ChunkSize::Auto).build().unwrap();
    let n = 20_000;
    let reports = pool.map((0..n).map(|i| task(&format!("square {i}"))));
    assert_eq!(reports.len(), n);
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.state, TaskState::Done);
        assert_eq!(r.output.value, (i * i).to_string(), "task {}", r.task);
        assert_eq!(r.attempts, 1);
    }
    assert_eq!(pool.shutdown().done, n as u64);
}

#[test]
fn a_run_of_instant_tasks_comes_as_one_event_with_every_value() {
    let mut pool = pool(1).chunksize(ChunkSize::Fixed(500)).build().unwrap();
    let (worker, _) = ready_workers(&mut pool, 1)[0];
    let n = 2000;
    let ids = pool
        .handle()
        .submit_all((0..n).map(|i| task(&format!("square {i}"))));
    let mut started: HashMap<u64, u32> = HashMap::new();
    let mut values: HashMap<u64, String> = HashMap::new();
    let mut runs = 0;
    while values.len() < n {
        match wait_event(&mut pool, LONG, "the squares", |ev| Some(ev.clone())) {
            PoolEvent::TaskStarted { task, .. } => *started.entry(task.0).or_default() += 1,
            PoolEvent::TaskFinished(r) => {
                assert_eq!(r.state, TaskState::Done, "{r:?}");
                assert_eq!(started.get(&r.task.0), Some(&1), "{} started once", r.task);
                assert!(values.insert(r.task.0, r.output.value).is_none());
            }
            PoolEvent::TasksDone(run) => {
                assert_eq!(run.worker(), worker);
                runs += 1;
                for (task, value, _, line) in run.iter() {
                    assert!(
                        !started.contains_key(&task.0),
                        "{task} in a run had a start of its own"
                    );
                    assert_eq!(&**line, format!("square {}", task.0 - ids[0].0));
                    assert!(values.insert(task.0, value.to_string()).is_none());
                }
            }
            _ => {}
        }
    }
    assert!(runs > 0, "2,000 squares in chunks of 500 came one by one");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(values[&id.0], (i * i).to_string(), "{id}");
    }
    assert_eq!(pool.shutdown().done, n as u64);
}

#[test]
fn map_keeps_the_events_of_other_tasks_that_ended_in_the_same_run() {
    let mut pool = pool(1).chunksize(ChunkSize::Fixed(400)).build().unwrap();
    ready_workers(&mut pool, 1);
    // Submitted just before the map's tasks, so the same chunks (and runs
    // of results) likely hold both; either way each is reported once.
    let others = pool
        .handle()
        .submit_all((0..100).map(|i| task(&format!("square {}", 1000 + i))));
    let reports = pool.map((0..100).map(|i| task(&format!("square {i}"))));
    let got: Vec<String> = reports.into_iter().map(|r| r.output.value).collect();
    let want: Vec<String> = (0..100).map(|i| (i * i).to_string()).collect();
    assert_eq!(got, want);
    let mut finished = HashMap::new();
    while finished.len() < others.len() {
        let ev = pool
            .next_event_timeout(LONG)
            .expect("the other tasks' events were kept");
        let ended: Vec<(u64, String)> = match ev {
            PoolEvent::TaskFinished(r) => vec![(r.task.0, r.output.value)],
            PoolEvent::TasksDone(run) => run.iter().map(|(t, v, ..)| (t.0, v.into())).collect(),
            _ => continue,
        };
        for (task, value) in ended {
            assert!(finished.insert(task, value).is_none(), "#{task} twice");
        }
    }
    for (i, id) in others.iter().enumerate() {
        assert_eq!(finished[&id.0], ((1000 + i) * (1000 + i)).to_string());
    }
}

#[test]
fn reports_left_in_a_run_by_a_dropped_iterator_are_still_events() {
    let mut pool = pool(1).chunksize(ChunkSize::Fixed(100)).build().unwrap();
    ready_workers(&mut pool, 1);
    let first: Vec<pooltop::TaskReport> = pool
        .completed((0..100).map(|i| task(&format!("square {i}"))))
        .take(3)
        .collect();
    assert_eq!(first.len(), 3);
    let mut seen: std::collections::HashSet<u64> = first.iter().map(|r| r.task.0).collect();
    while seen.len() < 100 {
        let ended: Vec<u64> = match pool.next_event_timeout(LONG).expect("the rest") {
            PoolEvent::TaskFinished(r) => vec![r.task.0],
            PoolEvent::TasksDone(run) => run.iter().map(|(t, ..)| t.0).collect(),
            _ => continue,
        };
        for t in ended {
            assert!(seen.insert(t), "#{t} reported twice");
        }
    }
}

#[test]
fn a_long_submission_is_queued_in_slices_with_every_id_in_order() {
    let mut pool = pool(1).build().unwrap();
    let n = pooltop::engine::SUBMIT_SLICE * 2 + 5;
    let ids = pool
        .handle()
        .submit_all((0..n).map(|i| task(&format!("square {i}"))));
    let expected: Vec<pooltop::TaskId> = (1..=n as u64).map(pooltop::TaskId).collect();
    assert_eq!(ids, expected, "consecutive ids, in order");
    let mut next = 1;
    let mut slices = 0;
    while next <= n as u64 {
        let (first, count, lines) =
            wait_event(&mut pool, LONG, "the tasks to queue", |ev| match ev {
                PoolEvent::TasksQueued {
                    first,
                    count,
                    lines,
                } => Some((first.0, *count, lines.len())),
                _ => None,
            });
        assert_eq!(first, next, "slices arrive in order");
        assert_eq!(lines, count);
        next += count as u64;
        slices += 1;
    }
    assert_eq!(slices, 3);
    let counts = pool.shutdown();
    assert_eq!(counts.submitted, n as u64);
    assert_eq!(counts.finished(), n as u64);
}

#[test]
fn no_chunk_is_handed_out_behind_a_task_that_hangs() {
    let mut pool = pool(2).chunksize(ChunkSize::Fixed(2)).build().unwrap();
    ready_workers(&mut pool, 2);
    pool.submit(task("hang"));
    let hung = wait_event(&mut pool, LONG, "the hang to start", |ev| match ev {
        PoolEvent::TaskStarted { worker, .. } => Some(*worker),
        _ => None,
    });
    let ids = submit_at_once(&pool, "sleep 0.01", 4);
    let ran = runners(&mut pool, 4);
    for id in ids {
        assert_ne!(ran[&id], hung, "task {id} was queued behind the hang");
    }
    pool.send(Command::KillAll);
    while pool.next_event().is_some() {}
}
