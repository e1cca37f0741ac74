//! The event channel: the supervisor's news, carried in batches.
//!
//! The supervisor reports several events per task (queued, started,
//! finished) and may settle thousands of tiny tasks in one round of its loop.
//! One channel send per event — each a possible futex wake of the reader —
//! cost more than the rest of the round, so the supervisor collects a round's
//! events and sends them as one batch; the reader takes them out one by one.
//! Order is kept, and nothing waits: the batch goes out before the supervisor
//! blocks again. The reader hands each emptied batch back for the next one,
//! so batches are not allocated afresh (and their pages not faulted in) round
//! after round.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use super::events::PoolEvent;

/// Events per batch at most: a round that settles thousands of tasks sends
/// several, so the reader starts on the first while the rest are made, and
/// every batch fits the same recycled buffer (growing fresh ones cost page
/// faults, a sixth of the supervisor's time with 100,000 tiny tasks).
const BATCH: usize = 1024;

/// A new channel: the sending end for a pool (or a relay), the receiving end
/// for its consumer.
pub fn event_channel() -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::channel();
    let (spare_tx, spare_rx) = mpsc::channel();
    let quick = Arc::new(AtomicBool::new(false));
    (
        EventSender {
            tx,
            pending: Vec::new(),
            spares: spare_rx,
            quick: quick.clone(),
        },
        EventReceiver {
            rx,
            batch: VecDeque::new(),
            spares: spare_tx,
            quick,
        },
    )
}

/// Collects events and sends them in batches ([`EventSender::flush`]).
/// Whatever is still collected when it is dropped is sent then.
pub struct EventSender {
    tx: Sender<Vec<PoolEvent>>,
    pending: Vec<PoolEvent>,
    /// Emptied batches the reader gave back.
    spares: Receiver<Vec<PoolEvent>>,
    /// Whether the next batch is due any moment (see [`EventSender::expect_quick`]).
    quick: Arc<AtomicBool>,
}

impl EventSender {
    /// Adds an event to the current batch.
    pub fn push(&mut self, event: PoolEvent) {
        self.pending.push(event);
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    /// Sends the current batch, if any; false once the receiver is gone.
    pub fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let next = self
            .spares
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let batch = std::mem::replace(&mut self.pending, next);
        self.tx.send(batch).is_ok()
    }

    /// Tells the reader whether more news is due any moment (only instant
    /// tasks are in flight): then it checks again for a moment before it
    /// sleeps (see `crate::busy_wait`); otherwise it sleeps at once.
    pub fn expect_quick(&self, quick: bool) {
        self.quick.store(quick, Ordering::Relaxed);
    }

    /// Sends one event on its own, at once.
    pub fn send(&mut self, event: PoolEvent) -> bool {
        self.push(event);
        self.flush()
    }
}

impl Drop for EventSender {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A pool's events, one at a time, in the order they happened. Like
/// [`std::sync::mpsc::Receiver`], with the same errors; it also iterates
/// (until the pool is gone).
pub struct EventReceiver {
    rx: Receiver<Vec<PoolEvent>>,
    /// The batch being read.
    batch: VecDeque<PoolEvent>,
    /// Where emptied batches go back to the sender.
    spares: Sender<Vec<PoolEvent>>,
    /// Set by the sender while news is due any moment.
    quick: Arc<AtomicBool>,
}

impl EventReceiver {
    /// Takes `next` as the batch to read, giving the emptied one back.
    fn start(&mut self, next: Vec<PoolEvent>) {
        let done = std::mem::replace(&mut self.batch, VecDeque::from(next));
        if done.capacity() > 0 {
            // Empty, so no element moves; a sender that is gone is no matter.
            let _ = self.spares.send(Vec::from(done));
        }
    }

    /// The next event, waiting for it; an error once the pool is gone and
    /// every event has been read.
    pub fn recv(&mut self) -> Result<PoolEvent, RecvError> {
        self.next_until(None).map_err(|_| RecvError)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<PoolEvent, TryRecvError> {
        loop {
            if let Some(ev) = self.batch.pop_front() {
                return Ok(ev);
            }
            let next = self.rx.try_recv()?;
            self.start(next);
        }
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<PoolEvent, RecvTimeoutError> {
        // A timeout too long to be a deadline (`Duration::MAX`) means none.
        self.next_until(Some(timeout).and_then(|t| Instant::now().checked_add(t)))
    }

    /// The next event, waiting until `deadline` (none: for as long as it
    /// takes). While the sender says news is due any moment, it is checked
    /// for without sleeping first (see `crate::busy_wait`).
    fn next_until(&mut self, deadline: Option<Instant>) -> Result<PoolEvent, RecvTimeoutError> {
        loop {
            if let Some(ev) = self.batch.pop_front() {
                return Ok(ev);
            }
            let mut got = None;
            let soon = deadline.is_none_or(|d| d > Instant::now() + crate::busy_wait::SPIN);
            if soon && self.quick.load(Ordering::Relaxed) {
                crate::busy_wait::briefly(|| match self.rx.try_recv() {
                    Err(TryRecvError::Empty) => false,
                    other => {
                        got = Some(other);
                        true
                    }
                });
            }
            let next = match (got, deadline) {
                (Some(Ok(batch)), _) => batch,
                (Some(Err(_)), _) => return Err(RecvTimeoutError::Disconnected),
                (None, None) => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected)?,
                (None, Some(d)) => self
                    .rx
                    .recv_timeout(d.saturating_duration_since(Instant::now()))?,
            };
            self.start(next);
        }
    }
}

impl EventReceiver {
    /// The events as they come, until the pool is gone (as
    /// [`std::sync::mpsc::Receiver::iter`]).
    pub fn iter(&mut self) -> &mut EventReceiver {
        self
    }
}

impl Iterator for EventReceiver {
    type Item = PoolEvent;

    fn next(&mut self) -> Option<PoolEvent> {
        self.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Counts;

    fn scaled(n: usize) -> PoolEvent {
        PoolEvent::Scaled { workers: n }
    }

    fn workers(ev: PoolEvent) -> usize {
        match ev {
            PoolEvent::Scaled { workers } => workers,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn events_arrive_in_order_only_once_flushed() {
        let (mut tx, mut rx) = event_channel();
        tx.push(scaled(1));
        tx.push(scaled(2));
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        assert!(tx.flush());
        tx.push(scaled(3));
        tx.flush();
        let got: Vec<usize> = (0..3).map(|_| workers(rx.try_recv().unwrap())).collect();
        assert_eq!(got, [1, 2, 3]);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    }

    #[test]
    fn a_full_batch_goes_out_by_itself() {
        let (mut tx, mut rx) = event_channel();
        for n in 0..=BATCH {
            tx.push(scaled(n));
        }
        for n in 0..BATCH {
            assert_eq!(workers(rx.try_recv().unwrap()), n);
        }
        assert!(
            matches!(rx.try_recv(), Err(TryRecvError::Empty)),
            "the rest waits"
        );
        tx.flush();
        assert_eq!(workers(rx.try_recv().unwrap()), BATCH);
    }

    #[test]
    fn dropping_the_sender_delivers_the_rest_then_disconnects() {
        let (mut tx, mut rx) = event_channel();
        tx.push(PoolEvent::Stopped(Counts::default()));
        drop(tx);
        assert!(matches!(rx.recv(), Ok(PoolEvent::Stopped(_))));
        assert!(rx.recv().is_err());
        assert!(matches!(
            rx.recv_timeout(Duration::from_millis(1)),
            Err(RecvTimeoutError::Disconnected)
        ));
    }

    #[test]
    fn recv_timeout_times_out_when_nothing_is_flushed() {
        let (mut tx, mut rx) = event_channel();
        tx.push(scaled(1));
        assert!(matches!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        ));
        tx.flush();
        assert_eq!(workers(rx.recv_timeout(Duration::from_secs(5)).unwrap()), 1);
        tx.send(scaled(2));
        assert_eq!(workers(rx.recv_timeout(Duration::MAX).unwrap()), 2);
    }
}
