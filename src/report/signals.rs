//! SIGINT, SIGTERM and SIGHUP, caught on a thread of their own and handed to
//! whichever face runs: the headless runner turns them into orders to the
//! pool, the dashboard into messages for its loop.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// A running signal watcher. It records the first signal caught;
/// [`SignalWatch::close`] stops its thread.
pub struct SignalWatch {
    caught: Arc<AtomicI32>,
    handle: Option<Handle>,
}

impl SignalWatch {
    /// Starts the watcher: for each SIGINT, SIGTERM or SIGHUP, `on_signal`
    /// gets the signal's number and how many came before it (0 for the
    /// first). The thread ends when `on_signal` returns false.
    pub fn start(
        mut on_signal: impl FnMut(i32, usize) -> bool + Send + 'static,
    ) -> io::Result<SignalWatch> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let caught = Arc::new(AtomicI32::new(0));
        let first = caught.clone();
        std::thread::Builder::new()
            .name("pooltop-signals".into())
            .spawn(move || {
                for (n, sig) in signals.forever().enumerate() {
                    let _ = first.compare_exchange(0, sig, Ordering::Relaxed, Ordering::Relaxed);
                    if !on_signal(sig, n) {
                        return;
                    }
                }
            })?;
        Ok(SignalWatch {
            caught,
            handle: Some(handle),
        })
    }

    /// A watcher that watches nothing (when signals could not be set up:
    /// the run goes on with the default handling).
    pub fn none() -> SignalWatch {
        SignalWatch {
            caught: Arc::new(AtomicI32::new(0)),
            handle: None,
        }
    }

    /// The first signal caught, if any.
    pub fn caught(&self) -> Option<i32> {
        match self.caught.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// Stops watching (the signals are then ignored, not acted on).
    pub fn close(&self) {
        if let Some(h) = &self.handle {
            h.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn reports_each_signal_with_its_count_and_keeps_the_first() {
        let (tx, rx) = mpsc::channel();
        let watch = SignalWatch::start(move |sig, n| tx.send((sig, n)).is_ok()).unwrap();
        // SAFETY: raise(3) sends a signal to this process, which the watcher handles.
        unsafe { libc::raise(SIGHUP) };
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("first");
        assert_eq!(got, (SIGHUP, 0));
        // SAFETY: as above.
        unsafe { libc::raise(SIGTERM) };
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("second");
        assert_eq!(got, (SIGTERM, 1));
        assert_eq!(watch.caught(), Some(SIGHUP));
        watch.close();
    }
}
