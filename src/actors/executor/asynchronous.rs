//! The executor inside async Rust: an async twin of every call that waits on the cluster,
//! so a task awaits instead of holding its runtime's thread.
//!
//! | blocking                     | async twin                          |
//! |------------------------------|-------------------------------------|
//! | `Executor::connect`          | [`Executor::connect_async`]         |
//! | `Executor::connect_with`     | [`Executor::connect_with_async`]    |
//! | `Executor::local`            | [`Executor::local_async`]           |
//! | `Executor::local_with`       | [`Executor::local_with_async`]      |
//! | `Executor::cluster_info`     | [`Executor::cluster_info_async`]    |
//! | `Executor::wait_for_workers` | [`Executor::wait_for_workers_async`]|
//! | `Executor::restart`          | [`Executor::restart_async`]         |
//! | `Executor::scatter`          | [`Executor::scatter_async`]         |
//! | `Executor::gather`           | [`Executor::gather_async`]          |
//! | `Future::result`             | `future.await`                      |
//! | [`super::wait`]              | [`wait_async`]                      |
//! | [`super::as_completed`]      | [`as_completed_stream`] (a `Stream`)|
//! | `drop(executor)`             | [`Executor::close_async`]           |
//!
//! The timed, partial and cancelling waits have theirs in `async_waits.rs`
//! ([`super::wait_first_async`], `gather_each_async`, `cancel_async`, ...), the graph calls
//! in `async_graphs.rs` ([`Executor::get_async`], and `compute_async` through
//! [`crate::AsyncRunner`]), the services' in `actors/service` (`call_async`,
//! `spawn_service_async`, ...).
//!
//! Waiting for keys polls their states directly; calls that talk to the scheduler through
//! the blocking path run on a short-lived thread of their own ([`super::blocking`]). The
//! futures returned are `Send` and work under any async runtime, tokio's or another.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::blocking::on_own_thread;
use super::state::KeyState;
use super::{Executor, Future};
use crate::actors::remote::ConnectOptions;
use crate::messages::executor_link::ClusterSnapshot;

impl Executor {
    /// [`Executor::connect`] without blocking the calling task.
    ///
    /// ```no_run
    /// # async fn run() -> taskforce::Result<()> {
    /// let executor = taskforce::Executor::connect_async("127.0.0.1:8787").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_async(addr: &str) -> crate::Result<Executor> {
        let addr = addr.to_string();
        on_own_thread("taskforce-connect", move || Executor::connect(&addr)).await
    }

    /// [`Executor::connect_with`] without blocking the calling task.
    pub async fn connect_with_async(
        addr: &str,
        options: ConnectOptions,
    ) -> crate::Result<Executor> {
        let addr = addr.to_string();
        on_own_thread("taskforce-connect", move || {
            Executor::connect_with(&addr, options)
        })
        .await
    }

    /// [`Executor::local`] without blocking the calling task. In a worker process of a local
    /// cluster (which re-runs this program) it serves as that worker and never returns.
    pub async fn local_async() -> crate::Result<Executor> {
        Self::local_with_async(crate::LocalCluster::builder()).await
    }

    /// [`Executor::local_with`] without blocking the calling task.
    pub async fn local_with_async(
        builder: crate::local::LocalClusterBuilder,
    ) -> crate::Result<Executor> {
        on_own_thread("taskforce-local", move || Executor::local_with(builder)).await
    }

    /// [`Executor::cluster_info`] without blocking the calling task.
    pub async fn cluster_info_async(&self) -> crate::Result<ClusterSnapshot> {
        let executor = self.clone();
        on_own_thread("taskforce-ask", move || executor.cluster_info()).await
    }

    /// [`Executor::wait_for_workers`] without blocking the calling task.
    pub async fn wait_for_workers_async(
        &self,
        n: usize,
        timeout: Duration,
    ) -> crate::Result<ClusterSnapshot> {
        let executor = self.clone();
        on_own_thread("taskforce-ask", move || {
            executor.wait_for_workers(n, timeout)
        })
        .await
    }

    /// [`Executor::restart`] without blocking the calling task.
    pub async fn restart_async(&self) -> crate::Result<()> {
        let executor = self.clone();
        on_own_thread("taskforce-restart", move || executor.restart()).await
    }

    /// [`Executor::scatter`] without blocking the calling task.
    pub async fn scatter_async<T>(&self, values: Vec<T>) -> crate::Result<Vec<Future<T>>>
    where
        T: Serialize + Send + Sync + 'static,
    {
        let executor = self.clone();
        on_own_thread("taskforce-scatter", move || executor.scatter(values)).await
    }

    /// Closes this handle and waits, without blocking the calling task, until the connection
    /// is closed and the local cluster this executor started (if any) has stopped, when
    /// this was the last handle (futures count as handles). A plain `drop` inside a runtime
    /// returns at once and lets that happen in the background instead, where a program that
    /// ends right after would cut it short (its workers still stop, less tidily).
    pub async fn close_async(self) -> crate::Result<()> {
        on_own_thread("taskforce-close", move || {
            drop(self);
            Ok(())
        })
        .await
    }

    /// [`Executor::gather`] without blocking the calling task: waits for every future and
    /// brings their values here, in order.
    pub async fn gather_async<T: DeserializeOwned + Send + 'static>(
        &self,
        futures: &[Future<T>],
    ) -> crate::Result<Vec<T>> {
        let states: Vec<Arc<KeyState>> = futures.iter().map(|f| f.state().clone()).collect();
        self.inner.clone().fetch_values_async(states).await
    }
}

/// Waits until every one of `states` is done, registering the task's waker on each.
pub(super) async fn all_done(states: &[Arc<KeyState>]) {
    // A key counted as done can turn pending again (its worker was lost and it is being
    // recomputed), so the pass repeats until one finds every key done.
    while !states.iter().all(|state| state.is_done()) {
        for state in states {
            std::future::poll_fn(|cx| match state.poll_done(cx.waker()) {
                true => Poll::Ready(()),
                false => Poll::Pending,
            })
            .await;
        }
    }
}

/// [`super::wait`] without blocking: resolves once every future is done (finished, erred or
/// lost). Errors of the tasks are not raised here; awaiting a future gives them.
pub async fn wait_async<T>(futures: &[Future<T>]) -> crate::Result<()> {
    let states: Vec<Arc<KeyState>> = futures.iter().map(|f| f.state().clone()).collect();
    all_done(&states).await;
    Ok(())
}

/// The futures as a [`Stream`], in the order they finish: the async twin of
/// [`super::as_completed`].
///
/// ```no_run
/// # use taskforce::{remote, Executor};
/// # use futures_util::StreamExt;
/// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
/// # async fn run(executor: Executor) -> taskforce::Result<()> {
/// let futures = executor.map(inc, 0..10)?;
/// let mut finished = taskforce::as_completed_stream(futures);
/// while let Some(future) = finished.next().await {
///     println!("{}", future.await?);
/// }
/// # Ok(()) }
/// ```
pub fn as_completed_stream<T>(
    futures: impl IntoIterator<Item = Future<T>>,
) -> AsCompletedStream<T> {
    AsCompletedStream {
        pending: futures.into_iter().collect(),
    }
}

/// The stream of [`as_completed_stream`].
pub struct AsCompletedStream<T> {
    pending: Vec<Future<T>>,
}

impl<T> Stream for AsCompletedStream<T> {
    type Item = Future<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Future<T>>> {
        let pending = &mut self.get_mut().pending;
        if pending.is_empty() {
            return Poll::Ready(None);
        }
        // Every pending key gets the waker, so whichever finishes first wakes this task.
        let done = pending
            .iter()
            .position(|future| future.state().poll_done(cx.waker()));
        match done {
            Some(index) => Poll::Ready(Some(pending.remove(index))),
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pending.len(), Some(self.pending.len()))
    }
}
