//! Locks and semaphores: leases by id, granted in arrival order. A lock is one lease held
//! until released or until its holder disconnects; a semaphore's leases also expire when
//! their holder stops refreshing them for the semaphore's lease timeout (dask's lease
//! validation), so a holder that hangs without closing its connection frees them too.

use std::time::Duration;

use super::waiters::{Waiter, Waiters};
use super::{Asker, Coordination, CoordinationError, Effects, ExpiredLease};
use crate::ids::{ClientId, Map};
use crate::messages::coordination::{CoordinationReply, LeaseSpec};

/// A lease's holder and when it last proved alive.
#[derive(Debug)]
struct Holder {
    client: ClientId,
    refreshed: Duration,
}

/// One lock or semaphore.
#[derive(Debug)]
pub(super) struct Leases {
    spec: LeaseSpec,
    holders: Map<u64, Holder>,
    waiters: Waiters<u64>,
}

impl Leases {
    fn new(spec: LeaseSpec) -> Self {
        Leases {
            spec,
            holders: Map::default(),
            waiters: Waiters::default(),
        }
    }

    fn max(&self) -> usize {
        match self.spec {
            LeaseSpec::Lock => 1,
            LeaseSpec::Semaphore { max_leases, .. } => max_leases as usize,
        }
    }

    /// Leases held now.
    pub fn held(&self) -> usize {
        self.holders.len()
    }

    fn is_idle(&self) -> bool {
        self.holders.is_empty() && self.waiters.is_empty()
    }

    /// Lets waiters in while there is room, oldest first.
    fn grant(&mut self, name: &str, now: Duration, out: &mut Effects) {
        while self.holders.len() < self.max() {
            let Some(waiter) = self.waiters.pop() else {
                return;
            };
            if self.holders.contains_key(&waiter.what) {
                out.fail(waiter.asker, already_held(self.spec, name));
                continue;
            }
            let holder = Holder {
                client: waiter.asker.client,
                refreshed: now,
            };
            self.holders.insert(waiter.what, holder);
            out.answer(waiter.asker, CoordinationReply::Done);
        }
    }

    /// Frees leases not refreshed within the semaphore's lease timeout.
    fn expire(&mut self, name: &str, now: Duration, out: &mut Effects) {
        let LeaseSpec::Semaphore { lease_timeout, .. } = self.spec else {
            return;
        };
        self.holders.retain(|_, holder| {
            let idle = now.saturating_sub(holder.refreshed);
            let valid = idle <= lease_timeout;
            if !valid {
                out.expired.push(ExpiredLease {
                    name: name.to_string(),
                    client: holder.client,
                    idle,
                });
            }
            valid
        });
    }
}

fn already_held(spec: LeaseSpec, name: &str) -> CoordinationError {
    CoordinationError::AlreadyHeld {
        primitive: spec.primitive(),
        name: name.to_string(),
    }
}

fn not_held(spec: LeaseSpec, name: &str) -> CoordinationError {
    CoordinationError::NotHeld {
        primitive: spec.primitive(),
        name: name.to_string(),
    }
}

/// Why `asked` does not fit the existing `spec`, if it does not.
fn conflict(spec: LeaseSpec, asked: LeaseSpec, name: &str) -> Option<CoordinationError> {
    let reason = match (spec, asked) {
        (_, LeaseSpec::Semaphore { max_leases: 0, .. }) => {
            "a semaphore needs at least one lease".to_string()
        }
        (a, b) if a == b => return None,
        (
            LeaseSpec::Semaphore {
                max_leases,
                lease_timeout,
            },
            LeaseSpec::Semaphore {
                max_leases: asked_leases,
                lease_timeout: asked_timeout,
            },
        ) => format!(
            "it has {max_leases} leases with a {lease_timeout:?} lease timeout; this handle asks for {asked_leases} with {asked_timeout:?}"
        ),
        _ => "used as a lock and a semaphore at once".to_string(),
    };
    Some(CoordinationError::Conflict {
        primitive: asked.primitive(),
        name: name.to_string(),
        reason,
    })
}

impl Coordination {
    pub(super) fn lease_table(&self, spec: LeaseSpec) -> &Map<String, Leases> {
        match spec {
            LeaseSpec::Lock => &self.locks,
            LeaseSpec::Semaphore { .. } => &self.semaphores,
        }
    }

    fn lease_table_mut(&mut self, spec: LeaseSpec) -> &mut Map<String, Leases> {
        match spec {
            LeaseSpec::Lock => &mut self.locks,
            LeaseSpec::Semaphore { .. } => &mut self.semaphores,
        }
    }

    /// Takes lease `lease` now if one is free and nobody waits before it; else waits (or,
    /// with a zero timeout, fails `Timeout` at once).
    pub(super) fn acquire(
        &mut self,
        asker: Asker,
        (name, spec): (&str, LeaseSpec),
        lease: u64,
        timeout: Option<Duration>,
        now: Duration,
        out: &mut Effects,
    ) {
        let (limits, primitive) = (self.limits, spec.primitive());
        let existing = self.lease_table(spec).len();
        if !self.lease_table(spec).contains_key(name) {
            if let Some(error) = self.names_full(primitive, existing) {
                return out.fail(asker, error);
            }
        }
        let table = self.lease_table_mut(spec);
        let record = table
            .entry(name.to_string())
            .or_insert_with(|| Leases::new(spec));
        let refused = conflict(record.spec, spec, name).or_else(|| {
            record
                .holders
                .contains_key(&lease)
                .then(|| already_held(spec, name))
        });
        if let Some(error) = refused {
            out.fail(asker, error);
        } else if record.holders.len() < record.max() && record.waiters.is_empty() {
            let holder = Holder {
                client: asker.client,
                refreshed: now,
            };
            record.holders.insert(lease, holder);
            out.answer(asker, CoordinationReply::Done);
        } else if timeout == Some(Duration::ZERO) {
            let waiter = Waiter::new(asker, now, timeout, lease);
            out.answers
                .push(waiter.timed_out(primitive, name, "acquire", now).0);
        } else {
            let waiter = Waiter::new(asker, now, timeout, lease);
            if let Err((error, _)) =
                record
                    .waiters
                    .push(waiter, limits.max_waiters, (primitive, name))
            {
                out.fail(asker, error);
            }
        }
        if record.is_idle() {
            table.remove(name);
        }
    }

    /// Gives lease `lease` back and lets the next waiter in.
    pub(super) fn release(
        &mut self,
        asker: Asker,
        (name, spec): (&str, LeaseSpec),
        lease: u64,
        now: Duration,
        out: &mut Effects,
    ) {
        let table = self.lease_table_mut(spec);
        let Some(record) = table.get_mut(name).filter(|r| r.spec == spec) else {
            return out.fail(asker, not_held(spec, name));
        };
        if record.holders.remove(&lease).is_none() {
            return out.fail(asker, not_held(spec, name));
        }
        out.answer(asker, CoordinationReply::Done);
        record.grant(name, now, out);
        if record.is_idle() {
            table.remove(name);
        }
    }

    /// `client` is alive and holds `leases` of semaphore `name`: they stay valid.
    pub(super) fn refresh(&mut self, client: ClientId, name: &str, leases: &[u64], now: Duration) {
        let Some(record) = self.semaphores.get_mut(name) else {
            return;
        };
        for lease in leases {
            if let Some(holder) = record.holders.get_mut(lease) {
                if holder.client == client {
                    holder.refreshed = now;
                }
            }
        }
    }

    pub(super) fn tick_leases(&mut self, now: Duration, out: &mut Effects) {
        for table in [&mut self.locks, &mut self.semaphores] {
            for (name, record) in table.iter_mut() {
                let primitive = record.spec.primitive();
                for waiter in record.waiters.expire(now) {
                    out.answers
                        .push(waiter.timed_out(primitive, name, "acquire", now).0);
                }
                record.expire(name, now, out);
                record.grant(name, now, out);
            }
            table.retain(|_, record| !record.is_idle());
        }
    }

    pub(super) fn remove_client_leases(
        &mut self,
        client: ClientId,
        now: Duration,
        out: &mut Effects,
    ) {
        for table in [&mut self.locks, &mut self.semaphores] {
            for (name, record) in table.iter_mut() {
                record.waiters.remove_client(client);
                record.holders.retain(|_, holder| holder.client != client);
                record.grant(name, now, out);
            }
            table.retain(|_, record| !record.is_idle());
        }
    }
}
