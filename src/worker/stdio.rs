//! `pooltop worker --stdio`: the worker's side of a launcher (`ssh HOST`,
//! `srun -u`, any command that gives a process stdin and stdout, possibly
//! on another machine). Frames travel over this process's stdin and stdout.
//!
//! This process is a small *agent*: it starts the ordinary worker as its
//! child, in a process group of its own, connected through a socket pair,
//! and passes frames between the two. It stays outside that group so it can
//! carry out what the manager cannot do across machines, on the worker's
//! group: the signal frames (pause, resume, terminate, kill) and the
//! lifeline — when stdin ends (the manager, ssh or srun died), or when the
//! manager has been silent for [`GIVE_UP_AFTER`], it kills the group (the
//! worker, its tasks and their children) and exits. It also reports the
//! group's CPU and memory and the machine's per-core load about every
//! [`REPORT_EVERY`]; these reports double as its heartbeat.
//!
//! The pool's token arrives in the manager's first frame ([`Launch`]),
//! never on a command line or in an environment.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{
    ENV_FD, ENV_ID, ENV_MANAGER, ENV_PY_INIT, ENV_PY_PATH, ENV_PY_PROGRAM, ENV_SOCKET, ENV_TOKEN,
};
use crate::error::Error;
use crate::ipc;
use crate::platform::{self, GroupSignal};
use crate::protocol::frame::{self, FrameError};
use crate::protocol::{FromWorker, Launch, PROTOCOL_VERSION, RemoteUsage, ToWorker, WireSignal};

/// How often the worker's side reports its usage (its heartbeat).
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// A worker's side that has heard nothing from the manager for this long
/// (no frame, no ping) kills its worker and exits. The manager pings every
/// second when it has nothing else to say, and marks a silent worker lost
/// sooner (`engine::launch::LOST_AFTER`).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(20);
/// Where the worker finds its end of the socket pair.
const WORKER_FD: RawFd = 3;

/// The connection a launched worker's side handed over as descriptor `fd`.
pub fn adopt(fd: RawFd) -> Result<ipc::Stream, Error> {
    if fd < 3 {
        return Err(Error::Worker(format!(
            "{ENV_FD} names a standard descriptor"
        )));
    }
    // SAFETY: the descriptor was opened for this process by the one that
    // started it, as the connection, and nothing else here owns it.
    let socket = unsafe { UnixStream::from_raw_fd(fd) };
    Ok(ipc::from_socket(socket))
}

/// Runs the worker's side until stdin ends, the manager falls silent, or
/// the worker exits; then exits the process.
pub fn run() -> ! {
    match serve() {
        Ok(code) => std::process::exit(code),
        Err(why) => {
            // stderr travels back through the launcher (ssh prints it), and
            // the manager shows it as the reason the worker did not start.
            eprintln!("pooltop worker --stdio: {why}");
            std::process::exit(3)
        }
    }
}

fn serve() -> Result<i32, String> {
    let (mut input, output) = take_stdio().map_err(|e| format!("cannot take stdio: {e}"))?;
    let launch = read_launch(&mut input)?;
    let (ours, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    let mut child = start_worker(&launch, &theirs).map_err(|e| format!("cannot start: {e}"))?;
    drop(theirs);
    let group = child.id();
    platform::kill_group_on_hangup_of_this(group);
    let output = Arc::new(Mutex::new(output));

    let up = ours.try_clone().map_err(|e| e.to_string())?;
    let up_out = output.clone();
    let token = launch.token;
    std::thread::spawn(move || {
        pass_up(up, &up_out, &token);
        // The worker closed its end: it is exiting. End as it ends.
        let status = child.wait();
        match status {
            Ok(s) => std::process::exit(s.code().unwrap_or(128 + signal_of(&s))),
            Err(_) => std::process::exit(1),
        }
    });
    let beat_out = output.clone();
    std::thread::spawn(move || report_usage(group, &beat_out));
    pass_down(&mut input, ours, group);
    // Stdin ended or the manager fell silent: nothing of the worker may stay.
    let _ = platform::signal_group(group, GroupSignal::Kill);
    Ok(0)
}

/// The name of the machine this side runs on, for the manager's Host
/// column: the node's name as Slurm calls it (`SLURMD_NODENAME`, set in
/// every Slurm task), else the kernel's host name.
fn machine_name() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(platform::host_name)
        .unwrap_or_default()
}

fn signal_of(s: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.signal().unwrap_or(0)
}

/// Takes stdin and stdout for the frames and puts /dev/null in their place,
/// so nothing started from here can write into (or read from) the frames.
fn take_stdio() -> std::io::Result<(File, File)> {
    let dup = |fd: RawFd| -> std::io::Result<File> {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a standard descriptor makes a
        // new descriptor that this process alone owns from here on.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if new < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `new` was just opened and is owned by nothing else.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(new) }))
    };
    let input = dup(0)?;
    let output = dup(1)?;
    let null = File::options().read(true).write(true).open("/dev/null")?;
    for fd in [0, 1] {
        // SAFETY: dup2 onto a standard descriptor replaces it; both are open.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((input, output))
}

fn read_launch(input: &mut File) -> Result<Launch, String> {
    let mut buf = Vec::new();
    match frame::read_frame_limited::<Launch>(input, &mut buf, 4096) {
        Ok(l) if l.version == PROTOCOL_VERSION => Ok(l),
        Ok(l) => Err(format!(
            "this pooltop speaks protocol version {PROTOCOL_VERSION}, the manager {}: \
             run the same pooltop version on both sides",
            l.version
        )),
        Err(FrameError::Closed) => Err("stdin closed before the manager's first frame".into()),
        Err(e) => Err(format!(
            "the first frame on stdin is not a launch frame of protocol version \
             {PROTOCOL_VERSION} ({e}): this is started by pooltop itself"
        )),
    }
}

fn start_worker(launch: &Launch, theirs: &UnixStream) -> std::io::Result<std::process::Child> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("worker")
        .env(ENV_FD, WORKER_FD.to_string())
        .env(ENV_ID, launch.worker.to_string())
        .env(ENV_MANAGER, std::process::id().to_string())
        .env_remove(ENV_SOCKET)
        .env_remove(ENV_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    // The manager's Python settings, unset ones removed (as `engine::proc`
    // does for a local worker).
    for (name, value) in [
        (ENV_PY_PROGRAM, &launch.python),
        (ENV_PY_INIT, &launch.py_init),
        (ENV_PY_PATH, &launch.py_path),
    ] {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    platform::prepare_worker_command(&mut cmd);
    platform::pass_fd_as(&mut cmd, theirs.as_raw_fd(), WORKER_FD);
    cmd.spawn()
}

/// Worker → manager: whole frames only (the usage reports go between them);
/// the worker's handshake gets the token, which it was never given.
fn pass_up(mut from: UnixStream, out: &Mutex<File>, token: &str) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut first = true;
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let Ok(whole) = frame::whole_frames(&buf) else {
            return;
        };
        if whole == 0 {
            continue;
        }
        let mut sending = &buf[..whole];
        let mut hello = Vec::new();
        if first {
            first = false;
            let Ok(Some((FromWorker::Hello(mut h), used))) = frame::take_frame(sending) else {
                return;
            };
            h.token = token.to_string();
            h.pid = std::process::id();
            h.host = machine_name();
            if frame::encode_into(&FromWorker::Hello(h), &mut hello).is_err() {
                return;
            }
            hello.extend_from_slice(&sending[used..]);
            sending = &hello;
        }
        let wrote = out.lock().map(|mut o| o.write_all(sending));
        if !matches!(wrote, Ok(Ok(()))) {
            return;
        }
        buf.drain(..whole);
    }
}

/// Manager → worker, carrying out the frames meant for this side. Returns
/// when stdin ends or fails, or after [`GIVE_UP_AFTER`] of silence.
fn pass_down(input: &mut File, mut to: UnixStream, group: u32) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut heard = Instant::now();
    loop {
        let wait = GIVE_UP_AFTER.saturating_sub(heard.elapsed());
        match platform::wait_readable_within([input.as_raw_fd(), -1], Some(wait)) {
            Ok([true, _]) => {}
            Ok(_) if heard.elapsed() >= GIVE_UP_AFTER => {
                eprintln!(
                    "pooltop worker --stdio: no word from the manager for {} s; stopping",
                    GIVE_UP_AFTER.as_secs()
                );
                return;
            }
            Ok(_) => continue,
            Err(_) => return,
        }
        let n = match input.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        heard = Instant::now();
        buf.extend_from_slice(&chunk[..n]);
        let Ok(whole) = frame::whole_frames(&buf) else {
            return;
        };
        for f in frame::frames_in(&buf[..whole]) {
            if !carry_out(f, group) && to.write_all(f).is_err() {
                // The worker is gone; its exit ends this process.
                return;
            }
        }
        buf.drain(..whole);
    }
}

/// The variant numbers of [`ToWorker::Signal`] and [`ToWorker::Ping`].
const SIGNAL: u8 = 3;
const PING: u8 = 4;

/// Carries out a frame meant for this side; false if it is the worker's.
fn carry_out(f: &[u8], group: u32) -> bool {
    match frame::variant_of(f) {
        Some(PING) => true,
        Some(SIGNAL) => {
            if let Ok(Some((ToWorker::Signal(sig), _))) = frame::take_frame(f) {
                let sig = match sig {
                    WireSignal::Stop => GroupSignal::Stop,
                    WireSignal::Cont => GroupSignal::Cont,
                    WireSignal::Term => GroupSignal::Term,
                    WireSignal::Kill => GroupSignal::Kill,
                };
                let _ = platform::signal_group(group, sig);
                if sig == GroupSignal::Term {
                    // A stopped process keeps SIGTERM pending until it continues.
                    let _ = platform::signal_group(group, GroupSignal::Cont);
                }
            }
            true
        }
        _ => false,
    }
}

/// Reports the worker group's usage and the cores, every [`REPORT_EVERY`].
fn report_usage(group: u32, out: &Mutex<File>) {
    let mut sampler = platform::GroupSampler::new(group);
    let mut frame_buf = Vec::new();
    loop {
        std::thread::sleep(REPORT_EVERY);
        let (cpu_percent, rss, cores) = sampler.sample();
        let usage = FromWorker::Usage(RemoteUsage {
            cpu_percent,
            rss,
            cores,
        });
        frame_buf.clear();
        if frame::encode_into(&usage, &mut frame_buf).is_err() {
            return;
        }
        let wrote = out.lock().map(|mut o| o.write_all(&frame_buf));
        if !matches!(wrote, Ok(Ok(()))) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variant_numbers_match_the_messages() {
        let mut buf = Vec::new();
        frame::encode_into(&ToWorker::Signal(WireSignal::Stop), &mut buf).unwrap();
        assert_eq!(frame::variant_of(&buf), Some(SIGNAL));
        buf.clear();
        frame::encode_into(&ToWorker::Ping, &mut buf).unwrap();
        assert_eq!(frame::variant_of(&buf), Some(PING));
        buf.clear();
        frame::encode_into(&ToWorker::Shutdown, &mut buf).unwrap();
        assert!(!carry_out(&buf, 0));
    }
}
