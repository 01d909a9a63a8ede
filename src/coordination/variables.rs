//! Variables: a named cell holding a value or a future. `get` waits until it is set; `set`
//! answers every waiting `get`; a future held here stays alive until replaced or deleted.

use std::time::Duration;

use super::waiters::{Waiter, Waiters};
use super::{Asker, Coordination, CoordinationError, Effects};
use crate::ids::ClientId;
use crate::messages::coordination::{CoordinationReply, Item, ItemKind, Primitive};

const VARIABLE: Primitive = Primitive::Variable;

/// One variable.
#[derive(Debug, Default)]
pub(super) struct VariableRecord {
    item: Option<Item>,
    waiters: Waiters<ItemKind>,
}

impl VariableRecord {
    /// Unset with nobody waiting.
    pub fn is_idle(&self) -> bool {
        self.item.is_none() && self.waiters.is_empty()
    }

    /// Drops `client`'s waits.
    pub fn remove_client(&mut self, client: ClientId) {
        self.waiters.remove_client(client);
    }
}

fn wrong_item(name: &str, expected: ItemKind, found: ItemKind) -> CoordinationError {
    CoordinationError::WrongItem {
        primitive: VARIABLE,
        name: name.to_string(),
        expected,
        found,
    }
}

impl Coordination {
    pub(super) fn set_variable(&mut self, asker: Asker, name: &str, item: Item, out: &mut Effects) {
        if !self.variables.contains_key(name) {
            if let Some(error) = self.names_full(VARIABLE, self.variables.len()) {
                return out.fail(asker, error);
            }
        }
        if let Err(error) = self
            .store
            .take_in(&self.limits, (VARIABLE, name), &item, out)
        {
            return out.fail(asker, error);
        }
        let record = self.variables.entry(name.to_string()).or_default();
        for waiter in record.waiters.drain() {
            match waiter.what == item.kind() {
                true => {
                    let reply = self.store.hand_out(&item, waiter.asker.client, out);
                    out.answer(waiter.asker, reply);
                }
                false => out.fail(waiter.asker, wrong_item(name, waiter.what, item.kind())),
            }
        }
        if let Some(old) = record.item.replace(item) {
            self.store.release(old, out);
        }
        out.answer(asker, CoordinationReply::Done);
    }

    pub(super) fn get_variable(
        &mut self,
        asker: Asker,
        name: &str,
        kind: ItemKind,
        timeout: Option<Duration>,
        now: Duration,
        out: &mut Effects,
    ) {
        if let Some(item) = self.variables.get(name).and_then(|r| r.item.as_ref()) {
            let reply = match item.kind() == kind {
                true => self.store.hand_out(item, asker.client, out),
                false => CoordinationReply::Failed(wrong_item(name, kind, item.kind())),
            };
            return out.answer(asker, reply);
        }
        let waiter = Waiter::new(asker, now, timeout, kind);
        if timeout == Some(Duration::ZERO) {
            return out
                .answers
                .push(waiter.timed_out(VARIABLE, name, "get", now).0);
        }
        if !self.variables.contains_key(name) {
            if let Some(error) = self.names_full(VARIABLE, self.variables.len()) {
                return out.fail(asker, error);
            }
        }
        let limit = self.limits.max_waiters;
        let record = self.variables.entry(name.to_string()).or_default();
        if let Err((error, _)) = record.waiters.push(waiter, limit, (VARIABLE, name)) {
            out.fail(asker, error);
        }
        if record.is_idle() {
            self.variables.remove(name);
        }
    }

    pub(super) fn delete_variable(&mut self, asker: Asker, name: &str, out: &mut Effects) {
        if let Some(record) = self.variables.get_mut(name) {
            if let Some(old) = record.item.take() {
                self.store.release(old, out);
            }
            if record.is_idle() {
                self.variables.remove(name);
            }
        }
        out.answer(asker, CoordinationReply::Done);
    }

    pub(super) fn tick_variables(&mut self, now: Duration, out: &mut Effects) {
        for (name, record) in self.variables.iter_mut() {
            for waiter in record.waiters.expire(now) {
                out.answers
                    .push(waiter.timed_out(VARIABLE, name, "get", now).0);
            }
        }
        self.variables.retain(|_, record| !record.is_idle());
    }
}
