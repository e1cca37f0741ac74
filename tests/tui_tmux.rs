//! The dashboard end to end: the real binary in a private tmux server, driven
//! with keys, read with capture-pane (issue 3, "How it is checked").
//!
//! Needs tmux (`.ci/run` installs it). Without tmux the test says so and
//! passes, unless CI=true, where it fails.

mod helpers;

use std::process::Command;
use std::time::{Duration, Instant};

use helpers::{BIN, alive, hermetic_env, pids_with_marker, pooltop_command};

/// A tmux server of our own (`tmux -L NAME`), killed on drop.
struct Tmux {
    sock: String,
}

impl Tmux {
    fn start(width: u16, height: u16, shell: &str) -> Tmux {
        // One server per test: tests of this file run in parallel.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sock = format!("pooltop-test-{}-{n}", std::process::id());
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
    let cmd = format!(
        "env {} {marker}=1 {BIN} run -j 2 --join-timeout 2 /dev/null; echo POOLTOP_EXIT=$?",
        hermetic_env()
    );
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

/// Starts `pooltop ARGS` in a fresh tmux shell, with `marker` in its
/// environment, and waits until `workers` workers are on screen.
fn start_pooltop(marker: &str, args: &str, workers: usize) -> Tmux {
    let t = Tmux::start(100, 30, "env PS1='READY$ ' bash --norc --noprofile");
    t.wait("the shell prompt", Duration::from_secs(20), |s| {
        s.contains("READY$")
    });
    t.type_text(&format!(
        "env {} {marker}=1 {BIN} {args}; echo POOLTOP_EXIT=$?",
        hermetic_env()
    ));
    t.keys(&["Enter"]);
    if workers > 0 {
        t.wait("the workers", Duration::from_secs(20), |s| {
            live(&rows(s)).len() == workers
        });
    }
    t
}

/// The pid of the pooltop manager itself (the marked process whose parent is
/// not marked).
fn manager_pid(marker: &str) -> u32 {
    let pids = pids_with_marker(marker);
    *pids
        .iter()
        .find(|&&p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid: u32 = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1))
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            !pids.contains(&ppid)
        })
        .expect("the pooltop process")
}

#[test]
fn sigterm_restores_the_terminal_and_leaves_no_worker() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        return;
    }
    let marker = format!("POOLTOP_TUI_TERM_{}", std::process::id());
    let t = start_pooltop(&marker, "run -j 2 /dev/null", 2);
    let all = pids_with_marker(&marker);
    let pid = manager_pid(&marker);
    // SAFETY: kill(2) on the pooltop process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let s = t.wait("the prompt after SIGTERM", Duration::from_secs(20), |s| {
        s.contains("POOLTOP_EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(s.contains("stopped by SIGTERM"), "{s}");
    assert_eq!(t.display("#{alternate_on}"), "0");
    helpers::wait_for("no pooltop process", Duration::from_secs(5), || {
        pids_with_marker(&marker).is_empty()
    });
    assert!(all.iter().all(|&p| !alive(p)));
}

#[test]
fn closing_the_terminal_leaves_no_worker() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        return;
    }
    let marker = format!("POOLTOP_TUI_HUP_{}", std::process::id());
    let t = start_pooltop(&marker, "run -j 2 /dev/null", 2);
    t.keys(&["s"]);
    t.type_text("hang");
    t.keys(&["Enter"]);
    t.wait("a worker holding hang", Duration::from_secs(20), |s| {
        rows(s).iter().any(|r| r.line.contains(" hang"))
    });
    let all = pids_with_marker(&marker);
    assert!(all.len() >= 3, "{all:?}");
    // Killing the server closes the pane's terminal: SIGHUP.
    drop(t);
    helpers::wait_for("no pooltop process", Duration::from_secs(10), || {
        pids_with_marker(&marker).is_empty()
    });
}

#[test]
fn exit_when_done_prints_the_summary_and_exits_0() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("t.tasks");
    std::fs::write(&tasks, "square 2\nsquare 3\nsleep 0.2\n").unwrap();
    let marker = format!("POOLTOP_TUI_DONE_{}", std::process::id());
    let t = start_pooltop(
        &marker,
        &format!("run -j 2 --exit-when-done {}", tasks.display()),
        0,
    );
    let s = t.wait("the prompt", Duration::from_secs(30), |s| {
        s.contains("POOLTOP_EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(s.contains("3 submitted = 3 done"), "{s}");
    assert!(s.contains("POOLTOP_EXIT=0"), "{s}");
}

#[test]
fn attach_detach_and_stop_a_headless_pool() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        eprintln!("tmux is not installed: skipping the attach test");
        return;
    }
    const SECS: Duration = Duration::from_secs(20);
    let dir = helpers::private_control_dir();
    let ctl = dir.path().to_str().unwrap().to_string();
    let pooltop = |args: &[&str]| {
        pooltop_command()
            .args(args)
            .env("POOLTOP_CONTROL_DIR", &ctl)
            .output()
            .unwrap()
    };
    let mut pool = pooltop_command()
        .args([
            "run",
            "--headless",
            "--keep-alive",
            "--name",
            "bg",
            "-j",
            "2",
        ])
        .args(["--join-timeout", "0.5"])
        .env("POOLTOP_CONTROL_DIR", &ctl)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    helpers::wait_for("the pool to be listed", SECS, || {
        String::from_utf8_lossy(&pooltop(&["ls"]).stdout).contains("bg")
    });
    let out = pooltop(&["submit", "--", "sleep", "30"]);
    assert!(out.status.success());
    pooltop(&["submit", "--", "square", "7"]);

    let t = Tmux::start(100, 30, "env PS1='READY$ ' bash --norc --noprofile");
    t.wait("the shell prompt", SECS, |s| s.contains("READY$"));
    let attach = format!(
        "env {} POOLTOP_CONTROL_DIR={ctl} {BIN} attach; echo ATTACH_EXIT=$?",
        hermetic_env()
    );
    t.type_text(&attach);
    t.keys(&["Enter"]);
    // The replay shows the pool as it is: two workers, the running sleep,
    // the finished square.
    let s = t.wait("the attached dashboard", SECS, |s| {
        s.contains("bg: (kept alive, no task file)")
            && live(&rows(s)).len() == 2
            && s.contains("sleep 30")
    });
    assert!(s.contains("square 7"), "{s}");

    // `q` detaches: the dashboard goes, the pool stays.
    t.keys(&["q"]);
    t.wait("the shell after detaching", SECS, |s| {
        s.contains("ATTACH_EXIT=0") && s.contains("still running")
    });
    let status = pooltop(&["status", "--pool", "bg"]);
    assert!(status.status.success(), "the pool survived the detach");
    assert!(pool.try_wait().unwrap().is_none());

    // Attach again; `X` stops the pool itself.
    t.keys(&["C-l"]);
    t.type_text(&attach);
    t.keys(&["Enter"]);
    t.wait("the dashboard again", SECS, |s| live(&rows(s)).len() == 2);
    t.keys(&["X"]);
    let exit = {
        let deadline = Instant::now() + SECS;
        loop {
            if let Some(status) = pool.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the pool did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(exit.code(), Some(1), "the sleep was cancelled");
    // The dashboard closes with the pool, printing the pool's summary.
    let s = t.wait("the attached dashboard to close", SECS, |s| {
        s.contains("ATTACH_EXIT=1")
    });
    assert!(
        s.contains("2 submitted = 1 done + 0 failed + 0 timed out + 1 cancelled"),
        "{s}"
    );
}

#[test]
fn the_dashboard_flags_a_hang_after_the_config_files_hung_after() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("t.tasks");
    std::fs::write(&tasks, "hang\n").unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[pool]\nhung_after = 0.3\n").unwrap();
    let marker = format!("POOLTOP_TUI_HUNG_{}", std::process::id());
    let args = format!(
        "run -j 1 --join-timeout 0.5 --config {} {}",
        config.display(),
        tasks.display()
    );
    let t = start_pooltop(&marker, &args, 1);
    t.wait("the hang to be busy", Duration::from_secs(20), |s| {
        s.contains("hang")
    });
    let busy_at = Instant::now();
    // The engine checks a 0.3 s limit every 0.1 s; the old fixed 10 s (or
    // the 10 s default) would take far longer than this.
    let s = t.wait("the worker flagged hung", Duration::from_secs(4), |s| {
        rows(s).iter().any(|r| r.state == "hung?")
    });
    assert!(busy_at.elapsed() < Duration::from_secs(4), "{s}");
    t.keys(&["q"]);
    t.wait("the shell prompt again", Duration::from_secs(20), |s| {
        s.contains("POOLTOP_EXIT=") && s.trim_end().ends_with("READY$")
    });
    helpers::wait_for("every pooltop process gone", Duration::from_secs(5), || {
        pids_with_marker(&marker).is_empty()
    });
}

#[test]
fn timeline_lanes_then_a_replay_seeks_to_the_same_final_counts() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("t.tasks");
    std::fs::write(
        &tasks,
        "sleep 0.3\nsquare 3\nfail on purpose\nsleep 0.2\nsquare 4\nspin 1e6\nsleep 0.1\nfail again\n",
    )
    .unwrap();
    // The live dashboard: the timeline key shows a lane per worker slot.
    let marker = format!("POOLTOP_TUI_TIMELINE_{}", std::process::id());
    let t = start_pooltop(&marker, &format!("run -j 2 {}", tasks.display()), 2);
    t.wait("every task finished", Duration::from_secs(30), |s| {
        s.contains("done 6 · failed 2")
    });
    t.keys(&["v"]);
    let s = t.wait("the timeline's lanes", Duration::from_secs(10), |s| {
        s.contains("Timeline · pool") && s.contains("   1 w1 ") && s.contains("   2 w2 ")
    });
    assert!(s.contains("slot wrk busy"), "{s}");
    t.keys(&["q"]);
    t.wait("the prompt", Duration::from_secs(20), |s| {
        s.contains("POOLTOP_EXIT=") && s.trim_end().ends_with("READY$")
    });
    drop(t);

    // The same tasks recorded (the JSON event stream), then replayed.
    let rec = dir.path().join("run.jsonl");
    let out = helpers::run_pooltop(
        &[
            "run",
            "--headless",
            "-j",
            "2",
            "--json",
            rec.to_str().unwrap(),
            tasks.to_str().unwrap(),
        ],
        "",
        &[],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("8 submitted = 6 done + 2 failed"), "{said}");
    let t = start_pooltop(&marker, &format!("replay {}", rec.display()), 0);
    t.wait("the replay", Duration::from_secs(20), |s| {
        s.contains("[replay]")
    });
    t.keys(&["G"]);
    let s = t.wait("the final counts", Duration::from_secs(20), |s| {
        s.contains("done 6 · failed 2 · timed out 0 · cancelled 0") && s.contains("end")
    });
    assert!(s.contains("STOPPED"), "{s}");
    // Steering is refused; quitting leaves the replay.
    t.keys(&["p"]);
    t.wait("the refusal", Duration::from_secs(10), |s| {
        s.contains("replay: read-only")
    });
    t.keys(&["q"]);
    let s = t.wait("the prompt", Duration::from_secs(20), |s| {
        s.contains("POOLTOP_EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(s.contains("POOLTOP_EXIT=0"), "{s}");
}

/// The line of task `id` in the tasks pane (`#ID  state …`).
fn task_line(screen: &str, id: u32) -> Option<String> {
    let tag = format!("#{id} ");
    screen
        .lines()
        .find(|l| l.starts_with(&tag))
        .map(str::to_string)
}

#[test]
fn the_tasks_pane_cancels_and_retries_tasks_and_the_summary_adds_up() {
    if !have_tmux() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        return;
    }
    const SECS: Duration = Duration::from_secs(20);
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.txt");
    std::fs::write(&tasks, "sleep 30\nsleep 31\nfail boom\nsleep 0.01\n").unwrap();
    let marker = format!("POOLTOP_TUI_STEER_{}", std::process::id());
    let t = start_pooltop(&marker, &format!("run -j 1 {}", tasks.display()), 1);
    let state_of = |s: &str, id| task_line(s, id).unwrap_or_default();
    t.wait("#1 running", SECS, |s| state_of(s, 1).contains("running"));
    // The tasks pane; the first ↓ selects the oldest unfinished task (#1),
    // the second #2, which is queued: cancel it.
    t.keys(&["Tab", "Down", "Down", "c"]);
    t.wait("#2 cancelled", SECS, |s| {
        state_of(s, 2).contains("cancelled")
    });
    assert!(state_of(&t.screen(), 1).contains("running"), "#1 runs on");
    // Up to #1, which runs: cancel it; its worker is killed and replaced.
    t.keys(&["Up", "c"]);
    let s = t.wait("#1 cancelled and the rest run", SECS, |s| {
        state_of(s, 1).contains("cancelled by the user")
            && state_of(s, 3).contains("failed")
            && state_of(s, 4).contains("done")
    });
    assert!(
        rows(&s).iter().any(|r| r.id == 1 && r.state == "killed"),
        "{s}"
    );
    // #3 failed: select it (Home is #1) and retry it, as the new task #5.
    t.keys(&["Home", "j", "j", "r"]);
    t.wait("the retry #5 failed too", SECS, |s| {
        state_of(s, 5).contains("failed") && s.contains("#3 retried as #5")
    });
    t.keys(&["q"]);
    let s = t.wait("the summary", SECS, |s| s.contains("POOLTOP_EXIT="));
    let flat = s.replace('\n', " ");
    assert!(
        flat.contains(
            "5 submitted = 1 done + 2 failed + 0 timed out + 2 cancelled (1 of them a retry"
        ),
        "{s}"
    );
    helpers::wait_for("every pooltop process gone", Duration::from_secs(5), || {
        pids_with_marker(&marker).is_empty()
    });
}
