//! Taking in a submitted graph: skipping keys already known (computed once, shared by
//! clients), ordering the batch so dependencies come first, and recording tasks that can
//! never run (unknown dependency, dependency cycle) as erred without edges.
//!
//! No I/O; the graph is trusted only as far as the checks here go.

use std::sync::Arc;

use super::failure::TaskFailure;
use super::restrictions::Restrictions;
use super::state::SchedulerState;
use super::task::{RunSpec, TaskRecord, TaskState};
use super::types::{NewTask, Priority};
use crate::ids::{ClientId, Map, Set, TaskKey};

/// The submitting client, and the known keys of its batch it may use (it wants or
/// resubmitted: see `ownership`); other known keys it wants count too.
pub(super) type KeysOf<'a> = (ClientId, &'a Set<TaskKey>);

impl SchedulerState {
    /// Records the tasks of one `update_graph` call whose keys are new, all released (or
    /// erred if they can never run). A known key counts as a dependency only if `usable`
    /// (the client's: see `ownership`). Returns the new keys.
    pub(super) fn insert_tasks(&mut self, tasks: Vec<NewTask>, usable: KeysOf<'_>) -> Vec<TaskKey> {
        let batch = self.new_tasks_only(tasks);
        let (order, mut failures) = self.order_batch(&batch, usable);
        // One growth for the whole batch, not a rehash of every record at each doubling.
        self.tasks.reserve(batch.len());
        let mut slots: Vec<Option<NewTask>> = batch.into_iter().map(Some).collect();
        let mut keys = Vec::with_capacity(slots.len());
        for (index, failure) in failures.iter_mut().enumerate() {
            if let Some(failure) = failure.take() {
                let task = slots[index].take().expect("task inserted twice");
                keys.push(task.key.clone());
                self.insert_erred(task, failure);
            }
        }
        for index in order {
            if let Some(task) = slots[index].take() {
                keys.push(task.key.clone());
                self.insert_released(task);
            }
        }
        keys
    }

    /// The tasks whose keys are not known yet, first occurrence only, dependencies deduplicated.
    fn new_tasks_only(&self, tasks: Vec<NewTask>) -> Vec<NewTask> {
        let mut seen = Set::default();
        let mut batch = Vec::with_capacity(tasks.len());
        for mut task in tasks {
            if self.tasks.contains_key(&task.key) || !seen.insert(task.key.clone()) {
                continue;
            }
            dedup_keys(&mut task.deps);
            batch.push(task);
        }
        batch
    }

    /// A dependency-first order of the batch (indexes) and, per task, the reason it can
    /// never run: a dependency nobody knows, or a cycle within the batch (Kahn's algorithm:
    /// what is never reached is on or behind a cycle).
    fn order_batch(
        &self,
        batch: &[NewTask],
        usable: KeysOf<'_>,
    ) -> (Vec<usize>, Vec<Option<TaskFailure>>) {
        let index: Map<&TaskKey, usize> = batch
            .iter()
            .enumerate()
            .map(|(at, task)| (&task.key, at))
            .collect();
        let mut failures = self.unknown_dependencies(batch, &index, usable);
        let mut indegree = vec![0_usize; batch.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); batch.len()];
        for (at, task) in batch.iter().enumerate() {
            if failures[at].is_some() {
                continue;
            }
            for dep in &task.deps {
                if let Some(&dep_at) = index.get(dep) {
                    indegree[at] += 1;
                    dependents[dep_at].push(at);
                }
            }
        }
        let mut ready: Vec<usize> = (0..batch.len()).filter(|at| indegree[*at] == 0).collect();
        let mut order = Vec::with_capacity(batch.len());
        while let Some(at) = ready.pop() {
            order.push(at);
            for &dependent in &dependents[at] {
                indegree[dependent] -= 1;
                if indegree[dependent] == 0 {
                    ready.push(dependent);
                }
            }
        }
        for (at, task) in batch.iter().enumerate() {
            if indegree[at] > 0 {
                failures[at] = Some(TaskFailure::DependencyCycle {
                    key: task.key.clone(),
                });
            }
        }
        (order, failures)
    }

    /// Per task, `UnknownDependency` if it names a key neither in the batch nor known and
    /// the client's to use.
    fn unknown_dependencies(
        &self,
        batch: &[NewTask],
        index: &Map<&TaskKey, usize>,
        (client, resubmitted): KeysOf<'_>,
    ) -> Vec<Option<TaskFailure>> {
        let is_unknown = |dep: &&TaskKey| {
            !index.contains_key(dep)
                && !resubmitted.contains(*dep)
                && !self.is_wanted_by(client, dep)
        };
        batch
            .iter()
            .map(|task| {
                let dependency = task.deps.iter().find(is_unknown)?.clone();
                let key = task.key.clone();
                Some(TaskFailure::UnknownDependency { key, dependency })
            })
            .collect()
    }

    /// Records a task that can run, released, linked to its dependencies (all known).
    ///
    /// Each dependency is kept as the dependency's own key (the map's copy), not the copy
    /// that came with this task: one allocation per key instead of one per edge, and later
    /// comparisons of the two are a pointer check instead of a string comparison.
    fn insert_released(&mut self, mut task: NewTask) {
        let priority = Priority {
            generation: self.generation,
            order: task.order,
        };
        for dep in &mut task.deps {
            *dep = self
                .known_key(dep)
                .unwrap_or_else(|| panic!("no record for task {dep}"));
            self.task_mut(dep).dependents.insert(task.key.clone());
        }
        let run = RunSpec {
            function: task.function,
            spec: task.spec,
        };
        let mut record = TaskRecord::new(Some(run), priority, task.deps);
        record.restrictions = task.restrictions.and_then(normalized);
        self.tasks.insert(task.key, Box::new(record));
    }

    /// The scheduler's own copy of `key` (the one its record is filed under), if known.
    /// Kept in place of a copy that came from outside, it costs no allocation, and
    /// comparing it with the record's key is a pointer check, not a string comparison.
    pub(super) fn known_key(&self, key: &TaskKey) -> Option<TaskKey> {
        self.tasks
            .get_key_value(key)
            .map(|(known, _)| known.clone())
    }

    /// Records a task that can never run as erred, with no dependencies, so that releasing
    /// it forgets it.
    fn insert_erred(&mut self, task: NewTask, failure: TaskFailure) {
        let priority = Priority {
            generation: self.generation,
            order: task.order,
        };
        let run = RunSpec {
            function: task.function,
            spec: task.spec,
        };
        let mut record = TaskRecord::new(Some(run), priority, Vec::new());
        record.state = TaskState::Erred {
            failure: Box::new(failure),
        };
        self.tasks.insert(task.key, Box::new(record));
    }
}

/// Restrictions as the scheduler keeps them: worker names sorted and once each (so equal
/// restrictions share a queue), and `None` when they restrict nothing.
fn normalized(mut restrictions: Restrictions) -> Option<Arc<Restrictions>> {
    restrictions.workers.sort_unstable();
    restrictions.workers.dedup();
    if restrictions.workers.is_empty() {
        restrictions.loose = false;
    }
    (!restrictions.is_empty()).then(|| Arc::new(restrictions))
}

/// Removes repeated keys, keeping the first occurrence of each.
pub(super) fn dedup_keys(keys: &mut Vec<TaskKey>) {
    if keys.len() < 2 {
        return;
    }
    let mut seen = Set::default();
    keys.retain(|key| seen.insert(key.clone()));
}
