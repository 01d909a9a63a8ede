//! Waiting with a limit and per-item outcomes: `Future::result_timeout`,
//! `Executor::gather_timeout`, `Executor::gather_each`, [`wait_timeout`] and [`wait_first`]
//! (dask's `timeout=`, `errors="skip"` and `return_when=FIRST_COMPLETED`).
//!
//! Kept apart from `wait.rs`/`submit.rs` so the blocking calls there stay as they were.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::future::status_error;
use super::state::KeyState;
use super::{Executor, Future, Inner};

/// The error of a wait that ran out of time: which call, how many futures were not done.
pub(super) fn timed_out(
    operation: &str,
    not_done: usize,
    total: usize,
    timeout: Duration,
) -> crate::Error {
    let cause = format!("{not_done} of {total} futures not done after {timeout:?}");
    crate::Error::Timeout {
        operation: operation.to_string(),
        source: Box::new(std::io::Error::new(std::io::ErrorKind::TimedOut, cause)),
    }
}

impl Inner {
    /// Blocks until every one of `states` is done or `timeout` passes; returns whether all
    /// were done. Rechecks every key at the end: a done key can go back to pending (its
    /// worker was lost and it is being recomputed).
    pub(crate) fn wait_for_within(&self, states: &[Arc<KeyState>], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let mut done = 0;
            let left = deadline.saturating_duration_since(Instant::now());
            let all = self.shared.wait_until_for(left, || {
                while done < states.len() && states[done].is_done() {
                    done += 1;
                }
                done == states.len()
            });
            if !all {
                return false;
            }
            if states.iter().all(|state| state.is_done()) {
                return true;
            }
        }
    }

    pub(super) fn not_done(states: &[Arc<KeyState>]) -> usize {
        (states.iter()).filter(|s| !s.is_done()).count()
    }
}

pub(super) fn states_of<T>(futures: &[Future<T>]) -> Vec<Arc<KeyState>> {
    futures.iter().map(|f| f.state().clone()).collect()
}

impl<T: DeserializeOwned + 'static> Future<T> {
    /// Like [`Future::result`], giving up after `timeout` with [`crate::Error::Timeout`] (the
    /// task goes on; ask again later).
    ///
    /// Async twin: [`Future::result_timeout_async`].
    pub fn result_timeout(&self, timeout: Duration) -> crate::Result<T> {
        super::blocking::check_may_block("result_timeout", "result_timeout_async(..).await")?;
        let executor = &self.handle.executor;
        let states = std::slice::from_ref(&self.handle.state);
        if !executor.wait_for_within(states, timeout) {
            return Err(timed_out("result", 1, 1, timeout));
        }
        let mut values = executor.fetch_values(states)?;
        Ok(values.pop().expect("one value per future"))
    }
}

impl Executor {
    /// Like [`Executor::gather`], giving up after `timeout` (for the wait; bringing the values
    /// home is not limited) with [`crate::Error::Timeout`] naming how many were not done.
    pub fn gather_timeout<T: DeserializeOwned + 'static>(
        &self,
        futures: &[Future<T>],
        timeout: Duration,
    ) -> crate::Result<Vec<T>> {
        super::blocking::check_may_block("gather_timeout", "gather_timeout_async(..).await")?;
        let states = states_of(futures);
        if !self.inner.wait_for_within(&states, timeout) {
            let not_done = Inner::not_done(&states);
            return Err(timed_out("gather", not_done, states.len(), timeout));
        }
        self.inner.fetch_values(&states)
    }

    /// Waits for every future and brings home each value or its own error, in order: one
    /// failed task does not hide the others' values (dask's `errors="skip"` is
    /// `.into_iter().filter_map(Result::ok)` of this).
    ///
    /// On the thread of a current-thread tokio runtime every item is
    /// [`crate::Error::BlockingInAsync`]: await [`Executor::gather_each_async`] there.
    pub fn gather_each<T: DeserializeOwned + 'static>(
        &self,
        futures: &[Future<T>],
    ) -> Vec<crate::Result<T>> {
        let check =
            || super::blocking::check_may_block("gather_each", "gather_each_async(..).await");
        if check().is_err() {
            return (futures.iter())
                .map(|_| Err(check().expect_err("refused")))
                .collect();
        }
        let states = states_of(futures);
        self.inner.wait_for(&states);
        let all_ok = (states.iter()).all(|s| status_error(&s.key, &s.status()).is_none());
        if all_ok {
            if let Ok(values) = self.inner.fetch_values::<T>(&states) {
                return values.into_iter().map(Ok).collect();
            }
        }
        // Some failed (or one failed while fetching): each on its own, so the rest come.
        (states.iter())
            .map(|state| {
                let one = std::slice::from_ref(state);
                let mut values = self.inner.fetch_values::<T>(one)?;
                Ok(values.pop().expect("one value per future"))
            })
            .collect()
    }
}

/// Like [`super::wait`], giving up after `timeout` with [`crate::Error::Timeout`] naming how
/// many futures were not done. Async twin: [`super::wait_timeout_async`].
pub fn wait_timeout<T>(futures: &[Future<T>], timeout: Duration) -> crate::Result<()> {
    super::blocking::check_may_block("wait_timeout", "wait_timeout_async(..).await")?;
    let Some(first) = futures.first() else {
        return Ok(());
    };
    let states = states_of(futures);
    if first.handle.executor.wait_for_within(&states, timeout) {
        return Ok(());
    }
    let not_done = Inner::not_done(&states);
    Err(timed_out("wait", not_done, states.len(), timeout))
}

/// The futures of [`wait_first`], split by whether they were done when it returned.
#[derive(Debug)]
pub struct Waited<T> {
    /// Done (finished, erred, cancelled or lost), in the order given.
    pub done: Vec<Future<T>>,
    /// Not done yet, in the order given.
    pub not_done: Vec<Future<T>>,
}

/// Blocks until at least one of `futures` is done (dask's `FIRST_COMPLETED`), or `timeout`
/// passes (then `done` may be empty); splits them into done and not done.
///
/// On the thread of a current-thread tokio runtime this fails with
/// [`crate::Error::BlockingInAsync`]: await [`super::wait_first_async`] there.
pub fn wait_first<T>(
    futures: Vec<Future<T>>,
    timeout: Option<Duration>,
) -> crate::Result<Waited<T>> {
    super::blocking::check_may_block("wait_first", "wait_first_async(..).await")?;
    if let Some(first) = futures.first() {
        let shared = &first.handle.executor.shared;
        let any_done = || futures.iter().any(Future::done);
        match timeout {
            Some(timeout) => drop(shared.wait_until_for(timeout, any_done)),
            None => shared.wait_until(any_done),
        }
    }
    let (done, not_done) = futures.into_iter().partition(Future::done);
    Ok(Waited { done, not_done })
}
