//! Shared test helpers: a pool of the real worker binary, waits with deadlines.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pooltop::{Pool, PoolBuilder, PoolEvent, Task};

/// The pooltop binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_pooltop");

/// An empty folder standing for the config location, so that the binary
/// under test never reads a developer's own `~/.config/pooltop/config.toml`.
pub fn empty_config_home() -> PathBuf {
    let dir = std::env::temp_dir().join("pooltop-tests-empty-config-home");
    std::fs::create_dir_all(&dir).expect("a folder in the temp dir");
    dir
}

/// Names of the `POOLTOP_*` settings in the tests' own environment, which
/// the binary under test must not see (a test that wants one sets it).
fn settings_in_environment() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("POOLTOP_"))
        .collect()
}

/// The binary under test, with none of the developer's settings: an empty
/// config location and no `POOLTOP_*` variable passed on. Environment set on
/// the command afterwards still applies.
pub fn pooltop_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.env("XDG_CONFIG_HOME", empty_config_home());
    // Default recordings go to the temp dir, not the developer's state dir.
    cmd.env(
        "XDG_STATE_HOME",
        std::env::temp_dir().join("pooltop-tests-state-home"),
    );
    for name in settings_in_environment() {
        cmd.env_remove(name);
    }
    cmd
}

/// The same for a shell line: the arguments of `env` to put before the
/// binary (`env {hermetic_env()} NAME=VALUE {BIN} …`).
pub fn hermetic_env() -> String {
    let unset: Vec<String> = settings_in_environment()
        .iter()
        .map(|name| format!("-u {}", name.to_string_lossy()))
        .collect();
    let home = empty_config_home();
    format!("{} XDG_CONFIG_HOME={}", unset.join(" "), home.display())
}

/// A pool builder whose workers are the real pooltop binary.
pub fn pool(workers: usize) -> PoolBuilder {
    Pool::builder()
        .workers(workers)
        .worker_program(BIN)
        .out_dir(std::env::temp_dir().join("pooltop-test-thumbs"))
}

pub fn task(line: &str) -> Task {
    Task::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Polls `cond` until it holds or `within` passes.
pub fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads events until `pick` returns something, failing after `within`.
pub fn wait_event<T>(
    pool: &mut Pool,
    within: Duration,
    what: &str,
    mut pick: impl FnMut(&PoolEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = pool
            .next_event_timeout(left)
            .unwrap_or_else(|| panic!("timed out waiting for {what}"));
        if let Some(t) = pick(&ev) {
            return t;
        }
    }
}

/// Whether a process exists (zombies count as gone).
pub fn alive(pid: u32) -> bool {
    pooltop::platform::proc_stat(pid).is_some_and(|p| p.is_live())
}

/// The pids of every process whose environment or command line mentions `marker`.
pub fn pids_with_marker(marker: &str) -> Vec<u32> {
    let hit = |pid: u32, file: &str| {
        std::fs::read(format!("/proc/{pid}/{file}"))
            .map(|b| b.windows(marker.len()).any(|w| w == marker.as_bytes()))
            .unwrap_or(false)
    };
    pooltop::platform::all_processes()
        .filter(|p| p.pid != std::process::id() && p.is_live())
        .map(|p| p.pid)
        .filter(|&pid| hit(pid, "environ") || hit(pid, "cmdline"))
        .collect()
}

/// A `pooltop run --json -` started in the background, its JSON events
/// collected as they come (stdout is line-buffered), its stderr kept.
pub struct LiveRun {
    pub child: std::process::Child,
    events: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl LiveRun {
    /// Starts `pooltop run --json - ARGS -` with `tasks` on stdin and `envs` set.
    pub fn start(args: &[&str], tasks: &str, envs: &[(&str, &str)]) -> LiveRun {
        use std::io::{BufRead, Read, Write};
        use std::process::Stdio;
        let mut child = pooltop_command()
            .arg("run")
            .args(["--json", "-"])
            .args(args)
            .arg("-")
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pooltop");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(tasks.as_bytes())
            .expect("write the tasks");
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let sink = events.clone();
        let out_reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let line = line.expect("read the JSON stream");
                let v: serde_json::Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {e}: {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let err_sink = stderr.clone();
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            err_sink.lock().unwrap().push_str(&text);
        });
        LiveRun {
            child,
            events,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    /// The manager's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `f` on the events so far.
    pub fn with_events<T>(&self, f: impl FnOnce(&[serde_json::Value]) -> T) -> T {
        f(&self.events.lock().unwrap())
    }

    /// Polls the events until `pick` returns something, failing after `within`.
    pub fn wait_until<T>(
        &self,
        what: &str,
        within: Duration,
        mut pick: impl FnMut(&[serde_json::Value]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(t) = self.with_events(&mut pick) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; stderr so far:\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the first event for which `pred` holds.
    pub fn wait_event(
        &self,
        what: &str,
        within: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        self.wait_until(what, within, |evs| evs.iter().find(|e| pred(e)).cloned())
    }

    /// Workers started and not exited so far: (worker id, pid).
    pub fn live_workers(&self) -> Vec<(u64, u32)> {
        self.with_events(live_workers)
    }

    /// Waits for pooltop to exit (killing it after `within`); returns its
    /// status, every event and its stderr.
    pub fn finish(
        mut self,
        within: Duration,
    ) -> (std::process::ExitStatus, Vec<serde_json::Value>, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "pooltop did not finish within {within:?}; stderr:\n{}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            r.join().expect("reader thread");
        }
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        let stderr = std::mem::take(&mut *self.stderr.lock().unwrap());
        (status, events, stderr)
    }
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        // A failed test must not leave its pool running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Workers started and not exited in `events`: (worker id, pid).
pub fn live_workers(events: &[serde_json::Value]) -> Vec<(u64, u32)> {
    let mut live = std::collections::BTreeMap::new();
    for e in events {
        match e["event"].as_str() {
            Some("worker_started") => {
                live.insert(
                    e["worker"].as_u64().unwrap(),
                    e["pid"].as_u64().unwrap() as u32,
                );
            }
            Some("worker_exited") => {
                live.remove(&e["worker"].as_u64().unwrap());
            }
            _ => {}
        }
    }
    live.into_iter().collect()
}

/// A `VmHWM:` / `VmRSS:`-style field of /proc/PID/status, in KiB.
pub fn vm_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The value of environment variable `name` of process `pid` (same user).
pub fn env_of(pid: u32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{name}=");
    environ
        .split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The live (not zombie) children of process `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    pooltop::platform::all_processes()
        .filter(|p| p.ppid == parent && p.is_live())
        .map(|p| p.pid)
        .collect()
}

/// A small deterministic random generator (xorshift64*), for chaos that can
/// be replayed from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// A fixed seed, or `$POOLTOP_TEST_SEED` (`time` for one from the
    /// clock), printed so a failing run can be replayed.
    pub fn seeded(test: &str) -> Rng {
        let seed = match std::env::var("POOLTOP_TEST_SEED").ok().as_deref() {
            Some("time") => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
            Some(s) => s.parse().expect("POOLTOP_TEST_SEED is a number or `time`"),
            None => 0x5EED_1234_ABCD,
        };
        println!("{test}: POOLTOP_TEST_SEED={seed}");
        Rng::new(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A fresh directory of mode `mode` (tempdir makes 0700; a directory others
/// may enter needs 0755), removed on drop.
pub fn dir_with_mode(prefix: &str, mode: u32) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(mode),
    )
    .unwrap();
    dir
}

/// A private control directory per test (`POOLTOP_CONTROL_DIR`), so tests
/// never see each other's pools.
pub fn private_control_dir() -> tempfile::TempDir {
    dir_with_mode("pt-ctl-", 0o700)
}

/// A copy of the pooltop binary that another user (`nobody`) can execute,
/// wherever the build folder is. Keep the directory alive while it is used.
pub fn binary_for_others() -> (tempfile::TempDir, PathBuf) {
    let dir = dir_with_mode("pt-bin-", 0o755);
    let bin = dir.path().join("pooltop");
    std::fs::copy(BIN, &bin).unwrap();
    (dir, bin)
}

/// Runs pooltop with `args`, `stdin` as its input and `env` added to its
/// environment; waits for it and returns what it printed.
pub fn run_pooltop(
    args: &[&str],
    stdin: &str,
    env: &[(&str, &std::path::Path)],
) -> std::process::Output {
    use std::io::Write;
    let mut cmd = pooltop_command();
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // pooltop may exit before reading (bad options): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Starts `pooltop run --headless --keep-alive --name NAME -j WORKERS
/// ARGS… --json JSON` with its control socket in `dir`, and returns once
/// `pooltop ls` lists it. `stderr` is where the pool's stderr goes (piped,
/// for a test that reads the summary; null, for one whose pool may write
/// more than a pipe holds).
pub fn keep_alive_pool_in(
    dir: &std::path::Path,
    name: &str,
    workers: &str,
    json: &std::path::Path,
    args: &[&str],
    stderr: std::process::Stdio,
) -> std::process::Child {
    let child = pooltop_command()
        .args(["run", "--headless", "--keep-alive", "--name", name])
        .args(["-j", workers])
        .args(args)
        .arg("--json")
        .arg(json)
        .env("POOLTOP_CONTROL_DIR", dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    wait_for("the pool to be listed", Duration::from_secs(30), || {
        let out = run_pooltop(&["ls"], "", &[("POOLTOP_CONTROL_DIR", dir)]);
        String::from_utf8_lossy(&out.stdout).contains(name)
    });
    child
}
