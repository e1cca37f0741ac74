//! pooltop: a pool of worker processes you can see and steer.

pub mod engine;
pub mod monitor;
pub mod platform;
pub mod task;
pub mod ui;
