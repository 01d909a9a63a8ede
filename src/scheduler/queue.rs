//! The scheduler-side queue of ready tasks waiting for a free slot, one ordered set per
//! function so a worker only looks at tasks it can run.
//!
//! Pure data structure: no I/O, no knowledge of workers or task states.

use std::collections::BTreeSet;

use super::types::{FunctionId, Priority};
use crate::ids::{Map, TaskKey};

/// Ready tasks by function, lowest [`Priority`] first; ties broken by key.
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    by_function: Map<FunctionId, BTreeSet<(Priority, TaskKey)>>,
    len: usize,
}

impl ReadyQueue {
    /// Adds a task; returns false if it was already queued.
    pub(crate) fn push(&mut self, function: &FunctionId, priority: Priority, key: TaskKey) -> bool {
        let queue = self.by_function.entry(function.clone()).or_default();
        let added = queue.insert((priority, key));
        self.len += usize::from(added);
        added
    }

    /// Removes a task; returns false if it was not queued.
    pub(crate) fn remove(
        &mut self,
        function: &FunctionId,
        priority: Priority,
        key: &TaskKey,
    ) -> bool {
        let Some(queue) = self.by_function.get_mut(function) else {
            return false;
        };
        let removed = queue.remove(&(priority, key.clone()));
        if queue.is_empty() {
            self.by_function.remove(function);
        }
        self.len -= usize::from(removed);
        removed
    }

    /// The lowest-priority task among the functions `eligible` accepts.
    pub(crate) fn best(&self, mut eligible: impl FnMut(&FunctionId) -> bool) -> Option<&TaskKey> {
        let mut best: Option<&(Priority, TaskKey)> = None;
        for (function, queue) in &self.by_function {
            let Some(head) = queue.first() else { continue };
            let better = match best {
                None => true,
                Some(current) => head < current,
            };
            if better && eligible(function) {
                best = Some(head);
            }
        }
        best.map(|(_, key)| key)
    }

    /// The functions that have queued tasks.
    pub(crate) fn functions(&self) -> impl Iterator<Item = &FunctionId> {
        self.by_function.keys()
    }

    /// The tasks queued for `function`, lowest priority first.
    pub(crate) fn tasks_of(
        &self,
        function: &FunctionId,
    ) -> impl Iterator<Item = &(Priority, TaskKey)> {
        self.by_function.get(function).into_iter().flatten()
    }

    /// Every queued task, grouped by function.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&FunctionId, &(Priority, TaskKey))> {
        self.by_function
            .iter()
            .flat_map(|(function, queue)| queue.iter().map(move |entry| (function, entry)))
    }

    /// How many tasks are queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether a function's queue exists but is empty (never true when consistent).
    pub(crate) fn has_empty_queue(&self) -> bool {
        self.by_function.values().any(BTreeSet::is_empty)
    }
}
