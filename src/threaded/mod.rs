//! The local threaded scheduler: runs a [`Graph`] on a pool of threads in this process, with
//! no cluster and no sockets, like dask's `threaded.get`.
//!
//! The graph is culled to the outputs, validated, ordered depth first, and run by priority on
//! `nthreads` threads. Values stay Rust objects; each intermediate is dropped as soon as the
//! last task reading it has run. Failures are the same errors a cluster run gives, with
//! worker `w0` standing for this process. Must not depend on actors, sockets or the executor.
//!
//! ```
//! use taskforce::graph::{key, task, Graph};
//! use taskforce::threaded::{self, Threaded};
//!
//! #[taskforce::remote]
//! fn add(x: i64, y: i64) -> i64 { x + y }
//!
//! let mut dsk = Graph::new();
//! dsk.insert("a", task!(add, 1, 2));
//! dsk.insert("b", task!(add, key!("a"), 10));
//! let b: i64 = threaded::get(&dsk, "b")?;
//! let both: Vec<i64> = Threaded { nthreads: 2 }.get(&dsk, ["a", "b"])?;
//! assert_eq!((b, both), (13, vec![3, 13]));
//! # Ok::<(), taskforce::Error>(())
//! ```

mod execute;

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::function::Value;
use crate::graph::{
    order_indexed, take_value, validate_indexed, Graph, GraphError, GraphIndex, Keys,
};
use crate::ids::TaskKey;
use crate::{Error, Result};

/// Runs the graph on [`Threaded::default`] (one thread per core) and returns the value of
/// `keys`: a `T` for one key, a `Vec<T>` for a list or array of keys.
pub fn get<T, K>(graph: &Graph, keys: K) -> Result<K::Output<T>>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
    K: Keys,
{
    Threaded::default().get(graph, keys)
}

/// The local threaded scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threaded {
    /// Threads running tasks (0 counts as 1). Default: the number of cores.
    pub nthreads: usize,
}

impl Default for Threaded {
    fn default() -> Self {
        let nthreads = std::thread::available_parallelism().map_or(1, usize::from);
        Threaded { nthreads }
    }
}

/// What a run measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Tasks that ran.
    pub tasks_run: usize,
    /// The most task values held at once.
    pub peak_values: usize,
    /// The most bytes of task values held at once (as `Value::nbytes` counts them).
    pub peak_bytes: u64,
}

impl Threaded {
    /// A scheduler with `nthreads` threads.
    pub fn new(nthreads: usize) -> Self {
        Threaded { nthreads }
    }

    /// Runs the graph and returns the value of `keys`: a `T` for one key, a `Vec<T>` for a
    /// list or array of keys.
    pub fn get<T, K>(&self, graph: &Graph, keys: K) -> Result<K::Output<T>>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
        K: Keys,
    {
        let keys = keys.into_keys();
        let values = self.run(graph, &keys)?;
        let typed = keys
            .iter()
            .zip(values)
            .map(|(key, value)| take_value::<T>(key, value))
            .collect::<Result<Vec<T>>>()?;
        Ok(K::assemble(typed))
    }

    /// Runs what `outputs` need and returns their values in order (a key asked twice gives
    /// the same value twice).
    pub fn run(&self, graph: &Graph, outputs: &[TaskKey]) -> Result<Vec<Arc<dyn Value>>> {
        self.run_with_stats(graph, outputs)
            .map(|(values, _)| values)
    }

    /// [`Threaded::run`], also saying how many tasks ran and the most values held at once.
    pub fn run_with_stats(
        &self,
        graph: &Graph,
        outputs: &[TaskKey],
    ) -> Result<(Vec<Arc<dyn Value>>, RunStats)> {
        if let Some(key) = outputs.iter().find(|key| !graph.contains(key)) {
            let key = key.clone();
            return Err(GraphError::UnknownOutput { key }.into());
        }
        let culled = graph.cull(outputs);
        let index = GraphIndex::new(&culled);
        validate_indexed(&index, &|_| false).map_err(Error::from)?;
        let outputs: Vec<u32> = outputs
            .iter()
            .map(|key| index.get(key).expect("outputs are in the culled graph"))
            .collect();
        let priority = order_indexed(&index, &outputs);
        let plan = execute::Plan::new(&index, priority, &outputs)?;
        execute::run(&plan, self.nthreads.max(1))
    }
}

#[cfg(test)]
mod tests;
