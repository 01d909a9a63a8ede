//! `Executor::replicate`, `rebalance` and `retire_workers` (dask's `Client.replicate`,
//! `rebalance`, `retire_workers`), with their async twins: one request each, answered by
//! the scheduler once the copies it ordered are made (`MoveReport`). Executor-side only.

use std::time::Duration;

use super::blocking::on_own_thread;
use super::{blocking, Executor, Future};
use crate::actors::remote::ProtocolViolation;
use crate::messages::executor_link::{ExecutorToScheduler, MoveReport, SchedulerToExecutor};

/// Longer than the scheduler's own limit on an operation (120 s), so its answer, with what
/// was done by then, arrives before the request times out here.
const OPERATION_REQUEST_TIMEOUT: Duration = Duration::from_secs(150);

impl Executor {
    /// Keeps the value of each future on at least `n` workers (on every worker when fewer
    /// are connected), as dask's `Client.replicate`: a value held twice survives the loss
    /// of one holder without being computed again, and tasks reading it can run on either.
    /// Waits for the futures first; returns once the copies are made, with what was copied
    /// ([`MoveReport`]; a copy that failed is listed with why, not an error).
    ///
    /// ```no_run
    /// # use taskforce::{remote, Executor};
    /// # #[remote] fn load(n: u64) -> Vec<u64> { (0..n).collect() }
    /// # fn main() -> taskforce::Result<()> {
    /// let executor = Executor::local()?;
    /// let table = executor.submit(load, (1_000_000,))?;
    /// let report = executor.replicate(&[table.clone()], 2)?;
    /// assert_eq!(report.failed_count, 0);
    /// # Ok(()) }
    /// ```
    ///
    /// Async twin: [`Executor::replicate_async`].
    pub fn replicate<T>(&self, futures: &[Future<T>], n: usize) -> crate::Result<MoveReport> {
        blocking::check_may_block("replicate", "replicate_async(..).await")?;
        super::wait(futures)?;
        let keys = futures.iter().map(|f| f.key().clone()).collect();
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.cluster_operation("replicate", ExecutorToScheduler::Replicate { keys, n })
    }

    /// Evens out the bytes of values the workers hold (dask's `Client.rebalance`): values
    /// move from workers holding more than the mean to workers holding less, largest first,
    /// each only if it narrows the gap; values a running task reads stay. Returns once the
    /// moves are made.
    ///
    /// Async twin: [`Executor::rebalance_async`].
    pub fn rebalance(&self) -> crate::Result<MoveReport> {
        blocking::check_may_block("rebalance", "rebalance_async(..).await")?;
        self.cluster_operation("rebalance", ExecutorToScheduler::Rebalance)
    }

    /// Retires workers, named by `--name` or by address (`host:port`), as dask's
    /// `Client.retire_workers`: they take no new task, every value only they hold is copied
    /// to the other workers (least loaded first), then they stop, their nannies with them
    /// (no restart). Tasks running there are run again elsewhere, not counted as failures.
    /// Futures keep their values: they are gathered from the new holders.
    ///
    /// A worker whose values could not all be copied is kept, and the report says why.
    /// Fails with [`crate::Error::Refused`] (nothing done) when a name matches no connected
    /// worker, when no other worker would remain, or when the cluster does not allow its
    /// clients to stop workers (a center started without `--allow-restart`; local clusters
    /// allow it).
    ///
    /// Async twin: [`Executor::retire_workers_async`].
    pub fn retire_workers<S: AsRef<str>>(&self, workers: &[S]) -> crate::Result<MoveReport> {
        blocking::check_may_block("retire_workers", "retire_workers_async(..).await")?;
        let names = workers.iter().map(|w| w.as_ref().to_string()).collect();
        self.cluster_operation("retire_workers", ExecutorToScheduler::RetireWorkers(names))
    }

    /// [`Executor::replicate`] without blocking the calling task.
    pub async fn replicate_async<T: Send + 'static>(
        &self,
        futures: &[Future<T>],
        n: usize,
    ) -> crate::Result<MoveReport> {
        super::wait_async(futures).await?;
        let executor = self.clone();
        let futures = futures.to_vec();
        on_own_thread("taskforce-replicate", move || {
            executor.replicate(&futures, n)
        })
        .await
    }

    /// [`Executor::rebalance`] without blocking the calling task.
    pub async fn rebalance_async(&self) -> crate::Result<MoveReport> {
        let executor = self.clone();
        on_own_thread("taskforce-rebalance", move || executor.rebalance()).await
    }

    /// [`Executor::retire_workers`] without blocking the calling task.
    pub async fn retire_workers_async<S: AsRef<str>>(
        &self,
        workers: &[S],
    ) -> crate::Result<MoveReport> {
        let names: Vec<String> = workers.iter().map(|w| w.as_ref().to_string()).collect();
        let executor = self.clone();
        on_own_thread("taskforce-retire", move || executor.retire_workers(&names)).await
    }

    fn cluster_operation(
        &self,
        operation: &str,
        request: ExecutorToScheduler,
    ) -> crate::Result<MoveReport> {
        match self.inner.ask(request, OPERATION_REQUEST_TIMEOUT)? {
            SchedulerToExecutor::Moved(report) => Ok(report),
            SchedulerToExecutor::Refused { operation, reason } => {
                Err(crate::Error::Refused { operation, reason })
            }
            other => Err(crate::Error::Protocol {
                operation: format!("a {operation} request to the scheduler"),
                source: Box::new(ProtocolViolation::Unexpected(format!("{other:?}"))),
            }),
        }
    }
}
