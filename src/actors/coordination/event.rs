//! [`Event`]: a named flag that executors and tasks can wait on.

use std::time::Duration;

use super::{coordinate, expect_done};
use crate::messages::coordination::{CoordinationReply, CoordinationRequest};
use crate::Executor;

/// An event known by name across the cluster (dask's `distributed.Event`): `wait` blocks
/// until someone calls `set`; once set, every wait returns at once until `clear`.
///
/// ```no_run
/// use std::time::Duration;
/// use taskforce::{Event, Executor};
///
/// # fn main() -> taskforce::Result<()> {
/// let executor = Executor::connect("127.0.0.1:8787")?;
/// let ready = Event::new(&executor, "inputs-ready");
/// // in another executor or a task: Event::new(&its_executor, "inputs-ready").set()?;
/// ready.wait_timeout(Duration::from_secs(30))?;    // Error::Coordination(Timeout) if never set
/// assert!(ready.is_set()?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Event {
    executor: Executor,
    name: String,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Event: {:?}>", self.name)
    }
}

impl Event {
    /// A handle on the event `name` (clear until someone sets it).
    pub fn new(executor: &Executor, name: &str) -> Event {
        Event {
            executor: executor.clone(),
            name: name.to_string(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets it: every waiter returns, and so does every later wait until it is cleared.
    pub fn set(&self) -> crate::Result<()> {
        let request = CoordinationRequest::SetEvent {
            name: self.name.clone(),
        };
        expect_done(&self.executor, request, "Event::set")
    }

    /// Clears it: later waits block until it is set again.
    pub fn clear(&self) -> crate::Result<()> {
        let request = CoordinationRequest::ClearEvent {
            name: self.name.clone(),
        };
        expect_done(&self.executor, request, "Event::clear")
    }

    /// Waits as long as it takes for it to be set.
    pub fn wait(&self) -> crate::Result<()> {
        self.wait_within(None)
    }

    /// Waits at most `timeout` for it to be set; then fails with
    /// `CoordinationError::Timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> crate::Result<()> {
        self.wait_within(Some(timeout))
    }

    /// Whether it is set now.
    pub fn is_set(&self) -> crate::Result<bool> {
        let request = CoordinationRequest::IsEventSet {
            name: self.name.clone(),
        };
        match coordinate(&self.executor, request, "Event::is_set")? {
            CoordinationReply::Flag(set) => Ok(set),
            other => Err(super::unexpected(format!("{other:?}"))),
        }
    }

    fn wait_within(&self, timeout: Option<Duration>) -> crate::Result<()> {
        let request = CoordinationRequest::WaitEvent {
            name: self.name.clone(),
            timeout,
        };
        expect_done(&self.executor, request, "Event::wait")
    }
}
