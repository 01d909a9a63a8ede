//! The executor's face of the coordination primitives: [`Lock`], [`Semaphore`], [`Queue`],
//! [`Event`] and [`Variable`], named, shared by every executor of a cluster (and by tasks,
//! which connect an executor of their own).
//!
//! Each is a name plus an executor; every call is one request to the center, where the state
//! lives (`crate::coordination` says why there and not in a service). A call that waits
//! (`acquire`, `get`, `put` on a full queue, `wait`) blocks the calling thread until the
//! center answers, which it does when the wait is satisfied or its timeout passes; the center
//! and the workers hold no thread for it. Like the executor's other blocking calls, these
//! fail at once with [`crate::Error::BlockingInAsync`] on the thread of a current-thread
//! async runtime.
//!
//! ```no_run
//! use std::time::Duration;
//! use taskforce::{Executor, Lock, Queue};
//!
//! # fn main() -> taskforce::Result<()> {
//! let executor = Executor::connect("127.0.0.1:8787")?;
//! let lock = Lock::new(&executor, "database");
//! {
//!     let _held = lock.lock()?;              // released when the guard drops
//!     // ... only one holder cluster-wide runs this
//! }
//! let jobs = Queue::new(&executor, "jobs");
//! jobs.put(&"resize img-1.png".to_string())?;
//! let job: String = jobs.get_timeout(Duration::from_secs(5))?;
//! # Ok(()) }
//! ```
//!
//! What this module must not do: decide anything (who gets a lock, when a wait ends): the
//! center's core does.

mod event;
mod lock;
mod queue;
mod semaphore;
mod variable;

pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use queue::Queue;
pub use semaphore::{Semaphore, SemaphoreGuard, DEFAULT_LEASE_TIMEOUT};
pub use variable::Variable;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::actors::executor::check_may_block;
use crate::actors::remote::ProtocolViolation;
use crate::coordination::CoordinationError;
use crate::messages::codec;
use crate::messages::coordination::{CoordinationReply, CoordinationRequest, Item, Primitive};
use crate::messages::executor_link::{ExecutorToScheduler, SchedulerToExecutor};
use crate::{Executor, Future};

/// An attempt to take a lock or lease with no wait, as `try_acquire` answers it: taken
/// (`true`), or held by others (`false`, the zero wait timed out); other errors stay errors.
fn taken_now(attempt: crate::Result<()>) -> crate::Result<bool> {
    match attempt {
        Ok(()) => Ok(true),
        Err(crate::Error::Coordination(CoordinationError::Timeout { .. })) => Ok(false),
        Err(other) => Err(other),
    }
}

/// How long past its own timeout a waiting request may take to be answered (the center
/// answers at the deadline, within a tick; this covers a slow link).
const REPLY_MARGIN: Duration = Duration::from_secs(30);
/// How long a request that does not wait may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The reply deadline of a wait without a timeout: in practice, as long as it takes.
const WAIT_FOREVER: Duration = Duration::from_secs(30 * 24 * 3600);

/// Sends `request` and waits for the center's answer. `call` names the method for the
/// error of a call made on a current-thread runtime.
fn coordinate(
    executor: &Executor,
    request: CoordinationRequest,
    call: &'static str,
) -> crate::Result<CoordinationReply> {
    check_may_block(call, "tokio::task::spawn_blocking(move || ..)")?;
    let wait = match request.timeout() {
        Some(Some(timeout)) => timeout.saturating_add(REPLY_MARGIN),
        Some(None) => WAIT_FOREVER,
        None => REQUEST_TIMEOUT,
    };
    match executor
        .inner
        .ask(ExecutorToScheduler::Coordinate(request), wait)?
    {
        SchedulerToExecutor::Coordinated(CoordinationReply::Failed(error)) => Err(error.into()),
        SchedulerToExecutor::Coordinated(reply) => Ok(reply),
        other => Err(unexpected(format!("{other:?}"))),
    }
}

fn unexpected(what: String) -> crate::Error {
    crate::Error::Protocol {
        operation: "a coordination request to the scheduler".into(),
        source: Box::new(ProtocolViolation::Unexpected(what)),
    }
}

/// `request`'s answer, which must be `Done`.
fn expect_done(
    executor: &Executor,
    request: CoordinationRequest,
    call: &'static str,
) -> crate::Result<()> {
    match coordinate(executor, request, call)? {
        CoordinationReply::Done => Ok(()),
        other => Err(unexpected(format!("{other:?}"))),
    }
}

/// `request`'s answer, which must be a count.
fn expect_count(
    executor: &Executor,
    request: CoordinationRequest,
    call: &'static str,
) -> crate::Result<u64> {
    match coordinate(executor, request, call)? {
        CoordinationReply::Count(n) => Ok(n),
        other => Err(unexpected(format!("{other:?}"))),
    }
}

/// `value` as an item.
fn value_item<T: Serialize>(value: &T) -> crate::Result<Item> {
    Ok(Item::Value(codec::encode(value)?))
}

/// A future's key as an item: the center holds the key while the item is kept.
fn future_item<T>(future: &Future<T>) -> Item {
    Item::Future(future.key().clone())
}

/// The value of an item read from `primitive` `name`.
fn read_value<T: DeserializeOwned>(
    (primitive, name): (Primitive, &str),
    reply: CoordinationReply,
) -> crate::Result<T> {
    match reply {
        CoordinationReply::Item(Item::Value(bytes)) => codec::decode(&bytes).map_err(|e| {
            CoordinationError::Undecodable {
                primitive,
                name: name.to_string(),
                expected: std::any::type_name::<T>().to_string(),
                reason: e.to_string(),
            }
            .into()
        }),
        other => Err(unexpected(format!("{other:?}"))),
    }
}

/// The future of an item read: the center made this executor a wanter of its key; the
/// `Want` asks it to report the key's state again, now that a future here listens for it.
fn read_future<T>(executor: &Executor, reply: CoordinationReply) -> crate::Result<Future<T>> {
    match reply {
        CoordinationReply::Item(Item::Future(key)) => {
            let (future, _) = executor.future_for::<T>(key.clone());
            executor
                .inner
                .to_scheduler(ExecutorToScheduler::Want(vec![key]));
            Ok(future)
        }
        other => Err(unexpected(format!("{other:?}"))),
    }
}

/// A fresh id for a lock or a lease.
fn fresh_lease() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source");
    u64::from_le_bytes(bytes)
}
