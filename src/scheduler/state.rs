//! The scheduler state: every task and worker record plus the indexes derived from them,
//! the read-only queries, and `set_state`, the one place that keeps those indexes
//! (processing sets, queue, who_has/has_what, dependency holds) in step with task states.
//!
//! No I/O: commands are buffered and handed to an [`Outbox`] at the end of each event.

use std::collections::BTreeSet;

use super::center_restart::RecoveryPhase;
use super::outbox::{deliver, Command, Outbox};
use super::queue::ReadyQueue;
use super::task::{TaskRecord, TaskState};
use super::types::{FunctionId, SchedulerConfig};
use super::worker::{Occupancy, WorkerRecord};
use crate::ids::{ClientId, Map, Set, TaskKey, WorkerId};

/// The scheduler's state machine. Feed it events (`on_*` methods); each event ends by
/// handing its commands to the given [`Outbox`].
///
/// Events from the network may be stale (a result from a worker the task was taken away
/// from, a key already forgotten): those are ignored or answered with `release_data`, never
/// a panic. A panic means the state machine itself is inconsistent.
#[derive(Debug)]
pub struct SchedulerState {
    pub(super) config: SchedulerConfig,
    /// Records boxed: the table's slots stay small (a key and a pointer), so growing it moves
    /// little and its empty slots cost 24 bytes, not a whole record.
    pub(super) tasks: Map<TaskKey, Box<TaskRecord>>,
    pub(super) workers: Map<WorkerId, WorkerRecord>,
    /// Keys each client wants.
    pub(super) clients: Map<ClientId, Set<TaskKey>>,
    /// How many connected workers advertise each function.
    pub(super) function_workers: Map<FunctionId, u32>,
    /// Workers with a free slot, least occupied first.
    pub(super) free_slots: BTreeSet<(Occupancy, WorkerId)>,
    pub(super) queue: ReadyQueue,
    pub(super) no_worker: Set<TaskKey>,
    /// Keys that may have stopped being needed or referenced; checked at the end of the event.
    pub(super) release_candidates: Vec<TaskKey>,
    pub(super) commands: Vec<Command>,
    /// The number of the latest `update_graph` call.
    pub(super) generation: u64,
    pub(super) keys_in_memory: usize,
    /// Whether a center restart is being recovered from (see `center_restart.rs`).
    pub(super) recovery: RecoveryPhase,
    /// Values workers offered during a recovery: kept even if nothing needs them yet (an
    /// executor still to re-submit may claim them), released when it ends if unneeded.
    pub(super) unclaimed: Set<TaskKey>,
    /// Restricted tasks that became unplaceable, not yet taken for the log.
    pub(super) unplaceable_notes: Vec<TaskKey>,
    /// Copies ordered (`order_copy`) and not yet reported: key → the workers asked.
    pub(super) pending_copies: Map<TaskKey, Vec<WorkerId>>,
    /// Tasks asked back from the worker processing them, for another (see `stealing.rs`).
    pub(super) steals: Map<TaskKey, super::stealing::Steal>,
    /// The number of the next steal request.
    pub(super) next_steal: u64,
    /// Workers keeping more tasks than threads (some wait in their own queue), fewest per
    /// thread first, ties highest id first: `WorkerRecord::queue_entry`.
    pub(super) overloaded: BTreeSet<super::worker::QueueEntry>,
    /// Whether forgotten keys go to the outbox (`Outbox::task_forgotten`): only an observer
    /// (the dashboard) wants them, so without one a forgotten task costs nothing more.
    pub(super) report_forgotten: bool,
}

impl SchedulerState {
    /// An empty scheduler: no workers, no tasks.
    pub fn new(config: SchedulerConfig) -> Self {
        SchedulerState {
            config,
            tasks: Map::default(),
            workers: Map::default(),
            clients: Map::default(),
            function_workers: Map::default(),
            free_slots: BTreeSet::new(),
            queue: ReadyQueue::default(),
            no_worker: Set::default(),
            release_candidates: Vec::new(),
            commands: Vec::new(),
            generation: 0,
            keys_in_memory: 0,
            recovery: RecoveryPhase::Fresh,
            unclaimed: Set::default(),
            unplaceable_notes: Vec::new(),
            report_forgotten: true,
            pending_copies: Map::default(),
            steals: Map::default(),
            next_steal: 1,
            overloaded: BTreeSet::new(),
        }
    }

    /// Whether to tell the outbox about each forgotten key (default yes). A shell with no
    /// observer turns it off, so forgetting a task costs nothing for the observer's sake.
    pub fn report_forgotten(&mut self, report: bool) {
        self.report_forgotten = report;
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// The state of `key`, or `None` if the key is unknown (never seen, or forgotten).
    pub fn task_state(&self, key: &TaskKey) -> Option<&TaskState> {
        self.tasks.get(key).map(|task| &task.state)
    }

    /// How many keys the scheduler has records for.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Tasks ready to run that wait for a worker able to take them (`no-worker` in dask).
    pub fn waiting_for_worker(&self) -> usize {
        self.no_worker.len()
    }

    /// How many keys are in memory on some worker.
    pub fn keys_in_memory(&self) -> usize {
        self.keys_in_memory
    }

    /// How many ready tasks wait in the scheduler's queue for a free slot.
    pub fn queued_count(&self) -> usize {
        self.queue.len()
    }

    /// How many connected workers there are.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// How many tasks `worker` has in flight, or `None` for an unknown worker.
    pub fn processing_count(&self, worker: WorkerId) -> Option<usize> {
        self.workers
            .get(&worker)
            .map(|record| record.processing.len())
    }

    /// The workers holding `key`'s value (sorted; empty unless in memory).
    pub fn who_has(&self, key: &TaskKey) -> &[WorkerId] {
        self.tasks.get(key).map_or(&[], |task| task.who_has())
    }

    /// The keys whose value `worker` holds, sorted.
    pub fn has_what(&self, worker: WorkerId) -> Vec<TaskKey> {
        let mut keys: Vec<TaskKey> = self
            .workers
            .get(&worker)
            .map(|record| record.has_what.iter().cloned().collect())
            .unwrap_or_default();
        keys.sort_unstable();
        keys
    }

    /// The clients that want `key`.
    pub fn who_wants(&self, key: &TaskKey) -> &[ClientId] {
        self.tasks.get(key).map_or(&[], |task| &task.who_wants)
    }

    /// How many workers died while running `key` (0 for unknown keys).
    pub fn suspicious(&self, key: &TaskKey) -> u32 {
        self.tasks
            .get(key)
            .map_or(0, |task| task.deaths.len() as u32)
    }

    /// The record of `key`, which must exist.
    pub(super) fn task(&self, key: &TaskKey) -> &TaskRecord {
        self.tasks
            .get(key)
            .unwrap_or_else(|| panic!("no record for task {key}"))
    }

    /// The record of `key`, which must exist, mutably.
    pub(super) fn task_mut(&mut self, key: &TaskKey) -> &mut TaskRecord {
        self.tasks
            .get_mut(key)
            .unwrap_or_else(|| panic!("no record for task {key}"))
    }

    /// Ends an event: releases what is no longer needed, fills free slots from the queue,
    /// asks tasks back for workers about to idle, and hands the commands to `out`.
    pub(super) fn end_event(&mut self, out: &mut dyn Outbox) {
        self.process_release_candidates();
        self.assign_queued();
        self.steal_for_idle_workers();
        deliver(&mut self.commands, out);
    }

    /// Moves `key` to `new`, keeping every index in step: the worker's processing set and
    /// free-slot entry, the queue, the no-worker set, who_has/has_what, and the
    /// active-dependent counts of its dependencies.
    pub(super) fn set_state(&mut self, key: &TaskKey, new: TaskState) {
        let task = self.task_mut(key);
        let was_active = task.state.is_active();
        let old = std::mem::replace(&mut task.state, new);
        let is_active = task.state.is_active();
        self.leave_state(key, old);
        self.enter_state(key);
        if was_active != is_active {
            self.hold_dependencies(key, is_active);
        }
    }

    fn leave_state(&mut self, key: &TaskKey, old: TaskState) {
        match old {
            TaskState::Processing { worker } => {
                self.update_processing(worker, key, false);
                self.hold_resources(worker, key, false);
                self.forget_steal(key);
            }
            TaskState::Queued => {
                let task = &self.tasks[key];
                let class = task.class().expect("queued task without function");
                let removed = self.queue.remove(&class, task.priority, key);
                assert!(removed, "queued task {key} missing from the queue");
            }
            TaskState::NoWorker => {
                self.no_worker.remove(key);
            }
            TaskState::Memory { who_has } => {
                for worker in who_has {
                    if let Some(record) = self.workers.get_mut(&worker) {
                        record.has_what.remove(key);
                    }
                }
                self.keys_in_memory -= 1;
            }
            TaskState::Released | TaskState::Waiting { .. } | TaskState::Erred { .. } => {}
        }
    }

    fn enter_state(&mut self, key: &TaskKey) {
        let task = &self.tasks[key];
        match &task.state {
            TaskState::Processing { worker } => {
                let worker = *worker;
                if self.recovery == RecoveryPhase::Fresh {
                    self.recovery = RecoveryPhase::Closed;
                }
                self.update_processing(worker, key, true);
                self.hold_resources(worker, key, true);
            }
            TaskState::Queued => {
                let class = task.class().expect("queued task without function");
                self.queue.push(&class, task.priority, key.clone());
            }
            TaskState::NoWorker => {
                self.no_worker.insert(key.clone());
            }
            TaskState::Memory { who_has } => {
                for worker in who_has {
                    let record = self
                        .workers
                        .get_mut(worker)
                        .expect("holder is not connected");
                    record.has_what.insert(key.clone());
                }
                self.keys_in_memory += 1;
            }
            TaskState::Released | TaskState::Waiting { .. } | TaskState::Erred { .. } => {}
        }
    }

    /// Adds or removes `key` in `worker`'s processing set, keeping the free-slot index in
    /// step. A worker already removed is skipped.
    fn update_processing(&mut self, worker: WorkerId, key: &TaskKey, add: bool) {
        let Some(record) = self.workers.get_mut(&worker) else {
            return;
        };
        if !record.is_saturated() {
            self.free_slots.remove(&record.free_slot_entry());
        }
        if add {
            record.processing.insert(key.clone());
        } else {
            record.processing.remove(key);
            record.seceded.remove(key);
            record.started.remove(key);
        }
        if !record.is_saturated() {
            self.free_slots.insert(record.free_slot_entry());
        }
        self.update_overloaded(worker);
    }

    /// Keeps `worker`'s entry in the index of workers with tasks in their own queue.
    pub(super) fn update_overloaded(&mut self, worker: WorkerId) {
        let Some(record) = self.workers.get_mut(&worker) else {
            return;
        };
        let entry = record.queue_entry();
        if entry == record.indexed_queue {
            return;
        }
        let old = std::mem::replace(&mut record.indexed_queue, entry);
        if let Some(old) = old {
            self.overloaded.remove(&old);
        }
        if let Some(entry) = entry {
            self.overloaded.insert(entry);
        }
    }

    /// `worker`'s task `key` (processing there) seceded: it stops counting against the
    /// worker's saturation, keeping the free-slot index in step.
    pub(super) fn mark_seceded(&mut self, worker: WorkerId, key: &TaskKey) {
        let Some(record) = self.workers.get_mut(&worker) else {
            return;
        };
        if !record.is_saturated() {
            self.free_slots.remove(&record.free_slot_entry());
        }
        record.seceded.insert(key.clone());
        if !record.is_saturated() {
            self.free_slots.insert(record.free_slot_entry());
        }
        self.update_overloaded(worker);
    }

    /// An active task holds its dependencies (they are needed); one that stops being
    /// active lets go, and the dependencies become release candidates.
    fn hold_dependencies(&mut self, key: &TaskKey, hold: bool) {
        let task = self.task_mut(key);
        if task.dependencies.is_empty() {
            return;
        }
        let dependencies = std::mem::take(&mut task.dependencies);
        for dep in &dependencies {
            let record = self.task_mut(dep);
            if hold {
                record.active_dependents += 1;
            } else {
                record.active_dependents -= 1;
                self.release_candidates.push(dep.clone());
            }
        }
        self.task_mut(key).dependencies = dependencies;
    }

    /// Adds `worker` as a holder of `key`, which is in memory.
    pub(super) fn add_replica(&mut self, key: &TaskKey, worker: WorkerId) {
        let task = self.tasks.get_mut(key).expect("replica of unknown task");
        let TaskState::Memory { who_has } = &mut task.state else {
            panic!("replica of {key}, which is not in memory");
        };
        if let Err(at) = who_has.binary_search(&worker) {
            who_has.insert(at, worker);
            let record = self
                .workers
                .get_mut(&worker)
                .expect("holder is not connected");
            record.has_what.insert(key.clone());
        }
    }

    /// Removes `worker` as a holder of `key`. If that was the last holder the key goes
    /// from memory to released and `true` is returned: the caller must recover it.
    pub(super) fn remove_replica(&mut self, key: &TaskKey, worker: WorkerId) -> bool {
        let task = self.tasks.get_mut(key).expect("replica of unknown task");
        let TaskState::Memory { who_has } = &mut task.state else {
            return false;
        };
        who_has.retain(|holder| *holder != worker);
        let now_empty = who_has.is_empty();
        if let Some(record) = self.workers.get_mut(&worker) {
            record.has_what.remove(key);
        }
        if now_empty {
            self.set_state(key, TaskState::Released);
        }
        now_empty
    }

    /// Buffers a command for the end of the event.
    pub(super) fn push_command(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Tells every client wanting `key` about its state, if that state is final
    /// (memory or erred).
    pub(super) fn report_to_wanters(&mut self, key: &TaskKey) {
        let task = &self.tasks[key];
        for index in 0..task.who_wants.len() {
            let client = self.tasks[key].who_wants[index];
            self.report_to(client, key);
        }
    }

    /// Tells `client` about `key`'s state, if that state is final (memory or erred).
    /// Lost data is reported as lost, other failures as errors.
    pub(super) fn report_to(&mut self, client: ClientId, key: &TaskKey) {
        let command = match &self.task(key).state {
            TaskState::Memory { .. } => Command::InMemory(client, key.clone()),
            TaskState::Erred { failure } => match failure.as_ref() {
                lost @ super::TaskFailure::DataLost { .. } => {
                    Command::Lost(client, key.clone(), lost.to_string())
                }
                failure => Command::Erred(client, key.clone(), failure.clone()),
            },
            _ => return,
        };
        self.push_command(command);
    }
}
