//! The control server of one running pool: the pool's events are copied
//! into a [`View`] on their way to the face (dashboard or headless runner),
//! and one thread ([`super::poll`]) serves every client connection from a
//! poll loop. Requests only read the view or send orders, so a slow or
//! vanished client never holds the pool up, and a crowd of them costs
//! connections (at most [`super::poll::MAX_CLIENTS`]), not threads.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::answer::Answers;
use super::poll::{Server, Streams, Wake};
use super::view::{Shared, View};
use super::{PoolInfo, control_dir, info_path, socket_path};
use crate::report::outputs::SharedClaims;
use pooltop::engine::{PoolEvent, PoolHandle, Tap};
use pooltop::ipc;

/// A running control endpoint; dropping it removes the socket and its info.
pub struct ControlServer {
    socket: PathBuf,
    info: PathBuf,
    wake: Arc<Wake>,
    thread: Option<JoinHandle<()>>,
    streams: Streams,
}

/// How long a closing pool waits for attached dashboards to receive its last
/// events (they end their stream after `Stopped`).
const STREAM_FLUSH: Duration = Duration::from_secs(1);

impl Drop for ControlServer {
    fn drop(&mut self) {
        let (count, cond) = &*self.streams;
        let guard = count.lock().unwrap_or_else(|p| p.into_inner());
        let _ = cond.wait_timeout_while(guard, STREAM_FLUSH, |n| *n > 0);
        self.wake.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = fs::remove_file(&self.socket);
        let _ = fs::remove_file(&self.info);
    }
}

/// Opens the control endpoint `name` for a pool. Returns the server and the
/// [`Tap`] through which it must see each of the pool's events (the face
/// reading them runs it on its own thread: see [`pooltop::engine::EventStream`]).
/// `claims` are the output files of the run's tasks: a submission that
/// would write one of them is refused.
pub fn serve(
    name: &str,
    title: &str,
    pool: PoolHandle,
    claims: SharedClaims,
) -> io::Result<(ControlServer, Tap)> {
    super::validate_name(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let dir = control_dir()?;
    let socket = socket_path(&dir, name);
    let info = info_path(&dir, name);
    if socket.exists() {
        if ipc::connect(&socket).is_ok() {
            let pid = fs::read(&info)
                .ok()
                .and_then(|b| serde_json::from_slice::<PoolInfo>(&b).ok())
                .map_or("?".to_string(), |i| i.pid.to_string());
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "a pool named `{name}` is already running (pid {pid}); choose another --name"
                ),
            ));
        }
        // Left behind by a pool that crashed.
        fs::remove_file(&socket)?;
    }
    let listener = ipc::listen(&socket)?;
    let view = View::new(name.to_string(), title.to_string(), pool.config().workers);
    let started_unix = view.status(0).started_unix;
    let shared: Shared = Arc::new((Mutex::new(view), Condvar::new()));
    let record = PoolInfo {
        name: name.to_string(),
        pid: std::process::id(),
        started_unix,
    };
    fs::write(
        &info,
        serde_json::to_vec(&record).map_err(io::Error::other)?,
    )?;
    let streams: Streams = Arc::new((Mutex::new(0), Condvar::new()));
    let answers = Answers {
        name: name.to_string(),
        title: title.to_string(),
        pool,
        view: shared.clone(),
        claims,
    };
    let (server, wake) = Server::new(listener, answers, streams.clone())?;
    let thread = std::thread::Builder::new()
        .name("pooltop-control".into())
        .spawn(move || server.run())?;
    let tap_wake = wake.clone();
    let tap: Tap = Box::new(move |ev: &PoolEvent| {
        let (view, _) = &*shared;
        let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
        v.observe(ev);
        v.publish(ev);
        drop(v);
        tap_wake.changed();
    });
    let server = ControlServer {
        socket,
        info,
        wake,
        thread: Some(thread),
        streams,
    };
    Ok((server, tap))
}
