//! Dask-style task graphs: a [`Graph`] maps [`TaskKey`]s (written with [`key!`]) to
//! [`GraphTask`]s (written with [`task!`]) whose arguments may name other keys.
//!
//! A graph is a plain value: build it, [`validate`](Graph::validate) it, [`cull`](Graph::cull)
//! it to what some outputs need and [`order`](Graph::order) it, then hand it to whatever runs
//! graphs (`taskforce::threaded` on local threads, an executor on a cluster). This module
//! must not depend on actors, sockets or the executor: collections build graphs with it
//! without knowing where they will run.
//!
//! ```
//! use taskforce::graph::{key, task, Graph};
//!
//! #[taskforce::remote]
//! fn inc(x: i64) -> i64 { x + 1 }
//! #[taskforce::remote]
//! fn sum_all(xs: Vec<i64>) -> i64 { xs.iter().sum() }
//!
//! let mut dsk = Graph::new();
//! for i in 0..10 {
//!     dsk.insert(key!("x", i), task!(inc, i));
//! }
//! dsk.insert("total", task!(sum_all, (0..10).map(|i| key!("x", i)).collect::<Vec<_>>()));
//! assert!(dsk.validate(&[key!("total")], &|_| false).is_ok());
//! let total: i64 = taskforce::threaded::get(&dsk, "total")?;
//! assert_eq!(total, 55);
//! # Ok::<(), taskforce::Error>(())
//! ```

mod dot;
mod index;
mod keys;
mod order;
mod outputs;
mod task;
mod validate;

use std::collections::hash_map;

pub(crate) use index::GraphIndex;
pub(crate) use order::order_indexed;
pub(crate) use validate::validate_indexed;

pub use crate::{key, task};
pub use dot::{render_svg, render_svg_with, RenderError};
pub use keys::KeyPart;
pub use outputs::{take_value, KeyLike, Keys};
pub use task::{GraphTask, IntoGraphArg};
pub use validate::GraphError;

use crate::ids::{Map, Set, TaskKey};

/// Items the [`key!`] and [`task!`] expansions refer to. Not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use super::keys::{bare_key, TupleKey};
    pub use super::task::{start_call, ArgProbe, CallBuilder, Uncons, ViaArg, ViaGraphArg};
}

/// A task graph: keys to the tasks that compute them.
///
/// Inserting under an existing key replaces its task, like assigning in a dask dict.
/// Iteration order is unspecified; [`Graph::order`] gives a deterministic one.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    tasks: Map<TaskKey, GraphTask>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Graph::default()
    }

    /// Sets the task computing `key`, returning the task it replaces.
    pub fn insert(&mut self, key: impl Into<TaskKey>, task: GraphTask) -> Option<GraphTask> {
        self.tasks.insert(key.into(), task)
    }

    /// Makes room for `additional` more tasks, so inserting them rehashes nothing.
    pub fn reserve(&mut self, additional: usize) {
        self.tasks.reserve(additional);
    }

    /// Removes the task computing `key`.
    pub fn remove(&mut self, key: &TaskKey) -> Option<GraphTask> {
        self.tasks.remove(key)
    }

    /// The task computing `key`.
    pub fn get(&self, key: &TaskKey) -> Option<&GraphTask> {
        self.tasks.get(key)
    }

    /// Whether `key` is a task of the graph.
    pub fn contains(&self, key: &TaskKey) -> bool {
        self.tasks.contains_key(key)
    }

    /// How many tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether there is no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The keys, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &TaskKey> + '_ {
        self.tasks.keys()
    }

    /// Keys and tasks, in no particular order.
    pub fn iter(&self) -> hash_map::Iter<'_, TaskKey, GraphTask> {
        self.tasks.iter()
    }

    /// Adds every task of `other`, replacing tasks under the same keys.
    pub fn merge(&mut self, other: &Graph) {
        self.tasks.reserve(other.len());
        for (key, task) in other {
            self.tasks.insert(key.clone(), task.clone());
        }
    }

    /// The part of the graph that `outputs` need: the outputs and, transitively, their
    /// dependencies. Keys that are not tasks of the graph are skipped (validate to catch them).
    pub fn cull(&self, outputs: &[TaskKey]) -> Graph {
        let mut kept: Set<&TaskKey> = Set::default();
        let mut to_visit: Vec<&TaskKey> = outputs.iter().collect();
        let mut culled = Graph::new();
        while let Some(key) = to_visit.pop() {
            let Some((key, task)) = self.tasks.get_key_value(key) else {
                continue;
            };
            if !kept.insert(key) {
                continue;
            }
            to_visit.extend(task.args().iter().flat_map(|arg| arg.keys()));
            culled.tasks.insert(key.clone(), task.clone());
        }
        culled
    }
}

impl<'g> IntoIterator for &'g Graph {
    type Item = (&'g TaskKey, &'g GraphTask);
    type IntoIter = hash_map::Iter<'g, TaskKey, GraphTask>;

    fn into_iter(self) -> Self::IntoIter {
        self.tasks.iter()
    }
}

impl IntoIterator for Graph {
    type Item = (TaskKey, GraphTask);
    type IntoIter = hash_map::IntoIter<TaskKey, GraphTask>;

    fn into_iter(self) -> Self::IntoIter {
        self.tasks.into_iter()
    }
}

impl<K: Into<TaskKey>> FromIterator<(K, GraphTask)> for Graph {
    fn from_iter<I: IntoIterator<Item = (K, GraphTask)>>(iter: I) -> Self {
        let mut graph = Graph::new();
        graph.extend(iter);
        graph
    }
}

impl<K: Into<TaskKey>> Extend<(K, GraphTask)> for Graph {
    fn extend<I: IntoIterator<Item = (K, GraphTask)>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.tasks.reserve(iter.size_hint().0);
        for (key, task) in iter {
            self.insert(key, task);
        }
    }
}

/// Remote functions and task builders for the unit tests of `graph` and `threaded`.
#[cfg(test)]
pub(crate) mod testing {
    use serde::{Deserialize, Serialize, Serializer};

    use super::GraphTask;
    use crate::function::ArgSpec;
    use crate::ids::FunctionId;
    use crate::ids::TaskKey;

    /// A task of a function that doesn't exist, reading the given keys (one argument each).
    pub(crate) fn reads(keys: &[&str]) -> GraphTask {
        let args = keys
            .iter()
            .map(|k| ArgSpec::Key(TaskKey::from(*k)))
            .collect();
        GraphTask::new(FunctionId::new("f", 1), "f", args)
    }

    /// A value whose encoding always fails.
    #[derive(Clone, Debug, Deserialize)]
    pub(crate) struct Unencodable;

    impl Serialize for Unencodable {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refuses to be encoded"))
        }
    }

    #[crate::remote]
    pub(crate) fn takes_unencodable(value: Unencodable) -> i64 {
        std::mem::size_of_val(&value) as i64
    }

    #[crate::remote]
    pub(crate) fn inc(x: i64) -> i64 {
        x + 1
    }

    #[crate::remote]
    pub(crate) fn add(x: i64, y: i64) -> i64 {
        x + y
    }

    #[crate::remote]
    pub(crate) fn sum_all(xs: Vec<i64>) -> i64 {
        xs.iter().sum()
    }

    #[crate::remote]
    pub(crate) fn checked_half(x: i64) -> Result<i64, String> {
        if x % 2 == 0 {
            Ok(x / 2)
        } else {
            Err(format!("{x} is odd"))
        }
    }

    #[crate::remote]
    pub(crate) fn boom(x: i64) -> i64 {
        panic!("boom at {x}")
    }

    /// A task with an argument that could not be encoded.
    pub(crate) fn unencodable() -> GraphTask {
        crate::task!(takes_unencodable, Unencodable)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::reads;
    use super::*;

    fn sorted(graph: &Graph) -> Vec<&str> {
        let mut keys: Vec<&str> = graph.keys().map(TaskKey::as_str).collect();
        keys.sort();
        keys
    }

    #[test]
    fn cull_keeps_what_the_outputs_need() {
        let mut graph = Graph::new();
        graph.insert("a", reads(&[]));
        graph.insert("b", reads(&["a", "outside"]));
        graph.insert("c", reads(&["b", "a"]));
        graph.insert("unused", reads(&["a"]));
        graph.insert("other", reads(&[]));
        assert_eq!(sorted(&graph.cull(&["c".into()])), ["a", "b", "c"]);
        assert_eq!(
            sorted(&graph.cull(&["b".into(), "other".into()])),
            ["a", "b", "other"]
        );
        assert!(graph.cull(&["nope".into()]).is_empty());
    }

    #[test]
    fn merge_and_insert_replace_by_key() {
        let mut graph: Graph = [("a", reads(&[])), ("b", reads(&["a"]))]
            .into_iter()
            .collect();
        let other: Graph = [("b", reads(&[])), ("c", reads(&["b"]))]
            .into_iter()
            .collect();
        graph.merge(&other);
        assert_eq!(sorted(&graph), ["a", "b", "c"]);
        assert!(graph.get(&"b".into()).unwrap().dependencies().is_empty());
        assert!(graph.insert("c", reads(&["a"])).is_some());
        assert_eq!(
            graph.get(&"c".into()).unwrap().dependencies(),
            vec!["a".into()]
        );
    }
}
