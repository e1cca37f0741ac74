//! View snapshots on a fixed-size `TestBackend`. The app runs on a fake clock
//! and fake pids, so times and pids are fixed by construction; nothing on
//! screen depends on the machine.

use std::time::Duration;

use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use crate::ui::app::AppConfig;
use crate::ui::msg::{Action, Edit};
use crate::ui::testkit::Script;
use crate::ui::theme::Theme;
use pooltop::engine::events::{PoolEvent, TaskState, WorkerId};

fn cfg() -> AppConfig {
    AppConfig {
        title: "demo".into(),
        workers: 2,
        join_timeout: Duration::from_secs(5),
        task_timeout: Some(Duration::from_secs(30)),
        exit_when_done: false,
        attached: false,
    }
}

fn draw(s: &Script) -> Terminal<TestBackend> {
    let size = s.app.size;
    let mut term = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
    term.draw(|f| f.render_widget(&s.app, f.area())).unwrap();
    term
}

fn screen(s: &Script) -> String {
    draw(s).backend().to_string()
}

/// A pool of two workers a few seconds into a run.
fn busy_pool(w: u16, h: u16) -> Script {
    let mut s = Script::new(cfg(), w, h);
    s.worker(1, 4101).worker(2, 4102);
    s.queue(&[
        "square 7",
        "spin 1e9",
        "fail disk on fire",
        "sleep 2",
        "sha256 assets/cat.png",
        "shell echo hello",
        "spin 2e9",
        "square 12",
    ]);
    s.at(0.2).start(1, 1);
    s.at(0.3).finish(1, 1, TaskState::Done, "49", None, 0.1);
    s.start(2, 1);
    s.at(0.4).start(3, 2);
    s.at(0.5)
        .finish(3, 2, TaskState::Failed, "", Some("disk on fire"), 0.1);
    s.start(4, 2);
    s.at(2.5).finish(4, 2, TaskState::Done, "", None, 2.0);
    s.start(5, 2);
    for (i, t) in [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0].iter().enumerate() {
        let c = 60.0 + 5.0 * i as f32;
        s.at(*t)
            .sample(&[c + 10.0, c], &[(4101, 99.0, 12), (4102, c, 40)]);
    }
    s.at(4.2).msg(crate::ui::msg::Msg::Tick);
    s
}

#[test]
fn main_screen_80x24() {
    let s = busy_pool(80, 24);
    assert_snapshot!(screen(&s));
}

#[test]
fn main_screen_wide_with_sparklines() {
    let mut s = busy_pool(130, 30);
    s.msg(Action::NextPane);
    s.msg(Action::Down);
    assert_snapshot!(screen(&s));
}

#[test]
fn help_overlay() {
    let mut s = busy_pool(80, 24);
    s.msg(Action::Help);
    assert_snapshot!(screen(&s));
}

#[test]
fn submit_prompt_with_an_error() {
    let mut s = busy_pool(80, 24);
    s.msg(Action::Submit);
    for c in "spn 1e8".chars() {
        s.msg(Edit::Insert(c));
    }
    assert_snapshot!(screen(&s));
}

#[test]
fn paused_and_stopping_workers() {
    let mut s = busy_pool(80, 24);
    s.at(5.0).msg(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    s.msg(Action::Down);
    s.msg(Action::Terminate);
    s.at(5.1).msg(PoolEvent::WorkerStopping {
        worker: WorkerId(2),
        join_timeout: Some(Duration::from_secs(5)),
    });
    s.msg(PoolEvent::DispatchPaused(true));
    s.at(8.0).msg(crate::ui::msg::Msg::Tick);
    assert_snapshot!(screen(&s));
}

#[test]
fn task_detail() {
    let mut s = busy_pool(80, 24);
    s.msg(Action::NextPane);
    s.msg(Action::Home);
    s.msg(Action::Down);
    s.msg(Action::Down);
    s.msg(Action::Detail);
    assert_snapshot!(screen(&s));
}

#[test]
fn too_small() {
    let s = busy_pool(60, 20);
    assert_snapshot!(screen(&s));
}

#[test]
fn many_cores_and_workers() {
    let mut s = Script::new(cfg(), 80, 24);
    for w in 1..=40 {
        s.worker(w, 5000 + w);
    }
    s.queue_many(1_000);
    for w in 1..=40u32 {
        s.start(u64::from(w), w);
    }
    let cores: Vec<f32> = (0..64).map(|i| (i * 37 % 101) as f32).collect();
    s.at(1.0).sample(&cores, &[]);
    s.msg(Action::Down);
    assert_snapshot!(screen(&s));
}

/// The keys a config file binds are the keys the footer, the help and the
/// banners show.
#[test]
fn remapped_keys_show_in_the_footer_help_and_banners() {
    let mut s = busy_pool(80, 24);
    let file = "[keys]\nquit = [\"Q\", \"F10\"]\nhelp = \"F1\"\nsubmit = \"a\"\n\
                toggle_dispatch = \"D\"\nkill = \"x\"\n";
    let layer = crate::config::parse(file, "c.toml", &crate::config::no_key_check).unwrap();
    s.app.keys = crate::ui::keymap::Keymap::from_binds(&layer.keys).unwrap();
    s.msg(PoolEvent::DispatchPaused(true));
    let main = screen(&s);
    assert!(main.contains(" Q quit  F1 help  a submit "), "{main}");
    assert!(main.contains("DISPATCH PAUSED · D resumes"), "{main}");
    s.press("F1");
    assert_snapshot!(screen(&s));
}

/// What `NO_COLOR` draws: the `auto` theme turns mono, every cell keeps
/// the terminal's colours, and bold, dim and reverse video carry the rest.
#[test]
fn no_color_view_snapshot() {
    let mut s = busy_pool(80, 24);
    s.app.theme = Theme::from_choice(crate::config::ThemeChoice::Auto, true);
    s.at(5.0).msg(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    let term = draw(&s);
    assert_snapshot!(format!("{:?}", term.backend().buffer()));
}

/// The high-contrast theme: states on solid backgrounds, nothing dimmed.
#[test]
fn high_contrast_view_snapshot() {
    let mut s = busy_pool(80, 24);
    s.app.theme = Theme::HIGH_CONTRAST;
    s.at(5.0).msg(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    let term = draw(&s);
    for cell in term.backend().buffer().content() {
        assert!(
            !cell.modifier.contains(ratatui::style::Modifier::DIM),
            "{cell:?}"
        );
    }
    assert_snapshot!(format!("{:?}", term.backend().buffer()));
}

#[test]
fn no_color_draws_no_colour() {
    let mut s = busy_pool(100, 30);
    s.app.theme = Theme::MONO;
    s.at(5.0).msg(PoolEvent::WorkerPaused {
        worker: WorkerId(1),
    });
    s.msg(PoolEvent::DispatchPaused(true));
    let term = draw(&s);
    for cell in term.backend().buffer().content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
    // The state is still written out.
    assert!(screen(&s).contains("paused"));
}

/// A gate holding dispatch back is in the header with its figure, while
/// tasks wait; the detail of a running task shows its live output, newest last.
#[test]
fn the_header_names_a_holding_gate_and_the_detail_shows_live_output() {
    let mut s = busy_pool(100, 30);
    s.msg(PoolEvent::DispatchHeld(Some(pooltop::engine::Hold {
        gate: "memfree".into(),
        now: 300.0 * 1024.0 * 1024.0,
        limit: 1024.0 * 1024.0 * 1024.0,
    })));
    let main = screen(&s);
    assert!(
        main.contains("DISPATCH HELD · memfree: 300 MiB free < 1024 MiB"),
        "{main}"
    );
    s.msg(PoolEvent::DispatchHeld(None));
    assert!(!screen(&s).contains("DISPATCH HELD"));
    for i in 1..=60 {
        s.msg(PoolEvent::TaskOutput {
            task: pooltop::engine::TaskId(2),
            worker: WorkerId(1),
            stderr: false,
            text: format!("tick {i}\n"),
        });
    }
    s.app.detail = Some(pooltop::engine::TaskId(2));
    s.app.mode = crate::ui::focus::Mode::Detail;
    let detail = screen(&s);
    assert!(
        detail.contains("output") && detail.contains("tick 60"),
        "{detail}"
    );
    assert!(
        !detail.contains("tick 1 "),
        "the oldest lines scrolled away: {detail}"
    );
}

/// Workers on two other hosts and here: a host column, the rows grouped by
/// host (here first), and one summary line per host with its cores' load.
#[test]
fn workers_grouped_by_host() {
    use pooltop::engine::events::{HostCores, ProcStat, Sample, WorkerStat};
    let mut s = Script::new(cfg(), 100, 26);
    for (w, pid) in [(1, 4101), (2, 4102), (3, 4103), (4, 4104)] {
        s.worker(w, pid);
    }
    for (w, host) in [(2, "gpu-node-1"), (3, "me@bigbox"), (4, "gpu-node-1")] {
        s.msg(PoolEvent::WorkerHost {
            worker: WorkerId(w),
            host: host.into(),
        });
    }
    s.queue(&["spin 1e9", "spin 2e9", "sleep 9", "sha256 big.iso"]);
    s.at(0.2).start(1, 2).start(2, 3).start(3, 4);
    let stat = |w: u32, cpu: f32, mib: u64| WorkerStat {
        worker: WorkerId(w),
        pid: 4100 + w,
        stat: ProcStat {
            cpu,
            rss: mib << 20,
            procs: 1,
        },
    };
    s.at(1.0).msg(crate::ui::msg::Msg::Sample(Sample {
        cores: vec![12.0, 30.0],
        workers: vec![
            stat(1, 0.0, 20),
            stat(2, 99.0, 35),
            stat(3, 97.0, 40),
            stat(4, 1.0, 22),
        ],
        hosts: vec![
            HostCores {
                host: "gpu-node-1".into(),
                cores: vec![100.0, 55.0, 3.0, 80.0],
            },
            HostCores {
                host: "me@bigbox".into(),
                cores: vec![97.0, 10.0],
            },
        ],
        ..Sample::default()
    }));
    s.at(2.0).msg(crate::ui::msg::Msg::Tick);
    let text = screen(&s);
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle}:\n{text}"))
    };
    // Grouped: this machine first, then the hosts by name, whatever the ids.
    assert!(
        at("local") < at("gpu-node-1") && at("gpu-node-1") < at("me@bigbox"),
        "{text}"
    );
    assert_snapshot!(text);
}
