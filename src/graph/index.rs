//! A dense numbering of a graph's tasks with dependency and dependent lists, shared by
//! validation, ordering and the threaded scheduler so each is a walk over integers.
//!
//! The numbering follows the graph's (unspecified) iteration order; wherever a choice must be
//! deterministic, users of the index decide by key, not by number.
//!
//! Internal to the crate; depends only on the graph itself.

use super::{Graph, GraphTask};
use crate::function::ArgSpec;
use crate::ids::{Map, Set, TaskKey};

/// Tasks numbered `0..len`.
pub(crate) struct GraphIndex<'g> {
    /// Each task's key.
    pub(crate) keys: Vec<&'g TaskKey>,
    /// Each task.
    pub(crate) tasks: Vec<&'g GraphTask>,
    /// Each task's dependencies inside the graph, each once, in first-use order.
    pub(crate) deps: Vec<Vec<u32>>,
    /// Each task's dependents, ascending.
    pub(crate) dependents: Vec<Vec<u32>>,
    /// Dependencies not in the graph: (the task that needs it, the key), in task order.
    pub(crate) outside: Vec<(u32, &'g TaskKey)>,
    position: Map<&'g TaskKey, u32>,
}

impl<'g> GraphIndex<'g> {
    /// Numbers `graph`'s tasks and links them.
    pub(crate) fn new(graph: &'g Graph) -> Self {
        let (keys, tasks): (Vec<&TaskKey>, Vec<&GraphTask>) = graph.iter().unzip();
        let position: Map<&TaskKey, u32> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (*key, i as u32))
            .collect();
        let mut index = GraphIndex {
            deps: Vec::with_capacity(keys.len()),
            dependents: vec![Vec::new(); keys.len()],
            outside: Vec::new(),
            keys,
            tasks,
            position,
        };
        index.link();
        index
    }

    fn link(&mut self) {
        for (at, task) in self.tasks.iter().enumerate() {
            let mut deps: Vec<u32> = Vec::new();
            // Linear search for a few keys; a set for a reduction over many.
            let many = task
                .args()
                .iter()
                .map(|arg| arg.keys().len())
                .sum::<usize>()
                > 16;
            let mut seen: Option<Set<u32>> = many.then(Set::default);
            for key in task.args().iter().flat_map(ArgSpec::keys) {
                let Some(&dep) = self.position.get(key) else {
                    self.outside.push((at as u32, key));
                    continue;
                };
                let first_use = match &mut seen {
                    Some(seen) => seen.insert(dep),
                    None => !deps.contains(&dep),
                };
                if first_use {
                    deps.push(dep);
                }
            }
            for &dep in &deps {
                self.dependents[dep as usize].push(at as u32);
            }
            self.deps.push(deps);
        }
    }

    /// How many tasks.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The number of `key`, if it is a task of the graph.
    pub(crate) fn get(&self, key: &TaskKey) -> Option<u32> {
        self.position.get(key).copied()
    }
}
