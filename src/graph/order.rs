//! Static priorities for a graph's tasks, depth first like `dask.order`: from each output,
//! dependencies are visited in argument order and each finished before the next starts, and a
//! task comes right after its last dependency. So a chain `x_i → sum_i` runs as `x_0, sum_0,
//! x_1, sum_1, …`, and each intermediate can be freed as soon as its dependent ran.
//!
//! Iterative (an explicit stack, no recursion) and linear in tasks and edges after the index.
//! Pure computation over the graph; knows nothing about how tasks run.

use super::index::GraphIndex;
use super::Graph;
use crate::ids::{Map, TaskKey};

impl Graph {
    /// A priority per task, lower runs first: a post-order depth-first walk from `outputs` (in
    /// the order given), then from the remaining tasks nothing depends on (by key).
    ///
    /// Every task comes after all of its dependencies (given no cycle: validate first). Ties
    /// between siblings follow argument order, between separate roots key order, so the
    /// result is deterministic.
    ///
    /// ```
    /// use taskforce::graph::{key, task, Graph};
    /// # #[taskforce::remote] fn inc(x: i64) -> i64 { x + 1 }
    /// # #[taskforce::remote] fn sum_all(xs: Vec<i64>) -> i64 { xs.iter().sum() }
    /// let mut dsk = Graph::new();
    /// for i in 0..3 {
    ///     dsk.insert(key!("x", i), task!(inc, i));
    ///     dsk.insert(key!("y", i), task!(inc, key!("x", i)));
    /// }
    /// dsk.insert("total", task!(sum_all, (0..3).map(|i| key!("y", i)).collect::<Vec<_>>()));
    /// let order = dsk.order(&[key!("total")]);
    /// assert!(order[&key!("x", 0)] < order[&key!("y", 0)]);
    /// assert!(order[&key!("y", 0)] < order[&key!("x", 1)]);
    /// ```
    pub fn order(&self, outputs: &[TaskKey]) -> Map<TaskKey, i64> {
        let index = GraphIndex::new(self);
        let outputs: Vec<u32> = outputs.iter().filter_map(|key| index.get(key)).collect();
        let priority = order_indexed(&index, &outputs);
        index
            .keys
            .iter()
            .zip(priority)
            .map(|(key, at)| ((*key).clone(), i64::from(at)))
            .collect()
    }
}

/// The priority of each task of `index` (a permutation of `0..len`), starting from `outputs`.
pub(crate) fn order_indexed(index: &GraphIndex<'_>, outputs: &[u32]) -> Vec<u32> {
    let len = index.len();
    let mut walk = DepthFirst {
        index,
        priority: vec![u32::MAX; len],
        visited: vec![false; len],
        next: 0,
        stack: Vec::new(),
    };
    let mut unneeded: Vec<u32> = (0..len as u32)
        .filter(|&at| index.dependents[at as usize].is_empty())
        .collect();
    unneeded.sort_unstable_by_key(|&at| index.keys[at as usize]);
    // The last pass only matters for tasks on cycles, which no other root reaches.
    for root in outputs.iter().copied().chain(unneeded).chain(0..len as u32) {
        walk.visit_root(root);
    }
    walk.priority
}

/// The state of the post-order walk.
struct DepthFirst<'i, 'g> {
    index: &'i GraphIndex<'g>,
    priority: Vec<u32>,
    visited: Vec<bool>,
    next: u32,
    /// Tasks being visited, each with how many of its dependencies were looked at.
    stack: Vec<(u32, usize)>,
}

impl DepthFirst<'_, '_> {
    fn visit_root(&mut self, root: u32) {
        if std::mem::replace(&mut self.visited[root as usize], true) {
            return;
        }
        self.stack.push((root, 0));
        while let Some(top) = self.stack.last_mut() {
            let (task, cursor) = *top;
            match self.index.deps[task as usize].get(cursor) {
                Some(&dep) => {
                    top.1 += 1;
                    if !std::mem::replace(&mut self.visited[dep as usize], true) {
                        self.stack.push((dep, 0));
                    }
                }
                None => {
                    self.priority[task as usize] = self.next;
                    self.next += 1;
                    self.stack.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::testing::reads;
    use crate::graph::Graph;
    use crate::ids::TaskKey;

    fn sequence(graph: &Graph, outputs: &[&str]) -> Vec<String> {
        let outputs: Vec<TaskKey> = outputs.iter().map(|k| TaskKey::from(*k)).collect();
        let mut ranked: Vec<(i64, TaskKey)> = graph
            .order(&outputs)
            .into_iter()
            .map(|(key, at)| (at, key))
            .collect();
        ranked.sort();
        ranked.into_iter().map(|(_, key)| key.to_string()).collect()
    }

    #[test]
    fn branches_finish_before_the_next_starts() {
        let mut graph = Graph::new();
        for i in 0..3 {
            graph.insert(format!("x{i}"), reads(&[]));
            graph.insert(format!("s{i}"), reads(&[&format!("x{i}")]));
        }
        graph.insert("total", reads(&["s2", "s0", "s1"]));
        assert_eq!(
            sequence(&graph, &["total"]),
            ["x2", "s2", "x0", "s0", "x1", "s1", "total"]
        );
    }

    #[test]
    fn shared_dependencies_come_once_and_first() {
        let mut graph = Graph::new();
        graph.insert("a", reads(&[]));
        graph.insert("b", reads(&["a"]));
        graph.insert("c", reads(&["a", "b"]));
        graph.insert("d", reads(&["c", "a"]));
        graph.insert("lonely", reads(&[]));
        assert_eq!(sequence(&graph, &["d"]), ["a", "b", "c", "d", "lonely"]);
        assert_eq!(
            sequence(&graph, &["lonely", "b"]),
            ["lonely", "a", "b", "c", "d"]
        );
    }

    #[test]
    fn a_long_chain_needs_no_recursion() {
        let mut graph = Graph::new();
        graph.insert("k0", reads(&[]));
        for i in 1..200_000 {
            graph.insert(format!("k{i}"), reads(&[&format!("k{}", i - 1)]));
        }
        let order = graph.order(&[TaskKey::from("k199999")]);
        assert_eq!(order[&TaskKey::from("k0")], 0);
        assert_eq!(order[&TaskKey::from("k199999")], 199_999);
    }

    #[test]
    fn cycles_still_get_a_priority_each() {
        let mut graph = Graph::new();
        graph.insert("a", reads(&["b"]));
        graph.insert("b", reads(&["a"]));
        let order = graph.order(&[]);
        assert_eq!(order.len(), 2);
    }
}
