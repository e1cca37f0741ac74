//! A pool's events as a face reads them.

use std::sync::mpsc::{RecvError, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use super::channel::EventReceiver;
use super::events::PoolEvent;

/// Something that sees every event before the face does (the control
/// server's view of the pool). It runs on the reader's own thread: no relay
/// thread, no extra wake-up per event.
pub type Tap = Box<dyn FnMut(&PoolEvent) + Send>;

/// The event channel of a pool, with an optional [`Tap`].
pub struct EventStream {
    rx: EventReceiver,
    tap: Option<Tap>,
}

impl EventStream {
    pub fn new(rx: EventReceiver) -> EventStream {
        EventStream { rx, tap: None }
    }

    pub fn with_tap(rx: EventReceiver, tap: Tap) -> EventStream {
        EventStream { rx, tap: Some(tap) }
    }

    /// Adds `tap` after the stream's own (if it has one): both see each
    /// event, in that order.
    pub fn add_tap(&mut self, mut tap: Tap) {
        self.tap = Some(match self.tap.take() {
            None => tap,
            Some(mut first) => Box::new(move |ev: &PoolEvent| {
                first(ev);
                tap(ev);
            }),
        });
    }

    fn seen(&mut self, ev: PoolEvent) -> PoolEvent {
        if let Some(tap) = self.tap.as_mut() {
            tap(&ev);
        }
        ev
    }

    /// The next event, waiting for it; an error once the pool is gone.
    pub fn recv(&mut self) -> Result<PoolEvent, RecvError> {
        let ev = self.rx.recv()?;
        Ok(self.seen(ev))
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<PoolEvent, TryRecvError> {
        let ev = self.rx.try_recv()?;
        Ok(self.seen(ev))
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<PoolEvent, RecvTimeoutError> {
        let ev = self.rx.recv_timeout(timeout)?;
        Ok(self.seen(ev))
    }
}

impl From<EventReceiver> for EventStream {
    fn from(rx: EventReceiver) -> EventStream {
        EventStream::new(rx)
    }
}

impl Iterator for EventStream {
    type Item = PoolEvent;

    fn next(&mut self) -> Option<PoolEvent> {
        self.recv().ok()
    }
}
