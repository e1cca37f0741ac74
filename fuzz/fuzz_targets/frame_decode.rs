//! Coverage-guided fuzzing of the frame decoder, the code that reads bytes
//! from any local client of the pool's sockets (the workers' and the control
//! socket). Run with a cap on single allocations, so that a frame making the
//! decoder allocate what it claims counts as a crash (17 MiB: a frame's
//! 16 MiB cap plus slack):
//!
//!     cargo +nightly fuzz run frame_decode -- -malloc_limit_mb=17 -max_total_time=600
#![no_main]

use libfuzzer_sys::fuzz_target;
use pooltop::protocol::frame;
use pooltop::protocol::{FromWorker, ToWorker};

fuzz_target!(|data: &[u8]| {
    // A payload, as both directions decode it.
    let _ = frame::decode::<FromWorker>(data);
    let _ = frame::decode::<ToWorker>(data);
    // A stream, as the manager reads a handshake (frames of at most 4 KiB)
    // and then a worker's frames.
    let mut buf = Vec::new();
    let _ = frame::read_frame_limited::<FromWorker>(&mut &data[..], &mut buf, 4096);
    let mut stream = data;
    while frame::read_frame::<FromWorker>(&mut stream, &mut buf).is_ok() {}
    // A buffer, as the supervisor collects a worker's non-blocking socket.
    let mut pending = data;
    while let Ok(Some((_, used))) = frame::take_frame::<FromWorker>(pending) {
        pending = &pending[used..];
    }
});
