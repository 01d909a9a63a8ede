//! `taskforce::delayed`: build task graphs lazily from ordinary-looking calls, as
//! `dask.delayed` (once `dask.imperative.do`) does.
//!
//! ```no_run
//! use taskforce::{delayed, remote, threaded::Threaded};
//! #[remote] fn inc(x: i64) -> i64 { x + 1 }
//! #[remote] fn add(x: i64, y: i64) -> i64 { x + y }
//! let a = delayed(inc, (1,));         // Delayed<i64>: nothing runs yet
//! let c = delayed(add, (&a, &a));     // a Delayed is an argument like a Future
//! assert_eq!(c.compute(&Threaded::default())?, 4);
//! # Ok::<(), taskforce::Error>(())
//! ```
//!
//! Builds graphs only: it never touches actors or sockets.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::function::task::{fresh_key, pure_key};
use crate::function::{encode_value, ArgSpec, RemoteFunction};
use crate::graph::{Graph, GraphTask};
use crate::ids::{Set, TaskKey};
use crate::messages::CodecError;
use crate::runner::{AsyncRunner, Runner};

/// One lazy call and the calls it reads.
#[derive(Debug)]
pub struct Node {
    key: TaskKey,
    task: GraphTask,
    inputs: Vec<Arc<Node>>,
}

/// A value that will come from a lazy call; nothing runs until `compute` or `persist`.
pub struct Delayed<T> {
    node: Arc<Node>,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: self.node.clone(),
            _value: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Delayed({})", self.node.key)
    }
}

/// Calls `f` lazily on `args` (values, `&Delayed`, `&Future`, or `&Vec` of either).
/// The key is deterministic: the same call on the same arguments is the same task.
pub fn delayed<F, A>(f: F, args: A) -> Delayed<F::Output>
where
    F: RemoteFunction,
    A: IntoDelayedArgs<F::Args>,
{
    let (task, inputs) = match args.into_delayed_args() {
        Ok((specs, inputs)) => (GraphTask::from_specs(&f, specs), inputs),
        Err(error) => (
            GraphTask::from_specs(&f, Vec::new()).with_error(error),
            Vec::new(),
        ),
    };
    let key = match task.to_body().and_then(|body| body.to_spec()) {
        Ok(spec) => pure_key(f.short_name(), &spec),
        Err(_) => fresh_key(f.short_name()),
    };
    Delayed {
        node: Arc::new(Node { key, task, inputs }),
        _value: PhantomData,
    }
}

impl<T> Delayed<T> {
    /// The key its value will have.
    pub fn key(&self) -> &TaskKey {
        &self.node.key
    }

    /// The graph of this call and everything it reads.
    pub fn graph(&self) -> Graph {
        let mut graph = Graph::new();
        let mut seen: Set<TaskKey> = Set::default();
        let mut stack = vec![self.node.clone()];
        while let Some(node) = stack.pop() {
            if !seen.insert(node.key.clone()) {
                continue;
            }
            graph.insert(node.key.clone(), node.task.clone());
            stack.extend(node.inputs.iter().cloned());
        }
        graph
    }

    /// A picture of [`Delayed::graph`] in Graphviz's DOT language (see
    /// [`crate::graph::render_svg`] for SVG).
    pub fn to_dot(&self) -> String {
        self.graph().to_dot()
    }
}

impl<T: DeserializeOwned + Clone + Send + Sync + 'static> Delayed<T> {
    /// Runs the graph on `runner` (an `Executor` or `threaded::Threaded`) and returns the value.
    pub fn compute<R: Runner>(&self, runner: &R) -> crate::Result<T> {
        runner.get(&self.graph(), self.key().clone())
    }

    /// [`Delayed::compute`] without blocking the calling task (an `Executor` or
    /// `threaded::Threaded`, as an [`AsyncRunner`]).
    pub async fn compute_async<R: AsyncRunner>(&self, runner: &R) -> crate::Result<T> {
        let key = self.key().clone();
        let values = runner
            .run_graph_async(self.graph(), vec![key.clone()])
            .await?;
        crate::runner::typed::<T, TaskKey>(&[key], values)
    }

    /// Starts the graph on the cluster and returns a future for the value, which stays there
    /// (the same as `executor.compute(&self)`).
    pub fn persist(&self, executor: &crate::Executor) -> crate::Result<crate::Future<T>> {
        executor.compute(self)
    }
}

impl<T> crate::runner::Lazy for Delayed<T> {
    type Output = T;

    fn to_graph(&self) -> Graph {
        self.graph()
    }

    fn output_key(&self) -> TaskKey {
        self.key().clone()
    }
}

/// Something that stands for an argument of type `T` in a delayed call.
pub trait DelayedArg<T> {
    /// The argument as it travels; lazy inputs it reads go into `inputs`.
    fn into_delayed_arg(self, inputs: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError>;
}

impl<T: Serialize + 'static> DelayedArg<T> for T {
    fn into_delayed_arg(self, _: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        encode_value(&self).map(ArgSpec::Value)
    }
}

impl DelayedArg<String> for &str {
    fn into_delayed_arg(self, _: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        encode_value(&self.to_string()).map(ArgSpec::Value)
    }
}

impl<T> DelayedArg<T> for &Delayed<T> {
    fn into_delayed_arg(self, inputs: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        inputs.push(self.node.clone());
        Ok(ArgSpec::Key(self.node.key.clone()))
    }
}

impl<T> DelayedArg<T> for Delayed<T> {
    fn into_delayed_arg(self, inputs: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        (&self).into_delayed_arg(inputs)
    }
}

impl<T> DelayedArg<Vec<T>> for &[Delayed<T>] {
    fn into_delayed_arg(self, inputs: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        inputs.extend(self.iter().map(|d| d.node.clone()));
        Ok(ArgSpec::Keys(
            self.iter().map(|d| d.node.key.clone()).collect(),
        ))
    }
}

impl<T> DelayedArg<Vec<T>> for &Vec<Delayed<T>> {
    fn into_delayed_arg(self, inputs: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        self.as_slice().into_delayed_arg(inputs)
    }
}

impl<T> DelayedArg<T> for &crate::Future<T> {
    fn into_delayed_arg(self, _: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        Ok(ArgSpec::Key(self.key().clone()))
    }
}

impl<T> DelayedArg<Vec<T>> for &Vec<crate::Future<T>> {
    fn into_delayed_arg(self, _: &mut Vec<Arc<Node>>) -> Result<ArgSpec, CodecError> {
        Ok(ArgSpec::Keys(
            self.iter().map(|f| f.key().clone()).collect(),
        ))
    }
}

/// A tuple of [`DelayedArg`]s standing for the parameter tuple `Args`.
pub trait IntoDelayedArgs<Args> {
    /// The arguments as they travel, and the lazy inputs they read.
    fn into_delayed_args(self) -> Result<(Vec<ArgSpec>, Vec<Arc<Node>>), CodecError>;
}

impl IntoDelayedArgs<()> for () {
    fn into_delayed_args(self) -> Result<(Vec<ArgSpec>, Vec<Arc<Node>>), CodecError> {
        Ok((Vec::new(), Vec::new()))
    }
}

macro_rules! into_delayed_args_for_tuples {
    ($(($($param:ident $arg:ident $index:tt),+))+) => {$(
        impl<$($param,)+ $($arg: DelayedArg<$param>,)+> IntoDelayedArgs<($($param,)+)> for ($($arg,)+) {
            fn into_delayed_args(self) -> Result<(Vec<ArgSpec>, Vec<Arc<Node>>), CodecError> {
                let mut inputs = Vec::new();
                let specs = vec![$(self.$index.into_delayed_arg(&mut inputs)?),+];
                Ok((specs, inputs))
            }
        }
    )+};
}

into_delayed_args_for_tuples! {
    (A0 X0 0)
    (A0 X0 0, A1 X1 1)
    (A0 X0 0, A1 X1 1, A2 X2 2)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4, A5 X5 5)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4, A5 X5 5, A6 X6 6)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4, A5 X5 5, A6 X6 6, A7 X7 7)
}
