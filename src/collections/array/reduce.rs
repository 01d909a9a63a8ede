//! Reductions as trees: one partial per block (fused with the element-wise program that
//! makes the block), combines of at most `split_every` partials per level, and one finishing
//! task per output block. Full reductions give a [`Scalar`].

use std::sync::Arc;

use super::block::Element;
use super::grid::{ArrayError, Grid};
use super::kernels::{combine, finish, Plan};
use super::node::{
    block_key, blockwise_layer, linear_index, literal, task_of, BlockKeys, Layer, Node, Source,
};
use super::program::{Number, Op, Program};
use super::reduce_math::{ReduceSpec, Reduction};
use super::Array;
use crate::collections::token::token;
use crate::function::ArgSpec;
use crate::graph::GraphTask;
use crate::ids::TaskKey;
use crate::runner::{AsyncRunner, Runner};

/// How many partials one combine task reads unless told otherwise.
pub const DEFAULT_SPLIT_EVERY: usize = 8;

/// A lazy scalar: the result of a full reduction.
pub struct Scalar<U> {
    array: Array<U>,
}

impl<U> Clone for Scalar<U> {
    fn clone(&self) -> Self {
        Scalar {
            array: self.array.clone(),
        }
    }
}

impl<U> std::fmt::Debug for Scalar<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scalar({})", self.array.name())
    }
}

impl<U: Element> Scalar<U> {
    /// Runs the reduction on `runner` (an `Executor` or `threaded::Threaded`).
    pub fn compute<R: Runner>(&self, runner: &R) -> crate::Result<U> {
        let value = self.array.compute(runner)?;
        Ok(*value.first().expect("a full reduction has one element"))
    }

    /// [`Scalar::compute`] without blocking the calling task (an `Executor` or
    /// `threaded::Threaded`, as an [`AsyncRunner`]).
    ///
    /// ```no_run
    /// # use taskforce::collections::Array;
    /// # async fn run(executor: taskforce::Executor) -> taskforce::Result<()> {
    /// let total: f64 = Array::ones(&[1_000], &[100]).sum().compute_async(&executor).await?;
    /// # Ok(()) }
    /// ```
    pub async fn compute_async<R: AsyncRunner>(&self, runner: &R) -> crate::Result<U> {
        let value = self.array.compute_async(runner).await?;
        Ok(*value.first().expect("a full reduction has one element"))
    }

    /// The same value as a 0-dimensional array (to combine with other arrays).
    pub fn to_array(&self) -> Array<U> {
        self.array.clone()
    }

    /// The key of the value (a 0-dimensional [`Block`](super::Block)).
    pub fn key(&self) -> TaskKey {
        self.array.keys().remove(0)
    }

    /// The task graph computing it.
    pub fn graph(&self) -> crate::graph::Graph {
        self.array.graph()
    }

    /// A picture of [`Self::graph`] in Graphviz's DOT language.
    pub fn to_dot(&self) -> String {
        self.graph().to_dot()
    }
}

fn check(kind: Reduction, grid: &Grid, axes: &[usize]) -> Result<Vec<usize>, ArrayError> {
    let mut axes = axes
        .iter()
        .map(|&axis| grid.axis("reduction", axis))
        .collect::<Result<Vec<_>, _>>()?;
    axes.sort_unstable();
    axes.dedup();
    let unsupported = |reason: &str| ArrayError::Unsupported {
        op: "reduction",
        shape: grid.shape().to_vec(),
        reason: reason.into(),
    };
    let empty = axes.iter().any(|&a| grid.shape()[a] == 0);
    if empty && !matches!(kind, Reduction::Sum) {
        return Err(unsupported("reducing an empty axis has no identity"));
    }
    let is_arg = matches!(kind, Reduction::ArgMin | Reduction::ArgMax);
    if is_arg && axes.len() != 1 && axes.len() != grid.ndim() {
        return Err(unsupported("argmin/argmax take one axis or all"));
    }
    Ok(axes)
}

/// Combines `keys` in a tree of at most `split_every` per task until one key is left.
pub(super) fn tree(
    spec: &Result<ArgSpec, crate::messages::CodecError>,
    name: &str,
    group: usize,
    mut keys: Vec<TaskKey>,
    split_every: usize,
    tasks: &mut Vec<(TaskKey, GraphTask)>,
) -> TaskKey {
    let mut level = 0;
    while keys.len() > 1 {
        let level_keys = BlockKeys::new(&format!("{name}-combine-{level}"));
        let mut below = keys.into_iter();
        keys = Vec::with_capacity(below.len().div_ceil(split_every));
        // Moves each key into its combine: a million-block level is not cloned and dropped.
        while below.len() > 0 {
            let part: Vec<TaskKey> = below.by_ref().take(split_every).collect();
            let key = level_keys.key(&[group, keys.len()]);
            let args = vec![spec.clone(), Ok(ArgSpec::Keys(part))];
            tasks.push((key.clone(), task_of(&combine, args)));
            keys.push(key);
        }
        level += 1;
    }
    keys.pop().expect("a reduction has at least one block")
}

/// How many combine tasks [`tree`] makes for `keys` keys.
fn tree_size(mut keys: usize, split_every: usize) -> usize {
    let mut size = 0;
    while keys > 1 {
        keys = keys.div_ceil(split_every);
        size += keys;
    }
    size
}

/// The reduction `kind` of `node` over `axes`, in a tree of `split_every`.
pub(super) fn reduction<U: Element>(
    node: &Arc<Node>,
    kind: Reduction,
    axes: &[usize],
    split_every: usize,
) -> Array<U> {
    let axes = match node
        .error()
        .cloned()
        .map_or_else(|| check(kind, &node.grid, axes), Err)
    {
        Ok(axes) => axes,
        Err(error) => return Array::from_node(Node::invalid(error, U::DTYPE)),
    };
    let split_every = split_every.max(2);
    let grid = &node.grid;
    let spec = ReduceSpec {
        kind,
        axes: axes.clone(),
        shape: grid.shape().iter().map(|&n| n as u64).collect(),
    };
    let name = token("reduce", &(spec.clone(), split_every as u64), &[&node.name]);
    let (program, inputs) = match &node.source {
        Source::Blockwise { program, inputs } => (program.clone(), inputs.clone()),
        _ => {
            let ops = vec![Op::Input(0)];
            (
                Program {
                    dtype: node.dtype,
                    ops,
                },
                vec![node.clone()],
            )
        }
    };
    let plan = Plan {
        program,
        reduce: Some(spec.clone()),
    };
    let partials = blockwise_layer(&format!("{name}-partial"), grid, &plan, &inputs);
    let kept: Vec<usize> = (0..grid.ndim()).filter(|a| !axes.contains(a)).collect();
    let out = Grid::from_chunks(kept.iter().map(|&a| grid.chunks()[a].clone()).collect());
    let out_counts = out.nblocks();
    let mut groups: Vec<Vec<TaskKey>> = vec![Vec::new(); out.block_count()];
    for (index, (key, _)) in grid.block_indices().zip(&partials.tasks) {
        let out_index: Vec<usize> = kept.iter().map(|&a| index[a]).collect();
        groups[linear_index(&out_counts, &out_index)].push(key.clone());
    }
    let mut tasks = partials.tasks;
    let group_size = grid.block_count() / out.block_count().max(1);
    tasks.reserve(out.block_count() * (tree_size(group_size, split_every) + 1));
    let spec_arg = literal(&spec);
    for (group, out_index) in out.block_indices().enumerate() {
        let keys = std::mem::take(&mut groups[group]);
        let last = tree(&spec_arg, &name, group, keys, split_every, &mut tasks);
        let args = vec![spec_arg.clone(), Ok(ArgSpec::Key(last))];
        tasks.push((block_key(&name, &out_index), task_of(&finish, args)));
    }
    let layer = Arc::new(Layer {
        tasks,
        deps: inputs,
    });
    Array::from_node(Node::new(name, out, U::DTYPE, Source::Built(layer)))
}

fn all_axes(ndim: usize) -> Vec<usize> {
    (0..ndim).collect()
}

impl<T: Number> Array<T> {
    /// The reduction `kind` over `axes` in a tree of at most `split_every` partials per task:
    /// an array of the kept axes, of `U` (`T` for sum/min/max, `f64` for mean/var/std, `i64`
    /// for argmin/argmax: asking for another type gives an array that fails to compute).
    pub fn reduction<U: Element>(
        &self,
        kind: Reduction,
        axes: &[usize],
        split_every: usize,
    ) -> Array<U> {
        reduction(&self.node, kind, axes, split_every)
    }

    fn full_reduction<U: Element>(&self, kind: Reduction) -> Scalar<U> {
        let array = reduction(
            &self.node,
            kind,
            &all_axes(self.ndim()),
            DEFAULT_SPLIT_EVERY,
        );
        Scalar { array }
    }

    /// The sum of every element.
    ///
    /// ```
    /// use taskforce::collections::Array;
    /// let x = Array::<f64>::ones(&[100, 10], &[30, 4]);
    /// assert_eq!(x.sum().compute(&taskforce::threaded::Threaded::default())?, 1000.0);
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn sum(&self) -> Scalar<T> {
        self.full_reduction(Reduction::Sum)
    }

    /// The smallest element (NaN if there is one).
    pub fn min(&self) -> Scalar<T> {
        self.full_reduction(Reduction::Min)
    }

    /// The largest element (NaN if there is one).
    pub fn max(&self) -> Scalar<T> {
        self.full_reduction(Reduction::Max)
    }

    /// The mean of every element.
    pub fn mean(&self) -> Scalar<f64> {
        self.full_reduction(Reduction::Mean)
    }

    /// The population variance of every element (pairwise combine: stable under offsets).
    pub fn var(&self) -> Scalar<f64> {
        self.full_reduction(Reduction::Var)
    }

    /// The population standard deviation of every element.
    pub fn std(&self) -> Scalar<f64> {
        self.full_reduction(Reduction::Std)
    }

    /// The flat (C-order) index of the smallest element (of the first NaN if there is one).
    pub fn argmin(&self) -> Scalar<i64> {
        self.full_reduction(Reduction::ArgMin)
    }

    /// The flat (C-order) index of the largest element (of the first NaN if there is one).
    pub fn argmax(&self) -> Scalar<i64> {
        self.full_reduction(Reduction::ArgMax)
    }

    /// Sums along `axis` (which disappears from the shape).
    pub fn sum_axis(&self, axis: usize) -> Array<T> {
        self.reduction(Reduction::Sum, &[axis], DEFAULT_SPLIT_EVERY)
    }

    /// The smallest element along `axis`.
    pub fn min_axis(&self, axis: usize) -> Array<T> {
        self.reduction(Reduction::Min, &[axis], DEFAULT_SPLIT_EVERY)
    }

    /// The largest element along `axis`.
    pub fn max_axis(&self, axis: usize) -> Array<T> {
        self.reduction(Reduction::Max, &[axis], DEFAULT_SPLIT_EVERY)
    }

    /// The mean along `axis`.
    ///
    /// ```
    /// use taskforce::collections::Array;
    /// let data = ndarray::ArrayD::from_shape_vec(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0])?;
    /// let x = Array::from_ndarray(&data, &[1, 2]);
    /// let m = x.mean_axis(1).compute(&taskforce::threaded::Threaded::default())?;
    /// assert_eq!(m.into_raw_vec_and_offset().0, vec![1.0, 4.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mean_axis(&self, axis: usize) -> Array<f64> {
        self.reduction(Reduction::Mean, &[axis], DEFAULT_SPLIT_EVERY)
    }

    /// The population variance along `axis`.
    pub fn var_axis(&self, axis: usize) -> Array<f64> {
        self.reduction(Reduction::Var, &[axis], DEFAULT_SPLIT_EVERY)
    }

    /// The population standard deviation along `axis`.
    pub fn std_axis(&self, axis: usize) -> Array<f64> {
        self.reduction(Reduction::Std, &[axis], DEFAULT_SPLIT_EVERY)
    }

    /// The index along `axis` of the smallest element.
    pub fn argmin_axis(&self, axis: usize) -> Array<i64> {
        self.reduction(Reduction::ArgMin, &[axis], DEFAULT_SPLIT_EVERY)
    }

    /// The index along `axis` of the largest element.
    pub fn argmax_axis(&self, axis: usize) -> Array<i64> {
        self.reduction(Reduction::ArgMax, &[axis], DEFAULT_SPLIT_EVERY)
    }
}
