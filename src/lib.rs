//! pooltop: a pool of worker processes you can see and steer.

pub mod engine;
pub mod error;
pub mod ipc;
pub mod monitor;
pub mod platform;
pub mod protocol;
pub mod task;
pub mod ui;
pub mod worker;

pub use engine::{
    Command, Counts, ExitHow, PoolConfig, PoolEvent, PoolHandle, Task, TaskId, TaskReport,
    TaskState, WorkerId,
};
pub use error::Error;
pub mod cli;
pub mod control;
pub mod demo;
pub mod headless;
mod pool;
pub mod remote;

pub use pool::{Pool, PoolBuilder};
