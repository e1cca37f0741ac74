//! What a task's processes used, from the kernel: a child's peak RSS and
//! CPU time as `wait4` reports them, the worker's own peak RSS (VmHWM, which
//! can be reset between tasks), and the memory cgroup's count of OOM kills.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::Duration;

/// What a child process and the children it waited for used, from `wait4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildUsage {
    /// Peak resident set size, in bytes: the largest of the child and of
    /// each descendant it waited for (not their sum).
    pub max_rss: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
}

/// Waits for the child `pid` (retrying on EINTR) and reaps it, returning
/// its status and what it used. The `std::process::Child` it came from must
/// not be waited for afterwards: the kernel has forgotten it.
pub fn wait_child(pid: u32) -> io::Result<(ExitStatus, ChildUsage)> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain integers, for which all zeroes is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes into the two values we pass and nothing else.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let tv =
        |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    let usage = ChildUsage {
        // Linux counts ru_maxrss in KiB.
        max_rss: (usage.ru_maxrss.max(0) as u64) * 1024,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
    };
    Ok((ExitStatus::from_raw(status), usage))
}

/// This process's peak resident set size (VmHWM), in bytes, since it
/// started or since [`reset_peak_rss`]; none where /proc does not say.
pub fn peak_rss() -> Option<u64> {
    // A worker reads it after each task: the file stays open (a path
    // lookup in /proc costs more than the read) and is read from its start.
    static STATUS: OnceLock<Option<File>> = OnceLock::new();
    let file = STATUS
        .get_or_init(|| File::open("/proc/self/status").ok())
        .as_ref()?;
    let mut buf = [0u8; 4096];
    let n = file.read_at(&mut buf, 0).ok()?;
    let status = std::str::from_utf8(&buf[..n]).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line["VmHWM:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Resets this process's peak RSS to its RSS now (`clear_refs` 5), so that
/// [`peak_rss`] afterwards tells the peak of what ran in between. False
/// where the kernel does not allow it: the peak then runs on from before.
pub fn reset_peak_rss() -> bool {
    static CLEAR_REFS: OnceLock<Option<File>> = OnceLock::new();
    CLEAR_REFS
        .get_or_init(|| {
            OpenOptions::new()
                .write(true)
                .open("/proc/self/clear_refs")
                .ok()
        })
        .as_ref()
        .is_some_and(|f| f.write_at(b"5", 0).is_ok())
}

/// How many processes the kernel's OOM killer has killed in this process's
/// memory cgroup (and those below it) so far: `oom_kill` in cgroup v2's
/// `memory.events`, or in v1's `memory.oom_control`. None when neither is
/// readable (no memory cgroup mounted, or a container that hides it).
pub fn oom_kills() -> Option<u64> {
    // Where the count is: found once (a process does not change cgroup on
    // its own), then one read of a small file each time.
    static FILE: OnceLock<Option<String>> = OnceLock::new();
    let file = FILE.get_or_init(oom_kills_file).as_ref()?;
    counter(&std::fs::read_to_string(file).ok()?, "oom_kill")
}

/// The file of this process's memory cgroup that counts OOM kills.
fn oom_kills_file() -> Option<String> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = if id == "0" && controllers.is_empty() {
            format!("/sys/fs/cgroup{path}/memory.events")
        } else if controllers.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.oom_control")
        } else {
            return None;
        };
        // cgroup v2 mounted with no memory controller has no such file.
        std::path::Path::new(&file).exists().then_some(file)
    })
}

/// The value of `key` in a cgroup file of `key value` lines.
fn counter(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cgroup_counter_and_not_its_neighbours() {
        let v2 = "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(counter(v2, "oom_kill"), Some(1));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n";
        assert_eq!(counter(v1, "oom_kill"), Some(7));
        assert_eq!(counter("oom 2\n", "oom_kill"), None);
    }

    #[test]
    // Reaped by `wait_child`, which clippy does not know.
    #[allow(clippy::zombie_processes)]
    fn a_child_is_reaped_with_its_peak_memory() {
        // 64 MiB touched page by page by a child of its own.
        let child = std::process::Command::new("python3")
            .args([
                "-c",
                "b = bytearray(64 << 20); b[::4096] = b'x' * len(b[::4096])",
            ])
            .spawn()
            .expect("python3");
        let (status, usage) = wait_child(child.id()).unwrap();
        assert!(status.success(), "{status}");
        let mib = usage.max_rss >> 20;
        assert!((64..96).contains(&mib), "peak {mib} MiB");
        assert!(wait_child(child.id()).is_err(), "reaped once");
    }

    #[test]
    fn the_peak_rss_of_this_process_can_be_reset() {
        {
            // Written, so resident; freed to the kernel when dropped (a
            // block this large is its own mapping).
            let v = vec![1u8; 128 << 20];
            std::hint::black_box(&v);
        }
        let high = peak_rss().expect("VmHWM");
        assert!(high >= 128 << 20, "peak {high}");
        if reset_peak_rss() {
            let after = peak_rss().unwrap();
            assert!(after + (64 << 20) < high, "reset: {after} after {high}");
        }
    }
}
