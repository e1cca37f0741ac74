//! pooltop: a pool of worker processes you can see and steer.

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
pub mod ipc;
pub mod platform;
pub mod protocol;
pub mod task;
pub mod worker;

pub use engine::{
    ChunkSize, Command, Counts, DoneRun, ExitHow, PoolConfig, PoolEvent, PoolHandle, Task, TaskId,
    TaskReport, TaskState, WorkerId,
};
pub use error::Error;
mod busy_wait;
mod pool;

pub use pool::{Pool, PoolBuilder};
