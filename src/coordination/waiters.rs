//! A FIFO of callers waiting on one name, each with its own deadline: how a blocked
//! `acquire`, `get`, `put` or `wait` waits at the center without holding a thread. The
//! request's reply is simply not sent yet; it is sent when the wait is satisfied, or as a
//! `Timeout` by the tick that finds its deadline passed.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Answer, Asker};
use crate::coordination::CoordinationError;
use crate::ids::ClientId;
use crate::messages::coordination::{CoordinationReply, Primitive};

/// One waiting caller and what it waits with (a lease id, an item to put, the kind of item
/// it wants).
#[derive(Debug)]
pub(super) struct Waiter<T> {
    pub asker: Asker,
    /// When it started waiting (for the error's "after 2.0 s").
    pub since: Duration,
    /// When it gives up; `None`: never.
    pub deadline: Option<Duration>,
    pub what: T,
}

impl<T> Waiter<T> {
    pub fn new(asker: Asker, now: Duration, timeout: Option<Duration>, what: T) -> Self {
        Waiter {
            asker,
            since: now,
            deadline: timeout.and_then(|t| now.checked_add(t)),
            what,
        }
    }

    /// Its `Timeout` answer at `now`.
    pub fn timed_out(
        self,
        primitive: Primitive,
        name: &str,
        operation: &str,
        now: Duration,
    ) -> (Answer, T) {
        let error = CoordinationError::Timeout {
            primitive,
            name: name.to_string(),
            operation: operation.to_string(),
            waited: now.saturating_sub(self.since),
        };
        let answer = Answer {
            to: self.asker,
            reply: CoordinationReply::Failed(error),
        };
        (answer, self.what)
    }
}

/// The callers waiting on one name, oldest first.
#[derive(Debug)]
pub(super) struct Waiters<T> {
    queue: VecDeque<Waiter<T>>,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters {
            queue: VecDeque::new(),
        }
    }
}

impl<T> Waiters<T> {
    /// Adds a waiter at the back. At the bound (`limit` waiters) the caller is refused at
    /// once with `TooManyWaiters`, and gets its `what` back.
    pub fn push(
        &mut self,
        waiter: Waiter<T>,
        limit: usize,
        (primitive, name): (Primitive, &str),
    ) -> Result<(), (CoordinationError, T)> {
        if self.queue.len() >= limit {
            let error = CoordinationError::TooManyWaiters {
                primitive,
                name: name.to_string(),
                limit,
            };
            return Err((error, waiter.what));
        }
        self.queue.push_back(waiter);
        Ok(())
    }

    /// The oldest waiter, taken out.
    pub fn pop(&mut self) -> Option<Waiter<T>> {
        self.queue.pop_front()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Every waiter, taken out, oldest first.
    pub fn drain(&mut self) -> Vec<Waiter<T>> {
        self.queue.drain(..).collect()
    }

    /// The waiters whose deadline is at or before `now`, taken out.
    pub fn expire(&mut self, now: Duration) -> Vec<Waiter<T>> {
        self.take_where(|w| w.deadline.is_some_and(|d| d <= now))
    }

    /// The waiters of `client`, taken out (it disconnected: nobody to answer).
    pub fn remove_client(&mut self, client: ClientId) -> Vec<Waiter<T>> {
        self.take_where(|w| w.asker.client == client)
    }

    fn take_where(&mut self, mut pick: impl FnMut(&Waiter<T>) -> bool) -> Vec<Waiter<T>> {
        if !self.queue.iter().any(&mut pick) {
            return Vec::new();
        }
        let (taken, kept): (VecDeque<_>, VecDeque<_>) = self.queue.drain(..).partition(|w| pick(w));
        self.queue = kept;
        taken.into_iter().collect()
    }
}
