//! Coordination primitives at the center: named locks, semaphores, queues, events and
//! variables, as one pure state machine ([`Coordination`]) that the scheduler's shell feeds.
//!
//! **Why the center, not a service.** dask hosts these on its scheduler, and so do we:
//! - a name must mean one primitive cluster-wide. A service is found by asking every worker
//!   and started by whoever asks first, so two executors creating `Lock "db"` at once would
//!   get two locks; the center is the one place that can create on first use without a race;
//! - a semaphore's lease must outlive the death of any worker, including the one that would
//!   host the service (the test kills a worker and expects the next holder to get the
//!   lease); the center is the one process the cluster cannot run without anyway;
//! - the center sees every executor's session: when a holder's process dies its connection
//!   closes and its locks and leases are freed at once (with a lease timeout on top, for a
//!   holder whose connection hangs without closing);
//! - a waiting call is a request whose reply is deferred (below), which needs the reply tag
//!   of the asker's session: the scheduler has it, a service method (which answers when it
//!   returns) does not.
//!
//! **How a blocked call waits.** An `acquire`, `get`, `put` or `wait` that cannot be
//! satisfied at once is kept here as a [`waiters`] entry holding the request's reply tag,
//! and answered later: when the lock is released, an item is put, the event is set, or by
//! [`Coordination::on_tick`] with `Timeout` once its deadline passes. No thread of the
//! center or of a worker waits; only the caller's own thread does (inside a task, that is
//! the task's thread, as in dask).
//!
//! Bounds (see [`Limits`]): names per kind, waiters per name, items per queue, bytes per
//! value and bytes of all values held. At each bound the request that would cross it fails
//! at once with its own [`CoordinationError`] variant; nothing already held is dropped.
//!
//! Time comes in as an argument (`now`, time since the shell started); this module has no
//! clock, no actix, no sockets. What a future's key needs (hold it while queued, hand it to
//! the executor that takes it) comes out as [`KeyEffect`]s for the shell to apply to the
//! scheduler, which alone knows keys.

mod error;
mod events;
mod leases;
mod queues;
mod variables;
mod waiters;

#[cfg(test)]
mod tests;

pub use error::CoordinationError;

use std::time::Duration;

use crate::ids::{ClientId, Map, TaskKey};
use crate::messages::coordination::{CoordinationReply, CoordinationRequest, Item, Primitive};

/// The client id under which the center itself holds the keys of futures kept in queues and
/// variables (executors are numbered from 1).
pub const COORDINATION_CLIENT: ClientId = ClientId(0);

/// The bounds of the coordination state, with their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Primitives of one kind (10,000).
    pub max_names: usize,
    /// Callers waiting on one name (10,000).
    pub max_waiters: usize,
    /// Items in one queue, and the bound of a queue made with `maxsize` 0 (100,000).
    pub max_queue_items: u32,
    /// Bytes of one value (1 MiB; larger values travel as futures).
    pub max_item_bytes: u64,
    /// Bytes of all values held, queued or waiting to be (256 MiB).
    pub max_held_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_names: 10_000,
            max_waiters: 10_000,
            max_queue_items: 100_000,
            max_item_bytes: 1 << 20,
            max_held_bytes: 256 << 20,
        }
    }
}

/// Who asked: an executor, and the tag to answer its request with (`None`: no answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asker {
    /// The executor.
    pub client: ClientId,
    /// The request's reply tag.
    pub tag: Option<u64>,
}

/// A reply to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// To whom.
    pub to: Asker,
    /// What.
    pub reply: CoordinationReply,
}

/// What the scheduler must do about a future's key, in this order, before the answers go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEffect {
    /// Keep `key` alive for [`COORDINATION_CLIENT`] (a queue or a variable took it in).
    Hold(TaskKey),
    /// Make the executor want `key`: it is being given a future for it.
    HandOver(ClientId, TaskKey),
    /// [`COORDINATION_CLIENT`] no longer holds `key`.
    Unhold(TaskKey),
}

/// A semaphore lease freed because its holder stopped refreshing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredLease {
    /// The semaphore.
    pub name: String,
    /// The holder.
    pub client: ClientId,
    /// How long since its last refresh.
    pub idle: Duration,
}

/// What one event produced: replies, key effects (applied first), expired leases (to log).
#[derive(Debug, Default)]
pub struct Effects {
    /// Replies, in order.
    pub answers: Vec<Answer>,
    /// Key effects, in order.
    pub keys: Vec<KeyEffect>,
    /// Leases freed by their timeout.
    pub expired: Vec<ExpiredLease>,
}

impl Effects {
    fn answer(&mut self, to: Asker, reply: CoordinationReply) {
        self.answers.push(Answer { to, reply });
    }

    fn fail(&mut self, to: Asker, error: CoordinationError) {
        self.answer(to, CoordinationReply::Failed(error));
    }
}

/// What queues and variables hold, counted: bytes, and how often each key is held.
#[derive(Debug, Default)]
struct Store {
    keys: Map<TaskKey, u32>,
    held_bytes: u64,
}

impl Store {
    /// Takes `item` in (its bytes counted, its key held), or says which bound it crosses.
    fn take_in(
        &mut self,
        limits: &Limits,
        (primitive, name): (Primitive, &str),
        item: &Item,
        out: &mut Effects,
    ) -> Result<(), CoordinationError> {
        let nbytes = item.nbytes();
        if nbytes > limits.max_item_bytes {
            return Err(CoordinationError::TooLarge {
                primitive,
                name: name.to_string(),
                nbytes,
                limit: limits.max_item_bytes,
            });
        }
        if self.held_bytes + nbytes > limits.max_held_bytes {
            return Err(CoordinationError::OutOfSpace {
                primitive,
                name: name.to_string(),
                limit: limits.max_held_bytes,
            });
        }
        self.held_bytes += nbytes;
        if let Item::Future(key) = item {
            let count = self.keys.entry(key.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                out.keys.push(KeyEffect::Hold(key.clone()));
            }
        }
        Ok(())
    }

    /// A copy of `item` for `to` (the executor is made to want a future's key).
    fn hand_out(&self, item: &Item, to: ClientId, out: &mut Effects) -> CoordinationReply {
        if let Item::Future(key) = item {
            out.keys.push(KeyEffect::HandOver(to, key.clone()));
        }
        CoordinationReply::Item(item.clone())
    }

    /// Lets `item` go: its bytes uncounted, its key unheld.
    fn release(&mut self, item: Item, out: &mut Effects) {
        self.held_bytes = self.held_bytes.saturating_sub(item.nbytes());
        if let Item::Future(key) = item {
            if let Some(count) = self.keys.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.keys.remove(&key);
                    out.keys.push(KeyEffect::Unhold(key));
                }
            }
        }
    }

    /// Gives `item` to `to` and lets it go from here.
    fn give_out(&mut self, item: Item, to: ClientId, out: &mut Effects) -> CoordinationReply {
        let reply = self.hand_out(&item, to, out);
        self.release(item, out);
        reply
    }
}

/// Every named primitive at the center. Feed it requests, ticks and disconnections; send
/// what it returns.
///
/// ```
/// use std::time::Duration;
/// use taskforce::coordination::{Asker, Coordination};
/// use taskforce::ids::ClientId;
/// use taskforce::messages::coordination::{CoordinationReply, CoordinationRequest, LeaseSpec};
///
/// let mut center = Coordination::default();
/// let acquire = |lease| CoordinationRequest::Acquire {
///     name: "db".into(), spec: LeaseSpec::Lock, lease, timeout: Some(Duration::from_secs(1)),
/// };
/// let (a, b) = (Asker { client: ClientId(1), tag: Some(1) }, Asker { client: ClientId(2), tag: Some(1) });
/// let now = Duration::ZERO;
/// assert_eq!(center.on_request(a, acquire(7), now).answers[0].reply, CoordinationReply::Done);
/// assert!(center.on_request(b, acquire(8), now).answers.is_empty());   // b waits
/// let later = center.on_tick(Duration::from_secs(2));                  // ... and times out
/// assert!(matches!(later.answers[0].reply, CoordinationReply::Failed(_)));
/// ```
#[derive(Debug, Default)]
pub struct Coordination {
    limits: Limits,
    locks: Map<String, leases::Leases>,
    semaphores: Map<String, leases::Leases>,
    queues: Map<String, queues::QueueRecord>,
    events: Map<String, events::EventRecord>,
    variables: Map<String, variables::VariableRecord>,
    store: Store,
}

impl Coordination {
    /// Empty, with `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        Coordination {
            limits,
            ..Coordination::default()
        }
    }

    /// A request from `asker` at `now`. Answers may be for other callers too (a release
    /// answers the waiter it lets in); a request that waits is answered later.
    pub fn on_request(
        &mut self,
        asker: Asker,
        request: CoordinationRequest,
        now: Duration,
    ) -> Effects {
        use CoordinationRequest as R;
        let mut out = Effects::default();
        match request {
            R::Acquire {
                name,
                spec,
                lease,
                timeout,
            } => self.acquire(asker, (&name, spec), lease, timeout, now, &mut out),
            R::Release { name, spec, lease } => {
                self.release(asker, (&name, spec), lease, now, &mut out)
            }
            R::Refresh { name, leases } => self.refresh(asker.client, &name, &leases, now),
            R::Held { name, spec } => {
                let held = self.lease_table(spec).get(&name).map_or(0, |r| r.held());
                out.answer(asker, CoordinationReply::Count(held as u64));
            }
            R::Put {
                name,
                item,
                maxsize,
                timeout,
            } => self.put(asker, &name, (item, maxsize), timeout, now, &mut out),
            R::Get {
                name,
                kind,
                timeout,
            } => self.get(asker, &name, kind, timeout, now, &mut out),
            R::QueueLen { name } => {
                let len = self.queues.get(&name).map_or(0, |q| q.len());
                out.answer(asker, CoordinationReply::Count(len as u64));
            }
            R::SetEvent { name } => self.set_event(asker, &name, &mut out),
            R::ClearEvent { name } => self.clear_event(asker, &name, &mut out),
            R::WaitEvent { name, timeout } => self.wait_event(asker, &name, timeout, now, &mut out),
            R::IsEventSet { name } => {
                let set = self.events.get(&name).is_some_and(|e| e.is_set());
                out.answer(asker, CoordinationReply::Flag(set));
            }
            R::SetVariable { name, item } => self.set_variable(asker, &name, item, &mut out),
            R::GetVariable {
                name,
                kind,
                timeout,
            } => self.get_variable(asker, &name, kind, timeout, now, &mut out),
            R::DeleteVariable { name } => self.delete_variable(asker, &name, &mut out),
        }
        out
    }

    /// Time passed: waits past their deadline fail with `Timeout`, semaphore leases not
    /// refreshed within their lease timeout are freed (and their waiters let in).
    pub fn on_tick(&mut self, now: Duration) -> Effects {
        let mut out = Effects::default();
        self.tick_leases(now, &mut out);
        self.tick_queues(now, &mut out);
        self.tick_events(now, &mut out);
        self.tick_variables(now, &mut out);
        out
    }

    /// `client` disconnected: its locks and leases are freed (their waiters let in), its
    /// waits dropped (nobody to answer), and items it was waiting to put let go.
    pub fn on_client_removed(&mut self, client: ClientId, now: Duration) -> Effects {
        let mut out = Effects::default();
        self.remove_client_leases(client, now, &mut out);
        self.remove_client_queues(client, &mut out);
        for record in self.events.values_mut() {
            record.remove_client(client);
        }
        self.events.retain(|_, record| !record.is_idle());
        for record in self.variables.values_mut() {
            record.remove_client(client);
        }
        self.variables.retain(|_, record| !record.is_idle());
        out
    }

    /// How many primitives of each kind exist and how many bytes they hold (for tests and
    /// the sanity of a long-running center).
    pub fn counts(&self) -> Counts {
        Counts {
            locks: self.locks.len(),
            semaphores: self.semaphores.len(),
            queues: self.queues.len(),
            events: self.events.len(),
            variables: self.variables.len(),
            held_keys: self.store.keys.len(),
            held_bytes: self.store.held_bytes,
        }
    }

    /// Whether a new name of `primitive` would cross [`Limits::max_names`] (`existing`:
    /// how many there are).
    fn names_full(&self, primitive: Primitive, existing: usize) -> Option<CoordinationError> {
        (existing >= self.limits.max_names).then_some(CoordinationError::TooManyNames {
            primitive,
            limit: self.limits.max_names,
        })
    }
}

/// Sizes of the coordination state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Locks held or waited on.
    pub locks: usize,
    /// Semaphores with leases held or waited on.
    pub semaphores: usize,
    /// Queues with items or waiters.
    pub queues: usize,
    /// Events set or waited on.
    pub events: usize,
    /// Variables set or waited on.
    pub variables: usize,
    /// Distinct future keys held.
    pub held_keys: usize,
    /// Bytes of values held.
    pub held_bytes: u64,
}
