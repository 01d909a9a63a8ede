//! Worker choice and load balancing: which worker with a free slot runs a ready task
//! (among those its restrictions allow, preferred ones first; then fewest dependency bytes
//! to move, then least occupied, then lowest id), and filling free slots from the queue,
//! lowest priority first.
//!
//! Decisions only; the compute order goes to the command buffer. No I/O.

use super::outbox::Command;
use super::restrictions::TaskClass;
use super::state::SchedulerState;
use super::task::TaskState;
use super::types::ComputeTask;
use super::worker::WorkerRecord;
use crate::ids::{TaskKey, WorkerId};

impl SchedulerState {
    /// Assigns queued tasks while some worker that can run one has a free slot.
    ///
    /// Afterwards every queued task's eligible workers are all saturated (or lack the free
    /// resources it asks for).
    pub(super) fn assign_queued(&mut self) {
        while !self.free_slots.is_empty() {
            let Some(key) = self
                .queue
                .best(|class| self.first_free_worker_with(class).is_some())
                .cloned()
            else {
                break;
            };
            let worker = self.choose_worker(&key).expect("eligible worker vanished");
            self.start_processing(&key, worker);
        }
    }

    /// The least occupied worker with a free slot that can start a task of `class` now,
    /// one it prefers (see [`TaskClass::prefers`]) if there is one.
    ///
    /// Usually the first entry of the free-slot index; walks past workers lacking the
    /// function (or restrictions' workers and resources), so the cost grows only with
    /// heterogeneous workers.
    pub(super) fn first_free_worker_with(&self, class: &TaskClass) -> Option<WorkerId> {
        let mut fits = self
            .free_slots
            .iter()
            .map(|(_, worker)| &self.workers[worker])
            .filter(|worker| class.fits_now(worker));
        let first = fits.next()?;
        if class.prefers(first) {
            return Some(first.id);
        }
        Some(
            fits.find(|worker| class.prefers(worker))
                .unwrap_or(first)
                .id,
        )
    }

    /// The best worker with a free slot for a ready task: a preferred one first (loose
    /// restrictions), then the one holding the most bytes of its dependencies (so the
    /// fewest move), then the least occupied, then the lowest id. `None` if every eligible
    /// worker is saturated.
    pub(super) fn choose_worker(&self, key: &TaskKey) -> Option<WorkerId> {
        let task = self.task(key);
        let class = task.class().expect("placing a task without function");
        let fallback = self.first_free_worker_with(&class)?;
        if task.dependencies.is_empty() {
            return Some(fallback);
        }
        let held = self.held_dependency_bytes(key, &class);
        let rank = |worker: WorkerId, bytes: u64| {
            let record = &self.workers[&worker];
            (
                !class.prefers(record),
                std::cmp::Reverse(bytes),
                record.occupancy(),
                worker,
            )
        };
        let mut best = rank(fallback, 0);
        for (worker, bytes) in held {
            best = best.min(rank(worker, bytes));
        }
        Some(best.3)
    }

    /// For each eligible worker with a free slot holding some of `key`'s dependencies,
    /// the bytes of them it holds.
    fn held_dependency_bytes(&self, key: &TaskKey, class: &TaskClass) -> Vec<(WorkerId, u64)> {
        self.bytes_per_holder(key, |holder| {
            !holder.is_saturated() && class.fits_now(holder)
        })
    }

    /// For each worker holding some of `key`'s dependencies and accepted by `eligible`, the
    /// bytes of them it holds, by worker id. A list, not a map: a task has few inputs, and
    /// sorting a handful of pairs costs less than hashing and allocating a table per task.
    fn bytes_per_holder(
        &self,
        key: &TaskKey,
        eligible: impl Fn(&WorkerRecord) -> bool,
    ) -> Vec<(WorkerId, u64)> {
        let mut held: Vec<(WorkerId, u64)> = Vec::new();
        for dep in &self.task(key).dependencies {
            let record = self.task(dep);
            for worker in record.who_has() {
                if eligible(&self.workers[worker]) {
                    held.push((*worker, record.nbytes));
                }
            }
        }
        held.sort_unstable_by_key(|(worker, _)| *worker);
        held.dedup_by(|(worker, bytes), (kept, kept_bytes)| {
            let same = worker == kept;
            if same {
                *kept_bytes += *bytes;
            }
            same
        });
        held
    }

    /// For a ready task with inputs: the eligible worker holding the most bytes of them,
    /// then the least occupied, then the lowest id, saturated or not. `None` for a task
    /// without inputs, or when no holder can run it now (a restricted task goes only to a
    /// holder it prefers with its resources free). `class` is the task's.
    pub(super) fn choose_holder(&self, key: &TaskKey, class: &TaskClass) -> Option<WorkerId> {
        let held = self.bytes_per_holder(key, |holder| {
            class.fits_now(holder) && class.prefers(holder)
        });
        held.into_iter()
            .map(|(worker, bytes)| {
                let occupancy = self.workers[&worker].occupancy();
                (std::cmp::Reverse(bytes), occupancy, worker)
            })
            .min()
            .map(|(_, _, worker)| worker)
    }

    /// Sends a ready task to `worker`, listing who holds each dependency.
    pub(super) fn start_processing(&mut self, key: &TaskKey, worker: WorkerId) {
        self.set_state(key, TaskState::Processing { worker });
        let task = self.task(key);
        let run = task.run.as_ref().expect("processing task without lineage");
        let deps = task
            .dependencies
            .iter()
            .map(|dep| (dep.clone(), self.task(dep).who_has().to_vec()))
            .collect();
        let compute = ComputeTask {
            key: key.clone(),
            function: run.function.clone(),
            spec: run.spec.clone(),
            deps,
            priority: task.priority,
        };
        self.push_command(Command::Compute(worker, compute));
    }
}
