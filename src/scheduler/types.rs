//! Value types the scheduler takes in and hands out: opaque task specs,
//! priorities, submitted tasks, compute orders and the scheduler's configuration.
//!
//! Plain data only: no I/O, no clock, nothing from the actor or wire layers. The types that
//! travel between processes derive serde.

use serde::{Deserialize, Serialize};

pub use crate::function::TaskSpec;
pub use crate::ids::FunctionId;
use crate::ids::{TaskKey, WorkerId};

/// When a ready task runs relative to others: lower runs first.
///
/// Ordered by `generation` (which `update_graph` call submitted the task: earlier graphs
/// first), then by `order` (the client's graph-order priority within that graph, depth
/// first so intermediates are freed early).
///
/// ```
/// use taskforce::scheduler::Priority;
/// let first_graph = Priority { generation: 1, order: 10 };
/// let second_graph = Priority { generation: 2, order: 0 };
/// assert!(first_graph < second_graph);
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Priority {
    /// The sequence number of the `update_graph` call that submitted the task.
    pub generation: u64,
    /// The client's graph-order priority within its graph.
    pub order: i64,
}

/// A task as a client submits it in `update_graph`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// The task's key; deterministic, so the same call always has the same key.
    pub key: TaskKey,
    /// The function to run; only workers advertising it are eligible.
    pub function: FunctionId,
    /// The encoded call, passed through to the worker untouched.
    pub spec: TaskSpec,
    /// Keys whose values the task needs: in the same batch, already computed, or scattered.
    pub deps: Vec<TaskKey>,
    /// The client's graph-order priority (lower runs first).
    pub order: i64,
    /// Where it may run (workers, resources); `None` for anywhere with its function.
    pub restrictions: Option<super::Restrictions>,
}

/// An order to a worker: run this task. Sent by the scheduler through [`super::Outbox`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComputeTask {
    /// The key to compute.
    pub key: TaskKey,
    /// The function to run.
    pub function: FunctionId,
    /// The encoded call.
    pub spec: TaskSpec,
    /// Each dependency with the workers holding it, so the worker fetches it from a peer.
    /// A dependency the worker already holds lists that worker among its holders.
    pub deps: Vec<(TaskKey, Vec<WorkerId>)>,
    /// The task's priority, for the worker's own queue.
    pub priority: Priority,
}

/// Tunables of the scheduler state machine. Built by the caller (the binary parses flags);
/// [`SchedulerConfig::default`] documents the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Tasks a worker may have in flight per thread before more wait at the scheduler, until
    /// its round trip and task time are measured (and the least afterwards: see
    /// `max_tasks_per_thread`). Default 8: deep enough that trivial tasks on loopback rarely
    /// wait on a round trip to the scheduler (measured with `examples/bench_overhead.rs`),
    /// shallow enough to keep workers balanced.
    pub tasks_per_thread: u32,
    /// In-flight tasks a worker may have on top of `tasks_per_thread * nthreads`, so a
    /// worker never idles while its next task's inputs are being fetched. Default 8.
    pub extra_tasks_per_worker: u32,
    /// How many workers may die while running a task before the task errs with
    /// `KilledWorker` (it errs on the `allowed_failures + 1`-th). Default 3.
    pub allowed_failures: u32,
    /// The most tasks per thread the measured window may reach (see
    /// [`super::SchedulerState::on_worker_timing`]: the window is twice the worker's
    /// bandwidth-delay product, so trivial tasks over a long round trip need many). Default
    /// 512: 2 ms round trips at 250k tasks/s per thread. Past it, tasks wait at the scheduler.
    pub max_tasks_per_thread: u32,
    /// The most bytes the tasks in flight to one worker may take (their specs and results,
    /// as measured), which bounds the measured window. Default 64 MiB. Never narrows the
    /// window below `saturation`.
    pub window_memory_bytes: u64,
    /// Whether a worker about to idle asks tasks back from one with a queue (see
    /// `stealing.rs`; dask's `distributed.scheduler.work-stealing`). Default true.
    pub work_stealing: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            tasks_per_thread: 8,
            extra_tasks_per_worker: 8,
            allowed_failures: 3,
            max_tasks_per_thread: 512,
            window_memory_bytes: 64 << 20,
            work_stealing: true,
        }
    }
}

impl SchedulerConfig {
    /// The most tasks a worker with `nthreads` threads may have in flight at once:
    /// `nthreads * tasks_per_thread + extra_tasks_per_worker`, at least 1.
    ///
    /// ```
    /// use taskforce::scheduler::SchedulerConfig;
    /// assert_eq!(SchedulerConfig::default().saturation(4), 40);
    /// ```
    pub fn saturation(&self, nthreads: u32) -> usize {
        let limit = u64::from(nthreads) * u64::from(self.tasks_per_thread)
            + u64::from(self.extra_tasks_per_worker);
        usize::try_from(limit.max(1)).unwrap_or(usize::MAX)
    }
}

/// What losing a worker cost, as [`super::SchedulerState::on_worker_removed`] reports it for
/// the caller's log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerLoss {
    /// Keys whose value the worker held.
    pub keys_held: usize,
    /// Keys whose only copy it held: recomputed from lineage if still needed, or erred
    /// with `DataLost` if they were scattered.
    pub keys_lost: usize,
    /// Tasks it was running or had queued, now placed again (or erred with `KilledWorker`).
    pub tasks_interrupted: usize,
}
