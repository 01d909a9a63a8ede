//! The lazy expression behind an [`Array`](super::Array): a [`Node`] per operation, each
//! owning one layer of chunk keys `(name, i, j, …)` named by a deterministic token, layers
//! shared between arrays through `Arc`s. Building an expression costs per operation (each
//! node builds its layer once); [`graph_of`] collects the layers into a [`Graph`].
//!
//! Element-wise nodes keep their program unbuilt until something needs their own keys, so a
//! chain of element-wise steps fuses into the node that consumes it.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use crate::function::{encode_value, ArgSpec, RemoteFunction};
use crate::graph::__private::TupleKey;
use crate::graph::{Graph, GraphTask};
use crate::ids::{Set, TaskKey};

use super::block::DType;
use super::grid::{broadcast_index, ArrayError, Grid};
use super::kernels::{blockwise0, blockwise1, blockwise2, blockwise3, Plan};
use super::program::{BlockInfo, Program};

/// The tasks of one operation and the nodes whose keys they read.
pub struct Layer {
    /// Keys and tasks.
    pub tasks: Vec<(TaskKey, GraphTask)>,
    /// The nodes read.
    pub deps: Vec<Arc<Node>>,
}

/// How a node's blocks come about.
pub enum Source {
    /// One task per block running `program` over `inputs` (broadcast); fusable.
    Blockwise {
        /// The program.
        program: Program,
        /// The nodes it reads, at most [`MAX_INPUTS`].
        inputs: Vec<Arc<Node>>,
    },
    /// A layer built when the operation was.
    Built(Arc<Layer>),
    /// Blocks already on a cluster: their keys in C order, and what keeps them there.
    Futures {
        /// The key of each block.
        keys: Vec<TaskKey>,
        /// The futures holding the keys.
        _held: Arc<dyn Any + Send + Sync>,
    },
    /// The operation was invalid; reported before anything runs.
    Invalid(ArrayError),
}

/// The most inputs one blockwise task reads.
pub const MAX_INPUTS: usize = 3;

/// One operation of an array expression.
pub struct Node {
    /// Its layer's name (a deterministic token).
    pub name: Arc<str>,
    /// Its shape and chunks.
    pub grid: Grid,
    /// Its element type.
    pub dtype: DType,
    /// How its blocks come about.
    pub source: Source,
    keys: BlockKeys,
    layer: OnceLock<Arc<Layer>>,
}

impl Node {
    /// A node of `source`.
    pub fn new(name: String, grid: Grid, dtype: DType, source: Source) -> Arc<Node> {
        Arc::new(Node {
            keys: BlockKeys::new(&name),
            name: name.into(),
            grid,
            dtype,
            source,
            layer: OnceLock::new(),
        })
    }

    /// A node standing for an invalid operation.
    pub fn invalid(error: ArrayError, dtype: DType) -> Arc<Node> {
        let name = format!("invalid-{}", super::super::token::fresh_seed());
        Node::new(
            name,
            Grid::from_chunks(Vec::new()),
            dtype,
            Source::Invalid(error),
        )
    }

    /// The error of this node, or of the first invalid node it reads.
    pub fn error(&self) -> Option<&ArrayError> {
        match &self.source {
            Source::Invalid(error) => Some(error),
            _ => None,
        }
    }

    /// The key of block `index`.
    pub fn key(&self, index: &[usize]) -> TaskKey {
        if let Source::Futures { keys, .. } = &self.source {
            return keys[linear_index(&self.grid.nblocks(), index)].clone();
        }
        self.keys.key(index)
    }

    /// Every block key, in C order.
    pub fn keys(&self) -> Vec<TaskKey> {
        if let Source::Futures { keys, .. } = &self.source {
            return keys.clone();
        }
        self.grid
            .block_indices()
            .map(|index| self.keys.key(&index))
            .collect()
    }

    /// Its layer, built on first use.
    pub fn layer(&self) -> Arc<Layer> {
        self.layer
            .get_or_init(|| match &self.source {
                Source::Blockwise { program, inputs } => Arc::new(blockwise_layer(
                    &self.name,
                    &self.grid,
                    &Plan {
                        program: program.clone(),
                        reduce: None,
                    },
                    inputs,
                )),
                Source::Built(layer) => layer.clone(),
                Source::Futures { .. } | Source::Invalid(_) => Arc::new(Layer {
                    tasks: Vec::new(),
                    deps: Vec::new(),
                }),
            })
            .clone()
    }
}

/// `(name, i, j, …)`.
pub fn block_key(name: &str, index: &[usize]) -> TaskKey {
    BlockKeys::new(name).key(index)
}

/// The block keys `(name, i, j, …)` of one layer, its quoted name written once.
#[derive(Clone, Debug)]
pub struct BlockKeys {
    start: TupleKey,
}

impl BlockKeys {
    /// The keys of the layer `name`.
    pub fn new(name: &str) -> Self {
        BlockKeys {
            start: TupleKey::start(name),
        }
    }

    /// The key of block `index`.
    pub fn key(&self, index: &[usize]) -> TaskKey {
        // ", " and up to 20 digits per part, and the closing parenthesis.
        let mut key = self.start.branch(index.len() * 22 + 1);
        for i in index {
            key.push(i);
        }
        key.finish()
    }
}

/// Position of `index` among blocks counted `counts` per axis, in C order.
pub fn linear_index(counts: &[usize], index: &[usize]) -> usize {
    counts.iter().zip(index).fold(0, |at, (&n, &i)| at * n + i)
}

/// A literal argument (encoding errors become the task's error, reported by validation).
pub fn literal<T: serde::Serialize + 'static>(
    value: &T,
) -> Result<ArgSpec, crate::messages::CodecError> {
    encode_value(value).map(ArgSpec::Value)
}

/// A task of `function` on `args`, or a task carrying the error of an unencodable one.
pub fn task_of<F: RemoteFunction>(
    function: &F,
    args: Vec<Result<ArgSpec, crate::messages::CodecError>>,
) -> GraphTask {
    match args.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(specs) => GraphTask::from_specs(function, specs),
        Err(error) => GraphTask::from_specs(function, Vec::new()).with_error(error),
    }
}

/// One task per block of `grid`, each running `plan` over the broadcast blocks of `inputs`.
pub fn blockwise_layer(name: &str, grid: &Grid, plan: &Plan, inputs: &[Arc<Node>]) -> Layer {
    let plan = literal(plan);
    let keys = BlockKeys::new(name);
    let offsets = grid.offsets();
    let chunks = grid.chunks();
    let tasks = grid
        .block_indices()
        .enumerate()
        .map(|(linear, index)| {
            let info = BlockInfo {
                linear: linear as u64,
                offset: index
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| offsets[a][i] as u64)
                    .collect(),
                shape: index
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| chunks[a][i] as u64)
                    .collect(),
            };
            let mut args = vec![plan.clone(), literal(&info)];
            for input in inputs {
                let at = broadcast_index(&input.grid, grid, &index);
                args.push(Ok(ArgSpec::Key(input.key(&at))));
            }
            let task = match inputs.len() {
                0 => task_of(&blockwise0, args),
                1 => task_of(&blockwise1, args),
                2 => task_of(&blockwise2, args),
                _ => task_of(&blockwise3, args),
            };
            (keys.key(&index), task)
        })
        .collect();
    Layer {
        tasks,
        deps: inputs.to_vec(),
    }
}

/// The graph of `node` and everything it reads, each layer once.
pub fn graph_of(node: &Arc<Node>) -> Graph {
    let mut seen: Set<Arc<str>> = Set::default();
    let mut layers = Vec::new();
    let mut stack = vec![node.clone()];
    while let Some(node) = stack.pop() {
        if !seen.insert(node.name.clone()) {
            continue;
        }
        let layer = node.layer();
        stack.extend(layer.deps.iter().cloned());
        layers.push(layer);
    }
    let mut graph = Graph::new();
    graph.reserve(layers.iter().map(|layer| layer.tasks.len()).sum());
    for layer in &layers {
        for (key, task) in &layer.tasks {
            graph.insert(key.clone(), task.clone());
        }
    }
    graph
}

#[cfg(test)]
mod tests {

    #[test]
    fn equal_expressions_share_keys_and_layers() {
        let a = crate::collections::Array::random_seeded(&[10, 10], &[4, 4], 1);
        let b = crate::collections::Array::random_seeded(&[10, 10], &[4, 4], 1);
        assert_eq!((&a + 1.0).keys(), (&b + 1.0).keys());
        assert_ne!((&a + 1.0).keys(), (&a + 2.0).keys());
        let graph = (&a + 1.0).sum().graph();
        assert_eq!(
            graph.len(),
            9 + 2 + 1 + 1,
            "fused: 9 partials, 2 + 1 combines, 1 finish"
        );
    }

    #[test]
    fn a_reduction_tree_has_one_level_per_factor_of_split_every() {
        let x = crate::collections::Array::random_seeded(&[100_000], &[1], 1);
        let graph = x.sum().graph();
        let combines = 12_500 + 1_563 + 196 + 25 + 4 + 1;
        assert_eq!(graph.len(), 100_000 + combines + 1);
    }
}
