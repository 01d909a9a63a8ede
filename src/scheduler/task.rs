//! What the scheduler knows about one key: its state (carrying the state's data), its
//! place in the graph, who wants it and how many unfinished dependents still need it.
//!
//! Data only: the transitions live in `transitions.rs`. No I/O.

use super::failure::TaskFailure;
use super::types::{FunctionId, Priority, TaskSpec};
use crate::ids::{ClientId, TaskKey, WorkerId};

/// The state of a key in the scheduler, following dask's lifecycle:
/// released → waiting → (no-worker | queued) → processing → memory | erred; a key is
/// forgotten (removed) when no client wants it and no other task refers to it.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskState {
    /// Known (kept for lineage) but not needed: no value anywhere, not scheduled.
    Released,
    /// Needed; `waiting_on` of its dependencies are not in memory yet.
    Waiting {
        /// How many dependencies are not in memory.
        waiting_on: u32,
    },
    /// Ready, but no worker is connected at all, or (for a restricted task) none that
    /// satisfies its restrictions; it is placed when one joins.
    NoWorker,
    /// Ready, waiting in the scheduler's queue until an eligible worker has a free slot.
    Queued,
    /// Sent to `worker`, which runs it (or has it in its own queue).
    Processing {
        /// The worker running the task.
        worker: WorkerId,
    },
    /// The value is held by these workers (never empty, sorted).
    Memory {
        /// The workers holding the value.
        who_has: Vec<WorkerId>,
    },
    /// The task failed; it stays erred until forgotten.
    Erred {
        /// Why.
        failure: Box<TaskFailure>,
    },
}

impl TaskState {
    /// The state's name as dask spells it (`"no-worker"`, `"processing"`...).
    pub fn name(&self) -> &'static str {
        match self {
            TaskState::Released => "released",
            TaskState::Waiting { .. } => "waiting",
            TaskState::NoWorker => "no-worker",
            TaskState::Queued => "queued",
            TaskState::Processing { .. } => "processing",
            TaskState::Memory { .. } => "memory",
            TaskState::Erred { .. } => "erred",
        }
    }

    /// Whether the task is on its way to memory (waiting, no-worker, queued, processing).
    /// An active task holds its dependencies: they must stay or become available.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            TaskState::Waiting { .. }
                | TaskState::NoWorker
                | TaskState::Queued
                | TaskState::Processing { .. }
        )
    }

    /// Whether the task's value is held by some worker.
    pub fn is_memory(&self) -> bool {
        matches!(self, TaskState::Memory { .. })
    }
}

/// How to compute a key: present for submitted tasks, absent for scattered data, which
/// therefore has no lineage.
#[derive(Clone, Debug)]
pub(crate) struct RunSpec {
    pub(crate) function: FunctionId,
    pub(crate) spec: TaskSpec,
}

/// The scheduler's record of one key.
#[derive(Debug)]
pub(crate) struct TaskRecord {
    pub(crate) run: Option<RunSpec>,
    pub(crate) priority: Priority,
    pub(crate) state: TaskState,
    /// Keys this task needs, without duplicates.
    pub(crate) dependencies: Vec<TaskKey>,
    /// Keys whose records name this one as a dependency.
    pub(crate) dependents: crate::ids::Set<TaskKey>,
    /// Clients holding a future for this key (each at most once).
    pub(crate) who_wants: Vec<ClientId>,
    /// How many dependents are active (see [`TaskState::is_active`]).
    pub(crate) active_dependents: u32,
    /// Size of the value, as last reported.
    pub(crate) nbytes: u64,
    /// How many workers died while running this task.
    pub(crate) deaths: Vec<super::failure::WorkerDeath>,
    /// Where it may run (`None`: anywhere with its function).
    pub(crate) restrictions: Option<std::sync::Arc<super::restrictions::Restrictions>>,
    /// Whether its being unplaceable was already noted for the log (once per task).
    pub(crate) unplaceable_noted: bool,
}

impl TaskRecord {
    /// A released record for a submitted task.
    pub(crate) fn new(
        run: Option<RunSpec>,
        priority: Priority,
        dependencies: Vec<TaskKey>,
    ) -> Self {
        TaskRecord {
            run,
            priority,
            state: TaskState::Released,
            dependencies,
            dependents: Default::default(),
            who_wants: Vec::new(),
            active_dependents: 0,
            nbytes: 0,
            deaths: Vec::new(),
            restrictions: None,
            unplaceable_noted: false,
        }
    }

    /// Whether the key must be (or become) available: a client wants it or an active
    /// dependent needs it.
    pub(crate) fn is_needed(&self) -> bool {
        !self.who_wants.is_empty() || self.active_dependents > 0
    }

    /// Whether nothing refers to the record any more, so it can be forgotten once released.
    pub(crate) fn is_unreferenced(&self) -> bool {
        self.who_wants.is_empty() && self.dependents.is_empty()
    }

    /// The task's function, if it has lineage.
    pub(crate) fn function(&self) -> Option<&FunctionId> {
        self.run.as_ref().map(|run| &run.function)
    }

    /// The task's class (function and restrictions), if it has lineage.
    pub(crate) fn class(&self) -> Option<super::restrictions::TaskClass> {
        Some(super::restrictions::TaskClass {
            function: self.function()?.clone(),
            restrictions: self.restrictions.clone(),
        })
    }

    /// The holders of the value, empty unless in memory.
    pub(crate) fn who_has(&self) -> &[WorkerId] {
        match &self.state {
            TaskState::Memory { who_has } => who_has,
            _ => &[],
        }
    }
}
