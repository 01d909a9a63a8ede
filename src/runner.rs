//! [`Runner`]: anything that runs task graphs — an [`Executor`](crate::Executor) on a
//! cluster, or [`Threaded`](crate::threaded::Threaded) on local threads — so `compute` of a
//! delayed value or a collection takes either.

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

impl Runner for crate::Executor {
    fn run_graph(&self, graph: &Graph, outputs: &[TaskKey]) -> crate::Result<Vec<Stored>> {
        let futures = self.submit_graph::<()>(graph, outputs)?;
        let values = self.gather_encoded(&futures)?;
        Ok(values
            .into_iter()
            .map(|value| Stored::Encoded(std::sync::Arc::new(value)))
            .collect())
    }
}
