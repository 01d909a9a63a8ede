//! Queues: a named, bounded FIFO of values and futures. `put` waits while the queue is full,
//! `get` while it is empty; an item put while a `get` waits goes straight to that getter.
//! A queue that is empty with nobody waiting is forgotten (with its bound).

use std::collections::VecDeque;
use std::time::Duration;

use super::waiters::{Waiter, Waiters};
use super::{Asker, Coordination, CoordinationError, Effects};
use crate::ids::ClientId;
use crate::messages::coordination::{CoordinationReply, Item, ItemKind, Primitive};

const QUEUE: Primitive = Primitive::Queue;

/// One queue.
#[derive(Debug)]
pub(super) struct QueueRecord {
    maxsize: u32,
    items: VecDeque<Item>,
    /// Puts waiting for room, with their items (counted in the store already).
    putters: Waiters<Item>,
    /// Gets waiting for an item, with the kind each wants.
    getters: Waiters<ItemKind>,
}

impl QueueRecord {
    /// Items queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    fn is_idle(&self) -> bool {
        self.items.is_empty() && self.putters.is_empty() && self.getters.is_empty()
    }

    /// Moves waiting puts into the queue while there is room, answering them.
    fn admit_putters(&mut self, out: &mut Effects) {
        while self.items.len() < self.maxsize as usize {
            let Some(putter) = self.putters.pop() else {
                return;
            };
            self.items.push_back(putter.what);
            out.answer(putter.asker, CoordinationReply::Done);
        }
    }
}

fn wrong_item(name: &str, expected: ItemKind, found: ItemKind) -> CoordinationError {
    CoordinationError::WrongItem {
        primitive: QUEUE,
        name: name.to_string(),
        expected,
        found,
    }
}

impl Coordination {
    /// Appends `item` (or hands it to a waiting getter); waits while the queue is full.
    pub(super) fn put(
        &mut self,
        asker: Asker,
        name: &str,
        (item, maxsize): (Item, u32),
        timeout: Option<Duration>,
        now: Duration,
        out: &mut Effects,
    ) {
        let max = self.limits.max_queue_items;
        let maxsize = if maxsize == 0 { max } else { maxsize.min(max) };
        if !self.queues.contains_key(name) {
            if let Some(error) = self.names_full(QUEUE, self.queues.len()) {
                return out.fail(asker, error);
            }
        }
        if let Some(record) = self.queues.get_mut(name) {
            // The bound belongs to the queue while it holds items; an empty queue (only
            // getters waiting) takes the bound of its first put.
            if record.items.is_empty() && record.putters.is_empty() {
                record.maxsize = maxsize;
            } else if record.maxsize != maxsize {
                let reason = format!(
                    "it holds at most {} items; this handle says {maxsize}",
                    record.maxsize
                );
                let name = name.to_string();
                let error = CoordinationError::Conflict {
                    primitive: QUEUE,
                    name,
                    reason,
                };
                return out.fail(asker, error);
            }
        }
        if let Err(error) = self.store.take_in(&self.limits, (QUEUE, name), &item, out) {
            return out.fail(asker, error);
        }
        let record = self
            .queues
            .entry(name.to_string())
            .or_insert_with(|| QueueRecord {
                maxsize,
                items: VecDeque::new(),
                putters: Waiters::default(),
                getters: Waiters::default(),
            });
        while let Some(getter) = record.getters.pop() {
            if getter.what != item.kind() {
                out.fail(getter.asker, wrong_item(name, getter.what, item.kind()));
                continue;
            }
            let reply = self.store.give_out(item, getter.asker.client, out);
            out.answer(getter.asker, reply);
            return out.answer(asker, CoordinationReply::Done);
        }
        if record.items.len() < maxsize as usize && record.putters.is_empty() {
            record.items.push_back(item);
            return out.answer(asker, CoordinationReply::Done);
        }
        let waiter = Waiter::new(asker, now, timeout, item);
        let refused = match timeout == Some(Duration::ZERO) {
            true => Err(waiter.timed_out(QUEUE, name, "put", now)),
            false => {
                let limit = self.limits.max_waiters;
                (record.putters.push(waiter, limit, (QUEUE, name))).map_err(|(error, item)| {
                    (
                        super::Answer {
                            to: asker,
                            reply: CoordinationReply::Failed(error),
                        },
                        item,
                    )
                })
            }
        };
        if let Err((answer, item)) = refused {
            self.store.release(item, out);
            out.answers.push(answer);
        }
        if record.is_idle() {
            self.queues.remove(name);
        }
    }

    /// Takes the oldest item if it is of `kind`; waits while the queue is empty.
    pub(super) fn get(
        &mut self,
        asker: Asker,
        name: &str,
        kind: ItemKind,
        timeout: Option<Duration>,
        now: Duration,
        out: &mut Effects,
    ) {
        if let Some(record) = self.queues.get_mut(name) {
            if let Some(front) = record.items.front() {
                if front.kind() != kind {
                    return out.fail(asker, wrong_item(name, kind, front.kind()));
                }
                let item = record.items.pop_front().expect("a front item");
                let reply = self.store.give_out(item, asker.client, out);
                out.answer(asker, reply);
                record.admit_putters(out);
                if record.is_idle() {
                    self.queues.remove(name);
                }
                return;
            }
        }
        let waiter = Waiter::new(asker, now, timeout, kind);
        if timeout == Some(Duration::ZERO) {
            return out
                .answers
                .push(waiter.timed_out(QUEUE, name, "get", now).0);
        }
        if !self.queues.contains_key(name) {
            if let Some(error) = self.names_full(QUEUE, self.queues.len()) {
                return out.fail(asker, error);
            }
        }
        let (limit, maxsize) = (self.limits.max_waiters, self.limits.max_queue_items);
        let record = self
            .queues
            .entry(name.to_string())
            .or_insert_with(|| QueueRecord {
                maxsize,
                items: VecDeque::new(),
                putters: Waiters::default(),
                getters: Waiters::default(),
            });
        if let Err((error, _)) = record.getters.push(waiter, limit, (QUEUE, name)) {
            out.fail(asker, error);
        }
        if record.is_idle() {
            self.queues.remove(name);
        }
    }

    pub(super) fn tick_queues(&mut self, now: Duration, out: &mut Effects) {
        for (name, record) in self.queues.iter_mut() {
            for getter in record.getters.expire(now) {
                out.answers
                    .push(getter.timed_out(QUEUE, name, "get", now).0);
            }
            for putter in record.putters.expire(now) {
                let (answer, item) = putter.timed_out(QUEUE, name, "put", now);
                self.store.release(item, out);
                out.answers.push(answer);
            }
        }
        self.queues.retain(|_, record| !record.is_idle());
    }

    pub(super) fn remove_client_queues(&mut self, client: ClientId, out: &mut Effects) {
        for record in self.queues.values_mut() {
            record.getters.remove_client(client);
            for putter in record.putters.remove_client(client) {
                self.store.release(putter.what, out);
            }
        }
        self.queues.retain(|_, record| !record.is_idle());
    }
}
