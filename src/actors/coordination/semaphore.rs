//! [`Semaphore`]: a named semaphore whose leases expire when their holder dies.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{coordinate, expect_count, expect_done, fresh_lease, taken_now};
use crate::coordination::CoordinationError;
use crate::messages::coordination::{CoordinationReply, CoordinationRequest, LeaseSpec, Primitive};
use crate::messages::executor_link::ExecutorToScheduler;
use crate::Executor;

/// How long a lease stays valid without a refresh from its holder (30 s, as dask's
/// `distributed.scheduler.locks.lease-timeout`).
pub const DEFAULT_LEASE_TIMEOUT: Duration = Duration::from_secs(30);

/// A semaphore known by name across the cluster (dask's `distributed.Semaphore`): at most
/// `max_leases` holders at a time, e.g. to limit how many tasks use a database at once.
///
/// Leases expire when their holder dies: when the holder's process ends its connection to
/// the center closes and its leases are freed at once; a holder that hangs without closing
/// stops refreshing (this handle refreshes the leases it holds every quarter of the lease
/// timeout, on a thread of its own) and its leases are freed after the lease timeout.
/// Clones share their leases; `release` gives back the oldest lease of this handle.
///
/// ```no_run
/// use taskforce::{Executor, Semaphore};
///
/// # fn main() -> taskforce::Result<()> {
/// let executor = Executor::connect("127.0.0.1:8787")?;
/// let database = Semaphore::new(&executor, "database", 2);  // two holders at most
/// let _lease = database.hold()?;                           // released when dropped
/// assert!(database.value()? >= 1);                         // leases held cluster-wide
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Semaphore {
    shared: Arc<Shared>,
}

struct Shared {
    executor: Executor,
    name: String,
    spec: LeaseSpec,
    /// The leases this handle holds, oldest first. A std mutex: held only to copy or edit
    /// the list, never across a request.
    held: Mutex<Vec<u64>>,
    /// Whether the refresh thread runs.
    refreshing: std::sync::Once,
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<Semaphore: {:?}, {:?}>",
            self.shared.name, self.shared.spec
        )
    }
}

impl Semaphore {
    /// A handle on the semaphore `name` with `max_leases` leases and the default lease
    /// timeout. Every handle on one name must give the same settings
    /// ([`CoordinationError::Conflict`] otherwise; 0 leases is refused the same way).
    pub fn new(executor: &Executor, name: &str, max_leases: u32) -> Semaphore {
        Self::with_lease_timeout(executor, name, max_leases, DEFAULT_LEASE_TIMEOUT)
    }

    /// Like [`Semaphore::new`] with its own lease timeout (at least 200 ms).
    pub fn with_lease_timeout(
        executor: &Executor,
        name: &str,
        max_leases: u32,
        lease_timeout: Duration,
    ) -> Semaphore {
        let spec = LeaseSpec::Semaphore {
            max_leases,
            lease_timeout: lease_timeout.max(Duration::from_millis(200)),
        };
        Semaphore {
            shared: Arc::new(Shared {
                executor: executor.clone(),
                name: name.to_string(),
                spec,
                held: Mutex::new(Vec::new()),
                refreshing: std::sync::Once::new(),
            }),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Waits as long as it takes for a lease and takes it.
    pub fn acquire(&self) -> crate::Result<()> {
        self.acquire_within(None)
    }

    /// Waits at most `timeout` for a lease; then fails with [`CoordinationError::Timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> crate::Result<()> {
        self.acquire_within(Some(timeout))
    }

    /// Takes a lease if one is free now; `Ok(false)` if none is.
    pub fn try_acquire(&self) -> crate::Result<bool> {
        taken_now(self.acquire_within(Some(Duration::ZERO)))
    }

    /// Gives back this handle's oldest lease; [`CoordinationError::NotHeld`] if it holds
    /// none (or the lease expired meanwhile).
    pub fn release(&self) -> crate::Result<()> {
        let lease = {
            let mut held = self.shared.held.lock().expect("held leases lock");
            if held.is_empty() {
                return Err(CoordinationError::NotHeld {
                    primitive: Primitive::Semaphore,
                    name: self.shared.name.clone(),
                }
                .into());
            }
            held.remove(0)
        };
        let request = CoordinationRequest::Release {
            name: self.shared.name.clone(),
            spec: self.shared.spec,
            lease,
        };
        expect_done(&self.shared.executor, request, "Semaphore::release")
    }

    /// How many leases are held now, by anyone.
    pub fn value(&self) -> crate::Result<u64> {
        let request = CoordinationRequest::Held {
            name: self.shared.name.clone(),
            spec: self.shared.spec,
        };
        expect_count(&self.shared.executor, request, "Semaphore::value")
    }

    /// Waits for a lease and returns a guard that gives it back when dropped.
    pub fn hold(&self) -> crate::Result<SemaphoreGuard<'_>> {
        self.acquire()?;
        Ok(SemaphoreGuard { semaphore: self })
    }

    fn acquire_within(&self, timeout: Option<Duration>) -> crate::Result<()> {
        let lease = fresh_lease();
        let request = CoordinationRequest::Acquire {
            name: self.shared.name.clone(),
            spec: self.shared.spec,
            lease,
            timeout,
        };
        match coordinate(&self.shared.executor, request, "Semaphore::acquire")? {
            CoordinationReply::Done => {
                self.shared
                    .held
                    .lock()
                    .expect("held leases lock")
                    .push(lease);
                self.start_refreshing();
                Ok(())
            }
            other => Err(super::unexpected(format!("{other:?}"))),
        }
    }

    /// Starts (once per handle and its clones) the thread that keeps this handle's leases
    /// valid. It holds the handle weakly and ends when the last clone drops.
    fn start_refreshing(&self) {
        let LeaseSpec::Semaphore { lease_timeout, .. } = self.shared.spec else {
            return;
        };
        self.shared.refreshing.call_once(|| {
            let shared = Arc::downgrade(&self.shared);
            let every = lease_timeout / 4;
            let spawned = std::thread::Builder::new()
                .name("taskforce-lease-refresh".into())
                .spawn(move || refresh_leases(shared, every));
            if let Err(error) = spawned {
                tracing::warn!(target: "taskforce::executor", "Could not start the lease refresh thread (leases expire after their timeout): {error}");
            }
        });
    }
}

/// Tells the center, every `every`, which leases the handle still holds.
fn refresh_leases(shared: Weak<Shared>, every: Duration) {
    loop {
        // Paces the refreshes; nothing waits on this sleep.
        std::thread::sleep(every);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let leases = shared.held.lock().expect("held leases lock").clone();
        if !leases.is_empty() {
            let refresh = CoordinationRequest::Refresh {
                name: shared.name.clone(),
                leases,
            };
            shared
                .executor
                .inner
                .to_scheduler(ExecutorToScheduler::Coordinate(refresh));
        }
    }
}

/// A held lease of a [`Semaphore`], given back when dropped (a failed release is logged).
#[must_use = "the lease is given back when the guard drops"]
pub struct SemaphoreGuard<'a> {
    semaphore: &'a Semaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.semaphore.release() {
            tracing::warn!(target: "taskforce::executor", semaphore = %self.semaphore.shared.name, "Could not give the lease back: {error}");
        }
    }
}
