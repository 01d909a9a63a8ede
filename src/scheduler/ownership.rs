//! Which keys a client may use: its own, and a key another client computed only when it
//! submits the very same task (function and encoded call), whose inputs it may use too. A
//! key of another client's is otherwise invisible: depending on it makes the task err as
//! an unknown dependency, wanting it (or claiming to have scattered it) is answered lost,
//! and releasing or cancelling it touches only the asking client's own futures
//! (`client_events`). Scattered data (no lineage) is shared by scattering the same value:
//! its key names its content.
//!
//! Resubmitting the same call proves the client could compute the value itself, so sharing
//! the result leaks nothing, and pure keys stay computed once across clients. No I/O.

use super::state::SchedulerState;
use super::types::NewTask;
use crate::ids::{ClientId, Map, Set, TaskKey};

impl SchedulerState {
    /// Whether `client` holds a future for the known `key`.
    pub(super) fn is_wanted_by(&self, client: ClientId, key: &TaskKey) -> bool {
        self.tasks
            .get(key)
            .is_some_and(|task| task.who_wants.contains(&client))
    }

    /// Whether `key` is a task (it has lineage) that `client` does not hold a future for.
    pub(super) fn is_computed_for_another(&self, client: ClientId, key: &TaskKey) -> bool {
        self.tasks
            .get(key)
            .is_some_and(|task| task.run.is_some() && !task.who_wants.contains(&client))
    }

    /// The known keys of `batch` that `client` may use: those it wants already, and those it
    /// resubmitted as the same task whose recorded inputs it may use (worked out from the
    /// inputs up, so a chain of resubmitted tasks over the client's own data is accepted).
    pub(super) fn known_keys_usable_by(&self, client: ClientId, batch: &[NewTask]) -> Set<TaskKey> {
        let mut usable = Set::default();
        let mut candidates: Map<&TaskKey, Vec<&TaskKey>> = Map::default();
        for task in batch {
            let Some(record) = self.tasks.get(&task.key) else {
                continue;
            };
            if record.who_wants.contains(&client) {
                usable.insert(task.key.clone());
            } else if record
                .run
                .as_ref()
                .is_some_and(|run| run.function == task.function && run.spec == task.spec)
            {
                candidates.insert(&task.key, record.dependencies.iter().collect());
            }
        }
        // Kahn's order over the candidates: one whose inputs are all usable becomes usable.
        let mut pending: Map<&TaskKey, usize> = Map::default();
        let mut dependents: Map<&TaskKey, Vec<&TaskKey>> = Map::default();
        let mut ready = Vec::new();
        for (&key, deps) in &candidates {
            let mut waits = 0;
            let mut blocked = false;
            for &dep in deps {
                if candidates.contains_key(dep) {
                    waits += 1;
                    dependents.entry(dep).or_default().push(key);
                } else if !usable.contains(dep) && !self.is_wanted_by(client, dep) {
                    blocked = true;
                }
            }
            match (blocked, waits) {
                (true, _) => waits = usize::MAX,
                (false, 0) => ready.push(key),
                _ => {}
            }
            pending.insert(key, waits);
        }
        while let Some(key) = ready.pop() {
            usable.insert(key.clone());
            for &dependent in dependents.get(key).into_iter().flatten() {
                let waits = pending.get_mut(dependent).expect("a candidate");
                if *waits != usize::MAX {
                    *waits -= 1;
                    if *waits == 0 {
                        ready.push(dependent);
                    }
                }
            }
        }
        usable
    }
}
