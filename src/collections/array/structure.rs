//! Operations that move blocks rather than compute elements: comparisons to masks and
//! `where_` (broadcast, one task per block), `transpose`/`permute`, slicing by ranges with
//! steps, `concatenate`, `stack`, and the blocked matrix product `dot`.

use std::sync::Arc;

use super::block::Element;
use super::grid::{broadcast, split_axis, starts, ArrayError, Grid};
use super::kernels::{self, Compare};
use super::node::{block_key, literal, task_of, Layer, Node, Source};
use super::program::Number;
use super::reduce_math::{ReduceSpec, Reduction};
use super::Array;
use crate::collections::token::token;
use crate::function::ArgSpec;
use crate::graph::GraphTask;
use crate::ids::TaskKey;

fn invalid<U: Element>(error: ArrayError) -> Array<U> {
    Array::from_node(Node::invalid(error, U::DTYPE))
}

fn first_error(nodes: &[&Arc<Node>]) -> Option<ArrayError> {
    nodes.iter().find_map(|n| n.error().cloned())
}

fn built<U: Element>(
    name: String,
    grid: Grid,
    tasks: Vec<(TaskKey, GraphTask)>,
    deps: Vec<Arc<Node>>,
) -> Array<U> {
    let layer = Arc::new(Layer { tasks, deps });
    Array::from_node(Node::new(name, grid, U::DTYPE, Source::Built(layer)))
}

/// One task per block of the broadcast of `inputs`, made by `make` from the inputs' keys.
fn zipped<U: Element>(
    op: &'static str,
    params: String,
    inputs: &[&Arc<Node>],
    make: impl Fn(Vec<ArgSpec>) -> GraphTask,
) -> Array<U> {
    if let Some(error) = first_error(inputs) {
        return invalid(error);
    }
    let mut grid = inputs[0].grid.clone();
    for input in &inputs[1..] {
        grid = match broadcast(op, &grid, &input.grid) {
            Ok(grid) => grid,
            Err(error) => return invalid(error),
        };
    }
    let names: Vec<&str> = inputs.iter().map(|n| &*n.name).collect();
    let name = token(op, &params, &names);
    let tasks = grid
        .block_indices()
        .map(|index| {
            let keys = inputs
                .iter()
                .map(|n| ArgSpec::Key(n.key(&super::grid::broadcast_index(&n.grid, &grid, &index))))
                .collect();
            (block_key(&name, &index), make(keys))
        })
        .collect();
    let deps = inputs.iter().map(|n| (*n).clone()).collect();
    built(name, grid, tasks, deps)
}

fn with_literal(
    first: Result<ArgSpec, crate::messages::CodecError>,
    keys: Vec<ArgSpec>,
) -> Vec<Result<ArgSpec, crate::messages::CodecError>> {
    std::iter::once(first)
        .chain(keys.into_iter().map(Ok))
        .collect()
}

/// `mask ? a : b` element-wise, broadcasting all three.
///
/// ```
/// use taskforce::collections::array::{where_, Array};
/// let x = Array::random_seeded(&[100], &[30], 1);
/// let clipped = where_(&x.gt(0.5), &Array::full(&[], &[], 0.5), &x);
/// assert!(clipped.max().compute(&taskforce::threaded::Threaded::default())? <= 0.5);
/// # Ok::<(), taskforce::Error>(())
/// ```
pub fn where_<T: Number>(mask: &Array<bool>, a: &Array<T>, b: &Array<T>) -> Array<T> {
    let dtype = literal(&T::DTYPE);
    zipped(
        "where",
        format!("{:?}", T::DTYPE),
        &[&mask.node, &a.node, &b.node],
        |keys| task_of(&kernels::select, with_literal(dtype.clone(), keys)),
    )
}

impl<T: Number> Array<T> {
    /// The mask of `self cmp other` element-wise (broadcast; compared as `f64`).
    pub fn compare(&self, cmp: Compare, other: &Array<T>) -> Array<bool> {
        let spec = literal(&cmp);
        zipped(
            "compare",
            format!("{cmp:?}"),
            &[&self.node, &other.node],
            |keys| task_of(&kernels::compare, with_literal(spec.clone(), keys)),
        )
    }

    fn compare_scalar(&self, cmp: Compare, value: T) -> Array<bool> {
        self.compare(cmp, &Array::full(&[], &[], value))
    }

    /// The mask of `x > value`.
    pub fn gt(&self, value: T) -> Array<bool> {
        self.compare_scalar(Compare::Gt, value)
    }

    /// The mask of `x >= value`.
    pub fn ge(&self, value: T) -> Array<bool> {
        self.compare_scalar(Compare::Ge, value)
    }

    /// The mask of `x < value`.
    pub fn lt(&self, value: T) -> Array<bool> {
        self.compare_scalar(Compare::Lt, value)
    }

    /// The mask of `x <= value`.
    pub fn le(&self, value: T) -> Array<bool> {
        self.compare_scalar(Compare::Le, value)
    }

    /// The mask of `x == value`.
    pub fn eq_scalar(&self, value: T) -> Array<bool> {
        self.compare_scalar(Compare::Eq, value)
    }
}

impl<T: Element> Array<T> {
    /// The axes reversed (`.t()` of a matrix).
    pub fn transpose(&self) -> Array<T> {
        self.permute(&(0..self.ndim()).rev().collect::<Vec<_>>())
    }

    /// The axes in the order `axes` (a permutation of `0..ndim`).
    pub fn permute(&self, axes: &[usize]) -> Array<T> {
        let node = &self.node;
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        if sorted != (0..self.ndim()).collect::<Vec<_>>() {
            return invalid(ArrayError::Unsupported {
                op: "permute",
                shape: self.shape().to_vec(),
                reason: format!("axes {axes:?} are not a permutation"),
            });
        }
        if let Some(error) = first_error(&[node]) {
            return invalid(error);
        }
        let grid = Grid::from_chunks(
            axes.iter()
                .map(|&a| node.grid.chunks()[a].clone())
                .collect(),
        );
        let name = token("permute", &axes.to_vec(), &[&node.name]);
        let spec = literal(&axes.to_vec());
        let tasks = grid
            .block_indices()
            .map(|index| {
                let mut from = vec![0; index.len()];
                for (out_axis, &in_axis) in axes.iter().enumerate() {
                    from[in_axis] = index[out_axis];
                }
                let args = vec![spec.clone(), Ok(ArgSpec::Key(node.key(&from)))];
                (block_key(&name, &index), task_of(&kernels::transpose, args))
            })
            .collect();
        built(name, grid, tasks, vec![node.clone()])
    }

    /// The elements at `start, start + step, …` below `stop` along each axis, one
    /// `(start, stop, step)` per leading axis (later axes whole). Blocks stay where they were.
    pub fn slice(&self, ranges: &[(usize, usize, usize)]) -> Array<T> {
        let node = &self.node;
        if let Some(error) = first_error(&[node]) {
            return invalid(error);
        }
        let bad = ranges.len() > self.ndim()
            || ranges
                .iter()
                .zip(self.shape())
                .any(|(&(a, b, s), &n)| s == 0 || a > b || b > n);
        if bad {
            return invalid(ArrayError::Unsupported {
                op: "slice",
                shape: self.shape().to_vec(),
                reason: format!("ranges {ranges:?} don't fit"),
            });
        }
        // Per axis: for each kept input chunk, (input chunk, local start, local stop, count).
        let mut pieces: Vec<Vec<(usize, u64, u64, usize)>> = Vec::new();
        for (axis, sizes) in node.grid.chunks().iter().enumerate() {
            let (start, stop, step) =
                ranges
                    .get(axis)
                    .copied()
                    .unwrap_or((0, self.shape()[axis], 1));
            let mut axis_pieces = Vec::new();
            for (chunk, (&size, offset)) in sizes.iter().zip(starts(sizes)).enumerate() {
                let first = if start >= offset {
                    start
                } else {
                    start + (offset - start).div_ceil(step) * step
                };
                let end = stop.min(offset + size);
                if first < end {
                    let count = (end - first).div_ceil(step);
                    axis_pieces.push((
                        chunk,
                        (first - offset) as u64,
                        (end - offset) as u64,
                        count,
                    ));
                }
            }
            pieces.push(axis_pieces);
        }
        let chunks: Vec<Vec<usize>> = pieces
            .iter()
            .map(|p| {
                if p.is_empty() {
                    vec![0]
                } else {
                    p.iter().map(|x| x.3).collect()
                }
            })
            .collect();
        let grid = Grid::from_chunks(chunks);
        let name = token("slice", &ranges.to_vec(), &[&node.name]);
        if pieces.iter().any(Vec::is_empty) {
            return invalid(ArrayError::Unsupported {
                op: "slice",
                shape: self.shape().to_vec(),
                reason: format!("ranges {ranges:?} select nothing"),
            });
        }
        let tasks = grid
            .block_indices()
            .map(|index| {
                let picked: Vec<_> = index
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| pieces[a][i])
                    .collect();
                let from: Vec<usize> = picked.iter().map(|p| p.0).collect();
                let local: Vec<(u64, u64, u64)> = picked
                    .iter()
                    .enumerate()
                    .map(|(a, p)| (p.1, p.2, ranges.get(a).map_or(1, |r| r.2) as u64))
                    .collect();
                let args = vec![literal(&local), Ok(ArgSpec::Key(node.key(&from)))];
                (block_key(&name, &index), task_of(&kernels::slice, args))
            })
            .collect();
        built(name, grid, tasks, vec![node.clone()])
    }
}

/// The arrays joined along `axis`; their other axes must match in shape and chunks.
pub fn concatenate<T: Element>(arrays: &[Array<T>], axis: usize) -> Array<T> {
    let nodes: Vec<&Arc<Node>> = arrays.iter().map(|a| &a.node).collect();
    let Some(first) = nodes.first() else {
        return invalid(ArrayError::BadChunks {
            shape: Vec::new(),
            chunks: Vec::new(),
        });
    };
    if let Some(error) = first_error(&nodes) {
        return invalid(error);
    }
    if let Err(error) = first.grid.axis("concatenate", axis) {
        return invalid(error);
    }
    let mut chunks = first.grid.chunks().to_vec();
    chunks[axis].clear();
    for node in &nodes {
        let mut others = node.grid.chunks().to_vec();
        if others.len() != chunks.len() {
            return invalid(ArrayError::ShapeMismatch {
                op: "concatenate",
                left: first.grid.shape().to_vec(),
                right: node.grid.shape().to_vec(),
            });
        }
        let along = std::mem::take(&mut others[axis]);
        let mut expected = chunks.clone();
        expected[axis].clear();
        if others != expected {
            return invalid(ArrayError::ShapeMismatch {
                op: "concatenate",
                left: first.grid.shape().to_vec(),
                right: node.grid.shape().to_vec(),
            });
        }
        chunks[axis].extend(along);
    }
    let grid = Grid::from_chunks(chunks);
    let names: Vec<&str> = nodes.iter().map(|n| &*n.name).collect();
    let name = token("concatenate", &(axis as u64), &names);
    let mut owner = Vec::new();
    for (which, node) in nodes.iter().enumerate() {
        owner.extend((0..node.grid.nblocks()[axis]).map(|i| (which, i)));
    }
    let tasks = grid
        .block_indices()
        .map(|index| {
            let (which, local) = owner[index[axis]];
            let mut from = index.clone();
            from[axis] = local;
            let args = vec![Ok(ArgSpec::Key(nodes[which].key(&from)))];
            (block_key(&name, &index), task_of(&kernels::identity, args))
        })
        .collect();
    built(name, grid, tasks, nodes.into_iter().cloned().collect())
}

/// The arrays (of one shape and chunking) stacked along a new `axis`.
pub fn stack<T: Element>(arrays: &[Array<T>], axis: usize) -> Array<T> {
    let expanded: Vec<Array<T>> = arrays.iter().map(|a| expand_dims(a, axis)).collect();
    concatenate(&expanded, axis)
}

fn expand_dims<T: Element>(array: &Array<T>, axis: usize) -> Array<T> {
    let node = &array.node;
    if axis > array.ndim() {
        return invalid(ArrayError::AxisOutOfRange {
            op: "stack",
            axis,
            shape: array.shape().to_vec(),
        });
    }
    let mut chunks = node.grid.chunks().to_vec();
    chunks.insert(axis, split_axis(1, 1));
    let grid = Grid::from_chunks(chunks);
    let name = token("expand-dims", &(axis as u64), &[&node.name]);
    let tasks = grid
        .block_indices()
        .map(|index| {
            let mut from = index.clone();
            from.remove(axis);
            let args = vec![literal(&axis), Ok(ArgSpec::Key(node.key(&from)))];
            (
                block_key(&name, &index),
                task_of(&kernels::expand_dims, args),
            )
        })
        .collect();
    built(name, grid, tasks, vec![node.clone()])
}

impl<T: Number> Array<T> {
    /// The matrix product of two 2-d arrays, blocked: each output block sums the products
    /// of a row of blocks and a column of blocks in a tree (`other` is rechunked to cut the
    /// inner axis as `self` does, where they differ).
    pub fn dot(&self, other: &Array<T>) -> Array<T> {
        let (a, b) = (&self.node, &other.node);
        if let Some(error) = first_error(&[a, b]) {
            return invalid(error);
        }
        let fits =
            a.grid.ndim() == 2 && b.grid.ndim() == 2 && a.grid.shape()[1] == b.grid.shape()[0];
        if !fits {
            return invalid(ArrayError::ShapeMismatch {
                op: "dot",
                left: self.shape().to_vec(),
                right: other.shape().to_vec(),
            });
        }
        let rechunked;
        let b = if a.grid.chunks()[1] != b.grid.chunks()[0] {
            let rows = a.grid.chunks()[1].clone();
            let cut = Grid::from_chunks(vec![rows, b.grid.chunks()[1].clone()]);
            rechunked = other.rechunk_to(cut).node;
            &rechunked
        } else {
            b
        };
        let grid = Grid::from_chunks(vec![a.grid.chunks()[0].clone(), b.grid.chunks()[1].clone()]);
        let name = token("dot", &(), &[&a.name, &b.name]);
        let spec = ReduceSpec {
            kind: Reduction::Sum,
            axes: Vec::new(),
            shape: Vec::new(),
        };
        let spec_arg = literal(&spec);
        let inner = a.grid.nblocks()[1];
        let mut tasks = Vec::new();
        for (group, index) in grid.block_indices().enumerate() {
            let products: Vec<TaskKey> = (0..inner)
                .map(|k| {
                    let key = block_key(&format!("{name}-product"), &[index[0], index[1], k]);
                    let args = vec![
                        Ok(ArgSpec::Key(a.key(&[index[0], k]))),
                        Ok(ArgSpec::Key(b.key(&[k, index[1]]))),
                    ];
                    tasks.push((key.clone(), task_of(&kernels::matmul, args)));
                    key
                })
                .collect();
            let last = super::reduce::tree(
                &spec_arg,
                &name,
                group,
                products,
                super::reduce::DEFAULT_SPLIT_EVERY,
                &mut tasks,
            );
            let args = vec![spec_arg.clone(), Ok(ArgSpec::Key(last))];
            tasks.push((block_key(&name, &index), task_of(&kernels::finish, args)));
        }
        built(name, grid, tasks, vec![a.clone(), b.clone()])
    }
}
