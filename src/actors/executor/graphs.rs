//! Task graphs on the cluster: `get` a graph's outputs, or submit it and keep futures.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::future::Future;
use super::state::KeyState;
use super::Executor;
use crate::function::EncodedValue;
use crate::graph::{Graph, GraphError, Keys};
use crate::ids::TaskKey;
use crate::messages::executor_link::ExecutorToScheduler;
use crate::messages::tasks::NewTaskMsg;
use crate::runner::Runner;

impl Executor {
    /// Runs `graph` on the cluster and returns the value of `keys`: a `T` for one key, a
    /// `Vec<T>` for a list or array of keys. Only what the keys need runs; intermediates are
    /// freed as soon as nothing needs them.
    ///
    /// ```no_run
    /// use taskforce::graph::{key, task, Graph};
    /// # #[taskforce::remote] fn inc(x: i64) -> i64 { x + 1 }
    /// # let executor = taskforce::Executor::connect("127.0.0.1:8787")?;
    /// let mut dsk = Graph::new();
    /// dsk.insert("a", task!(inc, 1));
    /// dsk.insert("b", task!(inc, key!("a")));
    /// let b: i64 = executor.get(&dsk, "b")?;
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    ///
    /// On the thread of a current-thread tokio runtime this fails with
    /// [`crate::Error::BlockingInAsync`]: await [`Executor::get_async`] there.
    pub fn get<T, K>(&self, graph: &Graph, keys: K) -> crate::Result<K::Output<T>>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
        K: Keys,
    {
        super::blocking::check_may_block("get", "get_async(..).await")?;
        Runner::get(self, graph, keys)
    }

    /// Starts what `outputs` need of `graph` and returns a future per output, without
    /// waiting. The values stay on the cluster while the futures live.
    pub fn submit_graph<T>(
        &self,
        graph: &Graph,
        outputs: &[TaskKey],
    ) -> crate::Result<Vec<Future<T>>> {
        let shared = &self.inner.shared;
        let missing_output = outputs
            .iter()
            .find(|key| !graph.contains(key) && !shared.holds(key));
        if let Some(key) = missing_output {
            return Err(GraphError::UnknownOutput { key: key.clone() }.into());
        }
        let culled = graph.cull(outputs);
        culled.validate(outputs, &|key| shared.holds(key))?;
        let functions: BTreeSet<_> = culled
            .iter()
            .map(|(_, task)| task.function().clone())
            .collect();
        for function in &functions {
            self.check_function(function)?;
        }
        let order = culled.order(outputs);
        let base = self.inner.next_order(culled.len());
        let mut tasks = Vec::with_capacity(culled.len());
        for (key, task) in culled.iter() {
            if shared.holds(key) {
                continue;
            }
            let body = task.to_body()?;
            tasks.push(NewTaskMsg {
                key: key.clone(),
                function: body.function.clone(),
                deps: task.dependencies(),
                spec: body.to_spec()?,
                order: base + order.get(key).copied().unwrap_or(0),
                restrictions: None,
            });
        }
        let mut futures = Vec::with_capacity(outputs.len());
        let mut wanted = Vec::new();
        for key in outputs {
            let (future, is_new) = self.future_for::<T>(key.clone());
            if is_new {
                wanted.push(key.clone());
            }
            futures.push(future);
        }
        let update = ExecutorToScheduler::UpdateGraph { tasks, wanted };
        self.inner.to_scheduler(update);
        Ok(futures)
    }

    /// Starts a lazy value (a `Delayed`, later a collection) on the cluster and returns a
    /// future for it without waiting; the value stays on the cluster while the future lives.
    ///
    /// ```no_run
    /// # use taskforce::{delayed, remote, Executor};
    /// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
    /// # let executor = Executor::connect("127.0.0.1:8787")?;
    /// let lazy = delayed(inc, (1,));
    /// let future = executor.compute(&lazy)?;
    /// assert_eq!(future.result()?, 2);
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn compute<L: crate::runner::Lazy>(&self, lazy: &L) -> crate::Result<Future<L::Output>> {
        let key = lazy.output_key();
        let mut futures = self.submit_graph(&lazy.to_graph(), std::slice::from_ref(&key))?;
        Ok(futures.pop().expect("one output"))
    }

    /// Waits for the futures and brings their values here undecoded.
    pub(crate) fn gather_encoded<T>(
        &self,
        futures: &[Future<T>],
    ) -> crate::Result<Vec<EncodedValue>> {
        let states: Vec<Arc<KeyState>> = futures.iter().map(|f| f.state().clone()).collect();
        self.inner.wait_for(&states);
        self.inner.fetch_encoded(&states)
    }
}
