//! App state: intents in, commands out, without a terminal or a pool.

use std::time::Duration;

use crate::ui::app::{AppConfig, Effect, Quitting};
use crate::ui::focus::{Mode, Pane};
use crate::ui::msg::{Action, Edit, Msg};
use crate::ui::status::StateKind;
use crate::ui::testkit::Script;
use pooltop::engine::events::{Command, ExitHow, PoolEvent, TaskId, TaskState, WorkerId};

fn script() -> Script {
    let mut s = Script::new(
        AppConfig {
            title: "test".into(),
            workers: 2,
            join_timeout: Duration::from_secs(5),
            task_timeout: None,
            exit_when_done: false,
            attached: false,
        },
        80,
        24,
    );
    s.worker(1, 101).worker(2, 102);
    s
}

fn sent(e: Option<Effect>) -> Option<Command> {
    match e {
        Some(Effect::Send(c)) => Some(c),
        _ => None,
    }
}

macro_rules! assert_cmd {
    ($e:expr, $p:pat) => {{
        let c = sent($e);
        assert!(matches!(c, Some($p)), "got {c:?}");
    }};
}

fn type_text(s: &mut Script, text: &str) {
    for c in text.chars() {
        s.msg(Edit::Insert(c));
    }
}

#[test]
fn actions_aim_at_the_selected_worker_id_even_when_rows_move() {
    let mut s = script();
    assert_eq!(s.app.workers.selected, Some(WorkerId(1)));
    s.msg(Action::Down);
    assert_eq!(s.app.workers.selected, Some(WorkerId(2)));
    // A new worker with a lower position appears... ids sort, so add one
    // before w2 is impossible; instead w1 leaves and its row is pruned.
    s.msg(PoolEvent::WorkerExited {
        worker: WorkerId(1),
        pid: 101,
        how: ExitHow::Exited(0),
    });
    s.at(10.0).msg(Msg::Tick);
    assert_eq!(s.app.workers.len(), 1);
    assert_cmd!(s.msg(Action::TogglePause), Command::Pause(WorkerId(2)));
    assert_cmd!(s.msg(Action::Kill), Command::Kill(WorkerId(2)));
}

#[test]
fn pause_toggles_on_the_pool_s_word() {
    let mut s = script();
    assert_cmd!(s.msg(Action::TogglePause), Command::Pause(WorkerId(1)));
    // Until the pool confirms, the worker is not paused: p sends Pause again.
    s.msg(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    assert_cmd!(s.msg(Action::TogglePause), Command::Resume(WorkerId(1)));
    s.msg(PoolEvent::WorkerResumed {
        worker: WorkerId(1),
    });
    assert_cmd!(s.msg(Action::TogglePause), Command::Pause(WorkerId(1)));
}

#[test]
fn dispatch_toggles() {
    let mut s = script();
    assert_cmd!(s.msg(Action::ToggleDispatch), Command::PauseDispatch);
    s.msg(PoolEvent::DispatchPaused(true));
    assert_cmd!(s.msg(Action::ToggleDispatch), Command::ResumeDispatch);
}

#[test]
fn terminate_marks_the_row_and_counts_down() {
    let mut s = script();
    assert_cmd!(s.msg(Action::Terminate), Command::Terminate(WorkerId(1)));
    let now = s.app.now;
    assert_eq!(
        s.app.workers.kind_of(WorkerId(1)).unwrap(),
        StateKind::Stopping
    );
    // A second t does not send again; K still kills.
    assert!(s.msg(Action::Terminate).is_none());
    s.msg(PoolEvent::WorkerStopping {
        worker: WorkerId(1),
        join_timeout: Some(Duration::from_secs(5)),
    });
    let row = s.app.workers.row(WorkerId(1)).unwrap();
    assert_eq!(
        row.stopping.unwrap().deadline,
        Some(now + Duration::from_secs(5))
    );
    assert_cmd!(s.msg(Action::Kill), Command::Kill(WorkerId(1)));
}

#[test]
fn scale_accumulates_before_the_pool_answers() {
    let mut s = script();
    assert_cmd!(s.msg(Action::ScaleUp), Command::Scale(3));
    assert_cmd!(s.msg(Action::ScaleUp), Command::Scale(4));
    assert_cmd!(s.msg(Action::ScaleDown), Command::Scale(3));
    s.msg(PoolEvent::Scaled { workers: 1 });
    assert!(s.msg(Action::ScaleDown).is_none(), "never below one");
    assert!(s.app.toast.is_some());
}

#[test]
fn quit_is_graceful_then_kills() {
    let mut s = script();
    assert_cmd!(s.msg(Action::Quit), Command::Shutdown);
    assert_eq!(s.app.quitting, Quitting::Graceful);
    assert!(!s.app.should_exit());
    assert_cmd!(s.msg(Action::Quit), Command::KillAll);
    assert!(s.msg(Action::Quit).is_none());
    s.msg(PoolEvent::Stopped(Default::default()));
    assert!(s.app.should_exit());
}

#[test]
fn submit_validates_as_you_type_and_submits_a_task() {
    let mut s = script();
    s.msg(Action::Submit);
    assert_eq!(s.app.mode, Mode::Submit);
    type_text(&mut s, "spn 5");
    let err = s.app.submit_error.clone().expect("an error while typing");
    assert!(err.contains("unknown task kind"), "{err}");
    assert!(
        s.msg(Edit::Confirm).is_none(),
        "an invalid line is not sent"
    );
    assert_eq!(s.app.mode, Mode::Submit);
    // Fix it: "spn 5" -> "spin 5".
    for _ in 0..3 {
        s.msg(Edit::Left);
    }
    s.msg(Edit::Insert('i'));
    assert_eq!(s.app.submit.text, "spin 5");
    assert!(s.app.submit_error.is_none());
    match s.msg(Edit::Confirm) {
        Some(Effect::Submit(t)) => assert_eq!(&*t.line, "spin 5"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.app.mode, Mode::Normal);
    // Keys typed in the prompt are text, not commands.
    s.msg(Action::Submit);
    type_text(&mut s, "q");
    assert_eq!(s.app.quitting, Quitting::No);
    s.msg(Edit::Cancel);
    assert_eq!(s.app.mode, Mode::Normal);
}

#[test]
fn help_opens_and_closes() {
    let mut s = script();
    s.msg(Action::Help);
    assert_eq!(s.app.mode, Mode::Help);
    s.msg(Action::Help);
    assert_eq!(s.app.mode, Mode::Normal);
    s.msg(Action::Help);
    s.msg(Action::Back);
    assert_eq!(s.app.mode, Mode::Normal);
}

#[test]
fn tab_cycles_panes_and_arrows_follow_focus() {
    let mut s = script();
    s.queue(&["square 1", "square 2", "square 3"]);
    assert_eq!(s.app.focus, Pane::Workers);
    s.msg(Action::NextPane);
    assert_eq!(s.app.focus, Pane::Tasks);
    s.msg(Action::Down);
    assert_eq!(s.app.tasks.selected, Some(TaskId(1)));
    s.msg(Action::Down);
    assert_eq!(s.app.tasks.selected, Some(TaskId(2)));
    assert_eq!(
        s.app.workers.selected,
        Some(WorkerId(1)),
        "workers untouched"
    );
    s.msg(Action::Back);
    assert_eq!(s.app.tasks.selected, None, "Esc follows again");
    s.msg(Action::PrevPane);
    s.msg(Action::PrevPane);
    assert_eq!(s.app.focus, Pane::Log);
}

#[test]
fn filter_narrows_tasks_and_esc_clears() {
    let mut s = script();
    s.queue(&["square 1", "fail boom", "square 3"]);
    s.start(2, 1)
        .finish(2, 1, TaskState::Failed, "", Some("boom"), 0.1);
    s.msg(Action::Filter);
    type_text(&mut s, "fail");
    assert_eq!(s.app.tasks.list_len(), 1);
    s.msg(Edit::Confirm);
    assert_eq!(s.app.mode, Mode::Normal);
    assert_eq!(s.app.tasks.list_len(), 1);
    s.msg(Action::Back);
    assert_eq!(s.app.tasks.list_len(), 3);
}

#[test]
fn counters_and_worker_rows_follow_events() {
    let mut s = script();
    s.queue(&["spin 1e9", "square 2"]);
    s.at(1.0).start(1, 1).start(2, 2);
    s.at(1.5).finish(2, 2, TaskState::Done, "4", None, 0.5);
    let c = s.app.tasks.counts;
    assert_eq!((c.queued, c.running, c.done), (0, 1, 1));
    let w1 = s.app.workers.row(WorkerId(1)).unwrap();
    assert_eq!(w1.task.as_ref().map(|h| h.task), Some(TaskId(1)));
    assert_eq!(s.app.workers.row(WorkerId(2)).unwrap().done, 1);
    // w1 dies holding task 1: it is retried.
    s.msg(PoolEvent::TaskRetrying {
        task: TaskId(1),
        worker: WorkerId(1),
        reason: "worker crashed".into(),
    });
    s.msg(PoolEvent::WorkerExited {
        worker: WorkerId(1),
        pid: 101,
        how: ExitHow::Crashed {
            signal: Some(6),
            code: None,
        },
    });
    assert_eq!(s.app.tasks.counts.queued, 1);
    assert_eq!(
        s.app.workers.kind_of(WorkerId(1)).unwrap(),
        StateKind::Crashed
    );
    assert!(s.app.log.entries.iter().any(|e| e.text.contains("crashed")));
}

#[test]
fn a_worker_the_pool_reports_hung_is_flagged_until_it_is_not() {
    let mut s = script();
    s.queue(&["hang"]);
    s.at(1.0).start(1, 1);
    s.at(2.0)
        .sample(&[1.0, 1.0], &[(101, 0.0, 5), (102, 0.0, 5)]);
    let row = |s: &Script| s.app.workers.kind_of(WorkerId(1)).unwrap();
    assert_eq!(row(&s), StateKind::Busy, "no CPU alone is not hung");
    // However short the pool's `hung_after` is (here 0.3 s), its word counts.
    s.at(2.3).msg(PoolEvent::WorkerHung {
        worker: WorkerId(1),
        pid: 101,
        task: TaskId(1),
        idle: Duration::from_millis(300),
    });
    assert_eq!(row(&s), StateKind::Hung);
    let since = s
        .app
        .workers
        .row(WorkerId(1))
        .unwrap()
        .hung_since
        .expect("flagged");
    let quiet = s.app.now.saturating_duration_since(since);
    assert_eq!(quiet, Duration::from_millis(300), "quiet since 2.0 s");
    s.msg(PoolEvent::WorkerUnhung {
        worker: WorkerId(1),
        task: TaskId(1),
    });
    assert_eq!(row(&s), StateKind::Busy);
    s.msg(PoolEvent::WorkerHung {
        worker: WorkerId(1),
        pid: 101,
        task: TaskId(1),
        idle: Duration::from_secs(10),
    });
    // Paused is not hung.
    s.msg(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    assert_eq!(row(&s), StateKind::Paused);
}

#[test]
fn exit_when_done_shuts_down_on_drain() {
    let mut s = script();
    s.app.cfg.exit_when_done = true;
    s.queue(&["square 2"]);
    s.start(1, 1).finish(1, 1, TaskState::Done, "4", None, 0.1);
    let counts = pooltop::engine::events::Counts {
        submitted: 1,
        done: 1,
        ..Default::default()
    };
    assert_cmd!(s.msg(PoolEvent::Drained(counts)), Command::Shutdown);
}

#[test]
fn exit_when_done_waits_for_every_task_it_submitted() {
    let mut s = script();
    s.app.cfg.exit_when_done = true;
    s.queue(&["square 2", "square 3"]);
    s.start(1, 1).finish(1, 1, TaskState::Done, "4", None, 0.1);
    // Drained after the first slice only: one of the two counted.
    let counts = pooltop::engine::events::Counts {
        submitted: 1,
        done: 1,
        ..Default::default()
    };
    assert!(s.msg(PoolEvent::Drained(counts)).is_none());
    assert_eq!(s.app.quitting, Quitting::No);
}

#[test]
fn a_hangup_kills_at_once() {
    let mut s = script();
    assert_cmd!(
        s.msg(Msg::Signal(crate::ui::msg::Signal::Hangup)),
        Command::KillAll
    );
    assert!(s.app.hung_up);
}

#[test]
fn clicks_select_by_row_and_wheel_scrolls() {
    let mut s = script();
    let a = s.app.areas();
    s.msg(Msg::Click {
        col: 3,
        row: a.workers.y + 3,
    });
    assert_eq!(s.app.workers.selected, Some(WorkerId(2)));
    s.msg(Msg::Scroll {
        col: 3,
        row: a.workers.y + 3,
        down: false,
    });
    assert_eq!(s.app.workers.selected, Some(WorkerId(1)));
    s.queue(&["square 1", "square 2"]);
    s.msg(Msg::Click {
        col: 3,
        row: a.tasks.y + 3,
    });
    assert_eq!(s.app.focus, Pane::Tasks);
    assert_eq!(s.app.tasks.selected, Some(TaskId(2)));
}

#[test]
fn sigterm_is_graceful_then_kills() {
    let mut s = script();
    let term = || Msg::Signal(crate::ui::msg::Signal::Terminate);
    assert_cmd!(s.msg(term()), Command::Shutdown);
    assert_cmd!(s.msg(term()), Command::KillAll);
    assert!(!s.app.hung_up);
}

#[test]
fn remapped_keys_drive_the_app_and_the_old_ones_do_nothing() {
    let mut s = script();
    let file = "[keys]\nkill = \"x\"\ndown = [\"n\"]\nquit = \"Q\"\nhelp = \"F1\"\n";
    let layer = crate::config::parse(file, "c.toml", &crate::config::no_key_check).unwrap();
    s.app.keys = crate::ui::keymap::Keymap::from_binds(&layer.keys).unwrap();
    assert_eq!(s.app.workers.selected, Some(WorkerId(1)));
    assert!(s.press("j").is_none());
    assert_eq!(
        s.app.workers.selected,
        Some(WorkerId(1)),
        "j no longer moves"
    );
    s.press("n");
    assert_eq!(s.app.workers.selected, Some(WorkerId(2)));
    assert!(s.press("K").is_none(), "K no longer kills");
    assert_cmd!(s.press("x"), Command::Kill(WorkerId(2)));
    s.press("F1");
    assert_eq!(s.app.mode, Mode::Help);
    // In the overlay, the new quit key closes it, as q did.
    s.press("Q");
    assert_eq!(s.app.mode, Mode::Normal);
    assert_eq!(s.app.quitting, Quitting::No);
    assert!(s.press("q").is_none());
    assert_eq!(s.app.quitting, Quitting::No, "q no longer quits");
    assert_cmd!(s.press("Q"), Command::Shutdown);
    assert_eq!(s.app.quitting, Quitting::Graceful);
    // Messages name the keys in force.
    assert!(
        s.app
            .log
            .entries
            .iter()
            .any(|e| e.text.contains("(Q again kills)")),
        "{:?}",
        s.app.log.entries
    );
    assert_cmd!(s.press("Ctrl-c"), Command::KillAll);
}

#[test]
fn a_run_of_tasks_done_fills_each_row_and_the_worker_s_count() {
    let mut s = script();
    let first = s.queue(&["square 2", "square 3", "square 4"]);
    s.start(first.0, 1);
    s.finish(first.0, 1, TaskState::Done, "4", None, 0.001);
    let mut run = pooltop::engine::DoneRun::with_capacity(WorkerId(1), TaskId(first.0 + 1), 2);
    run.push("9", Duration::from_micros(3), "square 3".into());
    run.push("16", Duration::from_micros(4), "square 4".into());
    s.msg(PoolEvent::TasksDone(Box::new(run)));
    assert_eq!(s.app.workers.row(WorkerId(1)).unwrap().done, 3);
    assert!(
        s.app.workers.row(WorkerId(1)).unwrap().task.is_none(),
        "idle again"
    );
    assert_eq!(s.app.tasks.counts.done, 3);
    let last = s.app.tasks.get(TaskId(first.0 + 2)).expect("row");
    let report = last.report.as_ref().expect("a report for the detail view");
    assert_eq!((report.output.value.as_str(), report.attempts), ("16", 1));
}

#[test]
fn submit_refuses_a_task_that_would_overwrite_a_file_of_the_run() {
    use crate::report::outputs::{OutputClaims, SharedClaims};
    use pooltop::task::TaskSpec;
    let claims = SharedClaims::new(OutputClaims::new(std::path::Path::new("out")));
    let first = TaskSpec::parse("thumbnail imgs/hills.png").unwrap();
    claims.claim([(&first, "t.txt:1".to_string())]).unwrap();
    let mut s = script();
    s.app.claims = Some(claims);
    s.msg(Action::Submit);
    type_text(&mut s, "thumbnail other/hills.jpg");
    assert!(s.msg(Edit::Confirm).is_none(), "refused");
    let err = s.app.submit_error.clone().expect("the reason");
    assert!(
        err.starts_with("<prompt>: would write `out/hills.png`, which t.txt:1 writes too"),
        "{err}"
    );
    assert_eq!(s.app.mode, Mode::Submit, "the line stays to be changed");
}

#[test]
fn a_submission_the_pool_refused_adds_no_task() {
    let mut s = script();
    let before = s.app.tasks.len();
    s.app
        .submitted(TaskId(0), [std::sync::Arc::from("thumbnail x.png")]);
    let toast = s.app.toast.clone().expect("a word about it").0;
    assert!(toast.contains("refused"), "{toast}");
    assert_eq!(s.app.tasks.len(), before, "no row for task 0");
    s.app
        .submitted(TaskId(1), [std::sync::Arc::from("square 2")]);
    assert_eq!(s.app.tasks.len(), before + 1);
}
