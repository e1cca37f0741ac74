//! Driving running pools from other processes: `pooltop ls`, `submit`,
//! `status`, `wait`, `pause`, `resume`, `scale`, `stop`, with real pools, and
//! the orders of an attached dashboard on the control wire.

mod helpers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use helpers::*;
// The control wire is the binary's (a face), not the library's: the test
// speaks it from the same source.
#[path = "../src/control/limits.rs"]
mod limits;
#[path = "../src/report/results.rs"]
#[allow(dead_code)]
mod results;
/// What the wire names of the report layer.
mod report {
    pub(crate) use super::results;
}
#[path = "../src/control/wire.rs"]
#[allow(dead_code)]
mod wire;
use pooltop::protocol::frame;
use serde_json::Value;
use wire::{CONTROL_VERSION, Order, Reply, Request};

const LONG: Duration = Duration::from_secs(20);

fn pooltop(dir: &Path, args: &[&str], stdin: &str) -> Output {
    run_pooltop(args, stdin, &[("POOLTOP_CONTROL_DIR", dir)])
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Starts `pooltop run --headless --keep-alive --name NAME` and waits until
/// `pooltop ls` lists it.
fn keep_alive_pool(dir: &Path, name: &str, workers: &str, json: &Path) -> Child {
    keep_alive_pool_with(dir, name, workers, json, &[])
}

/// [`keep_alive_pool`] with more options for `pooltop run`.
fn keep_alive_pool_with(
    dir: &Path,
    name: &str,
    workers: &str,
    json: &Path,
    extra: &[&str],
) -> Child {
    let mut args = vec!["--join-timeout", "0.5"];
    args.extend_from_slice(extra);
    keep_alive_pool_in(dir, name, workers, json, &args, Stdio::piped())
}

fn status(dir: &Path, pool: &str) -> Value {
    let out = pooltop(dir, &["status", "--pool", pool, "--json"], "");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn finished_events(json: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(json)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "task_finished")
        .collect()
}

#[test]
fn submit_wait_pause_scale_and_stop_from_other_processes() {
    let dir = private_control_dir();
    let d = dir.path();
    let json = d.join("events.jsonl");
    let pool = keep_alive_pool(d, "main", "2", &json);
    // Started with no task file, it says so (not `<stdin>`).
    let out = pooltop(d, &["status", "--pool", "main"], "");
    assert!(
        text(&out)
            .0
            .contains("running (kept alive, no task file), up"),
        "{:?}",
        text(&out)
    );

    // Submit from another process: ids come back, one per line.
    let out = pooltop(
        d,
        &["submit", "--pool", "main", "-"],
        "square 9\nshell echo remote\n",
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let ids: Vec<u64> = text(&out).0.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(ids, vec![1, 2]);
    let out = pooltop(d, &["submit", "--", "sha256", "/no such/file"], "");
    assert_eq!(
        text(&out).0.trim(),
        "3",
        "the only pool is chosen without --pool"
    );

    // Wait for two of them: exit status 0 when they are done.
    let out = pooltop(d, &["wait", "--pool", "main", "1", "2"], "");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    // Waiting for all includes the failed hash: status 1.
    let out = pooltop(d, &["wait"], "");
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("3 task(s): 2 done, 1 failed"),
        "{:?}",
        text(&out)
    );

    // The results arrived in the pool's own JSON event stream.
    let finished = finished_events(&json);
    let result = |line: &str| {
        finished
            .iter()
            .find(|e| e["line"] == line)
            .map(|e| e["result"].clone())
    };
    assert_eq!(result("square 9"), Some(Value::from("81")));
    assert_eq!(result("shell echo remote"), Some(Value::from("remote\n")));

    // Pause and resume a worker by id.
    let s = status(d, "main");
    let worker = s["workers"][0]["id"].as_u64().unwrap().to_string();
    let pid = s["workers"][0]["pid"].as_u64().unwrap() as u32;
    let out = pooltop(d, &["pause", "--pool", "main", &worker], "");
    assert_eq!(out.status.code(), Some(0));
    wait_for("the worker to stop", LONG, || {
        pooltop::platform::process_state(pid) == Some('T')
    });
    assert_eq!(status(d, "main")["workers"][0]["state"], "paused");
    pooltop(d, &["resume", "--pool", "main", &worker], "");
    wait_for("the worker to run again", LONG, || {
        pooltop::platform::process_state(pid) != Some('T')
    });

    // Scale up: a third worker appears.
    pooltop(d, &["scale", "--pool", "main", "3"], "");
    wait_for("a third worker", LONG, || {
        status(d, "main")["workers"].as_array().unwrap().len() == 3
    });

    // Stop: the pool ends gracefully, its summary accounts for everything.
    let out = pooltop(d, &["stop", "--pool", "main"], "");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let run = pool.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(1), "one task failed");
    assert!(
        text(&run).1.contains("3 submitted = 2 done + 1 failed"),
        "{:?}",
        text(&run)
    );
    let out = pooltop(d, &["ls", "--json"], "");
    assert_eq!(text(&out).0.trim(), "[]", "a stopped pool is not listed");
}

#[test]
fn two_pools_need_a_name_and_stale_entries_are_ignored() {
    let dir = private_control_dir();
    let d = dir.path();
    // A crashed pool's leftovers: a socket file nobody listens on.
    std::fs::write(
        d.join("ghost.json"),
        r#"{"name":"ghost","pid":1,"started_unix":0}"#,
    )
    .unwrap();
    let _ = std::os::unix::net::UnixListener::bind(d.join("ghost.sock"));
    let mut a = keep_alive_pool(d, "alpha", "1", &d.join("a.jsonl"));
    let mut b = keep_alive_pool(d, "beta", "1", &d.join("b.jsonl"));

    let out = pooltop(d, &["ls"], "");
    let (listing, _) = text(&out);
    assert!(
        listing.contains("alpha") && listing.contains("beta"),
        "{listing}"
    );
    assert!(
        !listing.contains("ghost"),
        "stale entries are not listed: {listing}"
    );
    assert!(!d.join("ghost.sock").exists(), "and they are cleaned up");

    let out = pooltop(d, &["status"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("2 pools are running; choose one with --pool: alpha, beta"),
        "{:?}",
        text(&out)
    );
    // The same name twice is refused before anything runs.
    let out = pooltop(
        d,
        &["run", "--headless", "--keep-alive", "--name", "alpha"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("already running"), "{:?}", text(&out));

    let out = pooltop(d, &["submit", "--pool", "beta", "--", "square", "3"], "");
    assert_eq!(text(&out).0.trim(), "1");
    assert_eq!(status(d, "alpha")["counts"]["submitted"], 0);

    for (name, child) in [("alpha", &mut a), ("beta", &mut b)] {
        pooltop(d, &["stop", "--pool", name], "");
        assert!(child.wait().unwrap().code().is_some());
    }
}

#[test]
fn a_client_that_vanishes_mid_wait_does_not_disturb_the_pool() {
    let dir = private_control_dir();
    let d = dir.path();
    let mut pool = keep_alive_pool(d, "w", "1", &d.join("w.jsonl"));
    pooltop(d, &["submit", "--", "sleep", "30"], "");
    let mut waiter = pooltop_command()
        .args(["wait", "--pool", "w"])
        .env("POOLTOP_CONTROL_DIR", d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the waiter to connect", LONG, || {
        status(d, "w")["running"] == 1
    });
    waiter.kill().unwrap();
    waiter.wait().unwrap();
    // The pool still answers and takes work.
    let out = pooltop(d, &["submit", "--", "square", "4"], "");
    assert_eq!(text(&out).0.trim(), "2");
    pooltop(d, &["stop", "--pool", "w"], "");
    assert!(pool.wait().unwrap().code().is_some());
}

#[test]
fn another_user_cannot_reach_a_pool() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to run a client as `nobody`");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv is not installed");
        return;
    }
    let dir = private_control_dir();
    let d = dir.path();
    let mut pool = keep_alive_pool(d, "private", "1", &d.join("p.jsonl"));
    // pooltop's own client, run as nobody, is refused.
    let (_bin_dir, bin) = binary_for_others();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["status", "--pool", "private"])
        .env("POOLTOP_CONTROL_DIR", d)
        .current_dir("/")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ermission denied") || err.contains("must be a directory owned by you"),
        "{err}"
    );
    // Not through pooltop's client either: the socket itself is out of reach.
    // (Debian's python3, which `nobody` can run, makes the raw connect.)
    let sock = d.join("private.sock");
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("raw-socket probe skipped: /usr/bin/python3 is not installed");
        pooltop(d, &["stop", "--pool", "private"], "");
        assert!(pool.wait().unwrap().code().is_some());
        return;
    }
    let probe = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?})\n    print('connected')\nexcept PermissionError:\n    print('refused')",
        sock.to_str().unwrap()
    );
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            &probe,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "refused",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pooltop(d, &["stop", "--pool", "private"], "");
    assert!(pool.wait().unwrap().code().is_some());
}

#[test]
fn a_command_batch_can_be_watched_like_any_pool() {
    let dir = private_control_dir();
    let d = dir.path();
    let mut batch = pooltop_command()
        .args(["run", "-j", "2", "--join-timeout", "0.5", "--name", "jobs"])
        .args(["--", "sleep", ":::", "0.3", "5"])
        .env("POOLTOP_CONTROL_DIR", d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the batch to run both jobs", LONG, || {
        let out = pooltop(d, &["status", "--pool", "jobs", "--json"], "");
        serde_json::from_slice::<Value>(&out.stdout)
            .is_ok_and(|s| s["counts"]["submitted"] == 2 && s["counts"]["done"] == 1)
    });
    let s = status(d, "jobs");
    assert_eq!(s["title"], "sleep", "the template names the batch");
    let lines: Vec<&str> = s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["task_line"].as_str())
        .collect();
    assert_eq!(lines, vec!["sleep 5"], "{s}");
    pooltop(d, &["stop", "--pool", "jobs"], "");
    assert!(batch.wait().unwrap().code().is_some());
}

/// Connects to the pool `name` as a client of the control wire and says hello.
fn wire_client(dir: &Path, name: &str) -> std::os::unix::net::UnixStream {
    let mut conn =
        std::os::unix::net::UnixStream::connect(dir.join(format!("{name}.sock"))).unwrap();
    let hello = Request::Hello {
        version: CONTROL_VERSION,
    };
    assert!(matches!(ask(&mut conn, &hello), Reply::Welcome { .. }));
    conn
}

fn ask(conn: &mut std::os::unix::net::UnixStream, req: &Request) -> Reply {
    frame::write_frame(conn, req).unwrap();
    frame::read_frame(conn, &mut Vec::new()).unwrap()
}

fn done(reply: Reply) -> String {
    match reply {
        Reply::Done { message } => message,
        other => panic!("not done: {other:?}"),
    }
}

#[test]
fn the_orders_only_a_dashboard_gives_reach_the_pool_over_the_wire() {
    let dir = private_control_dir();
    let d = dir.path();
    let mut pool = keep_alive_pool(d, "keys", "1", &d.join("k.jsonl"));
    let mut conn = wire_client(d, "keys");

    let order = |conn: &mut _, order| ask(conn, &Request::Order(order));
    assert_eq!(
        done(order(&mut conn, Order::PauseDispatch)),
        "pausing dispatch"
    );
    wait_for("dispatch to pause", LONG, || {
        status(d, "keys")["dispatch_paused"] == true
    });
    // With dispatch paused a task stays queued, and can be cancelled there.
    let out = pooltop(d, &["submit", "--", "square", "2"], "");
    assert_eq!(text(&out).0.trim(), "1");
    wait_for("the task to queue", LONG, || {
        status(d, "keys")["queued"] == 1
    });
    assert_eq!(
        done(order(&mut conn, Order::CancelQueued)),
        "cancelling queued tasks"
    );
    let out = pooltop(d, &["wait", "1"], "");
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .contains("1 task(s): 0 done, 0 failed, 0 timed out, 1 cancelled"),
        "{:?}",
        text(&out)
    );
    assert_eq!(
        done(order(&mut conn, Order::ResumeDispatch)),
        "resuming dispatch"
    );
    wait_for("dispatch to resume", LONG, || {
        status(d, "keys")["dispatch_paused"] == false
    });

    // A pool keeps a worker: scaling to none is refused, nothing changes.
    match order(&mut conn, Order::Scale { workers: 0 }) {
        Reply::Error { message } => assert_eq!(message, "a pool needs at least 1 worker"),
        other => panic!("scaled to 0: {other:?}"),
    }
    assert_eq!(status(d, "keys")["workers_wanted"], 1);

    // The dashboard's second quit: everything is killed at once.
    assert_eq!(
        done(order(&mut conn, Order::KillAll)),
        "killing pool `keys` and its workers"
    );
    let run = pool.wait().unwrap();
    assert_eq!(run.code(), Some(1), "a task was cancelled");
}

#[test]
fn status_shows_each_workers_cpu_and_memory_and_the_cores() {
    let dir = private_control_dir();
    let d = dir.path();
    let pool = keep_alive_pool(d, "busy", "1", &d.join("events.jsonl"));
    // A spin long enough for a few samples (one a second by default).
    let out = pooltop(d, &["submit", "--pool", "busy", "-"], "spin 3000000000\n");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let mut last = Value::Null;
    wait_for("a sample of the spinning worker", LONG, || {
        last = status(d, "busy");
        last["workers"][0]["cpu"].as_f64().is_some_and(|c| c > 5.0)
    });
    let w = &last["workers"][0];
    assert_eq!(w["state"], "busy", "{last}");
    assert!(w["rss"].as_u64().is_some_and(|r| r > 0), "{last}");
    assert_eq!(w["hung"], false, "{last}");
    let cores = last["cores"].as_array().expect("cores");
    assert!(!cores.is_empty(), "{last}");
    assert!(
        cores
            .iter()
            .all(|c| c.as_f64().is_some_and(|c| (0.0..=100.5).contains(&c)))
    );
    // The text status has the columns too.
    let out = pooltop(d, &["status", "--pool", "busy"], "");
    let (stdout, _) = text(&out);
    assert!(stdout.contains("CPU") && stdout.contains("RSS"), "{stdout}");
    assert!(stdout.contains("cores"), "{stdout}");
    pooltop(d, &["stop", "--pool", "busy"], "");
    let _ = pool.wait_with_output();
}

/// How many threads and open descriptors process `pid` has.
fn threads_and_fds(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(&dir).map_or(0, |d| d.count());
    (
        count(format!("/proc/{pid}/task")),
        count(format!("/proc/{pid}/fd")),
    )
}

/// A connection the test holds open, and what the pool said on it.
struct Held {
    conn: std::os::unix::net::UnixStream,
    said: Vec<u8>,
    sent: std::time::Instant,
    closed: Option<std::time::Instant>,
}

/// Whether the pool has closed `conn`; what it said before is added to `said`.
fn closed_by_pool(conn: &mut std::os::unix::net::UnixStream, said: &mut Vec<u8>) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 512];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// The one-line errors the pool sent on a connection before closing it.
fn errors_in(said: &[u8]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut at = 0;
    while let Ok(Some((reply, used))) = frame::take_frame::<Reply>(&said[at..]) {
        at += used;
        if let Reply::Error { message } = reply {
            errors.push(message);
        }
    }
    errors
}

#[test]
fn five_hundred_half_open_connections_cost_no_thread_and_are_dropped_at_the_deadline() {
    use std::io::Write;
    use std::time::Instant;
    // 500 connections of our own, and the pool's replies to read.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if limit.current.is_some_and(|n| n < 2048) {
        let raised = rustix::process::Rlimit {
            current: Some(limit.maximum.map_or(4096, |m| m.min(4096))),
            maximum: limit.maximum,
        };
        rustix::process::setrlimit(rustix::process::Resource::Nofile, raised).unwrap();
    }
    let dir = private_control_dir();
    let d = dir.path();
    let mut pool = keep_alive_pool(d, "crowd", "1", &d.join("c.jsonl"));
    let pid = status(d, "crowd")["pid"].as_u64().unwrap() as u32;
    let (threads_before, fds_before) = threads_and_fds(pid);

    // Each sends all of a hello but its last byte, and holds.
    let mut hello = Vec::new();
    frame::encode_into(
        &Request::Hello {
            version: CONTROL_VERSION,
        },
        &mut hello,
    )
    .unwrap();
    let partial = &hello[..hello.len() - 1];
    let mut held: Vec<Held> = (0..500)
        .map(|_| {
            let mut conn = std::os::unix::net::UnixStream::connect(d.join("crowd.sock")).unwrap();
            conn.write_all(partial).unwrap();
            conn.set_nonblocking(true).unwrap();
            Held {
                conn,
                said: Vec::new(),
                sent: Instant::now(),
                closed: None,
            }
        })
        .collect();
    // The pool keeps MAX_CLIENTS of them and tells the others why it closes them.
    let poll_closed = |held: &mut Vec<Held>| {
        for h in held.iter_mut() {
            if h.closed.is_none() && closed_by_pool(&mut h.conn, &mut h.said) {
                h.closed = Some(Instant::now());
            }
        }
        held.iter().filter(|h| h.closed.is_some()).count()
    };
    let refused = 500 - limits::MAX_CLIENTS;
    wait_for("the pool to turn away all but the cap", LONG, || {
        poll_closed(&mut held) >= refused
    });
    let (threads, fds) = threads_and_fds(pid);
    assert!(
        threads <= threads_before + 1,
        "threads went from {threads_before} to {threads}"
    );
    assert!(
        fds <= fds_before + limits::MAX_CLIENTS,
        "fds went from {fds_before} to {fds}"
    );
    println!(
        "manager: {threads_before} threads and {fds_before} fds before, {threads} and {fds} holding 500 half-open connections"
    );
    // Meanwhile the pool answers as ever.
    let out = pooltop(d, &["status", "--pool", "crowd"], "");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("pool crowd"), "{:?}", text(&out));
    let out = pooltop(d, &["submit", "--pool", "crowd", "--", "square", "5"], "");
    assert_eq!(text(&out).0.trim(), "1", "{:?}", text(&out));

    // After the deadline every one of them is gone, each told why.
    let deadline = limits::READ_DEADLINE;
    wait_for(
        "the half-open connections to be dropped",
        deadline + LONG,
        || poll_closed(&mut held) == 500,
    );
    let mut at_deadline = 0;
    for h in &held {
        let errors = errors_in(&h.said);
        assert_eq!(errors.len(), 1, "{errors:?}");
        if errors[0].contains("no hello within") {
            at_deadline += 1;
            let held_for = h.closed.unwrap() - h.sent;
            assert!(held_for >= deadline, "dropped after {held_for:?}");
        } else {
            assert!(errors[0].contains("had not said hello"), "{errors:?}");
        }
    }
    assert!(at_deadline > 0, "none was held until the deadline");
    let (threads, fds) = threads_and_fds(pid);
    assert!(
        threads <= threads_before + 1,
        "{threads_before} -> {threads}"
    );
    assert!(fds <= fds_before + 1, "{fds_before} -> {fds}");
    pooltop(d, &["stop", "--pool", "crowd"], "");
    assert!(pool.wait().unwrap().code().is_some());
}

#[test]
fn a_full_house_of_clients_refuses_one_more_with_a_reason() {
    let dir = private_control_dir();
    let d = dir.path();
    let mut pool = keep_alive_pool(d, "full", "1", &d.join("f.jsonl"));
    let mut clients: Vec<_> = (0..limits::MAX_CLIENTS)
        .map(|_| wire_client(d, "full"))
        .collect();
    let out = pooltop(d, &["status", "--pool", "full"], "");
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "already serves {} control connections",
            limits::MAX_CLIENTS
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // The greeted ones are still served; once one leaves, a newcomer is too.
    assert!(matches!(
        ask(&mut clients[0], &Request::Status),
        Reply::Status(_)
    ));
    drop(clients.pop());
    wait_for("a free place", LONG, || {
        pooltop(d, &["status", "--pool", "full"], "").status.code() == Some(0)
    });
    drop(clients);
    pooltop(d, &["stop", "--pool", "full"], "");
    assert!(pool.wait().unwrap().code().is_some());
}

#[test]
fn a_dashboard_that_stops_reading_is_dropped_with_a_reason_and_holds_nobody_up() {
    use std::io::Read;
    let dir = private_control_dir();
    let d = dir.path();
    // Quiet: 120,000 failures named on a stderr pipe nobody reads would
    // block the run (as any program's would), not the control server.
    let mut pool = keep_alive_pool_with(d, "flood", "2", &d.join("fl.jsonl"), &["--quiet"]);
    let mut stuck = wire_client(d, "flood");
    assert!(matches!(
        ask(&mut stuck, &Request::Subscribe),
        Reply::Subscribed { .. }
    ));
    // More events than a dashboard may fall behind by (a failure each),
    // while the dashboard reads nothing.
    let tasks = limits::SUBSCRIBER_BACKLOG + 20_000;
    let mut orders = wire_client(d, "flood");
    let lines = vec!["fail on purpose".to_string(); tasks];
    assert!(matches!(
        ask(&mut orders, &Request::Submit { lines }),
        Reply::Submitted { .. }
    ));
    wait_for("every task to fail", LONG * 3, || {
        status(d, "flood")["counts"]["failed"] == tasks as u64
    });
    // The pool answers as ever, and the stuck dashboard's stream ends with
    // the reason it was dropped.
    let out = pooltop(d, &["submit", "--", "square", "3"], "");
    assert_eq!(
        text(&out).0.trim(),
        (tasks + 1).to_string(),
        "{:?}",
        text(&out)
    );
    stuck.set_read_timeout(Some(LONG)).unwrap();
    let mut rest = Vec::new();
    stuck.read_to_end(&mut rest).unwrap();
    let errors = errors_in(&rest);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(&format!(
            "fell {} events behind",
            limits::SUBSCRIBER_BACKLOG
        )),
        "{errors:?}"
    );
    pooltop(d, &["stop", "--pool", "flood"], "");
    assert!(pool.wait().unwrap().code().is_some());
}
