//! Every running pool's control endpoint, so scripts and other terminals can
//! drive it: `pooltop ls`, `submit`, `status`, `wait`, `pause`, `resume`,
//! `terminate`, `kill`, `scale`, `stop`.
//!
//! Each pool listens on `<control dir>/<name>.sock`, beside `<name>.json`
//! (its pid and start time). The control dir is private to the user (0700,
//! checked, not trusted) and the server also checks each client's user id.
//!
//! [`wire`] holds the messages; inside the pool's process `server` opens the
//! endpoint, `poll` serves every connection from one thread, `conn` keeps
//! one connection's bytes and `answer` says what each request gets;
//! [`client`] asks them (and attaches a dashboard), and [`cli`] is the
//! command line's face on top of the client.

mod answer;
pub mod cli;
mod cli_logs;
pub mod client;
mod conn;
mod limits;
mod logs;
mod orders;
mod poll;
pub mod results;
mod server;
mod tails;
mod view;
pub mod wire;

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::report::outputs::{OutputClaims, SharedClaims};

pub use server::{ControlServer, serve};

/// Where the pools of this user keep their control sockets:
/// `$XDG_RUNTIME_DIR/pooltop`, else `/tmp/pooltop-<uid>`. `POOLTOP_CONTROL_DIR`
/// overrides it (tests use it to stay apart).
pub fn control_dir() -> io::Result<PathBuf> {
    let dir = if let Some(d) = std::env::var_os("POOLTOP_CONTROL_DIR") {
        PathBuf::from(d)
    } else if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        PathBuf::from(rt).join("pooltop")
    } else {
        std::env::temp_dir().join(format!("pooltop-{}", rustix::process::getuid().as_raw()))
    };
    match fs::create_dir(&dir) {
        Ok(()) => fs::set_permissions(&dir, Permissions::from_mode(0o700))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", dir.display()),
            ));
        }
    }
    // A directory someone else made (in a shared /tmp) must not be used.
    let meta = fs::symlink_metadata(&dir)?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} must be a directory owned by you with mode 0700",
                dir.display()
            ),
        ));
    }
    Ok(dir)
}

/// Checks a pool name: letters, digits, `.`, `_`, `-`; 1 to 64 characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "pool name `{name}` must be 1-64 letters, digits, `.`, `_` or `-` (not starting with `.`)"
        ))
    }
}

/// Starts a pool and opens its control endpoint `name`; `title` says what it
/// runs (a task file, a command template), for attached dashboards. Returns the handle,
/// the event stream (which shows each event to the control server's view as
/// it is read) and the server, which closes the endpoint when dropped.
pub fn start_pool(
    config: pooltop::PoolConfig,
    name: &str,
    title: &str,
) -> Result<
    (
        pooltop::PoolHandle,
        pooltop::engine::EventStream,
        ControlServer,
    ),
    pooltop::Error,
> {
    let claims = SharedClaims::new(OutputClaims::new(&config.out_dir));
    start_pool_claiming(config, name, title, claims)
}

/// [`start_pool`] for a run whose tasks have claimed their output files
/// already: `pooltop submit` refuses a task that would write one of them.
pub fn start_pool_claiming(
    config: pooltop::PoolConfig,
    name: &str,
    title: &str,
    claims: SharedClaims,
) -> Result<
    (
        pooltop::PoolHandle,
        pooltop::engine::EventStream,
        ControlServer,
    ),
    pooltop::Error,
> {
    let (pool, events) = pooltop::engine::start(config)?;
    match serve(name, title, pool.clone(), claims) {
        Ok((server, tap)) => Ok((
            pool,
            pooltop::engine::EventStream::with_tap(events, tap),
            server,
        )),
        Err(e) => {
            // Not to be used after all: end it without waiting.
            pool.send(pooltop::Command::KillAll);
            Err(pooltop::Error::Control(e.to_string()))
        }
    }
}

/// The name of a pool started without `--name`.
pub fn default_name() -> String {
    format!("pool-{}", std::process::id())
}

/// What `pooltop ls` knows of a pool without asking it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolInfo {
    pub name: String,
    pub pid: u32,
    pub started_unix: u64,
}

fn socket_path(dir: &std::path::Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sock"))
}

fn info_path(dir: &std::path::Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// The pools of this user that answer on their socket, by name. Entries
/// left behind by a pool that died are removed.
pub fn live_pools() -> io::Result<Vec<PoolInfo>> {
    let dir = control_dir()?;
    let mut pools = Vec::new();
    for entry in fs::read_dir(&dir)?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
            continue;
        };
        let info: Option<PoolInfo> = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let sock = socket_path(&dir, &name);
        match info {
            Some(info) if pooltop::ipc::connect(&sock).is_ok() => pools.push(info),
            _ => {
                // Nobody answers: a crashed pool's leftovers.
                let _ = fs::remove_file(&sock);
                let _ = fs::remove_file(&path);
            }
        }
    }
    pools.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("batch-2_a.b").is_ok());
        for bad in ["", ".hidden", "a/b", "x y", &"n".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
