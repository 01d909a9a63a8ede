//! The counters that hold a session to its bounds ([`super::bounds`] says what happens at
//! each): bytes waiting for the writer ([`SendQueue`]), and bytes received but not yet handled
//! by the owner ([`InboundCredit`], with the [`GatedRead`] stream that stops reading at the
//! bound), and when bytes last came at all ([`LastRead`], noted by [`TimedRead`], read by
//! the liveness clock of [`super::idle`]). Knows no actor; the session and its writer update them.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use futures_util::Stream;
use tokio::sync::Notify;

use super::bounds::{AtSendBound, BoundReached};

/// Bytes a session holds for its writer, shared by the session, its writer and the producers
/// that wait for room.
#[derive(Debug)]
pub struct SendQueue {
    queued: AtomicUsize,
    /// Bytes of data replies handed to the session's mailbox and not yet queued.
    in_mailbox: AtomicUsize,
    bound: usize,
    closed: AtomicBool,
    room: Notify,
    /// Guards nothing but the wait of a blocking producer: the writer takes it to notify, so
    /// a producer between its check and its wait cannot miss the wake-up.
    room_lock: Mutex<()>,
    room_blocking: Condvar,
}

impl SendQueue {
    pub(super) fn new(bound: usize) -> Arc<Self> {
        Arc::new(SendQueue {
            queued: AtomicUsize::new(0),
            in_mailbox: AtomicUsize::new(0),
            bound,
            closed: AtomicBool::new(false),
            room: Notify::new(),
            room_lock: Mutex::new(()),
            room_blocking: Condvar::new(),
        })
    }

    /// Bytes queued and not yet written to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// The bound in bytes.
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Whether a waiting producer may send now: under the bound, or the session closed (the
    /// send then fails as any send on a closed session does).
    pub fn has_room(&self) -> bool {
        self.queued_bytes() < self.bound || self.closed.load(Ordering::Acquire)
    }

    /// Counts a message of `bytes`, unless the policy is `Close` and it does not fit: a
    /// message fits under the bound, or alone in an empty queue.
    pub(super) fn admit(&self, bytes: usize, policy: AtSendBound) -> Result<(), BoundReached> {
        // Only the session adds, so the check and the add do not race with another add; the
        // writer's subtractions can only make room in between.
        let queued = self.queued_bytes();
        let fits = queued == 0 || queued.saturating_add(bytes) <= self.bound;
        if !fits && policy == AtSendBound::Close {
            return Err(BoundReached::SendQueue {
                queued,
                incoming: bytes,
                bound: self.bound,
            });
        }
        self.queued.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// Counts a data reply of `bytes` on its way to the session's mailbox, unless it does not
    /// fit beside what is queued and already in the mailbox (the same rule as [`Self::admit`],
    /// policy `Close`): checked before the reply waits in the mailbox, where no bound sees it.
    pub(super) fn enter_mailbox(&self, bytes: usize) -> Result<(), BoundReached> {
        let pending = self.queued_bytes() + self.in_mailbox.load(Ordering::Acquire);
        if pending > 0 && pending.saturating_add(bytes) > self.bound {
            return Err(BoundReached::SendQueue {
                queued: pending,
                incoming: bytes,
                bound: self.bound,
            });
        }
        self.in_mailbox.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// The session took a reply counted by [`Self::enter_mailbox`] out of its mailbox.
    pub(super) fn leave_mailbox(&self, bytes: usize) {
        self.in_mailbox.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// The writer wrote `bytes` to the socket.
    pub(super) fn written(&self, bytes: usize) {
        let before = self.queued.fetch_sub(bytes, Ordering::AcqRel);
        if before >= self.bound && before - bytes < self.bound {
            self.wake_producers();
        }
    }

    /// The session stopped: nobody waits for room any more.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_producers();
    }

    fn wake_producers(&self) {
        self.room.notify_waiters();
        let _guard = self.room_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.room_blocking.notify_all();
    }

    /// Waits until a producer may send (see [`SendQueue::has_room`]).
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_room() {
                return;
            }
            notified.await;
        }
    }

    /// Blocks this thread until a producer may send; for the executor's synchronous API.
    pub fn wait_for_room_blocking(&self) {
        let mut guard = self.room_lock.lock().unwrap_or_else(|e| e.into_inner());
        while !self.has_room() {
            guard = self
                .room_blocking
                .wait(guard)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Bytes received and handed to the owner but not yet dropped by it.
#[derive(Debug)]
pub(super) struct InboundCredit {
    unhandled: AtomicUsize,
    bound: usize,
    reader: AtomicWaker,
}

impl InboundCredit {
    pub(super) fn new(bound: usize) -> Arc<Self> {
        Arc::new(InboundCredit {
            unhandled: AtomicUsize::new(0),
            bound,
            reader: AtomicWaker::new(),
        })
    }

    /// Whether reading must wait: at the bound, with something unhandled (so one message
    /// larger than the bound is still read when the owner has caught up).
    pub(super) fn is_full(&self) -> bool {
        let unhandled = self.unhandled.load(Ordering::Acquire);
        unhandled > 0 && unhandled >= self.bound
    }

    /// Counts a message of `bytes` handed to the owner until the receipt is dropped.
    pub(super) fn take(self: &Arc<Self>, bytes: usize) -> Receipt {
        self.unhandled.fetch_add(bytes, Ordering::AcqRel);
        Receipt {
            credit: self.clone(),
            bytes,
        }
    }
}

/// Travels with a received message to the owner; dropping it lets the session read again.
#[derive(Debug)]
pub struct Receipt {
    credit: Arc<InboundCredit>,
    bytes: usize,
}

impl Drop for Receipt {
    fn drop(&mut self) {
        self.credit
            .unhandled
            .fetch_sub(self.bytes, Ordering::AcqRel);
        self.credit.reader.wake();
    }
}

/// A stream that yields nothing while its [`InboundCredit`] is at the bound.
pub(super) struct GatedRead<S> {
    inner: S,
    credit: Arc<InboundCredit>,
}

impl<S> GatedRead<S> {
    pub(super) fn new(inner: S, credit: Arc<InboundCredit>) -> Self {
        GatedRead { inner, credit }
    }
}

impl<S: Stream + Unpin> Stream for GatedRead<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.credit.is_full() {
            self.credit.reader.register(cx.waker());
            // A receipt dropped between the check and the register woke nobody: look again.
            if self.credit.is_full() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// When a session last read a byte from its socket, shared by its reader ([`TimedRead`]) and
/// its liveness clock, so a peer slowly sending one large message (longer in transit than the
/// heartbeat deadline) is heard while it sends: silence means no byte at all, not no whole
/// message.
#[derive(Debug)]
pub(super) struct LastRead {
    base: std::time::Instant,
    /// Microseconds after `base` of the last read that returned bytes (0: none yet).
    micros: AtomicU64,
}

impl LastRead {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(LastRead {
            base: std::time::Instant::now(),
            micros: AtomicU64::new(0),
        })
    }

    fn mark(&self) {
        let micros = self.base.elapsed().as_micros().min(u64::MAX as u128) as u64;
        self.micros.store(micros.max(1), Ordering::Relaxed);
    }

    /// When bytes last came, if any have.
    pub(super) fn at(&self) -> Option<std::time::Instant> {
        match self.micros.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(self.base + std::time::Duration::from_micros(micros)),
        }
    }
}

/// A reader that notes in its [`LastRead`] when it read bytes.
pub(super) struct TimedRead<R> {
    inner: R,
    last: Arc<LastRead>,
}

impl<R> TimedRead<R> {
    /// Notes `inner`'s reads in `last`.
    pub(super) fn new(inner: R, last: Arc<LastRead>) -> Self {
        TimedRead { inner, last }
    }
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for TimedRead<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.last.mark();
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_does_not_fit_is_refused_only_under_close() {
        let queue = SendQueue::new(100);
        queue
            .admit(150, AtSendBound::Close)
            .expect("alone in an empty queue");
        let refused = queue.admit(1, AtSendBound::Close).unwrap_err();
        assert_eq!(
            refused,
            BoundReached::SendQueue {
                queued: 150,
                incoming: 1,
                bound: 100
            }
        );
        queue
            .admit(1, AtSendBound::Wait)
            .expect("admitted under Wait");
        assert_eq!(queue.queued_bytes(), 151);
        assert!(!queue.has_room());
        queue.written(100);
        assert!(queue.has_room());
    }

    #[test]
    fn a_blocked_producer_wakes_when_the_writer_makes_room() {
        let queue = SendQueue::new(10);
        queue.admit(20, AtSendBound::Close).unwrap();
        let waiter = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.wait_for_room_blocking())
        };
        queue.written(15);
        waiter.join().expect("waiter woke");
        assert_eq!(queue.queued_bytes(), 5);
    }

    #[test]
    fn receipts_give_credit_back() {
        let credit = InboundCredit::new(10);
        let first = credit.take(6);
        assert!(!credit.is_full());
        let second = credit.take(6);
        assert!(credit.is_full());
        drop(first);
        assert!(!credit.is_full());
        drop(second);
        assert_eq!(credit.unhandled.load(Ordering::Acquire), 0);
    }
}
