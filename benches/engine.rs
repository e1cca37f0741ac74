//! Engine benchmarks, a plain bench binary (`bench/compare.py` runs it beside
//! Python's pools, xargs and GNU parallel and computes same-run ratios):
//!
//!   cargo bench --bench engine                    # everything, 5 runs each
//!   cargo bench --bench engine -- throughput 3    # one group, 3 runs
//!   cargo bench --bench engine -- latency 1 --json   # one JSON line per figure
//!
//! Groups: throughput (100,000 `square` tasks on 2 workers, one task per
//! dispatch), chunked (the same with `ChunkSize::Auto`), latency (round trip of one task on an idle 2-worker pool),
//! pingpong (the floor: 16-byte round trip over a Unix socket between this
//! process and a child, no pool), startup (2 and 32 workers: start → every
//! worker has answered one task), rss (VmRSS of an idle worker). Prints the
//! median and min–max of the runs.

use std::time::{Duration, Instant};

use pooltop::{PoolConfig, PoolEvent, Task, TaskState, engine};

// The pooltop binary's allocator (see the "mimalloc" feature in Cargo.toml):
// the supervisor runs in this process, so it allocates as the binary does.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn worker_program() -> std::path::PathBuf {
    // Benches live in target/release/deps; the binary one level up.
    let exe = std::env::current_exe().expect("current_exe");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("pooltop"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "build the binary first: cargo build --release ({} missing)",
        bin.display()
    );
    bin
}

fn config(workers: usize) -> PoolConfig {
    PoolConfig {
        workers,
        worker_program: Some(worker_program()),
        out_dir: std::env::temp_dir().join("pooltop-bench"),
        ..PoolConfig::default()
    }
}

fn squares(n: usize) -> Vec<Task> {
    (0..n)
        .map(|i| Task::from(pooltop::task::TaskSpec::Square(i as i64)))
        .collect()
}

/// Starts a pool and waits until `workers` are ready.
fn ready_pool(workers: usize) -> (engine::PoolHandle, engine::EventReceiver) {
    let (pool, events, _) = ready_pool_with(config(workers));
    (pool, events)
}

/// Starts a pool and waits until its workers are ready; returns their pids too.
fn ready_pool_with(config: PoolConfig) -> (engine::PoolHandle, engine::EventReceiver, Vec<u32>) {
    let workers = config.workers;
    let (pool, mut events) = engine::start(config).expect("start");
    let mut pids = Vec::new();
    while pids.len() < workers {
        if let PoolEvent::WorkerReady { pid, .. } = events.recv().expect("event") {
            pids.push(pid);
        }
    }
    (pool, events, pids)
}

/// CPU time used so far, in nanoseconds, by the calling thread, the
/// supervisor thread and the worker processes (`/proc`'s schedstat counts
/// in nanoseconds; the tick-based counters are too coarse for a 20 ms run).
#[derive(Clone, Copy, Default)]
struct CpuSplit {
    caller: u64,
    supervisor: u64,
    workers: u64,
}

impl CpuSplit {
    fn now(worker_pids: &[u32]) -> CpuSplit {
        let ns = |path: &str| -> u64 {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        let supervisor = std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .find(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("pooltop-supervi"))
            })
            .map_or(0, |t| ns(&t.path().join("schedstat").to_string_lossy()));
        CpuSplit {
            caller: ns("/proc/thread-self/schedstat"),
            supervisor,
            workers: worker_pids
                .iter()
                .map(|p| ns(&format!("/proc/{p}/schedstat")))
                .sum(),
        }
    }

    /// Nanoseconds per task of each, since `before`.
    fn per_task_since(&self, before: &CpuSplit, tasks: usize) -> CpuSplit {
        let per = |a: u64, b: u64| a.saturating_sub(b) / tasks as u64;
        CpuSplit {
            caller: per(self.caller, before.caller),
            supervisor: per(self.supervisor, before.supervisor),
            workers: per(self.workers, before.workers),
        }
    }
}

fn stop(pool: engine::PoolHandle, mut events: engine::EventReceiver) {
    pool.send(pooltop::Command::Shutdown);
    for ev in events.iter() {
        if let PoolEvent::Stopped(_) = ev {
            break;
        }
    }
}

/// Tasks per second, and the CPU each part of the pool spent per task.
fn throughput(n: usize, chunksize: pooltop::ChunkSize) -> (f64, CpuSplit) {
    let (pool, mut events, pids) = ready_pool_with(PoolConfig {
        chunksize,
        ..config(2)
    });
    let tasks = squares(n);
    let cpu_before = CpuSplit::now(&pids);
    let started = Instant::now();
    pool.submit_all(tasks);
    let mut done = 0;
    for ev in events.iter() {
        match ev {
            PoolEvent::TaskFinished(r) => {
                assert_eq!(r.state, TaskState::Done, "{r:?}");
                done += 1;
            }
            // Each task of the run is done, with its value and wall time.
            PoolEvent::TasksDone(run) => done += run.len(),
            _ => continue,
        }
        if done == n {
            break;
        }
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let cpu = CpuSplit::now(&pids).per_task_since(&cpu_before, n);
    stop(pool, events);
    (rate, cpu)
}

/// The rates of `runs` throughput runs, then the CPU per task of each part.
fn throughput_group(label: &str, runs: usize, chunksize: pooltop::ChunkSize) {
    let results: Vec<(f64, CpuSplit)> = (0..runs).map(|_| throughput(100_000, chunksize)).collect();
    summary(label, "tasks/s", results.iter().map(|r| r.0).collect());
    let parts = [
        (
            "caller",
            results.iter().map(|r| r.1.caller).collect::<Vec<_>>(),
        ),
        (
            "supervisor",
            results.iter().map(|r| r.1.supervisor).collect(),
        ),
        ("workers", results.iter().map(|r| r.1.workers).collect()),
    ];
    for (part, ns) in parts {
        summary(
            &format!("{label}: CPU per task, {part}"),
            "ns",
            ns.into_iter().map(|x| x as f64).collect(),
        );
    }
}

/// Median and p99 round trip in microseconds.
fn latency(calls: usize) -> (f64, f64) {
    let (pool, mut events) = ready_pool(2);
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + 50 {
        let t = Instant::now();
        pool.submit(Task::from(pooltop::task::TaskSpec::Square(i as i64)));
        loop {
            if let PoolEvent::TaskFinished(_) = events.recv().expect("event") {
                break;
            }
        }
        if i >= 50 {
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    stop(pool, events);
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// Milliseconds from start until `workers` distinct workers answered a task.
fn startup(workers: usize) -> f64 {
    let started = Instant::now();
    let (pool, mut events) = engine::start(config(workers)).expect("start");
    pool.submit_all(squares(workers));
    let mut seen = std::collections::HashSet::new();
    let (mut submitted, mut finished) = (workers, 0);
    while seen.len() < workers {
        let (worker, n) = match events.recv().expect("event") {
            PoolEvent::TaskFinished(r) => (r.worker, 1),
            PoolEvent::TasksDone(run) => (Some(run.worker()), run.len()),
            _ => continue,
        };
        seen.insert(worker);
        finished += n;
        if finished == submitted && seen.len() < workers {
            pool.submit_all(squares(workers));
            submitted += workers;
        }
    }
    let ms = started.elapsed().as_secs_f64() * 1e3;
    stop(pool, events);
    ms
}

/// VmRSS of an idle worker, in KiB.
fn rss() -> f64 {
    let (pool, mut events) = engine::start(config(1)).expect("start");
    let pid = loop {
        if let PoolEvent::WorkerReady { pid, .. } = events.recv().expect("event") {
            break pid;
        }
    };
    pool.submit_all(squares(1));
    std::thread::sleep(Duration::from_millis(200));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("VmRSS");
    stop(pool, events);
    kib
}

/// Median round trip in microseconds of 16 bytes over a Unix socket to a
/// child process that echoes them: the floor under any pool's round trip.
fn pingpong(calls: usize) -> f64 {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pp.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(PINGPONG_ENV, &path)
        .spawn()
        .expect("spawn echo child");
    let (mut s, _) = listener.accept().expect("accept");
    let mut buf = [7u8; 16];
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + 50 {
        let t = Instant::now();
        s.write_all(&buf).expect("write");
        s.read_exact(&mut buf).expect("read");
        if i >= 50 {
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    drop(s);
    let _ = child.wait();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

const PINGPONG_ENV: &str = "POOLTOP_BENCH_PINGPONG";

/// The echo side of [`pingpong`].
fn pingpong_child(path: &str) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path).expect("connect");
    let mut buf = [0u8; 16];
    while s.read_exact(&mut buf).is_ok() {
        if s.write_all(&buf).is_err() {
            break;
        }
    }
}

/// Prints the figures of a group: a summary line, or with `--json` one
/// object per run.
fn summary(label: &str, unit: &str, xs: Vec<f64>) {
    if JSON.load(std::sync::atomic::Ordering::Relaxed) {
        for x in &xs {
            println!(
                "{}",
                serde_json::json!({"metric": label, "unit": unit, "value": x})
            );
        }
        return;
    }
    let mut xs = xs;
    xs.sort_by(f64::total_cmp);
    println!(
        "{label:<44} median {:>12.1} {unit:<8} min {:>12.1}  max {:>12.1}  (runs {})",
        xs[xs.len() / 2],
        xs[0],
        xs[xs.len() - 1],
        xs.len()
    );
}

static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn main() {
    if let Ok(path) = std::env::var(PINGPONG_ENV) {
        pingpong_child(&path);
        return;
    }
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Some(i) = args.iter().position(|a| a == "--json") {
        args.remove(i);
        JSON.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let only = args.first().cloned();
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let want = |g: &str| only.as_deref().is_none_or(|o| o == g);
    if want("throughput") || want("chunked") {
        // Untimed runs first, as the Python pools are measured warm: the
        // first runs in a process measured 30-60% low (memory faulted in,
        // caches and the allocator warming up); from the third on they
        // settle. Back to back, as the Python pools' warm-up is.
        for _ in 0..2 {
            throughput(100_000, pooltop::ChunkSize::Auto);
        }
    }
    if want("throughput") {
        throughput_group(
            "throughput: 100,000 square, 2 workers",
            runs,
            pooltop::ChunkSize::Fixed(1),
        );
    }
    if want("chunked") {
        throughput_group(
            "throughput: 100,000 square, 2 workers, chunksize auto",
            runs,
            pooltop::ChunkSize::Auto,
        );
    }
    if want("latency") {
        let results: Vec<(f64, f64)> = (0..runs).map(|_| latency(2000)).collect();
        summary(
            "round trip, idle pool of 2 (median of 2000)",
            "µs",
            results.iter().map(|r| r.0).collect(),
        );
        summary(
            "round trip, idle pool of 2 (p99 of 2000)",
            "µs",
            results.iter().map(|r| r.1).collect(),
        );
    }
    if want("pingpong") {
        summary(
            "socket ping-pong floor, 16 B (median of 2000)",
            "µs",
            (0..runs).map(|_| pingpong(2000)).collect(),
        );
    }
    if want("startup") {
        for n in [2, 32] {
            summary(
                &format!("start-up: {n} workers answered one task"),
                "ms",
                (0..runs).map(|_| startup(n)).collect(),
            );
        }
    }
    if want("rss") {
        summary(
            "idle worker VmRSS",
            "KiB",
            (0..runs).map(|_| rss()).collect(),
        );
    }
}
