//! Dashboard and monitor costs, a plain bench binary:
//!
//!   cargo bench --bench ui                 # every group
//!   cargo bench --bench ui -- frame        # one group: frame | ingest | monitor | timeline
//!
//! frame: build one frame (the whole `impl Widget for &App` into a buffer)
//!   with 256 workers, 1,000,000 queued tasks and 64 cores, at 80x24 and
//!   200x60, following the running tasks, with a selection deep in the list,
//!   and with a text filter set. Issue 3 asks for under 10 ms.
//! ingest: feed 1,000,000 `TaskFinished` (a shutdown cancelling the queue)
//!   through `App::update`.
//! timeline: build one frame of the timeline view with 64 workers and
//!   1,000,000 finished tasks, at 80x24 and 200x60: live at the default
//!   zoom, zoomed out over the whole run (every cell buckets thousands of
//!   tasks), and scrolled back to the middle with a cursor. Issue 15 asks
//!   for under 5 ms. Also the memory the timeline keeps per finished task.
//! monitor: one `Sampler::sample()` tracking 2, 16 and 64 sleeping processes
//!   (wall time per sample, and the CPU share at one sample every 500 ms).

// The dashboard is a face of the binary, not part of the library: the bench
// compiles its modules (and the faces they use) itself, as `main.rs` does.
// (Bench targets are built with `cfg(test)`, so `ui::testkit` is there,
// and so are the modules' unit tests, unused: hence the allow.)
#![allow(unused)]

#[path = "../src/batch/mod.rs"]
mod batch;
#[path = "../src/cli.rs"]
mod cli;
#[path = "../src/config/mod.rs"]
mod config;
#[path = "../src/report/mod.rs"]
mod report;
#[path = "../src/ui/mod.rs"]
mod ui;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use pooltop::engine::monitor::Sampler;
use pooltop::engine::{PoolEvent, TaskId, TaskReport, TaskState, WorkerId};
use pooltop::task::TaskOutput;
use ui::app::AppConfig;
use ui::msg::{Action, Edit, Msg};
use ui::testkit::Script;

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let pct = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
    println!(
        "{name:<44} median {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}  (n={})",
        pct(0.5),
        pct(0.99),
        v[v.len() - 1],
        v.len()
    );
}

fn big_pool(w: u16, h: u16) -> Script {
    let mut s = Script::new(
        AppConfig {
            title: "bench".into(),
            workers: 256,
            join_timeout: Duration::from_secs(5),
            task_timeout: Some(Duration::from_secs(60)),
            exit_when_done: false,
            attached: false,
        },
        w,
        h,
    );
    for id in 1..=256u32 {
        s.worker(id, 10_000 + id);
    }
    s.queue_many(1_000_000);
    for id in 1..=256u32 {
        s.start(u64::from(id), id);
    }
    let cores: Vec<f32> = (0..64).map(|i| (i * 37 % 101) as f32).collect();
    let procs: Vec<(u32, f32, u64)> = (1..=256u32).map(|id| (10_000 + id, 50.0, 20)).collect();
    for k in 0..40 {
        s.at(0.5 * k as f64).sample(&cores, &procs);
    }
    s.msg(Msg::Tick);
    s
}

fn frames(s: &Script, n: usize) -> Vec<Duration> {
    let area = s.app.size;
    let mut buf = Buffer::empty(Rect::new(0, 0, area.width, area.height));
    (0..n)
        .map(|_| {
            buf.reset();
            let t = Instant::now();
            (&s.app).render(buf.area, &mut buf);
            t.elapsed()
        })
        .collect()
}

fn frame() {
    for (w, h) in [(80, 24), (200, 60)] {
        let t = Instant::now();
        let mut s = big_pool(w, h);
        println!(
            "setup {w}x{h}: 256 workers, 1,000,000 tasks in {:.2?}",
            t.elapsed()
        );
        stats(&format!("frame {w}x{h} following"), frames(&s, 200));
        s.msg(Action::NextPane);
        for _ in 0..3 {
            s.msg(Action::PageDown);
        }
        s.app.tasks.select_pos(654_321, s.app.areas().task_rows());
        s.msg(Action::PrevPane);
        for _ in 0..200 {
            s.msg(Action::Down);
        }
        stats(
            &format!("frame {w}x{h} selection deep in the lists"),
            frames(&s, 200),
        );
        s.msg(Action::Filter);
        let t = Instant::now();
        for c in "square 12".chars() {
            s.msg(Edit::Insert(c));
        }
        println!(
            "typing a 9-letter filter over 1,000,000 tasks: {:.2?} (one rebuild per key)",
            t.elapsed()
        );
        s.msg(Edit::Confirm);
        stats(&format!("frame {w}x{h} filtered"), frames(&s, 200));
    }
}

fn ingest() {
    let mut s = big_pool(200, 60);
    let t = Instant::now();
    for id in 257..=1_000_000u64 {
        s.msg(PoolEvent::TaskFinished(Box::new(TaskReport {
            task: TaskId(id),
            worker: None,
            state: TaskState::Cancelled,
            output: TaskOutput::default(),
            error: None,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            max_rss: None,
            attempts: 0,
            line: "square".into(),
        })));
    }
    let d = t.elapsed();
    println!(
        "ingest 999,744 cancellations: {d:.2?} ({:.0} ns/event)",
        d.as_nanos() as f64 / 999_744.0
    );
    let _ = WorkerId(0);
}

/// 64 workers that ran 1,000,000 tasks of 1 to 120 ms between them, over
/// about 16 minutes, with a few failures.
fn timeline_pool(w: u16, h: u16) -> Script {
    let mut s = Script::new(
        AppConfig {
            title: "bench".into(),
            workers: 64,
            join_timeout: Duration::from_secs(5),
            task_timeout: None,
            exit_when_done: false,
            attached: false,
        },
        w,
        h,
    );
    for id in 1..=64u32 {
        s.worker(id, 20_000 + id);
        s.msg(PoolEvent::WorkerSlot {
            worker: WorkerId(id),
            slot: id,
        });
    }
    s.queue_many(1_000_000);
    let mut clock = [0.0f64; 64];
    for task in 1..=1_000_000u64 {
        let w = (task % 64) as usize;
        let len = 0.001 + (task * 7919 % 120) as f64 / 1000.0;
        let gap = if task % 13 == 0 { 0.05 } else { 0.0 };
        let start = clock[w] + gap;
        s.at(start).start(task, w as u32 + 1);
        let state = if task % 1000 == 0 {
            TaskState::Failed
        } else {
            TaskState::Done
        };
        s.at(start + len)
            .finish(task, w as u32 + 1, state, "", None, len);
        clock[w] = start + len;
    }
    let end = clock.iter().cloned().fold(0.0, f64::max);
    s.at(end + 1.0).msg(Msg::Tick);
    s.msg(Action::Timeline);
    s
}

fn timeline() {
    use ui::app::timeline::Span;
    for (w, h) in [(80, 24), (200, 60)] {
        let t = Instant::now();
        let mut s = timeline_pool(w, h);
        let spans = s.app.timeline.span_count();
        println!(
            "setup {w}x{h}: 64 workers, {spans} finished tasks in {:.2?}; timeline {} B per finished task ({} MB for them all)",
            t.elapsed(),
            std::mem::size_of::<Span>(),
            spans * std::mem::size_of::<Span>() / 1_000_000,
        );
        stats(
            &format!("timeline {w}x{h} live, 0.5 s/cell"),
            frames(&s, 200),
        );
        while s
            .app
            .timeline
            .window(s.app.timeline_now(), s.app.timeline_cells())
            .0
            > 0
        {
            s.msg(Action::ZoomOut);
        }
        stats(
            &format!("timeline {w}x{h} whole run in view"),
            frames(&s, 200),
        );
        for _ in 0..3 {
            s.msg(Action::ZoomIn);
        }
        for _ in 0..30 {
            s.msg(Action::PageUp);
        }
        for _ in 0..10 {
            s.msg(Action::Down);
        }
        stats(
            &format!("timeline {w}x{h} scrolled back, cursor"),
            frames(&s, 200),
        );
    }
}

fn monitor() {
    for n in [2usize, 16, 64] {
        let mut kids: Vec<Child> = (0..n)
            .map(|_| {
                Command::new("sleep")
                    .arg("60")
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("spawn sleep")
            })
            .collect();
        let mut s = Sampler::new().expect("sysinfo");
        for k in &kids {
            s.track(pooltop::WorkerId(k.id()), k.id());
        }
        let mut v = Vec::new();
        for _ in 0..12 {
            std::thread::sleep(Duration::from_millis(200));
            let t = Instant::now();
            let sample = s.sample();
            v.push(t.elapsed());
            assert_eq!(sample.workers.len(), n);
        }
        v.sort();
        let med = v[v.len() / 2];
        stats(&format!("monitor sample, {n} tracked processes"), v);
        println!(
            "{:<44} {:.3}% of one core at one sample per 500 ms",
            "",
            100.0 * med.as_secs_f64() / 0.5
        );
        for k in &mut kids {
            let _ = k.kill();
            let _ = k.wait();
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |g: &str| args.is_empty() || args.iter().any(|a| a == g);
    if want("frame") {
        frame();
    }
    if want("ingest") {
        ingest();
    }
    if want("timeline") {
        timeline();
    }
    if want("monitor") {
        monitor();
    }
}
