//! Everything that talks to the operating system about processes: signals,
//! process groups, the parent-death signal, CPU time. Linux first; the rest of
//! the crate calls only these functions, so macOS and Windows can follow here.

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

/// Whether a process of the group led by `pid` is still running. Zombies do
/// not count: they hold no files or locks, and an orphan waits for init to
/// reap it. Cheap (one kill(2)) unless the group still has members.
pub fn group_has_live_members(pid: u32) -> bool {
    if !group_alive(pid) {
        return false;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten().any(|entry| {
        let Some(member) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{member}/stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            return false;
        };
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<u32>().ok());
        pgrp == Some(pid) && state != "Z" && state != "X"
    })
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
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return ticks;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        // After the command: state ppid pgrp session tty tpgid flags minflt
        // cminflt majflt cmajflt utime stime cutime cstime …
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().take(15).collect();
        let Some(pgrp) = fields.get(2).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pgids.contains(&pgrp) {
            continue;
        }
        let used: u64 = fields[11..]
            .iter()
            .filter_map(|f| f.parse::<u64>().ok())
            .sum();
        *ticks.entry(pgrp).or_default() += used;
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
        // SAFETY: getrusage writes into the struct we pass and nothing else.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: skip past it.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// Waits until one of two file descriptors can be read without blocking
/// (data, its end, or an error); a negative descriptor is not watched.
/// Returns which are ready. An interrupted wait is tried again.
pub fn wait_readable(fds: [std::os::fd::RawFd; 2]) -> io::Result<[bool; 2]> {
    let mut polls = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        // SAFETY: poll reads and writes only the two pollfd structs we own,
        // and the length passed is theirs.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) };
        if n >= 0 {
            return Ok(polls.map(|p| p.fd >= 0 && p.revents != 0));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
