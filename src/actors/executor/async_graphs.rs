//! Task graphs inside async Rust: [`Executor::get_async`], and the executor and the local
//! threaded scheduler as [`AsyncRunner`]s, which the `compute_async` twins of delayed values
//! and collections take. (The blocking [`Runner`] of the executor is here too, beside its
//! twin: `src/runner.rs` must name no runtime.)
//!
//! Submitting a graph never waits on the cluster; only bringing the outputs home does, and
//! that is awaited here on the key states the executor's actor updates.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::Executor;
use crate::function::Stored;
use crate::graph::{Graph, Keys};
use crate::ids::TaskKey;
use crate::runner::{typed, AsyncRunner, RunGraph, Runner};

impl Executor {
    /// [`Executor::get`] without blocking the calling task: runs `graph` on the cluster and
    /// resolves to the value of `keys` (a `T` for one key, a `Vec<T>` for a list).
    ///
    /// ```no_run
    /// use taskforce::graph::{key, task, Graph};
    /// # #[taskforce::remote] fn inc(x: i64) -> i64 { x + 1 }
    /// # async fn run(executor: taskforce::Executor) -> taskforce::Result<()> {
    /// let mut dsk = Graph::new();
    /// dsk.insert("a", task!(inc, 1));
    /// dsk.insert("b", task!(inc, key!("a")));
    /// let b: i64 = executor.get_async(&dsk, "b").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_async<T, K>(&self, graph: &Graph, keys: K) -> crate::Result<K::Output<T>>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
        K: Keys,
    {
        let keys = keys.into_keys();
        let values = self.run_graph_async(graph.clone(), keys.clone()).await?;
        typed::<T, K>(&keys, values)
    }
}

impl AsyncRunner for Executor {
    fn run_graph_async(&self, graph: Graph, outputs: Vec<TaskKey>) -> RunGraph<'_> {
        Box::pin(async move {
            let futures = self.submit_graph::<()>(&graph, &outputs)?;
            let states: Vec<_> = futures.iter().map(|f| f.state().clone()).collect();
            let values = self.inner.fetch_encoded_async(&states).await?;
            drop(futures); // only now: the values are home
            Ok(values
                .into_iter()
                .map(|value| Stored::Encoded(Arc::new(value)))
                .collect())
        })
    }
}

impl Runner for Executor {
    /// On the thread of a current-thread tokio runtime this fails with
    /// [`crate::Error::BlockingInAsync`]: await `compute_async` there.
    fn run_graph(&self, graph: &Graph, outputs: &[TaskKey]) -> crate::Result<Vec<Stored>> {
        super::blocking::check_may_block("compute", "compute_async(..).await")?;
        let futures = self.submit_graph::<()>(graph, outputs)?;
        let values = self.gather_encoded(&futures)?;
        Ok(values
            .into_iter()
            .map(|value| Stored::Encoded(Arc::new(value)))
            .collect())
    }
}

impl AsyncRunner for crate::threaded::Threaded {
    /// Runs the graph on a thread of its own and awaits its end.
    fn run_graph_async(&self, graph: Graph, outputs: Vec<TaskKey>) -> RunGraph<'_> {
        let threaded = *self;
        Box::pin(super::blocking::on_own_thread(
            "taskforce-threaded",
            move || threaded.run_graph(&graph, &outputs),
        ))
    }
}
