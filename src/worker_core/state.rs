//! [`WorkerState`]: what a worker holds and what it was asked to do — values in memory,
//! tasks waiting for inputs or on the task threads, fetches in flight and from whom — with
//! the small accessors the shell and the heartbeat read.
//!
//! Pure: no I/O, no actors, no clock. The `on_*` events live in the sibling files.

use std::net::SocketAddr;

use super::memory::MemoryPolicy;
use super::outbox::{FetchId, Job};
use super::store::DataStore;
use crate::function::registry::Invoke;
use crate::function::ArgSpec;
use crate::ids::{FunctionId, Map, Set, TaskKey, WorkerId};
use crate::scheduler::Priority;

/// Finds a function this worker can run by name: how to call it and its signature hash.
/// Production passes [`registered_function`]; tests pass a table of their own.
pub type FunctionLookup = fn(&str) -> Option<(Invoke, u64)>;

/// The functions linked into this binary (the `#[remote]` registry).
pub fn registered_function(name: &str) -> Option<(Invoke, u64)> {
    crate::function::lookup(name).map(|(registration, hash)| (registration.invoke, hash))
}

/// A decoded task whose function was found: all it takes to build the call once its inputs
/// are here.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) function: FunctionId,
    pub(super) invoke: Invoke,
    pub(super) args: Vec<ArgSpec>,
    pub(super) retries: u32,
}

/// Where a task given to this worker stands. A task in memory has no record: its value is in
/// the store. An erred task is reported and forgotten (the scheduler keeps the failure).
#[derive(Debug)]
pub(super) enum TaskState {
    /// Some inputs are being fetched (`missing`, never empty).
    WaitingForInputs {
        /// The call to build once they are here.
        prepared: Prepared,
        /// Inputs not yet here, each in `WorkerState::fetching`.
        missing: Set<TaskKey>,
    },
    /// Handed to the task threads (queued there by priority, or running).
    Running {
        /// Its function, for the failure report.
        function: FunctionId,
        /// The scheduler released it meanwhile: its outcome is dropped.
        released: bool,
    },
}

/// One task given to this worker and not yet reported.
#[derive(Debug)]
pub(super) struct TaskRecord {
    pub(super) priority: Priority,
    pub(super) state: TaskState,
}

/// A fetch in flight: whom it asked and for what.
#[derive(Debug)]
pub(super) struct FetchRecord {
    pub(super) holder: WorkerId,
    pub(super) keys: Vec<TaskKey>,
}

/// The worker's decisions as a state machine: events in (`on_compute`, `on_fetched`,
/// `on_fetch_failed`, `on_job_done`, `on_release`, `on_put`, `on_center_lost`, …), commands
/// out through a [`WorkerOutbox`](super::WorkerOutbox).
pub struct WorkerState {
    pub(super) id: WorkerId,
    pub(super) lookup: FunctionLookup,
    pub(super) store: DataStore,
    pub(super) tasks: Map<TaskKey, TaskRecord>,
    /// Input → the waiting tasks that miss it.
    pub(super) needed_by: Map<TaskKey, Vec<TaskKey>>,
    /// Input → the fetch bringing it (one at a time per input).
    pub(super) fetching: Map<TaskKey, FetchId>,
    pub(super) fetches: Map<FetchId, FetchRecord>,
    pub(super) next_fetch: u64,
    pub(super) peer_addrs: Map<WorkerId, SocketAddr>,
    pub(super) peer_bytes_in: u64,
    /// When to spill and pause; `None` never does.
    pub(super) memory: Option<MemoryPolicy>,
    /// The process's resident memory at the last sample.
    pub(super) rss: u64,
    /// Past the pause fraction: ready tasks wait in `held_jobs`.
    pub(super) paused: bool,
    /// Ready tasks held back while paused (each also `Running` in `tasks`).
    pub(super) held_jobs: Vec<Job>,
    /// Runs on the threads that a lost center asked for: a value they end with is kept.
    pub(super) orphaned_runs: Set<TaskKey>,
    /// Keys fetched because the scheduler asked for a copy (each also in `fetching`): their
    /// failure is reported, as a task's missing input is.
    pub(super) acquiring: Set<TaskKey>,
}

impl WorkerState {
    /// A worker that finds its functions with `lookup`, holding nothing.
    pub fn new(lookup: FunctionLookup) -> Self {
        WorkerState {
            id: WorkerId(0),
            lookup,
            store: DataStore::default(),
            tasks: Map::default(),
            needed_by: Map::default(),
            fetching: Map::default(),
            fetches: Map::default(),
            next_fetch: 0,
            peer_addrs: Map::default(),
            peer_bytes_in: 0,
            memory: None,
            rss: 0,
            paused: false,
            held_jobs: Vec::new(),
            orphaned_runs: Set::default(),
            acquiring: Set::default(),
        }
    }

    /// The center numbered this worker `id` (named in failure reports).
    pub fn on_registered(&mut self, id: WorkerId) {
        self.id = id;
    }

    /// This worker's id (`w0` before it registers).
    pub fn id(&self) -> WorkerId {
        self.id
    }

    /// The value of `key` and where it is (a spilled one the shell reads from disk), if
    /// held here.
    pub fn get(&self, key: &TaskKey) -> Option<super::store::Held<'_>> {
        self.store.get(key)
    }

    /// Tasks on the task threads now (queued or running).
    pub fn running_count(&self) -> usize {
        self.tasks
            .values()
            .filter(|task| matches!(task.state, TaskState::Running { .. }))
            .count()
    }

    /// Tasks waiting for inputs.
    pub fn waiting_count(&self) -> usize {
        self.tasks.len() - self.running_count()
    }

    /// Fetches in flight.
    pub fn fetches_in_flight(&self) -> usize {
        self.fetches.len()
    }

    /// Keys held in memory.
    pub fn stored_keys(&self) -> usize {
        self.store.len()
    }

    /// Bytes held, in memory and spilled (as they would travel).
    pub fn stored_bytes(&self) -> u64 {
        self.store.nbytes()
    }

    /// The most bytes held at once since the last reset.
    pub fn peak_stored_bytes(&self) -> u64 {
        self.store.peak_nbytes()
    }

    /// Bytes of values received from peers since the worker started.
    pub fn peer_bytes_in(&self) -> u64 {
        self.peer_bytes_in
    }
}
