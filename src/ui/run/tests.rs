//! The whole dashboard loop on a `TestBackend` (gitui's habit): a scripted
//! sequence of pool events, key presses and a resize goes through the loop's
//! channel, [`drive_on`] runs until the pool has stopped (or is gone), and
//! the test reads the frame it drew and the orders it gave the pool. The
//! loop's clock stands still, so every time and rate on screen is fixed;
//! every message is queued before the loop starts, so it handles them all in
//! one batch and draws one frame.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

use crate::ui::app::AppConfig;
use crate::ui::theme::Theme;
use pooltop::engine::events::{Counts, ExitHow, TaskId, TaskReport, TaskState, WorkerId};
use pooltop::engine::{AttachedPool, PoolConfig, Task};
use pooltop::task::TaskOutput;

use super::*;

/// A pool that records the orders and the tasks it is given, and hands out
/// task ids after the ones it has queued itself.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Command>>,
    submitted: Mutex<Vec<Task>>,
    allocated: AtomicU64,
}

impl AttachedPool for Recorder {
    fn send(&self, cmd: Command) -> bool {
        self.sent.lock().unwrap().push(cmd);
        true
    }

    fn submit_all(&self, tasks: Vec<Task>) -> Vec<TaskId> {
        let n = tasks.len() as u64;
        let first = self.allocated.fetch_add(n, Ordering::Relaxed) + 1;
        self.submitted.lock().unwrap().extend(tasks);
        (first..first + n).map(TaskId).collect()
    }

    fn tasks_allocated(&self) -> u64 {
        self.allocated.load(Ordering::Relaxed)
    }
}

/// A script of messages for the loop, and the pool it will give orders to.
struct Run {
    tx: Sender<Incoming>,
    rx: Receiver<Incoming>,
    pool: Arc<Recorder>,
}

/// What the loop left behind.
struct Ran {
    app: App,
    screen: String,
    tally: Tally,
    sent: Vec<Command>,
    submitted: Vec<Task>,
    tasks_allocated: u64,
}

/// Where the loop's clock stands: this long after the app started.
const CLOCK_AT: Duration = Duration::from_secs(12);

impl Run {
    fn new() -> Run {
        let (tx, rx) = mpsc::channel();
        Run {
            tx,
            rx,
            pool: Arc::default(),
        }
    }

    /// Queues a message for the loop.
    fn send(&mut self, m: Incoming) -> &mut Run {
        self.tx.send(m).unwrap();
        self
    }

    /// A pool event.
    fn pool(&mut self, ev: PoolEvent) -> &mut Run {
        self.send(Incoming::Pool(ev))
    }

    /// A key press without modifiers.
    fn key(&mut self, code: KeyCode) -> &mut Run {
        self.send(Incoming::Term(Event::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))))
    }

    /// Types `text` one character at a time.
    fn type_text(&mut self, text: &str) -> &mut Run {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
        self
    }

    /// A worker spawned and ready.
    fn worker(&mut self, id: u32, pid: u32) -> &mut Run {
        let worker = WorkerId(id);
        self.pool(PoolEvent::WorkerSpawned { worker, pid })
            .pool(PoolEvent::WorkerReady { worker, pid })
    }

    /// The pool queued these tasks (from a task file, say): it numbers
    /// them, and later submissions come after them.
    fn queued(&mut self, lines: &[&str]) -> &mut Run {
        let count = lines.len();
        let first = TaskId(
            self.pool
                .allocated
                .fetch_add(count as u64, Ordering::Relaxed)
                + 1,
        );
        let lines = lines.iter().map(|l| Arc::from(*l)).collect();
        self.pool(PoolEvent::TasksQueued {
            first,
            count,
            lines,
        })
    }

    /// Task `task` starts on worker `w`.
    fn started(&mut self, task: u64, w: u32, line: &str) -> &mut Run {
        self.pool(PoolEvent::TaskStarted {
            task: TaskId(task),
            worker: WorkerId(w),
            attempt: 1,
            line: Arc::from(line),
        })
    }

    /// Task `task` ends on worker `w` in `state` (its value, if any, is 49).
    fn finished(&mut self, task: u64, w: u32, line: &str, state: TaskState) -> &mut Run {
        self.pool(PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(task),
            worker: Some(WorkerId(w)),
            state,
            output: TaskOutput {
                value: "49".into(),
                ..Default::default()
            },
            error: None,
            wall: Duration::from_millis(100),
            cpu: Duration::from_millis(90),
            max_rss: None,
            attempts: 1,
            line: Arc::from(line),
        })))
    }

    /// Runs the loop on a terminal first `w`x`h` over the messages sent so
    /// far. The sender is dropped first, so a loop that misses its way out
    /// still ends (and the test's asserts say what it missed).
    fn drive(self, w: u16, h: u16) -> Ran {
        let Run { tx, rx, pool } = self;
        drop(tx);
        let t0 = Instant::now();
        let clock = move || t0 + CLOCK_AT;
        let cfg = AppConfig {
            title: "demo".into(),
            workers: 2,
            join_timeout: Duration::from_secs(5),
            task_timeout: Some(Duration::from_secs(30)),
            exit_when_done: false,
            attached: false,
        };
        let mut app = App::new(cfg, Theme::COLOR, t0);
        let handle = PoolHandle::attached(
            pool.clone(),
            PoolConfig {
                workers: 2,
                ..PoolConfig::default()
            },
        );
        let mut tally = Tally::new(2);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        drive_on(
            &mut terminal,
            &mut app,
            Wiring {
                pool: &handle,
                rx: &rx,
                tally: &mut tally,
            },
            &clock,
        );
        Ran {
            app,
            screen: terminal.backend().to_string(),
            tally,
            sent: pool.sent.lock().unwrap().clone(),
            submitted: pool.submitted.lock().unwrap().clone(),
            tasks_allocated: pool.tasks_allocated(),
        }
    }
}

/// Two workers run three tasks; the user pauses the selected worker and
/// quits; the pool shuts down and says it stopped, which ends the loop.
#[test]
fn a_run_paused_quit_and_stopped() {
    let mut run = Run::new();
    // The terminal grew to 100x30 (from the app's first 80x24) before
    // anything else came in.
    run.send(Incoming::Term(Event::Resize(100, 30)));
    run.worker(1, 4101).worker(2, 4102);
    run.queued(&["square 7", "spin 1e9", "sleep 2"]);
    run.started(1, 1, "square 7")
        .finished(1, 1, "square 7", TaskState::Done)
        .started(2, 1, "spin 1e9")
        .started(3, 2, "sleep 2");
    // w1 is selected (the first worker seen).
    run.key(KeyCode::Char('p'));
    run.pool(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    run.key(KeyCode::Char('q'));
    for w in [1, 2] {
        run.pool(PoolEvent::WorkerStopping {
            worker: WorkerId(w),
            join_timeout: Some(Duration::from_secs(5)),
        });
    }
    run.finished(2, 1, "spin 1e9", TaskState::Cancelled)
        .finished(3, 2, "sleep 2", TaskState::Done);
    run.pool(PoolEvent::WorkerExited {
        worker: WorkerId(1),
        pid: 4101,
        how: ExitHow::Exited(0),
    });
    run.pool(PoolEvent::WorkerExited {
        worker: WorkerId(2),
        pid: 4102,
        how: ExitHow::Killed {
            signal: 9,
            reason: "join timeout".into(),
        },
    });
    let counts = Counts {
        submitted: 3,
        done: 2,
        failed: 0,
        timed_out: 0,
        cancelled: 1,
        retried: 0,
    };
    run.pool(PoolEvent::Stopped(counts));
    let ran = run.drive(100, 30);

    assert!(
        matches!(
            ran.sent.as_slice(),
            [Command::Pause(WorkerId(1)), Command::Shutdown]
        ),
        "{:?}",
        ran.sent
    );
    assert!(ran.submitted.is_empty());
    assert_eq!(ran.app.stopped, Some(counts));
    assert_eq!(ran.tally.counts, counts, "every pool event was tallied");
    assert_eq!(ran.app.size, Rect::new(0, 0, 100, 30));
    // The frame is 100 wide, so the table has its CPU history column.
    assert!(ran.screen.contains("cpu hist"), "{}", ran.screen);
    assert!(ran.screen.contains(" STOPPED "), "{}", ran.screen);
    // Quit sent the shutdown, and the footer offers the kill.
    assert!(ran.screen.contains("q kills now"), "{}", ran.screen);
    assert!(ran.screen.contains("1 tasks cancelled"), "{}", ran.screen);
    assert_snapshot!(ran.screen);
}

/// The user moves to the second worker and pauses it, then submits a task
/// from the prompt; the pool's event stream ends, which ends the loop.
#[test]
fn a_pause_and_a_submission_then_the_pool_is_gone() {
    let mut run = Run::new();
    run.worker(1, 4101).worker(2, 4102);
    run.queued(&["spin 1e9", "spin 2e9"]);
    run.started(1, 1, "spin 1e9").started(2, 2, "spin 2e9");
    run.key(KeyCode::Down).key(KeyCode::Char('p'));
    run.pool(PoolEvent::WorkerPaused {
        worker: WorkerId(2),
    });
    run.key(KeyCode::Char('s'))
        .type_text("square 9")
        .key(KeyCode::Enter);
    run.send(Incoming::PoolGone);
    let ran = run.drive(80, 24);

    assert!(
        matches!(ran.sent.as_slice(), [Command::Pause(WorkerId(2))]),
        "{:?}",
        ran.sent
    );
    let lines: Vec<&str> = ran.submitted.iter().map(|t| &*t.line).collect();
    assert_eq!(lines, ["square 9"]);
    // It got the id after the two queued tasks, and the app knows its line.
    assert_eq!(ran.tasks_allocated, 3);
    assert_eq!(
        ran.app.tasks.get(TaskId(3)).map(|r| &*r.line),
        Some("square 9")
    );
    assert_eq!(
        ran.app.tasks.get(TaskId(1)).map(|r| &*r.line),
        Some("spin 1e9")
    );
    assert!(ran.app.pool_gone);
    assert_eq!(ran.app.stopped, None);
    assert_eq!(ran.app.workers.selected, Some(WorkerId(2)));
    assert!(ran.screen.contains("POOL GONE"), "{}", ran.screen);
    let w2 = ran
        .screen
        .lines()
        .find(|l| l.contains("4102"))
        .expect("w2's row");
    assert!(w2.contains("paused"), "{w2}");
    assert_snapshot!(ran.screen);
}
