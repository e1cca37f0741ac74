//! Hostile clients of the workers' socket, and who may reach it at all.
//! Each client here is a separate connection of this test process (or of
//! another user), never one of the pool's own workers.

mod helpers;

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use helpers::*;
use pooltop::protocol::frame;
use pooltop::protocol::{FromWorker, Hello, PROTOCOL_VERSION};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(20);

/// A pool of 2 workers held busy until `release` is called, then given
/// squares to prove it still works.
struct Target {
    run: LiveRun,
    go: PathBuf,
    /// The pool's control socket (`--name hostile` in a private control dir).
    control: PathBuf,
    _dir: tempfile::TempDir,
    socket: PathBuf,
    token: String,
    workers: Vec<(u64, u32)>,
}

impl Target {
    fn start(extra_tasks: &str) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let go = dir.path().join("go");
        let wait = format!(
            "shell while [ ! -e {} ]; do sleep 0.01; done\n",
            go.display()
        );
        let mut tasks = wait.repeat(2);
        tasks.push_str(extra_tasks);
        for i in 1..=20 {
            tasks.push_str(&format!("square {i}\n"));
        }
        let control_dir = dir.path().join("control");
        let run = LiveRun::start(
            &["-j", "2", "--name", "hostile"],
            &tasks,
            &[("POOLTOP_CONTROL_DIR", control_dir.to_str().unwrap())],
        );
        let workers = run.wait_until("2 workers", LONG, |evs| {
            let live = live_workers(evs);
            (live.len() == 2).then_some(live)
        });
        let pid = workers[0].1;
        let socket = PathBuf::from(env_of(pid, "POOLTOP_WORKER_SOCKET").expect("socket var"));
        let token = env_of(pid, "POOLTOP_TOKEN").expect("token var");
        Target {
            run,
            go,
            control: control_dir.join("hostile.sock"),
            _dir: dir,
            socket,
            token,
            workers,
        }
    }

    fn release(&self) {
        std::fs::write(&self.go, "").unwrap();
    }

    fn manager_hwm_kib(&self) -> u64 {
        vm_kib(self.run.pid(), "VmHWM").expect("manager VmHWM")
    }
}

fn hello(version: u32, worker: u32, pid: u32, token: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    let msg = FromWorker::Hello(Hello {
        version,
        worker,
        pid,
        token: token.into(),
        host: String::new(),
    });
    frame::encode_into(&msg, &mut wire).unwrap();
    wire
}

/// Connects, sends `bytes`, half-closes when `close` says so, and returns
/// what the manager sent back before it closed the connection.
fn send(socket: &Path, bytes: &[u8], close: bool) -> std::thread::JoinHandle<Vec<u8>> {
    let mut s = UnixStream::connect(socket).expect("connect to the pool's socket");
    let bytes = bytes.to_vec();
    std::thread::spawn(move || {
        // The manager may drop us before reading everything: that is fine.
        let _ = s.write_all(&bytes);
        if close {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        s.set_read_timeout(Some(LONG)).unwrap();
        let mut got = Vec::new();
        match s.read_to_end(&mut got) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("the manager neither answered nor closed: {e}"),
        }
        got
    })
}

#[test]
fn hostile_frames_are_refused_and_the_pool_goes_on() {
    let t = Target::start("");
    let before = t.manager_hwm_kib();
    let me = std::process::id();
    let real_worker = t.workers[0];
    let mut one_tib_token = vec![0u8, 1, 1, 1, 253];
    one_tib_token.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let mut framed_tib = (one_tib_token.len() as u32).to_le_bytes().to_vec();
    framed_tib.extend_from_slice(&one_tib_token);
    // To the control socket: Request::Submit { lines: [a 1 TiB string] }.
    let mut control_tib = vec![2u8, 1, 253];
    control_tib.extend_from_slice(&(1u64 << 40).to_le_bytes());
    control_tib.extend_from_slice(b"xxxxxxxxxx");
    let mut framed_control_tib = (control_tib.len() as u32).to_le_bytes().to_vec();
    framed_control_tib.extend_from_slice(&control_tib);
    let mut truncated = 100u32.to_le_bytes().to_vec();
    truncated.extend_from_slice(b"0123456789");
    // (what is sent, half-close after it, what the error event must say)
    let cases: Vec<(&str, Vec<u8>, bool, String)> = vec![
        (
            "garbage",
            b"GET / HTTP/1.1\r\nHost: pooltop\r\n\r\n".to_vec(),
            false,
            "exceeds the cap".into(),
        ),
        (
            "garbage in a small frame",
            vec![5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff],
            false,
            "bad handshake: malformed frame".into(),
        ),
        (
            "a 4 GiB length prefix",
            vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3],
            false,
            "frame of 4294967295 bytes exceeds the cap".into(),
        ),
        (
            "a string claiming 1 TiB",
            framed_tib,
            false,
            "exceeds the frame itself".into(),
        ),
        (
            "a truncated frame",
            truncated,
            true,
            "closed in the middle of a frame".into(),
        ),
        (
            "the wrong token",
            hello(PROTOCOL_VERSION, 1, me, &"0".repeat(64)),
            false,
            format!("pid {me}): wrong token"),
        ),
        (
            "another protocol version",
            hello(PROTOCOL_VERSION + 98, 1, me, &t.token),
            false,
            format!("protocol version {}", PROTOCOL_VERSION + 98),
        ),
        (
            "the right token and a worker's pid that is not ours",
            hello(PROTOCOL_VERSION, 1, real_worker.1, &t.token),
            false,
            format!("handshake says pid {}", real_worker.1),
        ),
        (
            "the right token and a live worker's id",
            hello(PROTOCOL_VERSION, real_worker.0 as u32, me, &t.token),
            false,
            "second or mismatched handshake".into(),
        ),
        (
            "the right token and an unknown worker id",
            hello(PROTOCOL_VERSION, 999_999, me, &t.token),
            false,
            "unknown worker w999999".into(),
        ),
    ];
    // Silence first: it takes the handshake timeout (5 s) to be refused.
    let silent = send(&t.socket, &[], false);
    let clients: Vec<_> = cases
        .iter()
        .map(|(_, bytes, close, _)| send(&t.socket, bytes, *close))
        .collect();
    for ((what, _, _, needle), client) in cases.iter().zip(clients) {
        let got = client.join().unwrap();
        assert!(
            got.is_empty(),
            "{what}: the manager sent {} bytes",
            got.len()
        );
        t.run
            .wait_event(&format!("the refusal of {what}"), LONG, |e| {
                e["event"] == "error" && e["message"].as_str().unwrap().contains(needle.as_str())
            });
    }
    // The control socket decodes with the same function: the same frame
    // (it used to abort the whole pool) is answered with an error.
    let got = send(&t.control, &framed_control_tib, false).join().unwrap();
    let answer = String::from_utf8_lossy(&got);
    assert!(answer.contains("exceeds the frame itself"), "{answer}");
    let got = silent.join().unwrap();
    assert!(got.is_empty(), "silence got an answer");
    t.run.wait_event("the refusal of silence", LONG, |e| {
        e["event"] == "error"
            && e["message"]
                .as_str()
                .unwrap()
                .contains("no handshake within 5s")
    });
    let after = t.manager_hwm_kib();
    assert!(
        after < before + 32 * 1024,
        "the manager's peak memory grew from {before} KiB to {after} KiB"
    );
    println!("manager VmHWM: {before} KiB before the hostile clients, {after} KiB after");

    t.release();
    let (status, events, stderr) = t.run.finish(LONG);
    assert_eq!(status.code(), Some(0), "every task done: {stderr}");
    // The pool never noticed: the same two workers did everything, no other
    // connection got a task.
    let started: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "worker_started")
        .collect();
    assert_eq!(started.len(), 2, "{started:?}");
    for e in &events {
        if e["event"] == "task_started" {
            assert!(
                t.workers.iter().any(|w| Some(w.0) == e["worker"].as_u64()),
                "{e}"
            );
        }
        if e["event"] == "worker_exited" {
            assert_eq!(e["how"], "exited", "a worker was hurt: {e}");
        }
        if e["event"] == "error" && !e["worker"].is_null() {
            // Only the impostor that claimed a live worker's id names it.
            let message = e["message"].as_str().unwrap();
            assert!(message.contains("mismatched handshake"), "{e}");
        }
    }
    let summary = events.last().unwrap();
    assert_eq!(summary["done"], 22, "{summary}");
}

#[test]
fn the_socket_is_private_and_the_token_never_shows() {
    let t = Target::start("shell env\n");
    // The socket's directory is the user's alone.
    let dir = t.socket.parent().unwrap();
    let meta = std::fs::metadata(dir).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "{}", dir.display());
    assert_eq!(meta.uid(), rustix::process::geteuid().as_raw());
    // Not in any command line of the pool.
    let mut pids = vec![t.run.pid()];
    pids.extend(t.workers.iter().map(|w| w.1));
    for pid in pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(
            !cmdline
                .windows(t.token.len())
                .any(|w| w == t.token.as_bytes()),
            "the token is in the argv of {pid}"
        );
    }
    another_user_cannot_connect(&t);
    t.release();
    let (status, events, stderr) = t.run.finish(LONG);
    assert_eq!(status.code(), Some(0), "{stderr}");
    // Not in the events (shell tasks do not even inherit it), nor on stderr.
    let all: String = events.iter().map(|e| e.to_string() + "\n").collect();
    assert!(all.contains("PATH="), "the env task ran");
    assert!(!all.contains(&t.token), "the token leaked into the events");
    assert!(
        !all.contains("POOLTOP_"),
        "a pool variable leaked to a task"
    );
    assert!(!stderr.contains(&t.token), "the token leaked to stderr");
}

/// Runs a worker as user `nobody`, holding the real token: it must not even
/// reach the socket. Skipped (with the reason printed) unless root with setpriv.
fn another_user_cannot_connect(t: &Target) {
    if !rustix::process::geteuid().is_root() {
        println!("skipped the other-user check: needs root to run a client as nobody");
        return;
    }
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output();
    if !setpriv.is_ok_and(|o| o.status.success()) {
        println!("skipped the other-user check: setpriv (util-linux) is not installed");
        return;
    }
    let (_bin_dir, bin) = binary_for_others();
    let errors_before = t
        .run
        .with_events(|evs| evs.iter().filter(|e| e["event"] == "error").count());
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .env("POOLTOP_WORKER_SOCKET", &t.socket)
        .env("POOLTOP_WORKER_ID", "1")
        .env("POOLTOP_TOKEN", &t.token)
        // setpriv execs the worker: its parent (checked) is this test.
        .env("POOLTOP_MANAGER_PID", std::process::id().to_string())
        .env_remove("XDG_RUNTIME_DIR")
        .current_dir("/")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    // The manager never even saw a connection.
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        let errors = t
            .run
            .with_events(|evs| evs.iter().filter(|e| e["event"] == "error").count());
        assert_eq!(errors, errors_before, "the manager heard from nobody");
        std::thread::sleep(Duration::from_millis(20));
    }
}
