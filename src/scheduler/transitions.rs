//! Task transitions: bringing needed tasks (and their released lineage) back to waiting,
//! readying, finishing, failing with propagation to dependents, and releasing or
//! forgetting what nothing needs any more.
//!
//! Cascades use explicit work lists, never recursion, so long chains cannot overflow the
//! stack and a malformed graph cannot loop forever. No I/O.

use super::failure::TaskFailure;
use super::outbox::Command;
use super::state::SchedulerState;
use super::task::TaskState;
use crate::ids::{Set, TaskKey, WorkerId};

impl SchedulerState {
    /// `key` became needed: if released, it (and the released tasks it depends on,
    /// recursively) go back to waiting or straight to ready.
    pub(super) fn revive(&mut self, key: &TaskKey) {
        if !self.is_released(key) {
            return;
        }
        let task = self.task(key);
        if task.dependencies.iter().all(|dep| !self.is_released(dep)) {
            self.evaluate(key);
            return;
        }
        self.revive_lineage(std::slice::from_ref(key));
    }

    fn is_released(&self, key: &TaskKey) -> bool {
        matches!(self.task(key).state, TaskState::Released)
    }

    /// Brings back the released tasks among `roots` and their released lineage. Each is
    /// also a release candidate: if the dependent that needed it errs instead of waiting
    /// (another dependency erred), it is not needed after all.
    fn revive_lineage(&mut self, roots: &[TaskKey]) {
        for released in self.released_lineage(roots) {
            self.evaluate(&released);
            self.release_candidates.push(released);
        }
    }

    /// The released tasks among `roots` and, through released tasks only, their
    /// dependencies: dependencies before dependents.
    fn released_lineage(&self, roots: &[TaskKey]) -> Vec<TaskKey> {
        let mut order = Vec::new();
        let mut seen = Set::default();
        let mut stack: Vec<(TaskKey, bool)> = roots
            .iter()
            .filter(|key| self.is_released(key))
            .map(|key| (key.clone(), false))
            .collect();
        while let Some((key, expanded)) = stack.pop() {
            if expanded {
                order.push(key);
                continue;
            }
            if !seen.insert(key.clone()) {
                continue;
            }
            stack.push((key.clone(), true));
            for dep in &self.task(&key).dependencies {
                if self.is_released(dep) && !seen.contains(dep) {
                    stack.push((dep.clone(), false));
                }
            }
        }
        order
    }

    /// Decides where a released task that is needed goes, given its dependencies' states:
    /// erred (no lineage, or a dependency erred), waiting, or ready.
    fn evaluate(&mut self, key: &TaskKey) {
        if self.task(key).run.is_none() {
            let failure = TaskFailure::DataLost {
                key: key.clone(),
                worker: None,
            };
            self.fail(key, failure);
            return;
        }
        self.wait_for_dependencies(key);
    }

    /// Moves an active or released task with lineage to waiting (counting dependencies
    /// not in memory) or to ready; errs it if a dependency erred.
    fn wait_for_dependencies(&mut self, key: &TaskKey) {
        let mut waiting_on = 0;
        let mut failed = None;
        for dep in &self.task(key).dependencies {
            match &self.task(dep).state {
                TaskState::Memory { .. } => {}
                TaskState::Erred { failure } => {
                    failed = Some(failure.for_dependent(key.clone()));
                    break;
                }
                _ => waiting_on += 1,
            }
        }
        if let Some(failure) = failed {
            self.fail(key, failure);
            return;
        }
        self.set_state(key, TaskState::Waiting { waiting_on });
        if waiting_on == 0 {
            self.mark_ready(key);
        }
    }

    /// Sends an active task back to waiting and recounts its dependencies, bringing back
    /// any released ones. With `cancel`, a worker still running it is told to drop it.
    pub(super) fn reset_to_waiting(&mut self, key: &TaskKey, cancel: bool) {
        if cancel {
            self.cancel_processing(key);
        }
        let dependencies = self.task(key).dependencies.clone();
        self.revive_lineage(&dependencies);
        // Reviving lineage may have erred this task already (lost data upstream).
        if self.task(key).state.is_active() {
            self.wait_for_dependencies(key);
        }
    }

    /// Tells the worker running `key` (if any) to drop it.
    pub(super) fn cancel_processing(&mut self, key: &TaskKey) {
        if let TaskState::Processing { worker } = self.task(key).state {
            if self.workers.contains_key(&worker) {
                self.push_command(Command::Release(worker, key.clone()));
            }
        }
    }

    /// All dependencies are in memory: send the task to a worker holding its inputs (tasks
    /// with inputs skip the saturation limit, as dask's non-root tasks do, so results are
    /// consumed where they are, as soon as they are), else queue it, park it as no-worker
    /// (no worker at all, or none its restrictions allow), or err it if workers exist but
    /// none has its function.
    pub(super) fn mark_ready(&mut self, key: &TaskKey) {
        // While recovering from a center restart, a worker not yet back may hold the value.
        if self.workers.is_empty() || self.is_recovering() {
            self.set_state(key, TaskState::NoWorker);
            return;
        }
        let task = self.task(key);
        let class = task.class().expect("ready task without function");
        if self.function_workers.contains_key(&class.function) {
            if class.restrictions.is_some() && !self.class_runnable(&class) {
                self.park_unplaceable(key);
                return;
            }
            let holder = match task.dependencies.is_empty() {
                true => None,
                false => self.choose_holder(key, &class),
            };
            match holder {
                Some(worker) => self.start_processing(key, worker),
                None => self.set_state(key, TaskState::Queued),
            }
        } else {
            let failure = TaskFailure::UnknownFunction {
                key: key.clone(),
                function: class.function,
            };
            self.fail(key, failure);
        }
    }

    /// `worker` computed `key` (which it was processing): in memory, wanters told,
    /// dependents one step closer to ready.
    pub(super) fn task_finished(&mut self, key: &TaskKey, worker: WorkerId, nbytes: u64) {
        // The reported key is a copy from the wire: the record's own makes every lookup
        // below a pointer comparison, and is the copy kept in `has_what`.
        let key = &self.known_key(key).expect("finished task without record");
        self.task_mut(key).nbytes = nbytes;
        self.set_state(
            key,
            TaskState::Memory {
                who_has: vec![worker],
            },
        );
        self.report_to_wanters(key);
        self.dependency_arrived(key);
    }

    /// `key` reached memory: each waiting dependent waits on one fewer; ready ones go on.
    pub(super) fn dependency_arrived(&mut self, key: &TaskKey) {
        let task = self.task_mut(key);
        let dependents = std::mem::take(&mut task.dependents);
        let mut ready = Vec::new();
        for dependent in &dependents {
            let record = self.tasks.get_mut(dependent).expect("dangling dependent");
            if let TaskState::Waiting { waiting_on } = &mut record.state {
                *waiting_on -= 1;
                if *waiting_on == 0 {
                    ready.push(dependent.clone());
                }
            }
        }
        self.task_mut(key).dependents = dependents;
        for dependent in ready {
            self.mark_ready(&dependent);
        }
    }

    /// `key` erred with `failure`: every active task depending on it (transitively) errs
    /// with `DependencyFailed` naming the root, and is cancelled if running; all wanters
    /// are told. The root itself is not cancelled: its worker reported it or is gone.
    pub(super) fn fail(&mut self, root: &TaskKey, failure: TaskFailure) {
        let mut stack = vec![(root.clone(), failure)];
        while let Some((key, failure)) = stack.pop() {
            if matches!(self.task(&key).state, TaskState::Erred { .. }) {
                continue;
            }
            for dependent in &self.task(&key).dependents {
                if self.task(dependent).state.is_active() {
                    stack.push((dependent.clone(), failure.for_dependent(dependent.clone())));
                }
            }
            if key != *root {
                self.cancel_processing(&key);
            }
            self.set_state(
                &key,
                TaskState::Erred {
                    failure: Box::new(failure),
                },
            );
            self.report_to_wanters(&key);
        }
    }

    /// Releases or forgets each candidate that is no longer needed or referenced, and
    /// whatever that in turn frees.
    pub(super) fn process_release_candidates(&mut self) {
        while let Some(key) = self.release_candidates.pop() {
            let Some(task) = self.tasks.get(&key) else {
                continue;
            };
            // An unclaimed held key waits for the end of the recovery (center_restart.rs).
            if task.is_needed() || self.is_unclaimed(&key) {
                continue;
            }
            self.release(&key);
            if self.task(&key).is_unreferenced() {
                self.forget(&key);
            }
        }
    }

    /// Drops a task nobody needs: its data is deleted from every holder, a run is
    /// cancelled, and it goes to released (erred tasks stay erred).
    fn release(&mut self, key: &TaskKey) {
        match &self.task(key).state {
            TaskState::Released | TaskState::Erred { .. } => return,
            TaskState::Memory { who_has } => {
                for worker in who_has.clone() {
                    self.push_command(Command::Release(worker, key.clone()));
                }
            }
            TaskState::Processing { .. } => self.cancel_processing(key),
            TaskState::Waiting { .. } | TaskState::NoWorker | TaskState::Queued => {}
        }
        self.set_state(key, TaskState::Released);
    }

    /// Removes a released or erred record nothing refers to; its dependencies lose a
    /// dependent and become candidates themselves.
    fn forget(&mut self, key: &TaskKey) {
        let task = self.tasks.remove(key).expect("forgetting unknown task");
        if self.report_forgotten {
            self.push_command(Command::Forgotten(key.clone()));
        }
        debug_assert!(!task.state.is_active() && !task.state.is_memory());
        for dep in task.dependencies {
            self.task_mut(&dep).dependents.remove(key);
            self.release_candidates.push(dep);
        }
    }
}
