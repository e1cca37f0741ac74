//! Workers on other machines (issue 16): a fake `ssh` on PATH for the
//! plumbing, and a real sshd on 127.0.0.1 (`helpers/sshd.rs`) for the rest.

mod helpers;
#[path = "helpers/sshd.rs"]
mod sshd;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use helpers::{LiveRun, binary_for_others, pids_with_marker, run_pooltop, wait_for};

/// A fake ssh: drops the options and the host, then runs the rest as the
/// remote shell would, in $HOME (`-O exit` to a master does nothing).
const FAKE_SSH: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    -O) exit 0 ;;
    -o|-p|-i|-F|-l|-J) shift 2 ;;
    -*) shift ;;
    *) shift; break ;;
  esac
done
cd "$HOME" && exec sh -c "$*"
"#;

fn fake_ssh() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let shim = dir.path().join("ssh");
    std::fs::write(&shim, FAKE_SSH).unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    (dir, shim)
}

fn squares(n: u64) -> String {
    (1..=n).map(|i| format!("square {i}\n")).collect()
}

fn sorted_lines(out: &[u8]) -> Vec<u64> {
    let mut v: Vec<u64> = String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn workers_over_a_fake_ssh_and_here_share_one_run_and_the_binary_is_copied_once() {
    let (dir, shim) = fake_ssh();
    let home = dir.path().join("home");
    for _ in 0..2 {
        let out = run_pooltop(
            &["run", "--headless", "--ssh", "2/fake-a,1/fake-b,1/:", "-"],
            &squares(40),
            &[("POOLTOP_SSH", &shim), ("HOME", &home)],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(
            sorted_lines(&out.stdout),
            (1..=40).map(|i| i * i).collect::<Vec<_>>()
        );
        assert!(err.contains("40 submitted = 40 done"), "{err}");
    }
    let cache = home.join(".cache/pooltop");
    let copies: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(copies.len(), 1, "one copy, named by its hash: {copies:?}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&copies[0].path()), 0o700);
}

#[test]
fn events_name_each_workers_host() {
    let (dir, shim) = fake_ssh();
    let home = dir.path().join("home");
    let out = run_pooltop(
        &[
            "run",
            "--headless",
            "--json",
            "-",
            "--ssh",
            "1/fake-a,1/fake-b",
            "-",
        ],
        &squares(4),
        &[("POOLTOP_SSH", &shim), ("HOME", &home)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut hosts: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "worker_host")
        .map(|v| v["host"].as_str().unwrap().to_string())
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["fake-a", "fake-b"]);
}

#[test]
fn a_host_that_does_not_resolve_is_one_line_and_the_run_goes_on_here() {
    let out = run_pooltop(
        &[
            "run",
            "--headless",
            "--ssh",
            "no-such-host.invalid,1/:",
            "-",
        ],
        &squares(5),
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(sorted_lines(&out.stdout), [1, 4, 9, 16, 25]);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("no-such-host.invalid"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("cannot reach it"), "{err}");
}

#[test]
fn a_version_mismatch_or_a_stray_caller_is_told_clearly() {
    use std::io::Write;
    let mut child = helpers::pooltop_command()
        .args(["worker", "--stdio"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        err.contains("first frame on stdin is not a launch frame"),
        "{err}"
    );
}

/// The processes of a run whose remote pooltop is `bin` (its workers and
/// their sides), or whose tasks carry `marker`.
fn leftovers(bin: &std::path::Path, marker: &str) -> Vec<u32> {
    let mut pids = pids_with_marker(&bin.to_string_lossy());
    pids.extend(pids_with_marker(marker));
    pids.sort_unstable();
    pids.dedup();
    pids
}

#[test]
fn two_ssh_workers_and_one_here_over_a_real_sshd() {
    let Some(sshd) = sshd::Sshd::start() else {
        return;
    };
    let (_bin_dir, bin) = binary_for_others();
    let hosts = format!("1/{},1/{},1/:", sshd::HOSTS[0], sshd::HOSTS[1]);
    let out = run_pooltop(
        &[
            "run",
            "--headless",
            "--json",
            "/dev/null",
            "--ssh",
            &hosts,
            "--remote-pooltop",
            &bin.to_string_lossy(),
            "-",
        ],
        &squares(30),
        &[("POOLTOP_SSH", std::path::Path::new(&sshd.ssh))],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        sorted_lines(&out.stdout),
        (1..=30).map(|i| i * i).collect::<Vec<_>>()
    );
    wait_for("no remote worker left", Duration::from_secs(5), || {
        leftovers(&bin, "no-marker-here").is_empty()
    });
}

/// A run of two ssh workers, one per host, each with a task that has a
/// grandchild; `ssh` is the ssh command (`POOLTOP_SSH`).
fn ssh_run(ssh: &str, bin: &std::path::Path, marker: &str, extra: &[&str]) -> LiveRun {
    let hosts = format!("1/{},1/{}", sshd::HOSTS[0], sshd::HOSTS[1]);
    let bin = bin.to_string_lossy().into_owned();
    let mut args = vec!["--headless", "--ssh", &hosts, "--remote-pooltop", &bin];
    args.extend_from_slice(extra);
    // A task with a grandchild, on each worker.
    let task = format!("shell sh -c 'sleep {marker} & sleep {marker}; wait'\n");
    LiveRun::start(&args, &task.repeat(2), &[("POOLTOP_SSH", ssh)])
}

fn ssh_clients_of(manager: u32) -> Vec<u32> {
    helpers::children_of(manager)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(b"ssh\0"))
        })
        .collect()
}

#[test]
fn kill_9_of_the_manager_leaves_nothing_running_on_the_far_side() {
    let Some(sshd) = sshd::Sshd::start() else {
        return;
    };
    let (_bin_dir, bin) = binary_for_others();
    let marker = "3101";
    let mut run = ssh_run(&sshd.ssh, &bin, marker, &[]);
    wait_for(
        "both tasks and their grandchildren",
        Duration::from_secs(30),
        || pids_with_marker(&format!("sleep {marker}")).len() >= 4,
    );
    let _ = run.child.kill();
    let _ = run.child.wait();
    wait_for(
        "nothing left 5 s after kill -9",
        Duration::from_secs(5),
        || leftovers(&bin, &format!("sleep {marker}")).is_empty(),
    );
}

#[test]
fn kill_9_of_one_ssh_client_ends_its_side_and_its_task_is_retried() {
    let Some(sshd) = sshd::Sshd::start() else {
        return;
    };
    let (_bin_dir, bin) = binary_for_others();
    let marker = "3102";
    let mut run = ssh_run(&sshd.ssh, &bin, marker, &["--retries", "1"]);
    wait_for("both tasks running", Duration::from_secs(30), || {
        pids_with_marker(&format!("sleep {marker}")).len() >= 4
    });
    let clients = ssh_clients_of(run.pid());
    assert_eq!(clients.len(), 2, "one ssh client per worker: {clients:?}");
    let before = pids_with_marker(&format!("sleep {marker}"));
    send_signal(clients[0], libc::SIGKILL);
    run.wait_until("the task retried", Duration::from_secs(15), |evs| {
        evs.iter()
            .any(|e| e["event"] == "task_retried" || e["attempt"] == 2)
            .then_some(())
    });
    // The killed worker's old task processes are gone within 5 s; the
    // retried task runs anew.
    wait_for(
        "the far side of the killed client gone",
        Duration::from_secs(5),
        || {
            let now = pids_with_marker(&format!("sleep {marker}"));
            before.iter().filter(|p| now.contains(p)).count() <= 2
        },
    );
    let _ = run.child.kill();
    let _ = run.child.wait();
    wait_for("nothing left", Duration::from_secs(5), || {
        leftovers(&bin, &format!("sleep {marker}")).is_empty()
    });
}

#[test]
fn a_stopped_ssh_client_is_marked_lost_within_the_limit_and_its_task_retried() {
    let Some(sshd) = sshd::Sshd::start() else {
        return;
    };
    let (_bin_dir, bin) = binary_for_others();
    let marker = "3103";
    // A multiplexed client only hands its pipes to the master connection,
    // which carries on without it: stopping it stalls nothing. A client with
    // a connection of its own (ssh takes the first value of an option) does.
    let ssh = format!("{} -o ControlMaster=no", sshd.ssh);
    let mut run = ssh_run(&ssh, &bin, marker, &["--retries", "1"]);
    wait_for("both tasks running", Duration::from_secs(30), || {
        pids_with_marker(&format!("sleep {marker}")).len() >= 4
    });
    let clients = ssh_clients_of(run.pid());
    send_signal(clients[0], libc::SIGSTOP);
    let limit = pooltop::engine::launch::LOST_AFTER + Duration::from_secs(5);
    run.wait_until("a worker marked lost", limit, |evs| {
        evs.iter()
            .any(|e| {
                e["event"] == "error"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("marked lost"))
            })
            .then_some(())
    });
    run.wait_until("its task retried", Duration::from_secs(10), |evs| {
        evs.iter()
            .any(|e| e["event"] == "task_retried" || e["attempt"] == 2)
            .then_some(())
    });
    // Killed by now (a lost worker's launcher is); if not, let it go on.
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &clients[0].to_string()])
        .status();
    let _ = run.child.kill();
    let _ = run.child.wait();
    wait_for("nothing left", Duration::from_secs(25), || {
        leftovers(&bin, &format!("sleep {marker}")).is_empty()
    });
}

fn send_signal(pid: u32, sig: i32) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// The one process whose command line is `sleep SECS`.
fn sleeper(secs: &str) -> Option<u32> {
    pids_with_marker(&format!("sleep\0{secs}"))
        .into_iter()
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
        })
}

fn state_of(pid: u32) -> Option<char> {
    pooltop::platform::process_state(pid)
}

#[test]
fn pause_resume_and_kill_reach_a_launched_workers_task_and_status_names_its_host() {
    let (dir, shim) = fake_ssh();
    let home = dir.path().join("home");
    let control = helpers::private_control_dir();
    let json = dir.path().join("events.jsonl");
    let tasks = dir.path().join("tasks.txt");
    std::fs::write(&tasks, "shell sleep 3301\n").unwrap();
    let mut pool = helpers::pooltop_command()
        .args(["run", "--headless", "--keep-alive", "--name", "far"])
        .args(["--ssh", "1/fake-a", "--json"])
        .arg(&json)
        .arg(&tasks)
        .env("POOLTOP_CONTROL_DIR", control.path())
        .env("POOLTOP_SSH", &shim)
        .env("HOME", &home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let verb = |args: &[&str]| {
        let out = run_pooltop(args, "", &[("POOLTOP_CONTROL_DIR", control.path())]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    wait_for("the task running", Duration::from_secs(30), || {
        sleeper("3301").is_some()
    });
    let task = sleeper("3301").unwrap();
    let status = verb(&["status", "--pool", "far"]);
    assert!(
        status.contains("HOST") && status.contains("fake-a"),
        "{status}"
    );
    verb(&["pause", "--pool", "far", "1"]);
    wait_for("the task stopped", Duration::from_secs(5), || {
        state_of(task) == Some('T')
    });
    verb(&["resume", "--pool", "far", "1"]);
    wait_for("the task running again", Duration::from_secs(5), || {
        state_of(task).is_some_and(|s| s != 'T')
    });
    verb(&["kill", "--pool", "far", "1"]);
    wait_for("the task killed", Duration::from_secs(5), || {
        state_of(task).is_none_or(|s| s == 'Z')
    });
    verb(&["stop", "--pool", "far"]);
    let _ = pool.wait();
}

#[test]
fn a_task_timeout_kills_a_launched_workers_task() {
    let (dir, shim) = fake_ssh();
    let home = dir.path().join("home");
    let out = run_pooltop(
        &[
            "run",
            "--headless",
            "--ssh",
            "1/fake-a",
            "--task-timeout",
            "1",
            "-",
        ],
        "shell sleep 3302\nsquare 5\n",
        &[("POOLTOP_SSH", &shim), ("HOME", &home)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 submitted = 1 done + 0 failed + 1 timed out"),
        "{err}"
    );
    assert_eq!(sorted_lines(&out.stdout), [25]);
    wait_for("no sleeper left", Duration::from_secs(5), || {
        sleeper("3302").is_none()
    });
}

#[test]
fn the_job_log_names_the_host_each_job_ran_on() {
    let (dir, shim) = fake_ssh();
    let home = dir.path().join("home");
    let log = dir.path().join("jobs.log");
    let out = run_pooltop(
        &[
            "run",
            "--ssh",
            "1/fake-a,1/:",
            "--joblog",
            &log.to_string_lossy(),
            "--",
            "sleep",
            "0.3",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ],
        "",
        &[("POOLTOP_SSH", &shim), ("HOME", &home)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let hosts: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(hosts.len(), 4, "{text}");
    assert!(hosts.iter().all(|h| *h == "fake-a" || *h == ":"), "{text}");
    assert!(hosts.contains(&"fake-a") && hosts.contains(&":"), "{text}");
}

#[test]
fn more_workers_on_one_host_than_sshd_allows_sessions_on_one_connection_all_start() {
    let Some(sshd) = sshd::Sshd::start() else {
        return;
    };
    let (_bin_dir, bin) = binary_for_others();
    let n = sshd::MAX_SESSIONS + 2;
    let hosts = format!("{n}/{}", sshd::HOSTS[0]);
    let out = run_pooltop(
        &[
            "run",
            "--headless",
            "--json",
            "-",
            "--ssh",
            &hosts,
            "--remote-pooltop",
            &bin.to_string_lossy(),
            "-",
        ],
        &"sleep 0.5\n".repeat(2 * n),
        &[("POOLTOP_SSH", std::path::Path::new(&sshd.ssh))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"worker_started\""))
        .count();
    assert_eq!(started, n, "every worker started, past MaxSessions");
}

#[test]
fn py_tasks_on_a_launched_worker_import_from_the_task_files_folder() {
    if std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_err()
    {
        assert!(std::env::var_os("CI").is_none(), "python3 is not installed");
        return;
    }
    let (dir, shim) = fake_ssh();
    let home = dir.path().join("home");
    std::fs::write(dir.path().join("sq.py"), "def sq(x):\n    return x * x\n").unwrap();
    let tasks = dir.path().join("tasks.txt");
    std::fs::write(&tasks, "py sq:sq 7\npy sq:sq 8\n").unwrap();
    let out = run_pooltop(
        &[
            "run",
            "--headless",
            "--ssh",
            "1/fake-a",
            &tasks.to_string_lossy(),
        ],
        "",
        &[("POOLTOP_SSH", &shim), ("HOME", &home)],
    );
    // The far side runs in $HOME: `sq` is found only through the folder
    // that the launch frame names.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sorted_lines(&out.stdout), [49, 64]);
}
