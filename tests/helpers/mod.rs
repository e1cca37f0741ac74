//! Shared test helpers: a pool of the real worker binary, waits with deadlines.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use pooltop::{Pool, PoolBuilder, PoolEvent, Task};

/// The pooltop binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_pooltop");

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
    matches!(pooltop::platform::process_state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// The pids of every process whose environment or command line mentions `marker`.
pub fn pids_with_marker(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let hit = |file: &str| {
            std::fs::read(format!("/proc/{pid}/{file}"))
                .map(|b| b.windows(marker.len()).any(|w| w == marker.as_bytes()))
                .unwrap_or(false)
        };
        if (hit("environ") || hit("cmdline")) && alive(pid) {
            found.push(pid);
        }
    }
    found
}
