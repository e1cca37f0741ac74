//! The client side of a pool's control socket, for `pooltop status` & co.

use std::io::{BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::orders::order_for;
use super::wire::{CONTROL_VERSION, Reply, Request};
use super::{control_dir, live_pools, socket_path, validate_name};
use pooltop::engine::{
    AttachedPool, Command, EventReceiver, PoolConfig, PoolEvent, PoolHandle, Task, TaskId,
    event_channel,
};
use pooltop::ipc::{self, Stream};
use pooltop::protocol::frame;

/// A connection to one running pool.
pub struct Client {
    conn: Stream,
    buf: Vec<u8>,
    pub name: String,
    pub pid: u32,
}

impl Client {
    /// Connects to the pool `name`, or to the only running pool when none is
    /// given. The error is one line for the user.
    pub fn connect(name: Option<&str>) -> Result<Client, String> {
        let name = match name {
            Some(n) => {
                validate_name(n)?;
                n.to_string()
            }
            None => only_pool()?,
        };
        let dir = control_dir().map_err(|e| format!("control directory: {e}"))?;
        let conn = ipc::connect(&socket_path(&dir, &name))
            .map_err(|e| format!("no running pool named `{name}` ({e}); see `pooltop ls`"))?;
        let mut client = Client {
            conn,
            buf: Vec::new(),
            name: name.clone(),
            pid: 0,
        };
        match client.request(&Request::Hello {
            version: CONTROL_VERSION,
        })? {
            Reply::Welcome { pid, .. } => client.pid = pid,
            Reply::Error { message } => return Err(format!("pool `{name}`: {message}")),
            other => return Err(format!("pool `{name}` answered {other:?} to hello")),
        }
        Ok(client)
    }

    /// Sends one request and waits for its reply.
    pub fn request(&mut self, req: &Request) -> Result<Reply, String> {
        let lost = |e: &dyn std::fmt::Display| format!("lost the connection to the pool: {e}");
        let mut w = &self.conn;
        let sent = frame::write_frame(&mut w, req).and_then(|()| w.flush());
        let mut r = &self.conn;
        match (sent, frame::read_frame::<Reply>(&mut r, &mut self.buf)) {
            (_, Ok(reply)) => Ok(reply),
            (Ok(()), Err(e)) => Err(lost(&e)),
            // A pool that refuses a connection says why and closes it, maybe
            // before the request is written: the reason comes first.
            (Err(e), Err(_)) => Err(lost(&e)),
        }
    }
}

impl Client {
    /// Waits for the next reply of a request answered in several
    /// (`Request::Logs`).
    pub fn next_reply(&mut self) -> Result<Reply, String> {
        let mut r = &self.conn;
        frame::read_frame::<Reply>(&mut r, &mut self.buf)
            .map_err(|e| format!("lost the connection to the pool: {e}"))
    }
}

/// The name of the one running pool, or an error naming them all.
fn only_pool() -> Result<String, String> {
    let pools = live_pools().map_err(|e| format!("control directory: {e}"))?;
    match pools.as_slice() {
        [] => Err("no pool is running (start one with `pooltop run --keep-alive`)".into()),
        [one] => Ok(one.name.clone()),
        many => Err(format!(
            "{} pools are running; choose one with --pool: {}",
            many.len(),
            many.iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A pool of another process, driven through its control socket: the orders
/// of an attached dashboard.
struct AttachedOrders {
    client: Mutex<Client>,
}

impl AttachedOrders {
    fn ask(&self, req: &Request) -> Option<Reply> {
        let mut c = self.client.lock().unwrap_or_else(|p| p.into_inner());
        c.request(req).ok()
    }
}

impl AttachedPool for AttachedOrders {
    fn send(&self, cmd: Command) -> bool {
        let Some(order) = order_for(cmd) else {
            return false;
        };
        matches!(self.ask(&Request::Order(order)), Some(Reply::Done { .. }))
    }

    fn submit_all(&self, tasks: Vec<Task>) -> Vec<TaskId> {
        let lines = tasks.iter().map(|t| t.line.to_string()).collect();
        match self.ask(&Request::Submit { lines }) {
            Some(Reply::Submitted { ids }) => ids.into_iter().map(TaskId).collect(),
            _ => Vec::new(),
        }
    }

    fn tasks_allocated(&self) -> u64 {
        match self.ask(&Request::Status) {
            Some(Reply::Status(s)) => s.counts.submitted,
            _ => 0,
        }
    }
}

/// Attaches to a running pool: a handle whose orders go over the control
/// socket, and the pool's event stream (a replay of its current picture,
/// then live events). Returns the pool's name and title too.
pub fn attach(name: Option<&str>) -> Result<(PoolHandle, EventReceiver, String, String), String> {
    let orders = Client::connect(name)?;
    let name = orders.name.clone();
    let mut stream = Client::connect(Some(&name))?;
    let mut w = &stream.conn;
    frame::write_frame(&mut w, &Request::Subscribe).map_err(|e| e.to_string())?;
    let mut r = &stream.conn;
    let summary = match frame::read_frame::<Reply>(&mut r, &mut stream.buf) {
        Ok(Reply::Subscribed { config }) => config,
        Ok(Reply::Error { message }) => return Err(format!("pool `{name}`: {message}")),
        Ok(other) => return Err(format!("pool `{name}` answered {other:?} to subscribe")),
        Err(e) => return Err(format!("pool `{name}`: {e}")),
    };
    let (mut tx, rx) = event_channel();
    let name_in_log = name.clone();
    std::thread::Builder::new()
        .name("pooltop-attach".into())
        .spawn(move || {
            let Client { conn, mut buf, .. } = stream;
            let mut reader = BufReader::with_capacity(64 * 1024, &conn);
            loop {
                match frame::read_frame::<Reply>(&mut reader, &mut buf) {
                    Ok(Reply::Event(ev)) => tx.push(ev),
                    // Dropped by the pool (for falling too far behind): the
                    // dashboard's log says why.
                    Ok(Reply::Error { message }) => {
                        tx.push(PoolEvent::Error {
                            worker: None,
                            message: format!("pool `{name_in_log}`: {message}"),
                        });
                        break;
                    }
                    _ => break,
                }
                // Relayed in batches, as the pool sends them: whatever has
                // arrived goes on before the next wait.
                if reader.buffer().is_empty() && !tx.flush() {
                    return;
                }
            }
            let _ = tx.flush();
            // The stream ended: the dashboard sees the pool as gone.
        })
        .map_err(|e| e.to_string())?;
    let config = PoolConfig {
        workers: summary.workers as usize,
        join_timeout: Duration::from_secs_f64(summary.join_timeout_s),
        task_timeout: summary.task_timeout_s.map(Duration::from_secs_f64),
        ..PoolConfig::default()
    };
    let orders = AttachedOrders {
        client: Mutex::new(orders),
    };
    let title = summary.title;
    Ok((
        PoolHandle::attached(Arc::new(orders), config),
        rx,
        name,
        title,
    ))
}
