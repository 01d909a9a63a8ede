//! [`Array`]: a chunked n-dimensional array on ndarray, lowered to task graphs, as
//! `dask.array` is.
//!
//! An array is a shape, a chunk grid (a smaller last chunk where the chunk size doesn't divide
//! the length) and a lazy expression whose blocks are `ndarray` arrays ([`Block`]s). Every
//! operation adds one layer of block keys named by a deterministic token of the operation and
//! its inputs; element-wise chains fuse into one task per block; reductions are trees of
//! partial results no wider than `split_every`. `compute` takes any [`Runner`]: an
//! `Executor` on a cluster or `threaded::Threaded` on local threads.
//!
//! ```
//! use taskforce::collections::Array;
//! use taskforce::threaded::Threaded;
//!
//! let x = Array::random_seeded(&[1_000, 600], &[300, 250], 42);   // lazy, 4 × 3 blocks
//! let centered = &x - &x.mean_axis(0);                            // numpy broadcasting
//! let runner = Threaded::default();
//! let total: f64 = centered.sum().compute(&runner)?;
//! assert!(total.abs() < 1e-6);
//! assert_eq!(x.compute(&runner)?.shape(), &[1_000, 600]);
//! # Ok::<(), taskforce::Error>(())
//! ```
//!
//! Builds graphs only: depends on `crate::graph`, `crate::function` and the `Runner` trait,
//! never on actors, messages or sockets.

mod block;
mod creation;
mod elementwise;
mod grid;
pub mod kernels;
mod node;
mod program;
mod rechunk;
mod reduce;
mod reduce_math;
mod structure;

use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn, Slice};

pub use block::{Block, DType, Element};
pub use grid::{ArrayError, Grid};
pub use kernels::Compare;
pub use program::{block_rng, unit_f64, Number};
pub use reduce::{Scalar, DEFAULT_SPLIT_EVERY};
pub use reduce_math::Reduction;
pub use structure::{concatenate, stack, where_};

use crate::function::{Stored, ValueError};
use crate::graph::Graph;
use crate::ids::TaskKey;
use crate::runner::{AsyncRunner, Runner};
use node::{Node, Source};

/// A lazy chunked n-dimensional array of `T` (`f64`, `f32`, `i64`, or `bool` for masks).
///
/// Methods take `&self` and build new arrays; nothing runs until [`Array::compute`] or
/// [`Array::persist`]. An invalid operation (mismatched shapes, an axis out of range) gives
/// an array that carries the error, naming the shapes; [`Array::check`] reports it at once
/// and `compute` reports it before running anything.
pub struct Array<T = f64> {
    node: Arc<Node>,
    _element: PhantomData<fn() -> T>,
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array::from_node(self.node.clone())
    }
}

impl<T> std::fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Array({}, shape {:?}, {} blocks)",
            self.node.name,
            self.node.grid.shape(),
            self.node.grid.block_count()
        )
    }
}

impl<T> Array<T> {
    fn from_node(node: Arc<Node>) -> Self {
        Array {
            node,
            _element: PhantomData,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.node.grid.shape()
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.node.grid.ndim()
    }

    /// Chunk sizes along each axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        self.node.grid.chunks()
    }

    /// The name of its layer: equal expressions have equal names.
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// The error of an invalid operation that built it, if one did.
    pub fn check(&self) -> Result<(), ArrayError> {
        self.node.error().map_or(Ok(()), |e| Err(e.clone()))
    }

    /// The key of each block, in C order.
    pub fn keys(&self) -> Vec<TaskKey> {
        self.node.keys()
    }

    /// The task graph computing every block.
    pub fn graph(&self) -> Graph {
        node::graph_of(&self.node)
    }

    /// A picture of [`Self::graph`] in Graphviz's DOT language (see
    /// [`crate::graph::render_svg`] for SVG).
    pub fn to_dot(&self) -> String {
        self.graph().to_dot()
    }
}

impl<T: Element> Array<T> {
    /// Runs the graph on `runner` (an `Executor` or `threaded::Threaded`) and assembles the
    /// blocks into one `ndarray` array.
    pub fn compute<R: Runner>(&self, runner: &R) -> crate::Result<ArrayD<T>> {
        self.check()?;
        let keys = self.keys();
        let values = runner.run_graph(&self.graph(), &keys)?;
        self.assemble(keys, values)
    }

    /// [`Array::compute`] without blocking the calling task (an `Executor` or
    /// `threaded::Threaded`, as an [`AsyncRunner`]).
    pub async fn compute_async<R: AsyncRunner>(&self, runner: &R) -> crate::Result<ArrayD<T>> {
        self.check()?;
        let keys = self.keys();
        let values = runner.run_graph_async(self.graph(), keys.clone()).await?;
        self.assemble(keys, values)
    }

    /// The blocks' values (in the order of `keys`, C order) as one `ndarray` array.
    fn assemble(&self, keys: Vec<TaskKey>, values: Vec<Stored>) -> crate::Result<ArrayD<T>> {
        let grid = &self.node.grid;
        let mut out = ArrayD::from_elem(IxDyn(grid.shape()), T::from_f64(0.0));
        let offsets = grid.offsets();
        for ((index, key), value) in grid.block_indices().zip(keys).zip(values) {
            let block = value
                .read::<Block>()
                .map_err(|source| crate::Error::Value {
                    key: key.clone(),
                    source,
                })?;
            let view = block.view::<T>().ok_or_else(|| crate::Error::Value {
                key,
                source: ValueError::TypeMismatch {
                    expected: format!("a block of {:?}", T::DTYPE),
                    found: format!("a block of {:?}", block.dtype()),
                },
            })?;
            let mut target = out.slice_each_axis_mut(|axis| {
                let start = offsets[axis.axis.index()][index[axis.axis.index()]];
                Slice::from(
                    start..start + grid.chunks()[axis.axis.index()][index[axis.axis.index()]],
                )
            });
            target.assign(&view);
        }
        Ok(out)
    }

    /// Starts every block on the cluster and gives an array backed by the resulting futures:
    /// the blocks stay on the workers while the returned array (or a clone) lives.
    pub fn persist(&self, executor: &crate::Executor) -> crate::Result<Array<T>> {
        self.check()?;
        let keys = self.keys();
        let futures = executor.submit_graph::<Block>(&self.graph(), &keys)?;
        Ok(Array::from_futures(futures, self.chunks().to_vec()))
    }

    /// An array whose blocks are already on the cluster, in C order, cut as `chunks` says
    /// (sizes per axis). The futures must hold [`Block`]s of `T`.
    pub fn from_futures(futures: Vec<crate::Future<Block>>, chunks: Vec<Vec<usize>>) -> Array<T> {
        let grid = Grid::from_chunks(chunks);
        if futures.len() != grid.block_count() {
            let error = ArrayError::BadChunks {
                shape: vec![futures.len()],
                chunks: grid.chunks().to_vec(),
            };
            return Array::from_node(Node::invalid(error, T::DTYPE));
        }
        let keys: Vec<TaskKey> = futures.iter().map(|f| f.key().clone()).collect();
        let names: Vec<&str> = keys.iter().map(TaskKey::as_str).collect();
        let name = super::token::token("from-futures", &grid.chunks().to_vec(), &names);
        let source = Source::Futures {
            keys,
            _held: Arc::new(futures),
        };
        Array::from_node(Node::new(name, grid, T::DTYPE, source))
    }

    /// The same values as another element type (`as` conversions), fused with its neighbours.
    pub fn astype<U: Number>(&self) -> Array<U> {
        elementwise::map_program::<U>(&self.node, "astype", &[])
    }
}
