//! CPU and memory sampling of the pool's own processes and of every core.
//!
//! The only file that names `sysinfo`. One sampler thread, started by the
//! engine (see `PoolConfig::sample_every`), keeps one long-lived `System` and
//! refreshes, about once a second, only what the faces show: the per-core
//! load, the tracked worker processes together with their descendants (shell
//! tasks run in the worker's process tree), and pooltop itself. It never
//! lists every process of the machine. The supervisor tells it which workers
//! to follow and publishes each [`Sample`] as a `PoolEvent::Sample`.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::events::WorkerId;
pub use super::events::{ProcStat, Sample, WorkerStat};

/// The shortest interval between two samples: sysinfo needs this much time
/// between two CPU refreshes to compute a meaningful percentage.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// At most this many descendants of one worker are followed (a fork bomb in a
/// shell task must not make the monitor expensive).
const MAX_DESCENDANTS: usize = 64;

enum Ctl {
    Track(WorkerId, u32),
    Untrack(WorkerId),
}

/// Controls a running sampler; dropping it (and every clone) stops the thread.
#[derive(Clone)]
pub struct MonitorHandle {
    tx: Sender<Ctl>,
}

impl MonitorHandle {
    /// Starts sampling `worker`'s process `pid` (and its descendants) from
    /// the next sample on.
    pub fn track(&self, worker: WorkerId, pid: u32) {
        // The sampler is gone only when the consumer stopped it: nothing to do then.
        let _ = self.tx.send(Ctl::Track(worker, pid));
    }

    /// Stops sampling `worker`.
    pub fn untrack(&self, worker: WorkerId) {
        let _ = self.tx.send(Ctl::Untrack(worker));
    }
}

/// Starts the sampler thread: every `interval` (at least [`MIN_INTERVAL`]) it
/// hands a [`Sample`] to `sink`. The thread ends when `sink` returns false or
/// every [`MonitorHandle`] is dropped.
pub fn start(
    interval: Duration,
    sink: impl FnMut(Sample) -> bool + Send + 'static,
) -> std::io::Result<MonitorHandle> {
    let interval = interval.max(MIN_INTERVAL);
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("pooltop-monitor".into())
        .spawn(move || {
            let Ok(mut sampler) = Sampler::new() else {
                return;
            };
            let mut sink = sink;
            let mut next = Instant::now() + interval;
            loop {
                // Wait for the next sample time, applying track/untrack orders meanwhile.
                loop {
                    let left = next.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(Ctl::Track(worker, pid)) => sampler.track(worker, pid),
                        Ok(Ctl::Untrack(worker)) => {
                            sampler.tracked.remove(&worker);
                        }
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                let sample = sampler.sample();
                if !sink(sample) {
                    return;
                }
                // Keep the cadence, but never sample twice within MIN_INTERVAL.
                next = (next + interval).max(Instant::now() + MIN_INTERVAL);
            }
        })?;
    Ok(MonitorHandle { tx })
}

/// The sampling state: one `System`, kept for the life of the thread.
pub struct Sampler {
    sys: System,
    tracked: BTreeMap<WorkerId, u32>,
    own: u32,
    last_thread_cpu: Duration,
    last_at: Instant,
}

impl Sampler {
    /// A sampler that tracks nothing but pooltop itself. Takes a first
    /// reading, so the next [`Sampler::sample`] has a baseline.
    pub fn new() -> Result<Sampler, sysinfo::Error> {
        let mut s = Sampler {
            sys: System::new()?,
            tracked: BTreeMap::new(),
            own: std::process::id(),
            last_thread_cpu: thread_cpu_time(),
            last_at: Instant::now(),
        };
        s.sample();
        Ok(s)
    }

    /// Starts tracking `worker`'s process `pid` (for callers that drive the
    /// sampler themselves).
    pub fn track(&mut self, worker: WorkerId, pid: u32) {
        self.tracked.insert(worker, pid);
    }

    /// Takes one sample now. Calls closer together than [`MIN_INTERVAL`] give
    /// meaningless CPU figures.
    pub fn sample(&mut self) -> Sample {
        let t0 = Instant::now();
        // Order matters (sysinfo 0.40): the process refresh stamps the CPU
        // refresh guard, so the per-core refresh must come first or the cores
        // stay at 0 %.
        self.sys.refresh_cpu_usage();

        // The worker's trees, then pooltop's own process (no worker id).
        let roots = self.tracked.iter().map(|(&w, &pid)| (Some(w), pid));
        let roots = roots.chain(std::iter::once((None, self.own)));
        let mut trees: Vec<(Option<WorkerId>, u32, Vec<u32>)> =
            Vec::with_capacity(self.tracked.len() + 1);
        let mut all: Vec<Pid> = Vec::new();
        for (worker, root) in roots {
            let mut tree = vec![root];
            if worker.is_some() {
                descendants(&mut tree);
            }
            all.extend(tree.iter().map(|&p| Pid::from_u32(p)));
            trees.push((worker, root, tree));
        }
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&all),
            true,
            ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .without_tasks(),
        );

        let mut workers = Vec::with_capacity(trees.len());
        let mut own = ProcStat::default();
        for (worker, pid, tree) in trees {
            let mut st = ProcStat::default();
            for pid in tree {
                if let Some(p) = self.sys.process(Pid::from_u32(pid)) {
                    st.cpu += p.cpu_usage();
                    st.rss += p.memory();
                    st.procs += 1;
                }
            }
            match worker {
                None => own = st,
                Some(worker) if st.procs > 0 => workers.push(WorkerStat {
                    worker,
                    pid,
                    stat: st,
                }),
                Some(_) => {}
            }
        }
        let cores = self.sys.cpus().iter().map(|c| c.usage()).collect();

        let now = Instant::now();
        let cpu_now = thread_cpu_time();
        let wall = now.duration_since(self.last_at).as_secs_f32();
        let spent = cpu_now.saturating_sub(self.last_thread_cpu).as_secs_f32();
        let monitor_cpu = if wall > 0.0 {
            100.0 * spent / wall
        } else {
            0.0
        };
        self.last_at = now;
        self.last_thread_cpu = cpu_now;
        Sample {
            cores,
            workers,
            own,
            monitor_cpu,
            cost: now.duration_since(t0),
            hosts: Vec::new(),
        }
    }
}

/// Appends the descendants of the last pid of `out` to `out`, read from
/// `/proc/PID/task/TID/children` (Linux). Elsewhere only the worker itself
/// is sampled.
fn descendants(out: &mut Vec<u32>) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let mut i = out.len() - 1;
    while i < out.len() && out.len() <= MAX_DESCENDANTS {
        let parent = out[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let path = t.path().join("children");
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|w| w.parse::<u32>().ok()),
            );
        }
    }
    out.truncate(MAX_DESCENDANTS + 1);
}

/// CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    #[test]
    fn sees_cores_a_busy_child_tree_and_itself() {
        // A shell whose child spins: the CPU shows up summed under the shell.
        let mut child = Command::new("sh")
            .args(["-c", "while :; do :; done & wait"])
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        let mut s = Sampler::new().expect("sysinfo");
        let w = WorkerId(1);
        s.track(w, child.id());
        let mut last = Sample::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(300));
            last = s.sample();
            if last
                .worker(w)
                .is_some_and(|p| p.stat.cpu > 5.0 && p.stat.procs >= 2)
            {
                break;
            }
        }
        // SAFETY: kill(2) on the child's own process group.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.kill();
        let _ = child.wait();
        assert!(!last.cores.is_empty());
        assert!(
            last.cores.iter().any(|&c| c > 0.0),
            "cores {:?}",
            last.cores
        );
        let found = last.worker(w).expect("tracked tree");
        assert_eq!(found.pid, child.id());
        let tree = found.stat;
        assert!(tree.procs >= 2, "{tree:?}");
        assert!(tree.cpu > 5.0, "{tree:?}");
        assert!(tree.rss > 0);
        assert!(last.own.rss > 0);
    }

    #[test]
    fn thread_sends_samples_and_stops_with_its_sink() {
        let (tx, rx) = mpsc::channel();
        let h = start(Duration::from_millis(200), move |s| tx.send(s).is_ok()).unwrap();
        h.track(WorkerId(1), std::process::id());
        let s = rx.recv_timeout(Duration::from_secs(5)).expect("a sample");
        assert!(!s.cores.is_empty());
        drop(rx);
    }
}
