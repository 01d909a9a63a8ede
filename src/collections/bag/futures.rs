//! `Bag::from_futures`: a bag whose partitions are values already on the cluster, one
//! `Vec` per future. A worker turns each `Vec` into a partition with a kernel for its element
//! type (text and the common numbers); the data never comes to the program.

use std::any::{Any, TypeId};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::chunk::{erased, Chunk};
use super::error::BagError;
use super::lazy::{Bag, Input};
use crate::function::ArgSpec;
use crate::graph::{Graph, GraphTask};
use crate::remote;

/// A partition from a `Vec<String>` on the cluster.
#[remote(name = "taskforce.bag.from_strings")]
pub fn from_strings(items: &[String]) -> Chunk {
    Chunk::Strings(items.to_vec())
}

macro_rules! from_numbers {
    ($($name:ident, $stable:literal, $t:ty);*) => {$(
        /// A partition from a `Vec` of numbers on the cluster.
        #[remote(name = $stable)]
        pub fn $name(items: &[$t]) -> Chunk {
            Chunk::Values(items.iter().map(|x| erased(*x)).collect())
        }
    )*};
}

from_numbers!(
    from_i64s, "taskforce.bag.from_i64s", i64;
    from_u64s, "taskforce.bag.from_u64s", u64;
    from_f64s, "taskforce.bag.from_f64s", f64
);

fn task_for<T: 'static>(arg: ArgSpec) -> Option<GraphTask> {
    let id = TypeId::of::<T>();
    let with = |f: &dyn Fn(Vec<ArgSpec>) -> GraphTask| Some(f(vec![arg.clone()]));
    if id == TypeId::of::<String>() {
        with(&|a| GraphTask::from_specs(&from_strings, a))
    } else if id == TypeId::of::<i64>() {
        with(&|a| GraphTask::from_specs(&from_i64s, a))
    } else if id == TypeId::of::<u64>() {
        with(&|a| GraphTask::from_specs(&from_u64s, a))
    } else if id == TypeId::of::<f64>() {
        with(&|a| GraphTask::from_specs(&from_f64s, a))
    } else {
        None
    }
}

impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> Bag<T> {
    /// A bag with one partition per future, each holding a `Vec<T>` on the cluster (`T` is
    /// `String`, `i64`, `u64` or `f64`). The futures are kept alive as long as the bag.
    pub fn from_futures(futures: &[crate::Future<Vec<T>>]) -> Bag<T> {
        let mut graph = Graph::new();
        let mut inputs = Vec::with_capacity(futures.len());
        for (i, future) in futures.iter().enumerate() {
            let Some(task) = task_for::<T>(ArgSpec::Key(future.key().clone())) else {
                let mut bag = Bag::from_inputs(Vec::new(), Graph::new());
                bag.error = Some(Arc::new(BagError::Type {
                    step: "from_futures",
                    message: format!(
                        "futures of Vec<{}> can't be split on workers (String, i64, u64, f64 can)",
                        std::any::type_name::<T>()
                    ),
                }));
                return bag;
            };
            let key = crate::key!(format!("from_futures-{}", future.key()), i);
            graph.insert(key.clone(), task);
            inputs.push(Input::Key(key));
        }
        let mut bag = Bag::from_inputs(inputs, graph);
        bag.keep = Arc::new(vec![
            Box::new(futures.to_vec()) as Box<dyn Any + Send + Sync>
        ]);
        bag
    }
}
