//! pooltop: a pool of worker processes you can see and steer — the library.
//!
//! The engine and what it needs: start a pool ([`Pool`] for `map`-style use,
//! or [`engine::start`] for the [`PoolHandle`] and the stream of
//! [`PoolEvent`]s every face reads), send it [`Command`]s, and let the same
//! executable serve as the worker ([`worker::run_if_worker`] first thing in
//! `main`). The `pooltop` binary's faces (the dashboard, the headless
//! runner, the control socket, command templates, settings) are modules of
//! the binary, not of this library: they use it as any caller would.
//!
//! `protocol`, `ipc` and `platform` are public for pooltop's own tests and
//! tools (the frames, the private socket, process groups and signals); they
//! are not a stable interface.

/// Like `eprintln!`, but a closed stderr (say, a terminal that was hung up)
/// is not a panic: the line is dropped.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[cfg(feature = "mimalloc")]
pub mod alloc;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod ipc;
#[doc(hidden)]
pub mod platform;
#[doc(hidden)]
pub mod protocol;
pub mod task;
pub mod worker;

pub use engine::{
    ChunkSize, Command, Counts, DoneRun, ExitHow, PoolConfig, PoolEvent, PoolHandle, Task, TaskId,
    TaskReport, TaskState, WorkerId,
};
pub use error::Error;
pub use pool::{Pool, PoolBuilder};

mod busy_wait;
mod pool;
