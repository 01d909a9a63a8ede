//! `rechunk`: new chunk sizes through intermediate chunks. Each output block is assembled
//! from the pieces of the input blocks it overlaps (a piece that is a whole input block is
//! read as it is), so no task holds more than one output block and its pieces.

use super::block::Element;
use super::grid::{starts, Grid};
use super::kernels;
use super::node::{block_key, literal, task_of, Layer, Node, Source};
use super::Array;
use crate::collections::token::token;
use crate::function::ArgSpec;

/// Along one axis, the pieces of each output chunk: `(input chunk, local start, local stop)`.
fn overlaps(old: &[usize], new: &[usize]) -> Vec<Vec<(usize, usize, usize)>> {
    let old_starts = starts(old);
    starts(new)
        .into_iter()
        .zip(new)
        .map(|(start, &size)| {
            let stop = start + size;
            old.iter()
                .zip(&old_starts)
                .enumerate()
                .filter(|(_, (&len, &at))| at < stop && at + len > start && len > 0)
                .map(|(i, (&len, &at))| (i, start.max(at) - at, stop.min(at + len) - at))
                .collect()
        })
        .collect()
}

impl<T: Element> Array<T> {
    /// The same array cut into chunks of `chunks` per axis (0 keeps an axis whole).
    ///
    /// ```
    /// use taskforce::collections::Array;
    /// let x = Array::random_seeded(&[10, 10], &[3, 7], 1);
    /// let y = x.rechunk(&[5, 5]);
    /// assert_eq!(y.chunks(), &[vec![5, 5], vec![5, 5]]);
    /// let r = taskforce::threaded::Threaded::default();
    /// assert_eq!(y.compute(&r)?, x.compute(&r)?);
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn rechunk(&self, chunks: &[usize]) -> Array<T> {
        match Grid::regular(self.shape(), chunks) {
            Ok(grid) => self.rechunk_to(grid),
            Err(error) => Array::from_node(Node::invalid(error, T::DTYPE)),
        }
    }

    /// The same array cut as `grid` (of the same shape) says.
    pub(super) fn rechunk_to(&self, grid: Grid) -> Array<T> {
        let node = &self.node;
        if let Some(error) = node.error() {
            return Array::from_node(Node::invalid(error.clone(), T::DTYPE));
        }
        if grid == node.grid {
            return self.clone();
        }
        let name = token("rechunk", &grid.chunks().to_vec(), &[&node.name]);
        let per_axis: Vec<_> = (0..grid.ndim())
            .map(|a| overlaps(&node.grid.chunks()[a], &grid.chunks()[a]))
            .collect();
        let mut tasks = Vec::new();
        for index in grid.block_indices() {
            let axes: Vec<&Vec<(usize, usize, usize)>> = index
                .iter()
                .enumerate()
                .map(|(a, &i)| &per_axis[a][i])
                .collect();
            let counts: Vec<usize> = axes.iter().map(|p| p.len()).collect();
            let layout = Grid::from_chunks(counts.iter().map(|&n| vec![1; n]).collect());
            let mut parts = Vec::new();
            for (p, at) in layout.block_indices().enumerate() {
                let picked: Vec<_> = at.iter().enumerate().map(|(a, &j)| axes[a][j]).collect();
                let from: Vec<usize> = picked.iter().map(|x| x.0).collect();
                let whole = picked
                    .iter()
                    .enumerate()
                    .all(|(a, x)| x.1 == 0 && x.2 == node.grid.chunks()[a][x.0]);
                let source = node.key(&from);
                if whole {
                    parts.push(source);
                    continue;
                }
                let ranges: Vec<(u64, u64, u64)> =
                    picked.iter().map(|x| (x.1 as u64, x.2 as u64, 1)).collect();
                let mut piece_index = index.clone();
                piece_index.push(p);
                let key = block_key(&format!("{name}-piece"), &piece_index);
                let args = vec![literal(&ranges), Ok(ArgSpec::Key(source))];
                tasks.push((key.clone(), task_of(&kernels::slice, args)));
                parts.push(key);
            }
            let args = vec![literal(&counts), Ok(ArgSpec::Keys(parts))];
            tasks.push((block_key(&name, &index), task_of(&kernels::assemble, args)));
        }
        let layer = std::sync::Arc::new(Layer {
            tasks,
            deps: vec![node.clone()],
        });
        Array::from_node(Node::new(name, grid, T::DTYPE, Source::Built(layer)))
    }
}

impl<T: Element> Array<T> {
    /// The same elements in C order under a new shape, where the chunks allow: every axis
    /// but the first must be whole, and each block's elements must fill whole rows of the new
    /// shape (rechunk first otherwise). `arange(…).reshape(&[rows, cols])` is the common case.
    ///
    /// ```
    /// use taskforce::collections::Array;
    /// let x = Array::<f64>::arange(0.0, 12.0, 1.0, 6).reshape(&[4, 3]);
    /// assert_eq!(x.chunks(), &[vec![2, 2], vec![3]]);
    /// let m = x.compute(&taskforce::threaded::Threaded::default())?;
    /// assert_eq!(m[[3, 2]], 11.0);
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Array<T> {
        let node = &self.node;
        let grid = match node
            .error()
            .cloned()
            .map_or_else(|| reshaped(&node.grid, shape), Err)
        {
            Ok(grid) => grid,
            Err(error) => return Array::from_node(Node::invalid(error, T::DTYPE)),
        };
        let name = token("reshape", &grid.chunks().to_vec(), &[&node.name]);
        let tasks = grid
            .block_indices()
            .zip(node.grid.block_indices())
            .map(|(index, from)| {
                let block_shape: Vec<usize> = index
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| grid.chunks()[a][i])
                    .collect();
                let args = vec![literal(&block_shape), Ok(ArgSpec::Key(node.key(&from)))];
                (block_key(&name, &index), task_of(&kernels::reshape, args))
            })
            .collect();
        let layer = std::sync::Arc::new(Layer {
            tasks,
            deps: vec![node.clone()],
        });
        Array::from_node(Node::new(name, grid, T::DTYPE, Source::Built(layer)))
    }
}

fn reshaped(grid: &Grid, shape: &[usize]) -> Result<Grid, super::grid::ArrayError> {
    let unsupported = |reason: &str| super::grid::ArrayError::Unsupported {
        op: "reshape",
        shape: grid.shape().to_vec(),
        reason: format!("to {shape:?}: {reason}"),
    };
    if grid.shape().iter().product::<usize>() != shape.iter().product::<usize>() {
        return Err(super::grid::ArrayError::ShapeMismatch {
            op: "reshape",
            left: grid.shape().to_vec(),
            right: shape.to_vec(),
        });
    }
    if grid.ndim() == 0 || shape.is_empty() {
        return Err(unsupported("0-dimensional shapes"));
    }
    if grid.chunks()[1..].iter().any(|c| c.len() != 1) {
        return Err(unsupported(
            "only the first axis may be chunked; rechunk first",
        ));
    }
    let row_in: usize = grid.shape()[1..].iter().product();
    let row_out: usize = shape[1..].iter().product();
    let mut first = Vec::new();
    for &rows in &grid.chunks()[0] {
        let elements = rows * row_in;
        if row_out == 0 || elements % row_out != 0 {
            return Err(unsupported(
                "a block does not fill whole rows; rechunk first",
            ));
        }
        first.push(elements / row_out);
    }
    let mut chunks = vec![first];
    chunks.extend(shape[1..].iter().map(|&n| vec![n]));
    Ok(Grid::from_chunks(chunks))
}
