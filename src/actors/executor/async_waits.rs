//! The partial, timed and cancelling waits inside async Rust: the twins of `wait_first`,
//! `wait_timeout`, `gather_timeout`, `result_timeout`, `gather_each`, `cancel` and
//! `progress`.
//!
//! | blocking                         | async twin                                |
//! |----------------------------------|-------------------------------------------|
//! | [`super::wait_first`]            | [`wait_first_async`]                      |
//! | [`super::wait_timeout`]          | [`wait_timeout_async`]                    |
//! | `Executor::gather_timeout`       | [`Executor::gather_timeout_async`]        |
//! | `Future::result_timeout`         | [`Future::result_timeout_async`]          |
//! | `Executor::gather_each`          | [`Executor::gather_each_async`]           |
//! | `Executor::cancel`               | [`Executor::cancel_async`]                |
//! | [`super::progress`]              | [`progress_async`]                        |
//!
//! The time limits are kept by a short-lived thread of their own ([`super::blocking`]), so
//! these futures, like the other twins, need no particular async runtime. Waiting reads the
//! key states the executor's actor updates; nothing here talks to the network itself.

use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{select, Either};
use serde::de::DeserializeOwned;

use super::asynchronous::all_done;
use super::blocking::{on_own_thread, sleep};
use super::future::status_error;
use super::state::{KeyState, KeyStatus};
use super::waiting::{states_of, timed_out};
use super::{Executor, Future, Inner, Waited};

/// `work`'s output, or `None` when `timeout` passed first (`work` is then dropped).
pub(super) async fn within<F: std::future::Future>(
    timeout: Duration,
    work: F,
) -> Option<F::Output> {
    match select(pin!(work), pin!(sleep(timeout))).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}

/// Resolves once any one of `states` is done (at once for an empty list).
async fn any_done(states: &[Arc<KeyState>]) {
    std::future::poll_fn(|cx| {
        // Every key gets the waker, so whichever finishes first wakes this task.
        let mut registered = states.iter().map(|s| s.poll_done(cx.waker()));
        match states.is_empty() || registered.any(|done| done) {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    })
    .await
}

/// Resolves once the number of done keys among `states` differs from `seen`.
async fn done_count_changes(states: &[Arc<KeyState>], seen: usize) {
    std::future::poll_fn(|cx| {
        let done = (states.iter()).filter(|s| s.poll_done(cx.waker())).count();
        match done != seen {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    })
    .await
}

/// [`super::wait_first`] without blocking: resolves once at least one of `futures` is done,
/// or `timeout` passed (then `done` may be empty); splits them into done and not done.
///
/// ```no_run
/// # use taskforce::{remote, Executor};
/// # use std::time::Duration;
/// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
/// # async fn run(executor: Executor) -> taskforce::Result<()> {
/// let futures = executor.map(inc, 0..10)?;
/// let waited = taskforce::wait_first_async(futures, Some(Duration::from_secs(30))).await;
/// for future in waited.done {
///     println!("{}", future.await?);
/// }
/// # Ok(()) }
/// ```
pub async fn wait_first_async<T>(futures: Vec<Future<T>>, timeout: Option<Duration>) -> Waited<T> {
    if !futures.is_empty() {
        let states = states_of(&futures);
        match timeout {
            Some(timeout) => drop(within(timeout, any_done(&states)).await),
            None => any_done(&states).await,
        }
    }
    let (done, not_done) = futures.into_iter().partition(Future::done);
    Waited { done, not_done }
}

/// [`super::wait_timeout`] without blocking: resolves once every future is done, or fails
/// with [`crate::Error::Timeout`] (naming how many were not done) after `timeout`. The tasks
/// go on either way.
pub async fn wait_timeout_async<T>(futures: &[Future<T>], timeout: Duration) -> crate::Result<()> {
    let states = states_of(futures);
    if within(timeout, all_done(&states)).await.is_some() {
        return Ok(());
    }
    let not_done = Inner::not_done(&states);
    Err(timed_out("wait", not_done, states.len(), timeout))
}

/// [`super::progress`] without blocking: draws the same bar on stderr, redrawn as futures
/// finish, and resolves to how many finished without error once every one is done.
pub async fn progress_async<T>(futures: &[Future<T>]) -> usize {
    let bar = super::progress::bar(futures.len());
    let states = states_of(futures);
    let count = || {
        (states.iter()).fold((0, 0), |(done, ok), state| match state.status() {
            KeyStatus::Pending => (done, ok),
            KeyStatus::Finished { .. } => (done + 1, ok + 1),
            _ => (done + 1, ok),
        })
    };
    loop {
        let (done, finished) = count();
        super::progress::show(&bar, done, finished);
        if done == states.len() {
            bar.finish();
            return finished;
        }
        done_count_changes(&states, done).await;
    }
}

impl<T: DeserializeOwned + Send + 'static> Future<T> {
    /// `future.await` with a limit: gives up after `timeout` with [`crate::Error::Timeout`]
    /// (the task goes on; ask again later). The twin of `Future::result_timeout`.
    pub async fn result_timeout_async(&self, timeout: Duration) -> crate::Result<T> {
        let states = vec![self.state().clone()];
        if within(timeout, all_done(&states)).await.is_none() {
            return Err(timed_out("result", 1, 1, timeout));
        }
        let mut values = self
            .handle
            .executor
            .clone()
            .fetch_values_async(states)
            .await?;
        Ok(values.pop().expect("one value per future"))
    }
}

impl Executor {
    /// [`Executor::gather_async`] giving up after `timeout` (for the wait; bringing the
    /// values home is not limited) with [`crate::Error::Timeout`] naming how many were not
    /// done. The twin of `Executor::gather_timeout`.
    pub async fn gather_timeout_async<T: DeserializeOwned + Send + 'static>(
        &self,
        futures: &[Future<T>],
        timeout: Duration,
    ) -> crate::Result<Vec<T>> {
        let states = states_of(futures);
        if within(timeout, all_done(&states)).await.is_none() {
            let not_done = Inner::not_done(&states);
            return Err(timed_out("gather", not_done, states.len(), timeout));
        }
        self.inner.clone().fetch_values_async(states).await
    }

    /// Waits for every future without blocking and brings home each value or its own error,
    /// in order: one failed task does not hide the others' values. The twin of
    /// `Executor::gather_each`.
    pub async fn gather_each_async<T: DeserializeOwned + Send + 'static>(
        &self,
        futures: &[Future<T>],
    ) -> Vec<crate::Result<T>> {
        let states = states_of(futures);
        all_done(&states).await;
        let all_ok = (states.iter()).all(|s| status_error(&s.key, &s.status()).is_none());
        if all_ok {
            let together = self.inner.clone().fetch_values_async::<T>(states.clone());
            if let Ok(values) = together.await {
                return values.into_iter().map(Ok).collect();
            }
        }
        // Some failed (or one failed while fetching): each on its own, so the rest come.
        let mut each = Vec::with_capacity(states.len());
        for state in states {
            let one = self
                .inner
                .clone()
                .fetch_values_async::<T>(vec![state])
                .await;
            each.push(one.map(|mut values| values.pop().expect("one value per future")));
        }
        each
    }

    /// [`Executor::cancel`] without blocking: resolves once the scheduler has heard, so the
    /// same call submitted afterwards starts afresh.
    pub async fn cancel_async<T>(&self, futures: &[Future<T>]) -> crate::Result<()> {
        let keys = futures.iter().map(|f| f.key().clone()).collect();
        let executor = self.clone();
        on_own_thread("taskforce-cancel", move || executor.cancel_keys(keys)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_ends_a_wait_that_never_ends_and_spares_one_that_does() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let never = within(Duration::from_millis(10), std::future::pending::<()>());
            assert!(never.await.is_none());
            let ready = within(Duration::from_secs(60), async { 7 });
            assert_eq!(ready.await, Some(7));
            // Nothing to wait for is done at once, with no executor at all.
            any_done(&[]).await;
            all_done(&[]).await;
        });
    }
}
