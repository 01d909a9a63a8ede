//! Checking a worker's reports against what the scheduler asked of it. A worker may report
//! only on a task the scheduler gave it and it is still running there: a finished or erred
//! task it was not running, or a missing dependency of a task it was not running (or that
//! the task does not need), is ignored, and the caller logs why ([`IgnoredReport`]).
//!
//! Such a report is stale (the task was cancelled or moved while the worker ran it) or
//! forged (a misbehaving worker claiming keys it was never given, or trying to make the
//! scheduler drop another worker's copy). Either way, acting on it would let one worker
//! change what the scheduler believes of keys it was not asked about.
//!
//! No I/O and no logging here: the shell logs the returned reason.

use super::state::SchedulerState;
use super::task::TaskState;
use crate::ids::{TaskKey, WorkerId};

/// Why a worker's report was ignored. Nothing changed in the scheduler's state except,
/// for a result, an order to the worker to drop the value it claims to hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IgnoredReport {
    /// The reporting worker is not (or no longer) connected.
    #[error("{worker} is not a connected worker")]
    UnknownWorker {
        /// The reporting worker.
        worker: WorkerId,
    },
    /// The worker reported on a task the scheduler has not asked it to run (or no longer).
    #[error(
        "{worker} reported on {key}, which it was not asked to run ({state}); stale or forged"
    )]
    NotRunning {
        /// The reporting worker.
        worker: WorkerId,
        /// The key it reported on.
        key: TaskKey,
        /// The key's state at the scheduler ("memory", "processing on w2", "unknown").
        state: String,
    },
    /// The worker reported a copy of a key it was neither asked to copy nor needs for a
    /// task it runs.
    #[error(
        "{worker} reported a copy of {key}, which it was not asked to copy and no task of its \
         needs; stale or forged"
    )]
    UnexpectedCopy {
        /// The reporting worker.
        worker: WorkerId,
        /// The key it reported.
        key: TaskKey,
    },
    /// The worker answered a steal request that is no longer under way (the task was
    /// released, moved or sent again since): its answer changes nothing.
    #[error(
        "{worker} answered steal request {steal} of {key}, which is no longer under way; stale"
    )]
    StaleStealAnswer {
        /// The reporting worker.
        worker: WorkerId,
        /// The key it answered for.
        key: TaskKey,
        /// The request's number.
        steal: u64,
    },
    /// The worker reported a dependency missing that its task does not need.
    #[error(
        "{worker} reported {dependency} missing for {key}, which does not depend on it; forged"
    )]
    NotADependency {
        /// The reporting worker.
        worker: WorkerId,
        /// Its task.
        key: TaskKey,
        /// The key it named.
        dependency: TaskKey,
    },
}

impl SchedulerState {
    /// Whether `worker` is connected and was asked to run `key`, which it is running now.
    pub(super) fn check_running(
        &self,
        worker: WorkerId,
        key: &TaskKey,
    ) -> Result<(), IgnoredReport> {
        if !self.workers.contains_key(&worker) {
            return Err(IgnoredReport::UnknownWorker { worker });
        }
        let state = match self.tasks.get(key).map(|task| &task.state) {
            Some(TaskState::Processing { worker: runner }) if *runner == worker => return Ok(()),
            Some(TaskState::Processing { worker: runner }) => format!("processing on {runner}"),
            Some(other) => other.name().to_string(),
            None => "unknown".to_string(),
        };
        Err(IgnoredReport::NotRunning {
            worker,
            key: key.clone(),
            state,
        })
    }

    /// As [`Self::check_running`], and `dependency` is one of `key`'s dependencies.
    pub(super) fn check_dependency(
        &self,
        worker: WorkerId,
        key: &TaskKey,
        dependency: &TaskKey,
    ) -> Result<(), IgnoredReport> {
        self.check_running(worker, key)?;
        if self.task(key).dependencies.contains(dependency) {
            return Ok(());
        }
        Err(IgnoredReport::NotADependency {
            worker,
            key: key.clone(),
            dependency: dependency.clone(),
        })
    }
}
