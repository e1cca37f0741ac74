//! The control server of one running pool: a thread that copies the pool's
//! events into a [`View`] on their way to the face (dashboard or headless
//! runner), and a thread per client connection. Requests only read the view
//! or send orders, so a slow or vanished client never holds the pool up.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use interprocess::local_socket::traits::{ListenerExt, Stream as _, StreamCommon as _};

use super::orders::commands_for;
use super::view::{Shared, View};
use super::wire::{CONTROL_VERSION, PoolSummary, Reply, Request};
use super::{PoolInfo, control_dir, info_path, socket_path};
use pooltop::engine::{PoolEvent, PoolHandle, Tap, Task};
use pooltop::ipc::{self, Stream};
use pooltop::protocol::frame;
use pooltop::task::parse_lines;

/// Events an attached dashboard may fall behind by before it is dropped.
const SUBSCRIBER_BACKLOG: usize = 100_000;
/// How often a waiting request checks whether its client is still there.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// A running control endpoint; dropping it removes the socket and its info.
pub struct ControlServer {
    socket: PathBuf,
    info: PathBuf,
    stop: Arc<AtomicBool>,
    streams: Streams,
}

/// How many event streams to attached dashboards are still writing.
type Streams = Arc<(Mutex<usize>, Condvar)>;

/// How long a closing pool waits for attached dashboards to receive its last
/// events (they end their stream after `Stopped`).
const STREAM_FLUSH: Duration = Duration::from_secs(1);

impl Drop for ControlServer {
    fn drop(&mut self) {
        let (count, cond) = &*self.streams;
        let guard = count.lock().unwrap_or_else(|p| p.into_inner());
        let _ = cond.wait_timeout_while(guard, STREAM_FLUSH, |n| *n > 0);
        self.stop.store(true, Ordering::Relaxed);
        let _ = ipc::connect(&self.socket); // wake the accept loop
        let _ = fs::remove_file(&self.socket);
        let _ = fs::remove_file(&self.info);
    }
}

/// Opens the control endpoint `name` for a pool. Returns the server and the
/// [`Tap`] through which it must see each of the pool's events (the face
/// reading them runs it on its own thread: see [`pooltop::engine::EventStream`]).
pub fn serve(name: &str, title: &str, pool: PoolHandle) -> io::Result<(ControlServer, Tap)> {
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
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Streams = Arc::new((Mutex::new(0), Condvar::new()));
    let server = ControlServer {
        socket,
        info,
        stop: stop.clone(),
        streams: streams.clone(),
    };

    let tap_view = shared.clone();
    let tap: Tap = Box::new(move |ev: &PoolEvent| {
        let (view, cond) = &*tap_view;
        let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
        v.observe(ev);
        v.publish(ev);
        if matches!(
            ev,
            PoolEvent::TaskFinished(_) | PoolEvent::TasksDone(_) | PoolEvent::Stopped(_)
        ) {
            cond.notify_all();
        }
    });

    let name = name.to_string();
    let title = title.to_string();
    std::thread::Builder::new()
        .name("pooltop-control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if !same_user(&conn) {
                    continue;
                }
                let client = Client {
                    name: name.clone(),
                    title: title.clone(),
                    pool: pool.clone(),
                    view: shared.clone(),
                    streams: streams.clone(),
                };
                let _ = std::thread::Builder::new()
                    .name("pooltop-control-client".into())
                    .spawn(move || client.serve(conn));
            }
        })?;
    Ok((server, tap))
}

/// Whether the peer runs as our user (the directory's mode says so too;
/// this is the second lock on the door).
fn same_user(conn: &Stream) -> bool {
    let me = rustix::process::geteuid().as_raw();
    conn.peer_creds()
        .ok()
        .and_then(|c| c.euid())
        .is_none_or(|uid| uid == me)
}

struct Client {
    name: String,
    title: String,
    pool: PoolHandle,
    view: Shared,
    streams: Streams,
}

/// Counts one event stream as writing while it lives.
struct StreamGuard(Streams);

impl StreamGuard {
    fn new(streams: &Streams) -> StreamGuard {
        *streams.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        StreamGuard(streams.clone())
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let (count, cond) = &*self.0;
        *count.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        cond.notify_all();
    }
}

impl Client {
    fn serve(self, conn: Stream) {
        let mut buf = Vec::new();
        let mut reader = &conn;
        let mut greeted = false;
        loop {
            let req = match frame::read_frame::<Request>(&mut reader, &mut buf) {
                Ok(r) => r,
                Err(e) if e.is_disconnect() => return,
                Err(e) => {
                    let _ = self.reply(
                        &conn,
                        &Reply::Error {
                            message: format!("bad request: {e}"),
                        },
                    );
                    return;
                }
            };
            if greeted && matches!(req, Request::Subscribe) {
                self.stream_events(&conn);
                return;
            }
            if greeted && let Request::Logs { task, follow } = req {
                super::logs::serve(&self.view, &conn, task, follow);
                return;
            }
            // An order is carried out after its reply is written: the process
            // may end as soon as the pool has stopped.
            let mut orders = Vec::new();
            let reply = match (greeted, req) {
                (false, Request::Hello { version }) if version == CONTROL_VERSION => {
                    greeted = true;
                    Reply::Welcome {
                        name: self.name.clone(),
                        pid: std::process::id(),
                    }
                }
                (false, Request::Hello { version }) => Reply::Error {
                    message: format!(
                        "control protocol {version} is not spoken here (this pool speaks {CONTROL_VERSION})"
                    ),
                },
                (false, _) => Reply::Error {
                    message: "say hello first".into(),
                },
                (true, Request::Order(order)) => match commands_for(order, &self.name) {
                    Ok((commands, message)) => {
                        orders = commands;
                        Reply::Done { message }
                    }
                    Err(message) => Reply::Error { message },
                },
                (true, req) => match self.handle(req, &conn) {
                    Some(r) => r,
                    None => return, // the client left while waiting
                },
            };
            let sent = self.reply(&conn, &reply);
            for cmd in orders {
                self.pool.send(cmd);
            }
            if sent.is_err() {
                return;
            }
        }
    }

    fn reply(&self, conn: &Stream, reply: &Reply) -> io::Result<()> {
        let mut w = conn;
        frame::write_frame(&mut w, reply)?;
        w.flush()
    }

    /// Answers a request that is neither a hello, an order nor a subscription.
    fn handle(&self, req: Request, conn: &Stream) -> Option<Reply> {
        Some(match req {
            Request::Hello { .. } => Reply::Error {
                message: "already greeted".into(),
            },
            Request::Status => {
                let (view, _) = &*self.view;
                let v = view.lock().unwrap_or_else(|p| p.into_inner());
                Reply::Status(v.status(std::process::id()))
            }
            Request::Submit { lines } => self.submit(lines),
            Request::Wait { tasks } => return self.wait(tasks, conn),
            // Handled by `serve` before it gets here.
            Request::Order(_) | Request::Subscribe | Request::Logs { .. } => Reply::Error {
                message: "cannot be answered here".into(),
            },
        })
    }

    /// Streams the pool's events to an attached dashboard until either side
    /// goes away: a replay of the current picture, then every event.
    fn stream_events(&self, conn: &Stream) {
        let _writing = StreamGuard::new(&self.streams);
        let (tx, rx) = mpsc::sync_channel(SUBSCRIBER_BACKLOG);
        let replay = {
            let (view, _) = &*self.view;
            let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
            v.subscribe(tx)
        };
        let cfg = self.pool.config();
        let hello = Reply::Subscribed {
            config: PoolSummary {
                workers: cfg.workers as u32,
                join_timeout_s: cfg.join_timeout.as_secs_f64(),
                task_timeout_s: cfg.task_timeout.map(|d| d.as_secs_f64()),
                title: self.title.clone(),
            },
        };
        let mut out = io::BufWriter::with_capacity(64 * 1024, conn);
        if frame::write_frame(&mut out, &hello).is_err() {
            return;
        }
        let mut buf = Vec::new();
        for ev in replay {
            buf.clear();
            if frame::encode_into(&Reply::Event(ev), &mut buf).is_err()
                || out.write_all(&buf).is_err()
            {
                return;
            }
        }
        loop {
            // Write what is waiting, flush once the stream goes quiet.
            let ev = match rx.try_recv() {
                Ok(ev) => ev,
                Err(_) => {
                    if out.flush().is_err() {
                        return;
                    }
                    match rx.recv() {
                        Ok(ev) => ev,
                        // Dropped for being too slow, or the pool is gone.
                        Err(_) => return,
                    }
                }
            };
            let last = matches!(ev, PoolEvent::Stopped(_));
            buf.clear();
            if frame::encode_into(&Reply::Event(ev), &mut buf).is_err()
                || out.write_all(&buf).is_err()
            {
                return;
            }
            if last {
                let _ = out.flush();
                return;
            }
        }
    }

    fn submit(&self, lines: Vec<String>) -> Reply {
        match parse_lines(&lines.join("\n")) {
            Err(errors) => Reply::Refused {
                errors: errors.iter().map(|e| e.to_string()).collect(),
            },
            Ok(parsed) => {
                let tasks = parsed.into_iter().map(|l| Task {
                    spec: l.spec,
                    line: l.text.into(),
                });
                let ids = self.pool.submit_all(tasks);
                Reply::Submitted {
                    ids: ids.iter().map(|t| t.0).collect(),
                }
            }
        }
    }

    /// Blocks until the tasks finished; none if the client went away.
    fn wait(&self, tasks: Vec<u64>, conn: &Stream) -> Option<Reply> {
        let allocated = self.pool.tasks_allocated();
        if let Some(bad) = tasks.iter().find(|&&t| t == 0 || t > allocated) {
            return Some(Reply::Error {
                message: format!("no task {bad} in this pool (ids 1 to {allocated})"),
            });
        }
        let (view, cond) = &*self.view;
        let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let outcome = if tasks.is_empty() {
                (v.all_finished() && v.counts().submitted >= allocated).then(|| v.counts())
            } else {
                v.outcome_of(&tasks)
            };
            if let Some(c) = outcome {
                return Some(Reply::Waited(c));
            }
            if v.stopped {
                return Some(Reply::Error {
                    message: "the pool stopped before those tasks finished".into(),
                });
            }
            v = cond
                .wait_timeout(v, WAIT_POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            if client_gone(conn) {
                return None;
            }
        }
    }
}

/// Whether the client has closed its end (a waiting client sends nothing).
fn client_gone(conn: &Stream) -> bool {
    if conn.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let gone = match io::Read::read(&mut &*conn, &mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    let _ = conn.set_nonblocking(false);
    gone
}
