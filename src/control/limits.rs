//! The control server's limits, in one file of their own with no imports,
//! so that tests/control.rs can include it and test against the real values.

use std::time::Duration;

/// The most control connections a pool keeps open. When all are taken, a
/// new one takes the place of the oldest that has not said hello yet, or,
/// if every one has, is refused with a reason.
pub const MAX_CLIENTS: usize = 64;

/// How long a client may take to say hello, to finish sending a request it
/// began, or to read a reply, before it is dropped.
pub const READ_DEADLINE: Duration = Duration::from_secs(3);

/// Events an attached dashboard may fall behind by before it is dropped.
pub const SUBSCRIBER_BACKLOG: usize = 100_000;
