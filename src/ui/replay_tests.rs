//! The replay against the live dashboard: one scripted run fed to a live
//! app and written as the JSON event stream; the stream replayed into a
//! second app must end in the same state. And the replay loop on a
//! `TestBackend`: seek to the end, steering refused, a cut file named.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use crate::report::json::event_json;
use crate::report::replay_read::Reader;
use crate::ui::app::playback::Playback;
use crate::ui::app::{App, AppConfig};
use crate::ui::msg::Msg;
use crate::ui::replay::{Session, play};
use crate::ui::run::Incoming;
use crate::ui::theme::Theme;
use pooltop::engine::events::{
    Counts, DoneRun, ExitHow, PoolEvent, TaskId, TaskReport, TaskState, WorkerId,
};
use pooltop::task::TaskOutput;

fn finished(task: u64, w: u32, state: TaskState, wall: f64, line: &str) -> PoolEvent {
    // A task cancelled before it ran has no worker (w 0 here) and no attempt.
    let ran = w != 0;
    PoolEvent::TaskFinished(Box::new(TaskReport {
        task: TaskId(task),
        worker: ran.then_some(WorkerId(w)),
        state,
        output: TaskOutput::default(),
        error: (state != TaskState::Done).then(|| "boom".to_string()),
        wall: Duration::from_secs_f64(wall),
        cpu: Duration::ZERO,
        attempts: u32::from(ran),
        max_rss: None,
        line: Arc::from(line),
    }))
}

fn started(task: u64, w: u32) -> PoolEvent {
    PoolEvent::TaskStarted {
        task: TaskId(task),
        worker: WorkerId(w),
        attempt: 1,
        line: Arc::from("?"),
    }
}

/// A run of two workers: slow tasks, failures, a pause, a chunk of
/// instant tasks, a worker replaced, the pool stopped.
fn run() -> Vec<(f64, PoolEvent)> {
    let mut ev = Vec::new();
    for w in 1..=2u32 {
        ev.push((
            0.01,
            PoolEvent::WorkerSpawned {
                worker: WorkerId(w),
                pid: 100 + w,
            },
        ));
        ev.push((
            0.01,
            PoolEvent::WorkerSlot {
                worker: WorkerId(w),
                slot: w,
            },
        ));
        ev.push((
            0.02,
            PoolEvent::WorkerReady {
                worker: WorkerId(w),
                pid: 100 + w,
            },
        ));
    }
    let lines: Vec<Arc<str>> = (1..=10)
        .map(|i| Arc::from(format!("sleep 0.{i}")))
        .collect();
    ev.push((
        0.03,
        PoolEvent::TasksQueued {
            first: TaskId(1),
            count: 10,
            lines,
        },
    ));
    ev.push((0.1, started(1, 1)));
    ev.push((0.1, started(2, 2)));
    ev.push((1.0, finished(1, 1, TaskState::Done, 0.9, "sleep 0.1")));
    ev.push((1.2, finished(2, 2, TaskState::Failed, 1.1, "sleep 0.2")));
    ev.push((
        1.3,
        PoolEvent::WorkerPaused {
            worker: WorkerId(1),
        },
    ));
    ev.push((
        2.0,
        PoolEvent::WorkerResumed {
            worker: WorkerId(1),
        },
    ));
    let mut chunk = DoneRun::with_capacity(WorkerId(1), TaskId(3), 5);
    for i in 3..=7 {
        chunk.push(
            "ok",
            Duration::from_millis(10),
            Arc::from(format!("sleep 0.{i}")),
        );
    }
    ev.push((2.5, PoolEvent::TasksDone(Box::new(chunk))));
    ev.extend(second_half());
    ev
}

/// From 2.6 s: a worker crashes and is replaced, a timeout, a cancellation.
fn second_half() -> Vec<(f64, PoolEvent)> {
    let mut ev = vec![(2.6, started(8, 2))];
    ev.push((
        2.7,
        PoolEvent::WorkerExited {
            worker: WorkerId(2),
            pid: 102,
            how: ExitHow::Crashed {
                signal: Some(9),
                code: None,
            },
        },
    ));
    ev.push((
        2.7,
        PoolEvent::TaskRetrying {
            task: TaskId(8),
            worker: WorkerId(2),
            reason: "crashed".into(),
        },
    ));
    ev.push((
        2.8,
        PoolEvent::WorkerSpawned {
            worker: WorkerId(3),
            pid: 103,
        },
    ));
    ev.push((
        2.8,
        PoolEvent::WorkerSlot {
            worker: WorkerId(3),
            slot: 2,
        },
    ));
    ev.push((
        2.85,
        PoolEvent::WorkerReady {
            worker: WorkerId(3),
            pid: 103,
        },
    ));
    ev.push((2.9, started(8, 3)));
    ev.push((3.5, finished(8, 3, TaskState::TimedOut, 0.6, "sleep 0.8")));
    ev.push((3.6, started(9, 1)));
    ev.push((4.0, finished(9, 1, TaskState::Done, 0.4, "sleep 0.9")));
    ev.push((
        4.1,
        finished(10, 0, TaskState::Cancelled, 0.0, "sleep 0.10"),
    ));
    let counts = Counts {
        submitted: 10,
        done: 7,
        failed: 1,
        timed_out: 1,
        cancelled: 1,
        retried: 0,
    };
    ev.push((4.2, PoolEvent::Stopped(counts)));
    ev
}

/// The run's JSON event stream, as `--json` writes it, with the summary.
fn stream(events: &[(f64, PoolEvent)]) -> String {
    let mut out = String::new();
    for (t, ev) in events {
        let each: Vec<PoolEvent> = match ev {
            PoolEvent::TasksDone(run) => run.events().collect(),
            PoolEvent::Stopped(c) => {
                out.push_str(&format!(
                    "{{\"event\":\"summary\",\"submitted\":{},\"done\":{},\"failed\":{},\"timed_out\":{},\"cancelled\":{},\"wall_s\":{t}}}\n",
                    c.submitted, c.done, c.failed, c.timed_out, c.cancelled
                ));
                continue;
            }
            ev => vec![ev.clone()],
        };
        for e in each {
            if let Some(v) = event_json(&e, Duration::from_secs_f64(*t)) {
                out.push_str(&format!("{v}\n"));
            }
        }
    }
    out
}

fn live(events: &[(f64, PoolEvent)]) -> App {
    let t0 = Instant::now();
    let mut app = App::new(AppConfig::default(), Theme::MONO, t0);
    for (t, ev) in events {
        app.set_now(t0 + Duration::from_secs_f64(*t));
        if let PoolEvent::TasksQueued { first, lines, .. } = ev {
            app.submitted(*first, lines.iter().cloned());
        }
        app.update(Msg::Pool(ev.clone()));
    }
    app
}

fn session(text: String) -> Session<Cursor<Vec<u8>>> {
    Session::new(Box::new(move || {
        Ok(Reader::new(
            Cursor::new(text.clone().into_bytes()),
            "run.jsonl",
            false,
        ))
    }))
    .unwrap()
}

fn replayed(text: &str) -> App {
    let mut s = session(text.to_string());
    let mut app = App::new(s.config(), Theme::MONO, Instant::now());
    app.replay = Some(Playback::new("run.jsonl", false));
    s.play_to_end(&mut app);
    app
}

fn per_worker(app: &App) -> Vec<(u32, Option<u32>, u64, u64)> {
    app.workers
        .rows()
        .map(|r| (r.id.0, r.slot, r.done, r.failed))
        .collect()
}

#[test]
fn a_replay_ends_where_the_live_run_ended() {
    let events = run();
    let live = live(&events);
    let back = replayed(&stream(&events));
    assert_eq!(back.tasks.counts, live.tasks.counts);
    assert_eq!(back.tasks.counts.done, 7);
    assert_eq!(per_worker(&back), per_worker(&live));
    assert_eq!(back.stopped, live.stopped);
    assert_eq!(back.timeline.span_count(), live.timeline.span_count());
    let busy = |a: &App| -> Vec<u64> {
        a.timeline
            .lanes()
            .iter()
            .map(|l| l.busy(4_200_000))
            .collect()
    };
    assert_eq!(busy(&back), busy(&live), "the same busy time on each lane");
    // A task's line comes back from its finish; its final state too.
    let r = back.tasks.get(TaskId(8)).unwrap();
    assert_eq!((&*r.line, r.phase.name()), ("sleep 0.8", "timed out"));
    assert_eq!(
        back.replay.as_ref().unwrap().at,
        Duration::from_secs_f64(4.2)
    );
}

fn key(c: char) -> Incoming {
    Incoming::Term(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

/// Plays `text` with these keys queued, on a stopped clock, until the keys
/// run out; returns the app and the last frame.
fn play_keys(text: &str, keys: Vec<Incoming>) -> (App, String) {
    let mut s = session(text.to_string());
    let mut app = App::new(s.config(), Theme::MONO, Instant::now());
    app.replay = Some(Playback::new("run.jsonl", false));
    app.update(Msg::Resize {
        width: 100,
        height: 30,
    });
    let (tx, rx) = mpsc::channel();
    for k in keys {
        tx.send(k).unwrap();
    }
    drop(tx);
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let now = Instant::now();
    play(&mut term, &mut app, &mut s, &rx, &|| now);
    let screen = term.backend().to_string();
    (app, screen)
}

#[test]
fn seeking_to_the_end_shows_the_final_counts_and_steering_is_refused() {
    let text = stream(&run());
    let (app, screen) = play_keys(&text, vec![key('G'), key('v')]);
    assert_eq!(app.tasks.counts.done, 7);
    assert!(screen.contains("[replay]"), "{screen}");
    assert!(
        screen.contains("done 7 · failed 1 · timed out 1 · cancelled 1"),
        "{screen}"
    );
    assert!(screen.contains("Timeline"), "{screen}");
    assert!(
        screen.contains("   2 w3 "),
        "slot 2's lane has its new worker: {screen}"
    );
    // A steering key is refused, and nothing reaches a pool (there is none).
    let (_, screen) = play_keys(&text, vec![key('p'), key('+')]);
    assert!(screen.contains("replay: read-only"), "{screen}");
    // Back again: the app is rebuilt from the start, up to 10 s before the end.
    let (app, _) = play_keys(&text, vec![key('G'), key('<')]);
    assert_eq!(app.tasks.counts.finished(), 0, "4.2 s − 10 s is the start");
}

#[test]
fn a_file_cut_mid_line_replays_up_to_it_and_names_the_line() {
    let text = stream(&run());
    let cut = &text[..text.find("\"state\":\"timed_out\"").unwrap()];
    let back = replayed(cut);
    let why = back.replay.as_ref().unwrap().stopped.clone().unwrap();
    let line = cut.lines().count();
    assert_eq!(
        why,
        format!("run.jsonl:{line}: the line is cut short (the file ends mid-line)")
    );
    assert_eq!(back.tasks.counts.done, 6, "everything before the cut is in");
    let (_, screen) = play_keys(cut, vec![key('G')]);
    assert!(screen.contains("replay stopped: run.jsonl:"), "{screen}");
    assert!(screen.contains("stopped at damage"), "{screen}");
}
