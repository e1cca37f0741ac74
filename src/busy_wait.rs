//! Waiting without sleeping, briefly: how pooltop keeps a round trip short.
//!
//! On this kind of machine (a VM) waking a thread whose CPU has gone idle
//! costs 25–30 µs, and a task's round trip passes four threads: the caller,
//! the supervisor, the worker, the supervisor again, the caller. Asleep at
//! each hand-off, a one-task round trip took ~65 µs, most of it wake-ups.
//! So each of them, when it is about to wait for something that usually comes
//! at once (a reply to what it just sent), first checks again for up to
//! [`SPIN`], giving its CPU away between checks (`sched_yield`) so that a
//! thread that has work runs instead; only then does it sleep. The round trip
//! drops to ~8 µs. The price is at most [`SPIN`] of CPU per wait that
//! follows activity; an idle pool sleeps as before.

use std::time::{Duration, Instant};

/// How long to keep checking before going to sleep.
pub const SPIN: Duration = Duration::from_micros(50);

/// Checks `ready` until it holds or [`SPIN`] has passed, yielding the CPU
/// between checks; returns whether it held.
pub fn briefly(mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() >= SPIN {
            return false;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_when_ready_or_after_the_spin() {
        let mut n = 0;
        assert!(briefly(|| {
            n += 1;
            true
        }));
        assert_eq!(n, 1, "ready at once: looked once");
        // Ready at the third look, unless the machine is so busy that the
        // spin ran out first (each yield may give the CPU away for long).
        let mut n = 0;
        let start = Instant::now();
        if briefly(|| {
            n += 1;
            n == 3
        }) {
            assert_eq!(n, 3);
        } else {
            assert!(n < 3 && start.elapsed() >= SPIN, "gave up early: {n}");
        }
        let start = Instant::now();
        assert!(!briefly(|| false));
        assert!(start.elapsed() >= SPIN);
    }
}
