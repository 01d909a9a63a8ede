//! The scheduler-side queue of ready tasks waiting for a free slot, one ordered set per
//! task class (function and restrictions) so a worker only looks at tasks it can run.
//!
//! Pure data structure: no I/O, no knowledge of workers or task states.

use std::collections::BTreeSet;

use super::restrictions::TaskClass;
use super::types::Priority;
use crate::ids::{Map, TaskKey};

/// Ready tasks by class, lowest [`Priority`] first; ties broken by key.
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    by_class: Map<TaskClass, BTreeSet<(Priority, TaskKey)>>,
    len: usize,
}

impl ReadyQueue {
    /// Adds a task; returns false if it was already queued.
    pub(crate) fn push(&mut self, class: &TaskClass, priority: Priority, key: TaskKey) -> bool {
        let queue = self.by_class.entry(class.clone()).or_default();
        let added = queue.insert((priority, key));
        self.len += usize::from(added);
        added
    }

    /// Removes a task; returns false if it was not queued.
    pub(crate) fn remove(&mut self, class: &TaskClass, priority: Priority, key: &TaskKey) -> bool {
        let Some(queue) = self.by_class.get_mut(class) else {
            return false;
        };
        let removed = queue.remove(&(priority, key.clone()));
        if queue.is_empty() {
            self.by_class.remove(class);
        }
        self.len -= usize::from(removed);
        removed
    }

    /// The lowest-priority task among the classes `eligible` accepts.
    pub(crate) fn best(&self, mut eligible: impl FnMut(&TaskClass) -> bool) -> Option<&TaskKey> {
        let mut best: Option<&(Priority, TaskKey)> = None;
        for (class, queue) in &self.by_class {
            let Some(head) = queue.first() else { continue };
            let better = match best {
                None => true,
                Some(current) => head < current,
            };
            if better && eligible(class) {
                best = Some(head);
            }
        }
        best.map(|(_, key)| key)
    }

    /// The classes that have queued tasks.
    pub(crate) fn classes(&self) -> impl Iterator<Item = &TaskClass> {
        self.by_class.keys()
    }

    /// The tasks queued for a class, lowest priority first.
    pub(crate) fn tasks_of(&self, class: &TaskClass) -> impl Iterator<Item = &(Priority, TaskKey)> {
        self.by_class.get(class).into_iter().flatten()
    }

    /// Every queued task, grouped by class.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&TaskClass, &(Priority, TaskKey))> {
        self.by_class
            .iter()
            .flat_map(|(class, queue)| queue.iter().map(move |entry| (class, entry)))
    }

    /// How many tasks are queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether a class's queue exists but is empty (never true when consistent).
    pub(crate) fn has_empty_queue(&self) -> bool {
        self.by_class.values().any(BTreeSet::is_empty)
    }
}
