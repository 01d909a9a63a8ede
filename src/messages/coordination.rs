//! Coordination requests and replies as they travel between an executor and the scheduler:
//! locks, semaphores, queues, events and variables, by name (`crate::coordination` keeps
//! their state).
//!
//! Pure data: no sockets, no actors. Added as the last variants of
//! [`super::executor_link::ExecutorToScheduler`] (`Coordinate`) and
//! [`super::executor_link::SchedulerToExecutor`] (`Coordinated`), so older messages keep
//! their encoding.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::coordination::CoordinationError;
use crate::ids::TaskKey;

/// Which kind of primitive a name belongs to (each kind has its own names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Primitive {
    /// A mutual-exclusion lock.
    Lock,
    /// A semaphore with a number of leases.
    Semaphore,
    /// A bounded FIFO queue.
    Queue,
    /// A flag that can be waited on.
    Event,
    /// A named cell holding a value or a future.
    Variable,
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Primitive::Lock => "lock",
            Primitive::Semaphore => "semaphore",
            Primitive::Queue => "queue",
            Primitive::Event => "event",
            Primitive::Variable => "variable",
        })
    }
}

/// What a queue or a variable holds: an encoded value, or the key of a future (the center
/// keeps the key alive while it is held).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// A value encoded with `crate::messages::codec`.
    Value(Vec<u8>),
    /// A future's key.
    Future(TaskKey),
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Value(bytes) => write!(f, "Value({} bytes)", bytes.len()),
            Item::Future(key) => write!(f, "Future({key})"),
        }
    }
}

impl Item {
    /// Whether it is a value or a future.
    pub fn kind(&self) -> ItemKind {
        match self {
            Item::Value(_) => ItemKind::Value,
            Item::Future(_) => ItemKind::Future,
        }
    }

    /// Bytes it takes at the center.
    pub fn nbytes(&self) -> u64 {
        match self {
            Item::Value(bytes) => bytes.len() as u64,
            Item::Future(key) => key.as_str().len() as u64,
        }
    }
}

/// Whether an item is a value or a future.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemKind {
    /// A plain value.
    Value,
    /// A future's key.
    Future,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Value => "a value",
            ItemKind::Future => "a future",
        })
    }
}

/// How many leases a lease-based primitive has, and whether they expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaseSpec {
    /// A lock: one lease, held until released or until its holder disconnects.
    Lock,
    /// A semaphore: `max_leases` leases, each freed when its holder has not refreshed it for
    /// `lease_timeout` (or disconnects).
    Semaphore {
        /// How many holders at once.
        max_leases: u32,
        /// How long a lease stays valid without a refresh.
        lease_timeout: Duration,
    },
}

impl LeaseSpec {
    /// The primitive it describes.
    pub fn primitive(&self) -> Primitive {
        match self {
            LeaseSpec::Lock => Primitive::Lock,
            LeaseSpec::Semaphore { .. } => Primitive::Semaphore,
        }
    }
}

/// A request about a named primitive. `timeout`: `None` waits as long as it takes,
/// `Some(ZERO)` does not wait at all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CoordinationRequest {
    /// Take lease `lease` (answered once it is taken, or `Timeout`).
    Acquire {
        /// The lock's or semaphore's name.
        name: String,
        /// Lock or semaphore, and its settings.
        spec: LeaseSpec,
        /// The lease's id, chosen by the holder.
        lease: u64,
        /// How long to wait.
        timeout: Option<Duration>,
    },
    /// Give lease `lease` back (`NotHeld` if it is not held).
    Release {
        /// The name.
        name: String,
        /// Lock or semaphore.
        spec: LeaseSpec,
        /// The lease's id.
        lease: u64,
    },
    /// The holder is alive: its semaphore leases stay valid (sent without a reply).
    Refresh {
        /// The semaphore's name.
        name: String,
        /// Leases this executor holds.
        leases: Vec<u64>,
    },
    /// How many leases are held (answered `Count`).
    Held {
        /// The name.
        name: String,
        /// Lock or semaphore.
        spec: LeaseSpec,
    },
    /// Append to a queue, waiting while it is full.
    Put {
        /// The queue.
        name: String,
        /// What to append.
        item: Item,
        /// The queue's bound (0: the largest allowed).
        maxsize: u32,
        /// How long to wait for room.
        timeout: Option<Duration>,
    },
    /// Take the oldest item of a queue, waiting while it is empty.
    Get {
        /// The queue.
        name: String,
        /// What the caller expects (a mismatch leaves the item in place).
        kind: ItemKind,
        /// How long to wait for an item.
        timeout: Option<Duration>,
    },
    /// How many items a queue holds (answered `Count`).
    QueueLen {
        /// The queue.
        name: String,
    },
    /// Set an event: every waiter, present and future, is released.
    SetEvent {
        /// The event.
        name: String,
    },
    /// Clear an event: later waits block again.
    ClearEvent {
        /// The event.
        name: String,
    },
    /// Wait until an event is set.
    WaitEvent {
        /// The event.
        name: String,
        /// How long to wait.
        timeout: Option<Duration>,
    },
    /// Whether an event is set (answered `Flag`).
    IsEventSet {
        /// The event.
        name: String,
    },
    /// Give a variable a value or a future.
    SetVariable {
        /// The variable.
        name: String,
        /// Its new content.
        item: Item,
    },
    /// Read a variable, waiting until it is set.
    GetVariable {
        /// The variable.
        name: String,
        /// What the caller expects.
        kind: ItemKind,
        /// How long to wait.
        timeout: Option<Duration>,
    },
    /// Empty a variable (a future it held is released).
    DeleteVariable {
        /// The variable.
        name: String,
    },
}

impl CoordinationRequest {
    /// How long the request may wait at the center.
    pub fn timeout(&self) -> Option<Option<Duration>> {
        match self {
            CoordinationRequest::Acquire { timeout, .. }
            | CoordinationRequest::Put { timeout, .. }
            | CoordinationRequest::Get { timeout, .. }
            | CoordinationRequest::WaitEvent { timeout, .. }
            | CoordinationRequest::GetVariable { timeout, .. } => Some(*timeout),
            _ => None,
        }
    }
}

/// The answer to a [`CoordinationRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CoordinationReply {
    /// Done (acquired, released, put, set, cleared, deleted, the event was set).
    Done,
    /// An item taken from a queue or read from a variable. A future's key is already wanted
    /// for the asking executor when this arrives.
    Item(Item),
    /// A number (leases held, queue length).
    Count(u64),
    /// A yes or no (event set).
    Flag(bool),
    /// It failed, and why.
    Failed(CoordinationError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::codec;

    #[test]
    fn requests_and_replies_round_trip() {
        let request = CoordinationRequest::Put {
            name: "jobs".into(),
            item: Item::Future(TaskKey::new("inc-1")),
            maxsize: 3,
            timeout: Some(Duration::from_millis(1500)),
        };
        let bytes = codec::encode(&request).unwrap();
        assert_eq!(
            codec::decode::<CoordinationRequest>(&bytes).unwrap(),
            request
        );
        let reply = CoordinationReply::Failed(CoordinationError::NotHeld {
            primitive: Primitive::Lock,
            name: "x".into(),
        });
        let bytes = codec::encode(&reply).unwrap();
        assert_eq!(codec::decode::<CoordinationReply>(&bytes).unwrap(), reply);
    }
}
