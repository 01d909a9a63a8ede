//! [`CoordinationError`]: why a lock, semaphore, queue, event or variable request failed.
//! It travels from the center to the executor that asked, so it is plain serde data.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::TaskKey;
use crate::messages::coordination::{ItemKind, Primitive};

/// Why a coordination request failed. Matchable; each variant says whether retrying helps.
///
/// ```
/// use taskforce::coordination::CoordinationError;
/// use taskforce::messages::coordination::Primitive;
/// let error = CoordinationError::NotHeld { primitive: Primitive::Lock, name: "db".into() };
/// assert_eq!(error.to_string(), "lock \"db\": released but not held by this holder (never acquired, already released, or its lease expired)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CoordinationError {
    /// The wait ended before it was satisfied. Retrying (with a longer timeout) may help.
    #[error("{primitive} {name:?}: {operation} timed out after {:.1} s", .waited.as_secs_f64())]
    Timeout {
        /// Which kind.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// What waited ("acquire", "get", "put", "wait").
        operation: String,
        /// How long it waited.
        waited: Duration,
    },
    /// A release of a lease this holder does not hold. Retrying won't help.
    #[error("{primitive} {name:?}: released but not held by this holder (never acquired, already released, or its lease expired)")]
    NotHeld {
        /// Lock or semaphore.
        primitive: Primitive,
        /// Its name.
        name: String,
    },
    /// An acquire by a holder that already holds it: locks are not reentrant.
    #[error("{primitive} {name:?}: already held by this holder (it is not reentrant)")]
    AlreadyHeld {
        /// Lock or semaphore.
        primitive: Primitive,
        /// Its name.
        name: String,
    },
    /// The name is in use with other settings (a semaphore with another number of leases,
    /// a queue with another bound). Use the same settings, or another name.
    #[error("{primitive} {name:?}: {reason}")]
    Conflict {
        /// Which kind.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// What differs.
        reason: String,
    },
    /// Too many callers already wait on this name; the request was refused at once.
    /// Retrying later may help.
    #[error("{primitive} {name:?}: {limit} callers already wait on it")]
    TooManyWaiters {
        /// Which kind.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// The bound.
        limit: usize,
    },
    /// The center holds as many primitives of this kind as it allows; delete some (a
    /// released lock, a cleared event, an emptied queue or a deleted variable is forgotten).
    #[error("too many {primitive}s at the center (at most {limit})")]
    TooManyNames {
        /// Which kind.
        primitive: Primitive,
        /// The bound.
        limit: usize,
    },
    /// A value too large to be kept at the center: scatter it and put its future instead.
    #[error("{primitive} {name:?}: a value of {nbytes} bytes is over the limit of {limit} bytes; scatter it and put the future instead")]
    TooLarge {
        /// Queue or variable.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// The value's size.
        nbytes: u64,
        /// The bound.
        limit: u64,
    },
    /// All queues and variables together hold as many bytes as the center allows.
    /// Retrying after others are taken out may help.
    #[error("{primitive} {name:?}: the center already holds {limit} bytes of queued and variable values")]
    OutOfSpace {
        /// Queue or variable.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// The bound.
        limit: u64,
    },
    /// The next item is not of the kind asked for (a value read as a future or the other
    /// way round); it was left in place.
    #[error("{primitive} {name:?}: holds {found}, but {expected} was asked for")]
    WrongItem {
        /// Queue or variable.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// What the caller asked for.
        expected: ItemKind,
        /// What is there.
        found: ItemKind,
    },
    /// The value read does not decode as the type asked for (it was put as another type);
    /// it was taken out. Retrying won't help.
    #[error("{primitive} {name:?}: the value read is not a {expected}: {reason}")]
    Undecodable {
        /// Queue or variable.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// The type asked for.
        expected: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// A future put by an executor that holds no future for its key (a client shares only
    /// its own keys).
    #[error("{primitive} {name:?}: cannot hold {key}: this executor holds no future for it")]
    ForeignKey {
        /// Queue or variable.
        primitive: Primitive,
        /// Its name.
        name: String,
        /// The key.
        key: TaskKey,
    },
}
