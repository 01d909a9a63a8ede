//! Where a task may run: worker restrictions (by name or address, strict or loose, as
//! dask's `workers=` and `allow_other_workers=`) and abstract resources (dask's
//! `resources=`), with the per-worker bookkeeping of resources held by running tasks.
//!
//! A task's function and restrictions together are its [`TaskClass`]: the ready queue keeps
//! one ordered set per class, so tasks without restrictions cost what they did before.
//! Decisions only: no I/O, no clock; the in-flight window (saturation) is not touched here.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::state::SchedulerState;
use super::task::TaskState;
use super::worker::WorkerRecord;
use crate::ids::{FunctionId, TaskKey, WorkerId};
use crate::resources::Resources;

/// Where a task may run. The default restricts nothing.
///
/// ```
/// use taskforce::scheduler::Restrictions;
/// use taskforce::resources::Resources;
/// let gpu = Restrictions {
///     workers: vec![],
///     loose: false,
///     resources: Resources::from_pairs([("GPU", 1.0)]).unwrap(),
/// };
/// assert!(!gpu.is_empty());
/// assert!(Restrictions::default().is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Restrictions {
    /// Worker names or addresses (`"gpu-box"`, `"10.0.0.7:40123"`) the task may run on;
    /// empty means any.
    pub workers: Vec<String>,
    /// Whether `workers` is only a preference (dask's `allow_other_workers=True`).
    pub loose: bool,
    /// Resources the task holds while it runs; it runs only where they are free.
    pub resources: Resources,
}

impl Restrictions {
    /// Whether nothing is restricted.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty() && self.resources.is_empty()
    }

    /// Whether `profile` is among the named workers (true when none are named).
    pub fn names(&self, profile: &WorkerProfile) -> bool {
        self.workers.is_empty()
            || self
                .workers
                .iter()
                .any(|named| *named == profile.name || *named == profile.address)
    }

    /// In words, for logs and `cluster_info`: "workers [a, b] (strict), resources GPU=1".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.workers.is_empty() {
            let kind = if self.loose { "preferred" } else { "strict" };
            parts.push(format!("workers [{}] ({kind})", self.workers.join(", ")));
        }
        if !self.resources.is_empty() {
            parts.push(format!("resources {}", self.resources));
        }
        parts.join(", ")
    }
}

/// What the scheduler knows of a worker beyond threads and functions: how restrictions name
/// it and the resources it offers. The default (no name, no resources) suits tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerProfile {
    /// Its `--name`.
    pub name: String,
    /// Where it listens (`host:port`).
    pub address: String,
    /// What it offers (`--resources`).
    pub resources: Resources,
}

/// What decides which workers may take a ready task: its function and its restrictions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TaskClass {
    pub(crate) function: FunctionId,
    pub(crate) restrictions: Option<Arc<Restrictions>>,
}

impl std::fmt::Display for TaskClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.restrictions {
            None => write!(f, "{}", self.function),
            Some(r) => write!(f, "{} on {}", self.function, r.describe()),
        }
    }
}

impl TaskClass {
    /// Whether `worker` has the function, is not retiring and (strictly named) is allowed,
    /// whatever is free.
    pub(crate) fn could_run_on(&self, worker: &WorkerRecord) -> bool {
        !worker.retiring
            && worker.functions.contains(&self.function)
            && self.restrictions.as_deref().map_or(true, |r| {
                (r.loose || r.names(&worker.profile))
                    && worker.profile.resources.covers(&r.resources)
            })
    }

    /// Whether `worker` could start the task now (its resources are free), saturation aside.
    pub(crate) fn fits_now(&self, worker: &WorkerRecord) -> bool {
        self.could_run_on(worker)
            && self
                .restrictions
                .as_deref()
                .map_or(true, |r| worker.available.covers(&r.resources))
    }

    /// Whether `worker` is one the task prefers (a named one; every worker if none named).
    pub(crate) fn prefers(&self, worker: &WorkerRecord) -> bool {
        self.restrictions
            .as_deref()
            .map_or(true, |r| r.names(&worker.profile))
    }
}

impl SchedulerState {
    /// Whether some connected worker could ever run a task of `class`.
    pub(super) fn class_runnable(&self, class: &TaskClass) -> bool {
        self.workers
            .values()
            .any(|worker| class.could_run_on(worker))
    }

    /// A ready restricted task no connected worker can satisfy: it waits as no-worker (as
    /// in dask), noted once for the shell's log.
    pub(super) fn park_unplaceable(&mut self, key: &TaskKey) {
        self.set_state(key, TaskState::NoWorker);
        let task = self.task_mut(key);
        if !task.unplaceable_noted {
            task.unplaceable_noted = true;
            self.unplaceable_notes.push(key.clone());
        }
    }

    /// Restricted tasks that became unplaceable since the last call, each once in its life,
    /// with why: for the shell to log.
    pub fn take_unplaceable_notes(&mut self) -> Vec<(TaskKey, String)> {
        std::mem::take(&mut self.unplaceable_notes)
            .into_iter()
            .filter_map(|key| Some((key.clone(), self.unplaceable_reason(&key)?)))
            .collect()
    }

    /// Ready restricted tasks waiting because no connected worker satisfies them, lowest
    /// key first, at most `limit`, each with why (for `cluster_info`).
    pub fn unplaceable(&self, limit: usize) -> Vec<(TaskKey, String)> {
        let mut keys: Vec<&TaskKey> = self.no_worker.iter().collect();
        keys.sort_unstable();
        keys.into_iter()
            .filter_map(|key| Some((key.clone(), self.unplaceable_reason(key)?)))
            .take(limit)
            .collect()
    }

    /// Why a parked restricted task waits; `None` if it is not one.
    fn unplaceable_reason(&self, key: &TaskKey) -> Option<String> {
        let task = self.tasks.get(key)?;
        if task.state != TaskState::NoWorker {
            return None;
        }
        let restrictions = task.restrictions.as_deref()?;
        Some(format!(
            "needs {}: no connected worker satisfies it",
            restrictions.describe()
        ))
    }

    /// Takes (`hold`) or gives back the resources `key` asks of `worker`, as it starts or
    /// stops processing there. A worker already gone is skipped.
    pub(super) fn hold_resources(&mut self, worker: WorkerId, key: &TaskKey, hold: bool) {
        let Some(asked) = self.tasks[key].restrictions.clone() else {
            return;
        };
        if asked.resources.is_empty() {
            return;
        }
        let Some(record) = self.workers.get_mut(&worker) else {
            return;
        };
        if hold {
            record.available.take(&asked.resources);
        } else {
            record
                .available
                .give_back(&asked.resources, &record.profile.resources);
        }
    }
}
