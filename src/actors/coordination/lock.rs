//! [`Lock`]: a named mutual-exclusion lock shared by every executor of a cluster.

use std::time::Duration;

use super::{coordinate, expect_count, expect_done, fresh_lease, taken_now};
#[cfg(doc)]
use crate::coordination::CoordinationError;
use crate::messages::coordination::{CoordinationReply, CoordinationRequest, LeaseSpec};
use crate::Executor;

/// A lock known by name across the cluster (dask's `distributed.Lock`): at most one holder
/// at a time, whichever executor or task it is in. Waiters are served in arrival order.
///
/// Each `Lock` value is one holder: two values with the same name (in one process or two)
/// exclude each other; the same value is not reentrant (acquiring it twice fails
/// [`CoordinationError::AlreadyHeld`]). A lock whose holder's process dies (its
/// connection closes) is freed at once.
///
/// ```no_run
/// use std::time::Duration;
/// use taskforce::{Executor, Lock};
///
/// # fn main() -> taskforce::Result<()> {
/// let executor = Executor::connect("127.0.0.1:8787")?;
/// let lock = Lock::new(&executor, "ledger");
/// lock.acquire_timeout(Duration::from_secs(10))?;   // Error::Coordination(Timeout) after 10 s
/// // ... the critical section
/// lock.release()?;                                  // NotHeld if it was not held
///
/// let _held = lock.lock()?;                         // or a guard that releases on drop
/// # Ok(()) }
/// ```
pub struct Lock {
    executor: Executor,
    name: String,
    lease: u64,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Lock: {:?}>", self.name)
    }
}

impl Lock {
    /// A handle on the lock called `name` (created at the center on first use).
    pub fn new(executor: &Executor, name: &str) -> Lock {
        Lock {
            executor: executor.clone(),
            name: name.to_string(),
            lease: fresh_lease(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits as long as it takes for the lock and takes it.
    pub fn acquire(&self) -> crate::Result<()> {
        self.acquire_within(None)
    }

    /// Waits at most `timeout` for the lock; then fails with
    /// [`CoordinationError::Timeout`] ("lock \"ledger\": acquire timed out after 10.0 s").
    pub fn acquire_timeout(&self, timeout: Duration) -> crate::Result<()> {
        self.acquire_within(Some(timeout))
    }

    /// Takes the lock if it is free now; `Ok(false)` if it is held.
    pub fn try_acquire(&self) -> crate::Result<bool> {
        taken_now(self.acquire_within(Some(Duration::ZERO)))
    }

    /// Releases the lock; fails with [`CoordinationError::NotHeld`] if this `Lock` does not
    /// hold it.
    pub fn release(&self) -> crate::Result<()> {
        let request = CoordinationRequest::Release {
            name: self.name.clone(),
            spec: LeaseSpec::Lock,
            lease: self.lease,
        };
        expect_done(&self.executor, request, "Lock::release")
    }

    /// Whether anyone holds the lock now.
    pub fn locked(&self) -> crate::Result<bool> {
        let request = CoordinationRequest::Held {
            name: self.name.clone(),
            spec: LeaseSpec::Lock,
        };
        Ok(expect_count(&self.executor, request, "Lock::locked")? > 0)
    }

    /// Waits for the lock and returns a guard that releases it when dropped.
    pub fn lock(&self) -> crate::Result<LockGuard<'_>> {
        self.acquire()?;
        Ok(LockGuard { lock: self })
    }

    fn acquire_within(&self, timeout: Option<Duration>) -> crate::Result<()> {
        let request = CoordinationRequest::Acquire {
            name: self.name.clone(),
            spec: LeaseSpec::Lock,
            lease: self.lease,
            timeout,
        };
        match coordinate(&self.executor, request, "Lock::acquire")? {
            CoordinationReply::Done => Ok(()),
            other => Err(super::unexpected(format!("{other:?}"))),
        }
    }
}

/// A held [`Lock`], released when dropped (a failed release is logged).
#[must_use = "the lock is released when the guard drops"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.lock.release() {
            tracing::warn!(target: "taskforce::executor", lock = %self.lock.name, "Could not release the lock: {error}");
        }
    }
}
