//! [`Bag`] and [`Item`]: the lazy collection and a lazy value computed from one. Each method
//! records a step or adds a layer of tasks to a graph; `compute` hands the graph to a
//! [`Runner`]. Knows graphs and functions, never actors or sockets.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::chunk::{erased, Chunk};
use super::decode::elements;
use super::error::BagError;
pub use super::item::Item;
use super::kernels::{chunk_pipeline, combine, read_pipeline, Plan};
use super::pipeline::{Step, StepKind};
use super::sink::Terminal;
use super::source::{plan_blocks, TextBlock, TextOptions};
use crate::function::{encode_value, ArgSpec, EncodedValue, RemoteFunction, Stored};
use crate::graph::{Graph, GraphTask};
use crate::ids::TaskKey;
use crate::messages::codec;
use crate::runner::{AsyncRunner, Runner};

/// How many partial results one task of a tree reduction combines, unless set.
pub const DEFAULT_SPLIT_EVERY: usize = 16;

/// Where a partition's elements come from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum Input {
    /// A block of a text file, read by the worker that runs the partition.
    Block(TextBlock),
    /// Elements given by the program.
    Literal(EncodedValue),
    /// The chunk another task made (an aggregate, a persisted partition).
    Key(TaskKey),
}

/// A lazy, partitioned collection of `T`; see the [module docs](super).
pub struct Bag<T> {
    pub(super) inputs: Arc<Vec<Input>>,
    pub(super) steps: Vec<Step>,
    /// Tasks the `Key` inputs come from.
    pub(super) upstream: Arc<Graph>,
    /// `type_name` of the input elements, for frequency tables read as elements.
    pub(super) input_type: &'static str,
    pub(super) error: Option<Arc<BagError>>,
    /// Handles that keep persisted partitions alive on the cluster.
    pub(super) keep: Arc<Vec<Box<dyn Any + Send + Sync>>>,
    pub(super) split_every: usize,
    _element: PhantomData<fn() -> T>,
}

impl<T> Clone for Bag<T> {
    fn clone(&self) -> Self {
        Bag {
            inputs: self.inputs.clone(),
            steps: self.steps.clone(),
            upstream: self.upstream.clone(),
            input_type: self.input_type,
            error: self.error.clone(),
            keep: self.keep.clone(),
            split_every: self.split_every,
            _element: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Bag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bag<{}>({} partitions, {} steps)",
            std::any::type_name::<T>(),
            self.inputs.len(),
            self.steps.len()
        )
    }
}

impl Bag<String> {
    /// The lines of the files matching `pattern` (without their newlines): one partition per
    /// file, or per 64 MiB block of a larger plain file; `.gz` and `.zst` files are
    /// decompressed. Fails now if no file matches; a file that can't be read or isn't UTF-8
    /// fails the computation with its name.
    pub fn read_text(pattern: &str) -> crate::Result<Self> {
        Self::read_text_with(pattern, &TextOptions::default())
    }

    /// [`Bag::read_text`] with a block size and a lossy UTF-8 option.
    pub fn read_text_with(pattern: &str, options: &TextOptions) -> crate::Result<Self> {
        let blocks = plan_blocks(pattern, options)?;
        Ok(Bag::from_inputs(
            blocks.into_iter().map(Input::Block).collect(),
            Graph::new(),
        ))
    }
}

impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> Bag<T> {
    /// A bag of the given elements in `npartitions` partitions of near-equal size.
    pub fn from_sequence(items: impl IntoIterator<Item = T>, npartitions: usize) -> Self {
        let items: Vec<T> = items.into_iter().collect();
        let size = items.len().div_ceil(npartitions.max(1)).max(1);
        let mut error = None;
        let mut inputs = Vec::new();
        let mut rest = items.into_iter().peekable();
        while rest.peek().is_some() {
            let part: Vec<T> = rest.by_ref().take(size).collect();
            match encode_value(&to_chunk(part)) {
                Ok(encoded) => inputs.push(Input::Literal(encoded)),
                Err(e) => error = Some(Arc::new(BagError::Codec(e))),
            }
        }
        let mut bag = Bag::from_inputs(inputs, Graph::new());
        bag.error = error;
        bag
    }
}

/// Elements as a chunk: text stays text, anything else is erased.
fn to_chunk<T: Serialize + Send + Sync + 'static>(items: Vec<T>) -> Chunk {
    let boxed: Box<dyn Any> = Box::new(items);
    match boxed.downcast::<Vec<String>>() {
        Ok(strings) => Chunk::Strings(*strings),
        Err(boxed) => {
            let items = *boxed
                .downcast::<Vec<T>>()
                .expect("the type it was made from");
            Chunk::Values(items.into_iter().map(erased).collect())
        }
    }
}

impl<T> Bag<T> {
    pub(super) fn from_inputs(inputs: Vec<Input>, upstream: Graph) -> Self {
        Bag {
            inputs: Arc::new(inputs),
            steps: Vec::new(),
            upstream: Arc::new(upstream),
            input_type: std::any::type_name::<T>(),
            error: None,
            keep: Arc::new(Vec::new()),
            split_every: DEFAULT_SPLIT_EVERY,
            _element: PhantomData,
        }
    }

    /// How many partitions.
    pub fn npartitions(&self) -> usize {
        self.inputs.len()
    }

    /// The same bag, with tree reductions combining `n` partial results per task (at least 2).
    pub fn split_every(&self, n: usize) -> Self {
        Bag {
            split_every: n.max(2),
            ..self.clone()
        }
    }

    fn with_step<U, F: RemoteFunction>(&self, kind: StepKind, f: &F) -> Bag<U> {
        let mut error = self.error.clone();
        let bound = match f.bound_args() {
            Ok(specs) => specs
                .into_iter()
                .filter_map(|spec| match spec {
                    ArgSpec::Value(v) => Some(v),
                    _ => {
                        error = Some(Arc::new(BagError::BoundFuture {
                            function: f.function_id().name.to_string(),
                        }));
                        None
                    }
                })
                .collect(),
            Err(e) => {
                error = Some(Arc::new(BagError::Codec(e)));
                Vec::new()
            }
        };
        let mut steps = self.steps.clone();
        steps.push(Step {
            kind,
            function: f.function_id().clone(),
            bound,
        });
        Bag {
            inputs: self.inputs.clone(),
            steps,
            upstream: self.upstream.clone(),
            input_type: self.input_type,
            error,
            keep: self.keep.clone(),
            split_every: self.split_every,
            _element: PhantomData,
        }
    }

    /// `f(x)` for every element (fused with the other element-wise steps).
    pub fn map<F: RemoteFunction<Args = (T,)>>(&self, f: F) -> Bag<F::Output> {
        self.with_step(StepKind::Map, &f)
    }

    /// The elements for which `f(x)` is true. A `fn(&str) -> bool` reads lines in place.
    pub fn filter<F: RemoteFunction<Args = (T,), Output = bool>>(&self, f: F) -> Bag<T> {
        self.with_step(StepKind::Filter, &f)
    }

    /// The elements of `f(x)` for every element. `f` returns a `Vec` of strings, numbers,
    /// bools or (String, number) pairs.
    pub fn flat_map<U, F: RemoteFunction<Args = (T,), Output = Vec<U>>>(&self, f: F) -> Bag<U> {
        self.with_step(StepKind::FlatMap, &f)
    }

    fn plan(&self, terminal: Terminal) -> Plan {
        Plan {
            steps: self.steps.clone(),
            terminal,
            pair_type: self.input_type.to_string(),
        }
    }

    fn check(&self) -> Result<(), BagError> {
        match &self.error {
            Some(error) => Err(BagError::Type {
                step: "build",
                message: error.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// One task per partition running the fused steps into `terminal`: the graph (with the
    /// upstream tasks) and the partitions' keys.
    pub(super) fn partition_tasks(
        &self,
        terminal: Terminal,
        name: &str,
    ) -> Result<(Graph, Vec<TaskKey>), BagError> {
        self.check()?;
        let mut graph = (*self.upstream).clone();
        let identity = self.steps.is_empty() && terminal == (Terminal::Collect { limit: None });
        let plan = self.plan(terminal);
        let plan_value = ArgSpec::Value(encode_value(&plan)?);
        let token = token(&(&*self.inputs, &plan))?;
        let mut keys = Vec::with_capacity(self.inputs.len());
        let empty;
        let inputs: &[Input] = if self.inputs.is_empty() {
            empty = [Input::Literal(encode_value(&Chunk::Strings(Vec::new()))?)];
            &empty
        } else {
            &self.inputs
        };
        for (i, input) in inputs.iter().enumerate() {
            let task = match input {
                Input::Key(key) if identity => {
                    keys.push(key.clone());
                    continue;
                }
                Input::Block(block) => GraphTask::from_specs(
                    &read_pipeline,
                    vec![ArgSpec::Value(encode_value(block)?), plan_value.clone()],
                ),
                Input::Literal(chunk) => GraphTask::from_specs(
                    &chunk_pipeline,
                    vec![ArgSpec::Value(chunk.clone()), plan_value.clone()],
                ),
                Input::Key(key) => GraphTask::from_specs(
                    &chunk_pipeline,
                    vec![ArgSpec::Key(key.clone()), plan_value.clone()],
                ),
            };
            let key = crate::key!(format!("{name}-{token}"), i);
            graph.insert(key.clone(), task);
            keys.push(key);
        }
        Ok((graph, keys))
    }

    /// Partial results of `terminal` reduced in a tree to one key.
    fn reduce(
        &self,
        terminal: Terminal,
        name: &str,
        limit: Option<u64>,
    ) -> Result<(Graph, TaskKey), BagError> {
        let (mut graph, mut keys) = self.partition_tasks(terminal, name)?;
        let mut level = 0;
        while keys.len() > 1 {
            let token = token(&keys)?;
            keys = keys
                .chunks(self.split_every)
                .enumerate()
                .map(|(i, group)| {
                    let key = crate::key!(format!("{name}-combine-{level}-{token}"), i);
                    let task = GraphTask::from_specs(
                        &combine,
                        vec![
                            ArgSpec::Keys(group.to_vec()),
                            ArgSpec::Value(encode_value(&limit)?),
                        ],
                    );
                    graph.insert(key.clone(), task);
                    Ok(key)
                })
                .collect::<Result<_, BagError>>()?;
            level += 1;
        }
        Ok((graph, keys.pop().expect("at least one partition task")))
    }

    pub(super) fn item<V>(
        &self,
        terminal: Terminal,
        name: &str,
        decode: fn(Chunk) -> Result<V, BagError>,
    ) -> Item<V> {
        Item {
            built: self.reduce(terminal, name, None).map_err(Arc::new),
            decode,
            keep: self.keep.clone(),
        }
    }

    /// How many elements.
    pub fn count(&self) -> Item<u64> {
        self.item(Terminal::Count, "count", |chunk| match chunk {
            Chunk::Count(n) => Ok(n),
            other => Err(unexpected("count", &other)),
        })
    }

    /// Each distinct element with how many times it occurs, in one partition, in no
    /// particular order (`topk` ranks them).
    pub fn frequencies(&self) -> Bag<(T, u64)> {
        match self.reduce(Terminal::Frequencies, "frequencies", None) {
            Ok((graph, key)) => {
                let mut bag = Bag::from_inputs(vec![Input::Key(key)], graph);
                bag.keep = self.keep.clone();
                bag.split_every = self.split_every;
                bag
            }
            Err(error) => self.failed(error),
        }
    }

    pub(super) fn failed<U>(&self, error: BagError) -> Bag<U> {
        let mut bag = Bag::from_inputs(Vec::new(), Graph::new());
        bag.error = Some(Arc::new(error));
        bag
    }

    /// The graph that collects every partition, and the partitions' keys.
    pub fn to_graph(&self) -> crate::Result<(Graph, Vec<TaskKey>)> {
        Ok(self.partition_tasks(Terminal::Collect { limit: None }, "bag")?)
    }

    /// A picture of [`Self::to_graph`]'s graph in Graphviz's DOT language (see
    /// [`crate::graph::render_svg`] for SVG); the bag's own error if it cannot be built.
    pub fn to_dot(&self) -> crate::Result<String> {
        Ok(self.to_graph()?.0.to_dot())
    }
}

pub(super) fn unexpected(step: &'static str, chunk: &Chunk) -> BagError {
    BagError::Type {
        step,
        message: format!("unexpected {}", chunk.kind()),
    }
}

pub(super) fn token<V: Serialize + ?Sized>(value: &V) -> Result<String, BagError> {
    let bytes = codec::encode(value)?;
    Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)))
}

pub(super) fn chunk_of(stored: &Stored) -> crate::Result<Chunk> {
    stored
        .read::<Chunk>()
        .map(std::borrow::Cow::into_owned)
        .map_err(|e| {
            BagError::Type {
                step: "compute",
                message: e.to_string(),
            }
            .into()
        })
}

impl<T: DeserializeOwned + Clone + Send + Sync + 'static> Bag<T> {
    /// Runs the graph on `runner` (an `Executor` or `threaded::Threaded`) and returns every
    /// element, partition by partition.
    pub fn compute<R: Runner>(&self, runner: &R) -> crate::Result<Vec<T>> {
        let (graph, keys) = self.to_graph()?;
        let mut out = Vec::new();
        for stored in runner.run_graph(&graph, &keys)? {
            out.extend(elements::<T>(chunk_of(&stored)?)?);
        }
        Ok(out)
    }

    /// [`Bag::compute`] without blocking the calling task (an `Executor` or
    /// `threaded::Threaded`, as an [`AsyncRunner`]).
    ///
    /// ```no_run
    /// # use taskforce::collections::Bag;
    /// # async fn run(executor: taskforce::Executor) -> taskforce::Result<()> {
    /// let lines: Vec<String> = Bag::read_text("data/*.txt")?.compute_async(&executor).await?;
    /// # Ok(()) }
    /// ```
    pub async fn compute_async<R: AsyncRunner>(&self, runner: &R) -> crate::Result<Vec<T>> {
        let (graph, keys) = self.to_graph()?;
        let mut out = Vec::new();
        for stored in runner.run_graph_async(graph, keys).await? {
            out.extend(elements::<T>(chunk_of(&stored)?)?);
        }
        Ok(out)
    }

    /// Starts every partition on the cluster and returns a bag of the results, which stay on
    /// the workers while the bag (or a bag built from it) lives.
    pub fn persist(&self, executor: &crate::Executor) -> crate::Result<Bag<T>> {
        let (graph, keys) = self.to_graph()?;
        let futures = executor.submit_graph::<Chunk>(&graph, &keys)?;
        let mut bag = Bag::from_inputs(keys.into_iter().map(Input::Key).collect(), Graph::new());
        bag.input_type = self.input_type_after();
        bag.keep = Arc::new(vec![Box::new(futures) as Box<dyn Any + Send + Sync>]);
        bag.split_every = self.split_every;
        Ok(bag)
    }

    fn input_type_after(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    /// The first `n` elements, computing partitions one after another only until it has
    /// them.
    pub fn take<R: Runner>(&self, n: usize, runner: &R) -> crate::Result<Vec<T>> {
        let mut out = Vec::new();
        if n == 0 {
            return Ok(out);
        }
        let (graph, keys) = self.partition_tasks(
            Terminal::Collect {
                limit: Some(n as u64),
            },
            "take",
        )?;
        for key in keys {
            let stored = runner.run_graph(&graph, std::slice::from_ref(&key))?;
            out.extend(elements::<T>(chunk_of(&stored[0])?)?);
            if out.len() >= n {
                out.truncate(n);
                break;
            }
        }
        Ok(out)
    }

    /// [`Bag::take`] without blocking the calling task (an `Executor` or
    /// `threaded::Threaded`, as an [`AsyncRunner`]).
    pub async fn take_async<R: AsyncRunner>(&self, n: usize, runner: &R) -> crate::Result<Vec<T>> {
        let mut out = Vec::new();
        if n == 0 {
            return Ok(out);
        }
        let limit = Terminal::Collect {
            limit: Some(n as u64),
        };
        let (graph, keys) = self.partition_tasks(limit, "take")?;
        for key in keys {
            let stored = runner.run_graph_async(graph.clone(), vec![key]).await?;
            out.extend(elements::<T>(chunk_of(&stored[0])?)?);
            if out.len() >= n {
                out.truncate(n);
                break;
            }
        }
        Ok(out)
    }
}
