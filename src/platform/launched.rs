//! What a launched worker (`pooltop worker --stdio`, see `worker::stdio`)
//! needs of the system: handing its worker a socket as a known descriptor,
//! and measuring its process group and its machine's cores, which the
//! manager on another machine cannot see.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use super::all_processes;

/// Starts `cmd` with `fd` open as descriptor `target` (and not closed on exec).
pub fn pass_fd_as(cmd: &mut Command, fd: RawFd, target: RawFd) {
    // SAFETY: the hook runs between fork and exec and makes only the
    // async-signal-safe dup2(2) and fcntl(2) calls; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if fd == target {
                // dup2 onto itself keeps close-on-exec: clear it by hand.
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, target) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// On SIGTERM, SIGHUP or SIGINT to this process (a launched worker's side,
/// which is outside its worker's group), kill the group led by `pgid` and
/// exit: `ssh -t` hangs up, `scancel` terminates.
pub fn kill_group_on_hangup_of_this(pgid: u32) {
    static GROUP: AtomicI32 = AtomicI32::new(0);
    GROUP.store(pgid as i32, Ordering::SeqCst);
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        // SAFETY: the handler makes only the async-signal-safe kill(2) and
        // _exit(2) calls, and reads an atomic.
        let _ = unsafe {
            signal_hook::low_level::register(sig, || {
                let group = GROUP.load(Ordering::SeqCst);
                if group > 0 {
                    libc::kill(-group, libc::SIGKILL);
                }
                libc::_exit(1);
            })
        };
    }
}

/// This machine's OS and architecture as `uname -sm` prints them.
pub fn os_and_arch() -> String {
    // SAFETY: utsname is plain byte arrays, for which all zeroes is valid,
    // and uname(2) writes only into the struct we pass.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let text = |field: &[libc::c_char]| {
        let bytes: Vec<u8> = field
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {}", text(&u.sysname), text(&u.machine))
}

/// Measures one process group's CPU and memory, and the machine's cores,
/// from one reading to the next.
pub struct GroupSampler {
    pgid: u32,
    last: Option<(Instant, u64)>,
    cores: Vec<(u64, u64)>,
}

impl GroupSampler {
    pub fn new(pgid: u32) -> GroupSampler {
        GroupSampler {
            pgid,
            last: None,
            cores: core_ticks(),
        }
    }

    /// CPU % of one core since the last reading (0 the first time),
    /// resident bytes now, and each core's busy % since the last reading.
    pub fn sample(&mut self) -> (f32, u64, Vec<f32>) {
        let now = Instant::now();
        let mut ticks = 0;
        let mut rss = 0;
        for p in all_processes().filter(|p| p.pgrp == self.pgid && p.is_live()) {
            ticks += p.cpu_ticks;
            rss += resident_bytes(p.pid);
        }
        let hz = clock_ticks_per_second();
        let cpu = match self.last {
            Some((then, before)) if now > then => {
                let secs = (now - then).as_secs_f64();
                (ticks.saturating_sub(before) as f64 / hz / secs * 100.0) as f32
            }
            _ => 0.0,
        };
        self.last = Some((now, ticks));
        let cores = core_ticks();
        let busy = cores
            .iter()
            .zip(&self.cores)
            .map(|((b1, t1), (b0, t0))| {
                let total = t1.saturating_sub(*t0);
                if total == 0 {
                    0.0
                } else {
                    (b1.saturating_sub(*b0) as f64 * 100.0 / total as f64) as f32
                }
            })
            .collect();
        self.cores = cores;
        (cpu, rss, busy)
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf takes a plain integer and touches no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

fn resident_bytes(pid: u32) -> u64 {
    let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
        return 0;
    };
    // SAFETY: sysconf takes a plain integer and touches no memory of ours.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

/// Each core's (busy, total) ticks from `/proc/stat`.
fn core_ticks() -> Vec<(u64, u64)> {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            let total: u64 = f.iter().take(8).sum();
            // idle and iowait are not busy.
            let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
            (total.saturating_sub(idle), total)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process_group_and_the_cores() {
        let me = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        let mut s = GroupSampler::new(me);
        let (_, rss, cores) = s.sample();
        assert!(rss > 0, "this test's own group has resident memory");
        assert_eq!(
            cores.len(),
            std::thread::available_parallelism().unwrap().get()
        );
        assert!(cores.iter().all(|c| (0.0..=100.0).contains(c)));
    }
}
