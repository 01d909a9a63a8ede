//! Events: a named flag. `set` releases every waiter, present and future, until `clear`.
//! An event that is clear and has no waiters is forgotten (it reads as clear).

use std::time::Duration;

use super::waiters::{Waiter, Waiters};
use super::{Asker, Coordination, Effects};
use crate::ids::ClientId;
use crate::messages::coordination::{CoordinationReply, Primitive};

/// One event.
#[derive(Debug, Default)]
pub(super) struct EventRecord {
    set: bool,
    waiters: Waiters<()>,
}

impl EventRecord {
    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.set
    }

    /// Clear with nobody waiting: nothing to remember.
    pub fn is_idle(&self) -> bool {
        !self.set && self.waiters.is_empty()
    }

    /// Drops `client`'s waits.
    pub fn remove_client(&mut self, client: ClientId) {
        self.waiters.remove_client(client);
    }
}

impl Coordination {
    pub(super) fn set_event(&mut self, asker: Asker, name: &str, out: &mut Effects) {
        if !self.events.contains_key(name) {
            if let Some(error) = self.names_full(Primitive::Event, self.events.len()) {
                return out.fail(asker, error);
            }
        }
        let record = self.events.entry(name.to_string()).or_default();
        record.set = true;
        for waiter in record.waiters.drain() {
            out.answer(waiter.asker, CoordinationReply::Done);
        }
        out.answer(asker, CoordinationReply::Done);
    }

    pub(super) fn clear_event(&mut self, asker: Asker, name: &str, out: &mut Effects) {
        if let Some(record) = self.events.get_mut(name) {
            record.set = false;
            if record.is_idle() {
                self.events.remove(name);
            }
        }
        out.answer(asker, CoordinationReply::Done);
    }

    pub(super) fn wait_event(
        &mut self,
        asker: Asker,
        name: &str,
        timeout: Option<Duration>,
        now: Duration,
        out: &mut Effects,
    ) {
        if self.events.get(name).is_some_and(EventRecord::is_set) {
            return out.answer(asker, CoordinationReply::Done);
        }
        let waiter = Waiter::new(asker, now, timeout, ());
        if timeout == Some(Duration::ZERO) {
            return out
                .answers
                .push(waiter.timed_out(Primitive::Event, name, "wait", now).0);
        }
        if !self.events.contains_key(name) {
            if let Some(error) = self.names_full(Primitive::Event, self.events.len()) {
                return out.fail(asker, error);
            }
        }
        let limit = self.limits.max_waiters;
        let record = self.events.entry(name.to_string()).or_default();
        if let Err((error, ())) = record.waiters.push(waiter, limit, (Primitive::Event, name)) {
            out.fail(asker, error);
        }
        if record.is_idle() {
            self.events.remove(name);
        }
    }

    pub(super) fn tick_events(&mut self, now: Duration, out: &mut Effects) {
        for (name, record) in self.events.iter_mut() {
            for waiter in record.waiters.expire(now) {
                out.answers
                    .push(waiter.timed_out(Primitive::Event, name, "wait", now).0);
            }
        }
        self.events.retain(|_, record| !record.is_idle());
    }
}
