//! Checks a graph before anything runs: every requested output is a task, every argument was
//! encoded, every dependency is a task or known outside the graph, and there is no cycle.
//! Each failure is a [`GraphError`] naming the keys involved.
//!
//! Pure computation over the graph; knows nothing about how tasks run.

use std::collections::VecDeque;

use super::index::GraphIndex;
use super::Graph;
use crate::ids::TaskKey;
use crate::messages::CodecError;

/// A graph that can't run as given. Retrying never helps: the graph itself must change.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphError {
    /// A requested output is not a task of the graph (nor known outside it).
    #[error("output {key} is not a task of the graph")]
    UnknownOutput {
        /// The output asked for.
        key: TaskKey,
    },
    /// A task depends on a key that is neither a task of the graph nor known outside it.
    #[error("task {needed_by} depends on {key}, which is neither a task of the graph nor known outside it")]
    MissingDependency {
        /// The key nobody has.
        key: TaskKey,
        /// A task that needs it (the first by key).
        needed_by: TaskKey,
    },
    /// Tasks depend on each other in a cycle.
    #[error("dependency cycle: {}", cycle_text(.keys))]
    Cycle {
        /// The tasks on one cycle, each depending on the next and the last on the first,
        /// starting from the smallest key.
        keys: Vec<TaskKey>,
    },
    /// An argument of a task could not be encoded.
    #[error("could not encode an argument of task {key}: {source}")]
    Codec {
        /// The task.
        key: TaskKey,
        /// Why.
        #[source]
        source: CodecError,
    },
}

fn cycle_text(keys: &[TaskKey]) -> String {
    let mut text: Vec<&str> = keys.iter().map(TaskKey::as_str).collect();
    text.extend(keys.first().map(TaskKey::as_str));
    text.join(" -> ")
}

impl Graph {
    /// Checks that the graph can compute `outputs`: each is a task (or a key `external`
    /// knows), every argument encoded, every dependency a task or a key `external` knows
    /// (futures on a cluster, say), and no cycle. The whole graph is checked; [`Graph::cull`] first to check only what the
    /// outputs need.
    ///
    /// ```
    /// use taskforce::graph::{key, task, Graph, GraphError};
    /// # #[taskforce::remote] fn inc(x: i64) -> i64 { x + 1 }
    /// let mut dsk = Graph::new();
    /// dsk.insert("a", task!(inc, key!("b")));
    /// dsk.insert("b", task!(inc, key!("a")));
    /// let err = dsk.validate(&[key!("a")], &|_| false).unwrap_err();
    /// assert!(matches!(&err, GraphError::Cycle { keys } if keys.len() == 2));
    /// assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
    /// ```
    pub fn validate(
        &self,
        outputs: &[TaskKey],
        external: &dyn Fn(&TaskKey) -> bool,
    ) -> Result<(), GraphError> {
        if let Some(key) = outputs
            .iter()
            .find(|key| !self.contains(key) && !external(key))
        {
            return Err(GraphError::UnknownOutput { key: key.clone() });
        }
        validate_indexed(&GraphIndex::new(self), external)
    }
}

/// The checks after the outputs: encoding, missing dependencies, cycles.
pub(crate) fn validate_indexed(
    index: &GraphIndex<'_>,
    external: &dyn Fn(&TaskKey) -> bool,
) -> Result<(), GraphError> {
    let unencoded = (index.keys.iter().zip(&index.tasks))
        .filter_map(|(key, task)| Some((*key, task.encoding_error()?)))
        .min_by_key(|(key, _)| *key);
    if let Some((key, error)) = unencoded {
        return Err(GraphError::Codec {
            key: key.clone(),
            source: error.clone(),
        });
    }
    let missing = (index.outside.iter())
        .filter(|(_, key)| !external(key))
        .min_by_key(|(at, _)| index.keys[*at as usize]);
    if let Some((at, key)) = missing {
        return Err(GraphError::MissingDependency {
            key: (*key).clone(),
            needed_by: index.keys[*at as usize].clone(),
        });
    }
    match find_cycle(index) {
        Some(keys) => Err(GraphError::Cycle { keys }),
        None => Ok(()),
    }
}

/// One cycle of the graph, if there is one (Kahn's algorithm, then a walk among the tasks it
/// could not order).
fn find_cycle(index: &GraphIndex<'_>) -> Option<Vec<TaskKey>> {
    let mut waiting: Vec<usize> = index.deps.iter().map(Vec::len).collect();
    let mut ready: VecDeque<u32> = (0..index.len() as u32)
        .filter(|&at| waiting[at as usize] == 0)
        .collect();
    while let Some(task) = ready.pop_front() {
        for &dependent in &index.dependents[task as usize] {
            waiting[dependent as usize] -= 1;
            if waiting[dependent as usize] == 0 {
                ready.push_back(dependent);
            }
        }
    }
    let start = (0..index.len())
        .filter(|&at| waiting[at] > 0)
        .min_by_key(|&at| index.keys[at])?;
    Some(cycle_from(index, &waiting, start as u32))
}

/// Walks from `start` through dependencies that are still waiting (each such task has one)
/// until a task repeats; the tasks from its first visit on form a cycle.
fn cycle_from(index: &GraphIndex<'_>, waiting: &[usize], start: u32) -> Vec<TaskKey> {
    let mut path: Vec<u32> = Vec::new();
    let mut seen_at: crate::ids::Map<u32, usize> = crate::ids::Map::default();
    let mut task = start;
    while !seen_at.contains_key(&task) {
        seen_at.insert(task, path.len());
        path.push(task);
        task = *index.deps[task as usize]
            .iter()
            .find(|&&dep| waiting[dep as usize] > 0)
            .expect("a task left waiting has a dependency left waiting");
    }
    let mut cycle = path.split_off(seen_at[&task]);
    let smallest = (0..cycle.len())
        .min_by_key(|&i| index.keys[cycle[i] as usize])
        .unwrap_or(0);
    cycle.rotate_left(smallest);
    cycle
        .into_iter()
        .map(|at| index.keys[at as usize].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::GraphError;
    use crate::graph::testing::{reads, unencodable};
    use crate::graph::Graph;
    use crate::ids::TaskKey;

    fn keys(names: &[&str]) -> Vec<TaskKey> {
        names.iter().map(|k| TaskKey::from(*k)).collect()
    }

    #[test]
    fn a_sound_graph_passes() {
        let mut graph = Graph::new();
        graph.insert("a", reads(&[]));
        graph.insert("b", reads(&["a", "ext"]));
        let known = |key: &TaskKey| key.as_str() == "ext";
        assert!(graph.validate(&keys(&["b"]), &known).is_ok());
    }

    #[test]
    fn a_missing_key_names_it_and_a_task_that_needs_it() {
        let mut graph = Graph::new();
        graph.insert("z", reads(&["gone"]));
        graph.insert("b", reads(&["a", "gone"]));
        graph.insert("a", reads(&[]));
        let err = graph.validate(&keys(&["b"]), &|_| false).unwrap_err();
        assert!(
            matches!(&err, GraphError::MissingDependency { key, needed_by }
                if key.as_str() == "gone" && needed_by.as_str() == "b"),
            "{err}"
        );
        assert!(err.to_string().contains("task b depends on gone"), "{err}");
    }

    #[test]
    fn a_cycle_names_exactly_its_keys() {
        let mut graph = Graph::new();
        graph.insert("a", reads(&["d"]));
        graph.insert("d", reads(&["c"]));
        graph.insert("c", reads(&["b", "x"]));
        graph.insert("b", reads(&["d"]));
        graph.insert("x", reads(&[]));
        let err = graph.validate(&keys(&["a"]), &|_| false).unwrap_err();
        let GraphError::Cycle { keys: cycle } = &err else {
            panic!("expected a cycle, got {err}");
        };
        assert_eq!(cycle, &keys(&["b", "d", "c"]));
        assert_eq!(err.to_string(), "dependency cycle: b -> d -> c -> b");
    }

    #[test]
    fn a_task_reading_itself_is_a_cycle() {
        let mut graph = Graph::new();
        graph.insert("a", reads(&["a"]));
        let err = graph.validate(&[], &|_| false).unwrap_err();
        assert!(matches!(err, GraphError::Cycle { keys } if keys == vec![TaskKey::from("a")]));
    }

    #[test]
    fn an_unknown_output_and_an_unencodable_argument_are_named() {
        let mut graph = Graph::new();
        graph.insert("a", reads(&[]));
        let err = graph.validate(&keys(&["a", "nope"]), &|_| false);
        assert!(matches!(err, Err(GraphError::UnknownOutput { key }) if key.as_str() == "nope"));
        let known = |key: &TaskKey| key.as_str() == "nope";
        assert!(graph.validate(&keys(&["a", "nope"]), &known).is_ok());
        graph.insert("bad", unencodable());
        let err = graph.validate(&keys(&["a"]), &|_| false);
        assert!(matches!(err, Err(GraphError::Codec { key, .. }) if key.as_str() == "bad"));
    }
}
