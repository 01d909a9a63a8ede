//! [`Runner`]: anything that runs task graphs — an [`Executor`](crate::Executor) on a
//! cluster, or [`Threaded`](crate::threaded::Threaded) on local threads — so `compute` of a
//! delayed value or a collection takes either. [`AsyncRunner`] is the same inside async
//! Rust, for the `compute_async` twins.

use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;

use crate::function::Stored;
use crate::graph::{Graph, Keys};
use crate::ids::TaskKey;

/// A lazy value: a graph and the key of its output (a `Delayed`, later a collection's
/// reduction). `Executor::compute` starts one and gives its future.
pub trait Lazy {
    /// The type of the value.
    type Output;
    /// The graph that computes it.
    fn to_graph(&self) -> Graph;
    /// The key of the value in that graph.
    fn output_key(&self) -> TaskKey;
}

/// Runs task graphs.
pub trait Runner {
    /// Runs what `outputs` need of `graph` and returns their values, in order.
    fn run_graph(&self, graph: &Graph, outputs: &[TaskKey]) -> crate::Result<Vec<Stored>>;

    /// Runs the graph and returns the value of `keys`: a `T` for one key, a `Vec<T>` for a
    /// list or array of keys.
    fn get<T, K>(&self, graph: &Graph, keys: K) -> crate::Result<K::Output<T>>
    where
        Self: Sized,
        T: DeserializeOwned + Clone + Send + Sync + 'static,
        K: Keys,
    {
        let keys = keys.into_keys();
        let values = self.run_graph(graph, &keys)?;
        typed::<T, K>(&keys, values)
    }
}

/// What [`AsyncRunner::run_graph_async`] returns: the values of the outputs, in order.
pub type RunGraph<'a> = Pin<Box<dyn Future<Output = crate::Result<Vec<Stored>>> + Send + 'a>>;

/// Runs task graphs without blocking the calling task: what the `compute_async` twins of
/// delayed values and collections take. An [`Executor`](crate::Executor) waits on the
/// cluster's reports; [`Threaded`](crate::threaded::Threaded) runs the graph on a thread of
/// its own. The futures need no particular async runtime. (Both implementations live with
/// the executor, in `actors/executor/async_graphs.rs`: this file stays free of runtimes.)
///
/// ```no_run
/// # use taskforce::{delayed, remote, Executor};
/// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
/// # async fn run(executor: Executor) -> taskforce::Result<()> {
/// let two = delayed(inc, (1,));
/// assert_eq!(two.compute_async(&executor).await?, 2);
/// assert_eq!(two.compute_async(&taskforce::threaded::Threaded::default()).await?, 2);
/// # Ok(()) }
/// ```
pub trait AsyncRunner: Sync {
    /// Runs what `outputs` need of `graph` and resolves to their values, in order.
    fn run_graph_async(&self, graph: Graph, outputs: Vec<TaskKey>) -> RunGraph<'_>;
}

/// Reads each output as a `T` and assembles them as `keys` asks (one value or a list).
pub(crate) fn typed<T, K>(keys: &[TaskKey], values: Vec<Stored>) -> crate::Result<K::Output<T>>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
    K: Keys,
{
    let typed = keys
        .iter()
        .zip(values)
        .map(|(key, value)| {
            value
                .read::<T>()
                .map(std::borrow::Cow::into_owned)
                .map_err(|source| crate::Error::Value {
                    key: key.clone(),
                    source,
                })
        })
        .collect::<crate::Result<Vec<T>>>()?;
    Ok(K::assemble(typed))
}

impl Runner for crate::threaded::Threaded {
    fn run_graph(&self, graph: &Graph, outputs: &[TaskKey]) -> crate::Result<Vec<Stored>> {
        Ok(self
            .run(graph, outputs)?
            .into_iter()
            .map(Stored::Object)
            .collect())
    }
}
