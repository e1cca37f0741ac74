//! The dashboard end to end: the real binary in a private tmux server, driven
//! with keys, read with capture-pane (issue 3, "How it is checked").
//!
//! Needs tmux (`.ci/run` installs it). Without tmux the test says so and
//! passes, unless CI=true, where it fails.

mod helpers;

use std::process::Command;
use std::time::{Duration, Instant};

use helpers::{BIN, alive, pids_with_marker};

/// A tmux server of our own (`tmux -L NAME`), killed on drop.
struct Tmux {
    sock: String,
}

impl Tmux {
    fn start(width: u16, height: u16, shell: &str) -> Tmux {
        let sock = format!("pooltop-test-{}", std::process::id());
        let t = Tmux { sock };
        t.run(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            shell,
        ]);
        t.run(&["set-option", "-t", "main", "remain-on-exit", "on"]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
    }

    fn display(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "main", format])
            .trim()
            .to_string()
    }

    /// Polls the screen until `cond` holds; fails with the screen after `within`.
    fn wait(&self, what: &str, within: Duration, mut cond: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.sock, "kill-server"])
            .output();
    }
}

/// A worker row of the table: id, pid, state, rest of the line.
#[derive(Debug, Clone)]
struct Row {
    id: u32,
    pid: u32,
    state: String,
    line: String,
}

fn rows(screen: &str) -> Vec<Row> {
    screen
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next()?.strip_prefix('w')?.parse().ok()?;
            let pid = w.next()?.parse().ok()?;
            let state = w.next()?.to_string();
            Some(Row {
                id,
                pid,
                state,
                line: l.to_string(),
            })
        })
        .collect()
}

fn live(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .filter(|r| !matches!(r.state.as_str(), "exited" | "killed" | "crashed"))
        .cloned()
        .collect()
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn dashboard_steers_a_real_pool() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        eprintln!("tmux is not installed: skipping the dashboard end-to-end test");
        return;
    }
    const SECS: Duration = Duration::from_secs(20);
    let marker = format!("POOLTOP_TUI_TEST_{}", std::process::id());
    let t = Tmux::start(100, 30, "env PS1='READY$ ' bash --norc --noprofile");
    t.wait("the shell prompt", SECS, |s| s.contains("READY$"));

    // The marker sits in the environment of pooltop and its workers only.
    let cmd =
        format!("env {marker}=1 {BIN} run -j 2 --join-timeout 2 /dev/null; echo POOLTOP_EXIT=$?");
    t.type_text(&cmd);
    t.keys(&["Enter"]);

    // Both worker pids on screen.
    let s = t.wait("two workers", SECS, |s| live(&rows(s)).len() == 2);
    let first = rows(&s);
    for r in &first {
        assert!(alive(r.pid), "{r:?} not alive");
    }
    assert_eq!(t.display("#{alternate_on}"), "1");

    // Submit `hang` through `s`.
    t.keys(&["s"]);
    t.wait("the submit prompt", SECS, |s| s.contains("Submit a task"));
    t.type_text("hang");
    t.wait("a valid line", SECS, |s| s.contains("valid `hang` task"));
    t.keys(&["Enter"]);
    let s = t.wait("a worker holding hang", SECS, |s| {
        rows(s).iter().any(|r| r.line.contains(" hang"))
    });
    let rs = rows(&s);
    let pos = rs.iter().position(|r| r.line.contains(" hang")).unwrap();
    let hung = rs[pos].clone();

    // Select it (rows are by id; Home goes to the first) and terminate it.
    t.keys(&["Home"]);
    for _ in 0..pos {
        t.keys(&["j"]);
    }
    t.keys(&["t"]);
    t.wait("the stopping countdown", SECS, |s| {
        rows(s)
            .iter()
            .any(|r| r.id == hung.id && r.line.contains("stopping"))
    });
    let started = Instant::now();
    helpers::wait_for("the hung worker to die", Duration::from_secs(10), || {
        !alive(hung.pid)
    });
    assert!(
        started.elapsed() < Duration::from_secs(2) + Duration::from_secs(3),
        "killed only after {:?}",
        started.elapsed()
    );
    let s = t.wait("a replacement worker and the old one gone", SECS, |s| {
        let rs = rows(s);
        live(&rs).len() == 2 && !rs.iter().any(|r| r.pid == hung.pid)
    });
    let now = live(&rows(&s));
    assert!(now.iter().any(|r| r.id > 2), "no replacement: {now:?}");

    // Pause the first worker: its process is stopped (T); again: running.
    t.keys(&["Home", "p"]);
    let s = t.wait("a paused worker", SECS, |s| {
        rows(s).iter().any(|r| r.state == "paused")
    });
    let paused = rows(&s)
        .into_iter()
        .find(|r| r.state == "paused")
        .expect("paused row");
    helpers::wait_for("state T", Duration::from_secs(5), || {
        pooltop::platform::process_state(paused.pid) == Some('T')
    });
    t.keys(&["p"]);
    t.wait("resumed", SECS, |s| {
        rows(s)
            .iter()
            .any(|r| r.pid == paused.pid && r.state != "paused")
    });
    helpers::wait_for("state not T", Duration::from_secs(5), || {
        pooltop::platform::process_state(paused.pid) != Some('T')
    });

    // One more worker.
    t.keys(&["+"]);
    t.wait("a third worker", SECS, |s| live(&rows(s)).len() == 3);
    let all: Vec<u32> = pids_with_marker(&marker);
    assert!(all.len() >= 4, "pooltop and 3 workers: {all:?}");

    // Quit: the prompt comes back and nothing of pooltop is left.
    t.keys(&["q"]);
    let s = t.wait("the shell prompt again", SECS, |s| {
        s.contains("POOLTOP_EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(s.contains("submitted ="), "no summary:\n{s}");
    assert_eq!(t.display("#{alternate_on}"), "0");
    helpers::wait_for("every pooltop process gone", Duration::from_secs(5), || {
        pids_with_marker(&marker).is_empty()
    });
    for pid in all {
        assert!(!alive(pid), "pid {pid} survived");
    }
}
