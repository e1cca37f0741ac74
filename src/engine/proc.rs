//! Starting, signalling and reaping worker processes. The only engine file
//! that starts processes or sends signals (through `crate::platform`).

use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use super::PythonConfig;
use super::conn::{ConnEvent, SMALL_STACK};
use super::events::WorkerId;
use super::{Inbound, InboxSender};
use crate::platform::{self, GroupSignal};
use crate::worker::{
    ENV_ID, ENV_MANAGER, ENV_PY_INIT, ENV_PY_PATH, ENV_PY_PROGRAM, ENV_SOCKET, ENV_TOKEN,
};

/// Starts a worker process and a thread that reports its exit.
///
/// Must be called from the supervisor thread: the worker's parent-death
/// signal fires when the thread that spawned it ends.
pub fn spawn_worker(
    program: &Path,
    socket: &Path,
    token: &str,
    worker: WorkerId,
    work_dir: Option<&Path>,
    python: &PythonConfig,
    tx: &InboxSender,
) -> io::Result<u32> {
    let mut cmd = Command::new(program);
    if let Some(dir) = work_dir {
        cmd.current_dir(dir);
    }
    cmd.arg("worker")
        .env(ENV_SOCKET, socket)
        .env(ENV_ID, worker.0.to_string())
        .env(ENV_TOKEN, token)
        .env(ENV_MANAGER, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The worker's Python settings; unset ones are removed, so that a
    // worker never takes the manager's own environment for its orders.
    for (name, value) in [
        (
            ENV_PY_PROGRAM,
            python.program.as_ref().map(|p| p.as_os_str()),
        ),
        (ENV_PY_INIT, python.init.as_ref().map(|s| s.as_ref())),
        (ENV_PY_PATH, python.path.as_ref().map(|p| p.as_os_str())),
    ] {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    platform::prepare_worker_command(&mut cmd);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let tx = tx.clone();
    let reaper = std::thread::Builder::new()
        .name(format!("pooltop-reap-{worker}"))
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let status = child.wait();
            // The pool may be gone already; then nobody needs to know.
            let _ = tx.send(Inbound::Conn(ConnEvent::Reaped { worker, status }));
        });
    if let Err(e) = reaper {
        // Without a reaper nobody would notice the exit: do not keep the worker.
        let _ = platform::signal_group(pid, GroupSignal::Kill);
        return Err(e);
    }
    Ok(pid)
}

/// Sends `sig` to a worker's whole process group (the worker and its task
/// processes). Pausing also needs the group: a shell task must stop too.
pub fn signal(pid: u32, sig: GroupSignal) {
    // ESRCH (already gone) is fine: the reaper will report the exit.
    let _ = platform::signal_group(pid, sig);
}

/// The exit status of a worker as (signal, code).
pub fn status_parts(status: &io::Result<ExitStatus>) -> (Option<i32>, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => (s.signal(), s.code()),
        Err(_) => (None, None),
    }
}
