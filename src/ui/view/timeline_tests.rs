//! Snapshots of the timeline view on a fixed-size `TestBackend`, on a fake
//! clock: bars by state and kind, paused time, 64 lanes, and a zoomed-out
//! run of many tiny tasks bucketed into cells.

use std::time::Duration;

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::ui::app::AppConfig;
use crate::ui::msg::{Action, Msg};
use crate::ui::testkit::Script;
use pooltop::engine::events::{PoolEvent, TaskState, WorkerId};

fn cfg(workers: usize) -> AppConfig {
    AppConfig {
        title: "timeline".into(),
        workers,
        join_timeout: Duration::from_secs(5),
        task_timeout: None,
        exit_when_done: false,
        attached: false,
    }
}

fn screen(s: &Script) -> String {
    let size = s.app.size;
    let mut term = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
    term.draw(|f| f.render_widget(&s.app, f.area())).unwrap();
    term.backend().to_string()
}

fn slot(s: &mut Script, w: u32) {
    s.msg(PoolEvent::WorkerSlot {
        worker: WorkerId(w),
        slot: w,
    });
}

/// Three workers: done and failed bars, a task still running, a paused span.
fn three_lanes() -> Script {
    let mut s = Script::new(cfg(3), 100, 30);
    for w in 1..=3 {
        s.worker(w, 4100 + w);
        slot(&mut s, w);
    }
    s.queue(&[
        "spin 2e9",
        "sleep 3",
        "fail no such file",
        "sha256 assets/cat.png",
        "spin 9e9",
        "shell make",
        "sleep 1",
    ]);
    s.at(0.5).start(1, 1).start(2, 2).start(3, 3);
    s.at(1.5)
        .finish(3, 3, TaskState::Failed, "", Some("no such file"), 1.0);
    s.start(4, 3);
    s.at(3.5).finish(2, 2, TaskState::Done, "", None, 3.0);
    s.at(4.5).finish(1, 1, TaskState::Done, "", None, 4.0);
    s.start(5, 1);
    s.at(6.0).msg(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    s.at(8.0)
        .finish(4, 3, TaskState::TimedOut, "", Some("timed out"), 6.5);
    s.at(9.0).start(6, 2);
    s.at(12.0).finish(6, 2, TaskState::Done, "", None, 3.0);
    s.at(13.0).start(7, 3);
    s.at(14.0).finish(7, 3, TaskState::Done, "", None, 1.0);
    s.at(16.0).msg(Msg::Tick);
    s.msg(Action::Timeline);
    s
}

#[test]
fn timeline_with_done_failed_running_and_paused_spans() {
    let mut s = three_lanes();
    // Zoom in so the bars are wide enough to carry their labels.
    s.msg(Action::ZoomIn);
    s.msg(Action::ZoomIn);
    assert_snapshot!(screen(&s));
}

#[test]
fn timeline_with_64_lanes() {
    let mut s = Script::new(cfg(64), 120, 40);
    for w in 1..=64 {
        s.worker(w, 5000 + w);
        slot(&mut s, w);
    }
    let lines: Vec<String> = (1..=640).map(|i| format!("sleep 0.{}", i % 10)).collect();
    s.queue(&lines);
    let mut task = 1;
    for round in 0..10u64 {
        for w in 1..=64u32 {
            // Lanes start a little apart and some sit idle between tasks.
            let t0 = round as f64 * 2.0 + f64::from(w % 8) * 0.25;
            s.at(t0).start(task, w);
            let state = if task % 97 == 0 {
                TaskState::Failed
            } else {
                TaskState::Done
            };
            s.at(t0 + 1.0 + f64::from(w % 3) * 0.25)
                .finish(task, w, state, "", None, 1.0);
            task += 1;
        }
    }
    s.at(21.0).msg(Msg::Tick);
    s.msg(Action::Timeline);
    for _ in 0..63 {
        s.msg(Action::Down);
    }
    let text = screen(&s);
    assert!(
        text.contains("  64 w64 "),
        "the last lane is on screen:\n{text}"
    );
    assert_snapshot!(text);
}

#[test]
fn zoomed_out_many_tiny_tasks_are_bucketed() {
    let mut s = Script::new(cfg(4), 100, 24);
    for w in 1..=4 {
        s.worker(w, 6000 + w);
        slot(&mut s, w);
    }
    let n = 40_000u64;
    s.queue_many(n as usize);
    // 10 000 tasks of 1 ms on each worker over 20 s; worker 4 works only
    // in the first half and fails every 500th task.
    let mut task = 1;
    for i in 0..10_000u64 {
        for w in 1..=4u32 {
            if w == 4 && i >= 5_000 {
                task += 1;
                continue;
            }
            let t = i as f64 * 0.002 + 0.001;
            s.at(t).start(task, w);
            let state = if w == 4 && i % 500 == 0 {
                TaskState::Failed
            } else {
                TaskState::Done
            };
            s.at(t + 0.001).finish(task, w, state, "", None, 0.001);
            task += 1;
        }
    }
    s.at(20.0).msg(Msg::Tick);
    s.msg(Action::Timeline);
    assert_eq!(s.app.timeline.span_count(), 35_000);
    assert_snapshot!(screen(&s));
}

#[test]
fn a_bar_label_is_dark_on_the_bar_colour() {
    let mut s = three_lanes();
    s.msg(Action::ZoomIn);
    s.msg(Action::ZoomIn);
    let size = s.app.size;
    let mut term = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
    term.draw(|f| f.render_widget(&s.app, f.area())).unwrap();
    let buf = term.backend().buffer().clone();
    let text = term.backend().to_string();
    let y = text.lines().position(|l| l.contains("shell #6")).unwrap() as u16;
    let x = text
        .lines()
        .nth(y as usize)
        .unwrap()
        .trim_start_matches('"')
        .find("shell")
        .unwrap();
    let x = text
        .lines()
        .nth(y as usize)
        .unwrap()
        .trim_start_matches('"')[..x]
        .chars()
        .count() as u16;
    let cell = &buf[(x, y)];
    assert_eq!(cell.symbol(), "s");
    assert_eq!(
        (cell.fg, cell.bg),
        (ratatui::style::Color::Black, ratatui::style::Color::Blue)
    );
}
