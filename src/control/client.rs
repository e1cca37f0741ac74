//! The client side of a pool's control socket, for `pooltop status` & co.

use std::io::Write;

use super::wire::{CONTROL_VERSION, Reply, Request};
use super::{control_dir, live_pools, socket_path, validate_name};
use crate::ipc::{self, Stream};
use crate::protocol::frame;

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
        frame::write_frame(&mut w, req).map_err(|e| lost(&e))?;
        w.flush().map_err(|e| lost(&e))?;
        let mut r = &self.conn;
        frame::read_frame::<Reply>(&mut r, &mut self.buf).map_err(|e| lost(&e))
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
