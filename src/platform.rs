//! Everything that talks to the operating system about processes: signals,
//! process groups, the parent-death signal, CPU time. Linux first; the rest of
//! the crate calls only these functions, so macOS and Windows can follow here.
//! What a task's processes used (`wait4`, peak RSS, the OOM killer) is `memory`.

mod launched;
mod memory;
pub use launched::{GroupSampler, kill_group_on_hangup_of_this, os_and_arch, pass_fd_as};
pub use memory::{ChildUsage, oom_kills, peak_rss, reset_peak_rss, wait_child};

/// A signal's conventional name, e.g. `SIGKILL`, for messages.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGCONT => "SIGCONT",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use rustix::process::{Pid, Signal};

/// The signals pooltop sends to a worker's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSignal {
    /// Pause (cannot be caught).
    Stop,
    /// Continue after a pause.
    Cont,
    /// Ask to terminate (the worker's handler then kills its whole group).
    Term,
    /// Kill now (cannot be caught; works on stopped processes too).
    Kill,
}

impl GroupSignal {
    fn to_rustix(self) -> Signal {
        match self {
            GroupSignal::Stop => Signal::STOP,
            GroupSignal::Cont => Signal::CONT,
            GroupSignal::Term => Signal::TERM,
            GroupSignal::Kill => Signal::KILL,
        }
    }

    /// The signal number.
    pub fn number(self) -> i32 {
        self.to_rustix().as_raw()
    }
}

/// Prepares `cmd` to start a worker: it leads a process group of its own (so
/// one signal reaches it and every task process it starts).
///
/// No `pre_exec` hook: without one the standard library starts the process
/// with posix_spawn (vfork), several times cheaper than fork+exec for a
/// manager with many threads. The worker sets its own parent-death signal
/// first thing ([`die_with_parent`]).
pub fn prepare_worker_command(cmd: &mut Command) {
    cmd.process_group(0);
}

/// In a worker: receive SIGTERM when the thread that started this process
/// ends (so a SIGKILLed manager leaves no worker behind; the worker's handler
/// then kills its whole group). The signal follows the spawning *thread*, so
/// the manager spawns workers only from a thread that lives as long as the
/// pool. If the manager (`manager_pid`) is already gone, the signal would
/// never come: that is an error, and the worker leaves.
pub fn die_with_parent(manager_pid: u32) -> io::Result<()> {
    rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    if parent as u32 != manager_pid {
        return Err(io::Error::other("the manager is gone"));
    }
    Ok(())
}

/// Prepares `cmd` (a helper process of a worker: its Python interpreter)
/// to be killed when the worker's thread that starts it ends, so that it
/// never outlives its worker, even one killed alone.
pub fn die_with_this_process(cmd: &mut Command) {
    // SAFETY: the hook runs between fork and exec and only makes the
    // async-signal-safe prctl(2) call; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
                .map_err(io::Error::from)
        });
    }
}

/// Prepares `cmd` (a launcher: ssh, srun) to get SIGTERM when the thread
/// that starts it ends, so that a SIGKILLed manager's launchers end too:
/// srun then cancels its job, even one still queued (which the end of its
/// stdin would not reach), and ssh closes its connection.
pub fn term_when_this_thread_ends(cmd: &mut Command) {
    // SAFETY: the hook runs between fork and exec and only makes the
    // async-signal-safe prctl(2) call; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::TERM))
                .map_err(io::Error::from)
        });
    }
}

/// Ends this process the way `status` says another one ended: killed by
/// the same signal (its default action, whatever handler was set), or
/// with the same exit code. A worker whose Python interpreter died ends so,
/// and the pool sees a crash that names the interpreter's signal.
pub fn exit_like(status: std::process::ExitStatus) -> ! {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        // SAFETY: resetting a disposition to its default and raising the
        // signal touch no memory of this process; a signal whose default is
        // not to end the process falls through to the exit below.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
    std::process::exit(status.code().unwrap_or(1))
}

/// Sends `sig` to the process group led by `pid`.
pub fn signal_group(pid: u32, sig: GroupSignal) -> io::Result<()> {
    let pid = to_pid(pid)?;
    rustix::process::kill_process_group(pid, sig.to_rustix()).map_err(io::Error::from)
}

/// Sends `sig` to the single process `pid`.
pub fn signal_process(pid: u32, sig: GroupSignal) -> io::Result<()> {
    let pid = to_pid(pid)?;
    rustix::process::kill_process(pid, sig.to_rustix()).map_err(io::Error::from)
}

/// Whether any process of the group led by `pid` is still alive (zombies count).
pub fn group_alive(pid: u32) -> bool {
    to_pid(pid).is_ok_and(|p| rustix::process::test_kill_process_group(p).is_ok())
}

/// The fields of a process's `/proc/PID/stat` line that pooltop reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// The one-letter scheduler state (`R`, `S`, `T`, `Z` …).
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    /// User + system time of the process and of its waited-for children,
    /// in clock ticks.
    pub cpu_ticks: u64,
}

impl ProcStat {
    /// Running, sleeping or stopped: not a zombie (which holds no files or
    /// locks, and waits only to be reaped).
    pub fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }

    fn parse(pid: u32, stat: &str) -> Option<ProcStat> {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime cutime cstime …; comm may hold spaces
        // and parentheses, so fields are counted after its last `)`.
        let fields: Vec<&str> = stat[stat.rfind(')')? + 1..]
            .split_whitespace()
            .take(15)
            .collect();
        let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        Some(ProcStat {
            pid,
            state: fields.first()?.chars().next()?,
            ppid: num(1)? as u32,
            pgrp: num(2)? as u32,
            cpu_ticks: (11..15).filter_map(num).sum(),
        })
    }
}

/// One process's stat, if it exists.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    ProcStat::parse(pid, &stat)
}

/// Every process of the machine (one pass over /proc; processes that end
/// meanwhile are skipped).
pub fn all_processes() -> impl Iterator<Item = ProcStat> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(proc_stat)
}

/// Whether a process of the group led by `pid` is still running. Zombies do
/// not count: they hold no files or locks, and an orphan waits for init to
/// reap it. Cheap (one kill(2)) unless the group still has members.
pub fn group_has_live_members(pid: u32) -> bool {
    group_alive(pid) && all_processes().any(|p| p.pgrp == pid && p.is_live())
}

/// CPU time used so far by the members of each process group in `pgids`,
/// in clock ticks: user + system time of each live member plus that of its
/// waited-for children. One pass over /proc for all groups. Only meant to be
/// compared with an earlier reading: any change means the group did work.
pub fn group_cpu_ticks(pgids: &[u32]) -> std::collections::HashMap<u32, u64> {
    let mut ticks = std::collections::HashMap::new();
    if pgids.is_empty() {
        return ticks;
    }
    for p in all_processes().filter(|p| pgids.contains(&p.pgrp)) {
        *ticks.entry(p.pgrp).or_default() += p.cpu_ticks;
    }
    ticks
}

fn to_pid(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("bad pid {pid}")))
}

/// In a worker: on SIGTERM or SIGHUP (including the parent-death signal), kill
/// the worker's whole process group — the worker itself and every task process
/// it started, grandchildren included.
pub fn kill_group_on_termination() -> io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only makes the async-signal-safe kill(2) call.
        unsafe {
            signal_hook::low_level::register(sig, || {
                let _ = rustix::process::kill_current_process_group(Signal::KILL);
                // Not reached: the group includes this process.
            })?;
        }
    }
    Ok(())
}

/// CPU time (user + system) used so far by the calling thread. Much cheaper
/// than [`children_cpu_time`]'s getrusage, which locks the whole thread group.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the struct we pass and nothing else.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// CPU time (user + system) used so far by this process's waited-for children.
pub fn children_cpu_time() -> Duration {
    fn of(who: libc::c_int) -> Duration {
        // SAFETY: rusage is plain integers, for which all zeroes is valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes into the struct we pass and nothing else.
        if unsafe { libc::getrusage(who, &mut usage) } != 0 {
            return Duration::ZERO;
        }
        let tv = |t: libc::timeval| {
            Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000)
        };
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }
    of(libc::RUSAGE_CHILDREN)
}

/// The one-letter scheduler state of a process (`R`, `S`, `T`, `Z` …), from /proc.
pub fn process_state(pid: u32) -> Option<char> {
    proc_stat(pid).map(|p| p.state)
}

/// Waits until one of two file descriptors can be read without blocking
/// (data, its end, or an error); a negative descriptor is not watched.
/// Returns which are ready. An interrupted wait is tried again.
pub fn wait_readable(fds: [std::os::fd::RawFd; 2]) -> io::Result<[bool; 2]> {
    poll_readable(fds, -1)
}

/// Like [`wait_readable`], waiting at most `timeout` (none: no limit);
/// when it passes, neither is ready.
pub fn wait_readable_within(
    fds: [std::os::fd::RawFd; 2],
    timeout: Option<std::time::Duration>,
) -> io::Result<[bool; 2]> {
    let ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_millis().max(1)).unwrap_or(libc::c_int::MAX)
    });
    poll_readable(fds, ms)
}

/// Whether `fd` has something to read right now (never waits).
pub fn readable_now(fd: std::os::fd::RawFd) -> bool {
    poll_readable([fd], 0).is_ok_and(|[ready]| ready)
}

/// `poll(2)` for readability of `fds`, waiting at most `timeout_ms` (-1: no
/// limit); a negative descriptor is not watched. Returns which are ready.
/// An interrupted wait is tried again.
fn poll_readable<const N: usize>(
    fds: [std::os::fd::RawFd; N],
    timeout_ms: libc::c_int,
) -> io::Result<[bool; N]> {
    let mut polls = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        // SAFETY: poll reads and writes only the pollfd structs we own, and
        // the length passed is theirs.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), N as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            return Ok(polls.map(|p| p.fd >= 0 && p.revents != 0));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The memory the kernel says is available for new work without swapping
/// (`MemAvailable` in `/proc/meminfo`), in bytes: what GNU parallel's
/// `--memfree` compares with.
pub fn mem_available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The 1-minute load average (`/proc/loadavg`).
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// This machine's host name (`/proc/sys/kernel/hostname`, what
/// gethostname(2) returns), or none if it cannot be read.
pub fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_string()).filter(|name| !name.is_empty())
}

/// Makes this process (and what it starts from now on) nicer by `n`
/// (`nice(2)`; 0 changes nothing).
pub fn renice_self(n: i32) -> io::Result<()> {
    if n == 0 {
        return Ok(());
    }
    // SAFETY: nice(2) takes a plain integer and touches no memory of ours.
    // It returns the new niceness, which may be -1, so errno tells failure.
    unsafe {
        *libc::__errno_location() = 0;
        if libc::nice(n) == -1 && *libc::__errno_location() != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod proc_tests {
    use super::*;

    #[test]
    fn readable_now_sees_data_and_the_end_without_waiting() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!readable_now(b.as_raw_fd()));
        a.write_all(b"x").unwrap();
        assert!(readable_now(b.as_raw_fd()));
        assert_eq!(wait_readable([b.as_raw_fd(), -1]).unwrap(), [true, false]);
        drop(a);
        assert!(readable_now(b.as_raw_fd()), "the end counts as readable");
    }

    #[test]
    fn reads_stat_lines_with_awkward_names() {
        let line = "42 (a b) c)) S 7 42 42 0 -1 4194304 1 2 3 4 10 20 30 40 20 0 1 0";
        let p = ProcStat::parse(42, line).unwrap();
        assert_eq!((p.state, p.ppid, p.pgrp, p.cpu_ticks), ('S', 7, 42, 100));
        assert!(p.is_live());
        let me = proc_stat(std::process::id()).unwrap();
        assert!(me.is_live());
        assert!(all_processes().any(|p| p.pid == std::process::id()));
    }
}
