//! The library's error type.

use std::io;
use std::path::PathBuf;

/// What can go wrong when starting or talking to a pool.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pool's private socket directory or socket could not be made.
    #[error("cannot set up the pool's socket: {0}")]
    Socket(#[source] io::Error),
    /// The worker executable could not be found.
    #[error("cannot find the worker executable: {0}")]
    WorkerProgram(#[source] io::Error),
    /// A configuration value is out of range.
    #[error("invalid pool configuration: {0}")]
    Config(String),
    /// The output folder cannot be created.
    #[error("cannot create output folder {path}: {source}")]
    OutDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The pool's control endpoint could not be opened.
    #[error("control endpoint: {0}")]
    Control(String),
    /// The pool has already shut down.
    #[error("the pool has shut down")]
    Stopped,
    /// Running as a worker failed.
    #[error("worker: {0}")]
    Worker(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}
