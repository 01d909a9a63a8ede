//! [`Grid`]: an array's shape and how it is cut into chunks along each axis (a smaller last
//! chunk where the chunk size doesn't divide the length), with block iteration in C order and
//! numpy broadcasting of grids. The [`ArrayError`]s of shapes live here too.
//!
//! Pure arithmetic on shapes: no graphs, no values.

use serde::{Deserialize, Serialize};

/// A shape, chunking or axis was wrong for an operation; found while building, before
/// anything runs. Each variant names the shapes involved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArrayError {
    /// Two operands' shapes don't broadcast (or don't match where they must).
    #[error("{op}: shapes {left:?} and {right:?} do not match")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// The left operand's shape.
        left: Vec<usize>,
        /// The right operand's shape.
        right: Vec<usize>,
    },
    /// An axis beyond the array's dimensions.
    #[error("{op}: axis {axis} is out of range for shape {shape:?}")]
    AxisOutOfRange {
        /// The operation.
        op: &'static str,
        /// The axis asked for.
        axis: usize,
        /// The array's shape.
        shape: Vec<usize>,
    },
    /// Chunk sizes that don't fit the shape.
    #[error("chunks {chunks:?} do not fit shape {shape:?}")]
    BadChunks {
        /// The array's shape.
        shape: Vec<usize>,
        /// The chunks given.
        chunks: Vec<Vec<usize>>,
    },
    /// An operation the array's chunks or shape can't support, with the reason.
    #[error("{op} on shape {shape:?}: {reason}")]
    Unsupported {
        /// The operation.
        op: &'static str,
        /// The array's shape.
        shape: Vec<usize>,
        /// Why.
        reason: String,
    },
}

/// An array's shape and chunk sizes along each axis.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grid {
    shape: Vec<usize>,
    chunks: Vec<Vec<usize>>,
}

impl Grid {
    /// Cuts `shape` into chunks of `chunk` along each axis (last chunks smaller). A chunk of
    /// 0 means the whole axis.
    pub fn regular(shape: &[usize], chunk: &[usize]) -> Result<Grid, ArrayError> {
        if shape.len() != chunk.len() {
            return Err(ArrayError::ShapeMismatch {
                op: "chunks",
                left: shape.to_vec(),
                right: chunk.to_vec(),
            });
        }
        let chunks = shape
            .iter()
            .zip(chunk)
            .map(|(&len, &size)| split_axis(len, if size == 0 { len } else { size }))
            .collect();
        Ok(Grid {
            shape: shape.to_vec(),
            chunks,
        })
    }

    /// A grid from explicit chunk sizes per axis, checked against nothing else.
    pub fn from_chunks(chunks: Vec<Vec<usize>>) -> Grid {
        let shape = chunks.iter().map(|c| c.iter().sum()).collect();
        Grid { shape, chunks }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Chunk sizes along each axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        &self.chunks
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Blocks along each axis.
    pub fn nblocks(&self) -> Vec<usize> {
        self.chunks.iter().map(Vec::len).collect()
    }

    /// Total number of blocks.
    pub fn block_count(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }

    /// Where each chunk starts along each axis.
    pub fn offsets(&self) -> Vec<Vec<usize>> {
        self.chunks.iter().map(|c| starts(c)).collect()
    }

    /// Every block index, in C order.
    pub fn block_indices(&self) -> BlockIndices {
        BlockIndices::new(self.nblocks())
    }

    /// Checks an axis.
    pub fn axis(&self, op: &'static str, axis: usize) -> Result<usize, ArrayError> {
        if axis < self.ndim() {
            Ok(axis)
        } else {
            Err(ArrayError::AxisOutOfRange {
                op,
                axis,
                shape: self.shape.clone(),
            })
        }
    }
}

/// `len` cut into pieces of `size` (the last smaller); an empty axis has one empty chunk.
pub fn split_axis(len: usize, size: usize) -> Vec<usize> {
    if len == 0 || size == 0 {
        return vec![len];
    }
    let mut out = vec![size; len / size];
    if len % size != 0 {
        out.push(len % size);
    }
    out
}

/// Start of each piece.
pub fn starts(sizes: &[usize]) -> Vec<usize> {
    let mut at = 0;
    sizes
        .iter()
        .map(|&n| {
            let start = at;
            at += n;
            start
        })
        .collect()
}

/// Block indices in C order (last axis fastest).
pub struct BlockIndices {
    counts: Vec<usize>,
    next: Option<Vec<usize>>,
}

impl BlockIndices {
    fn new(counts: Vec<usize>) -> Self {
        let next = (!counts.contains(&0)).then(|| vec![0; counts.len()]);
        BlockIndices { counts, next }
    }
}

impl Iterator for BlockIndices {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let current = self.next.take()?;
        let mut following = current.clone();
        for axis in (0..following.len()).rev() {
            following[axis] += 1;
            if following[axis] < self.counts[axis] {
                self.next = Some(following);
                return Some(current);
            }
            following[axis] = 0;
        }
        Some(current)
    }
}

/// The grid of `left op right` under numpy broadcasting: shapes aligned at the right, an
/// axis of length 1 stretched to the other's. Axes of equal length must be cut alike.
pub fn broadcast(op: &'static str, left: &Grid, right: &Grid) -> Result<Grid, ArrayError> {
    let ndim = left.ndim().max(right.ndim());
    let mismatch = || ArrayError::ShapeMismatch {
        op,
        left: left.shape.clone(),
        right: right.shape.clone(),
    };
    let axis_of = |grid: &Grid, axis: usize| -> Option<(usize, Vec<usize>)> {
        let skip = ndim - grid.ndim();
        (axis >= skip).then(|| (grid.shape[axis - skip], grid.chunks[axis - skip].clone()))
    };
    let mut chunks = Vec::with_capacity(ndim);
    for axis in 0..ndim {
        let picked = match (axis_of(left, axis), axis_of(right, axis)) {
            (Some(a), None) | (None, Some(a)) => a.1,
            (Some((la, ca)), Some((lb, cb))) => match (la, lb) {
                (1, _) => cb,
                (_, 1) => ca,
                _ if la == lb && ca == cb => ca,
                _ if la == lb => {
                    return Err(ArrayError::Unsupported {
                        op,
                        shape: left.shape.clone(),
                        reason: format!(
                            "chunks {ca:?} and {cb:?} of an axis of {la} differ; rechunk one"
                        ),
                    })
                }
                _ => return Err(mismatch()),
            },
            (None, None) => unreachable!("axis below ndim of one operand"),
        };
        chunks.push(picked);
    }
    Ok(Grid::from_chunks(chunks))
}

/// The block of `input` that block `out_index` of a broadcast result reads.
pub fn broadcast_index(input: &Grid, out: &Grid, out_index: &[usize]) -> Vec<usize> {
    let skip = out.ndim() - input.ndim();
    (0..input.ndim())
        .map(|axis| {
            if input.shape[axis] == 1 && out.shape[axis + skip] != 1 {
                0
            } else {
                out_index[axis + skip]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_axes_get_a_smaller_last_chunk() {
        let grid = Grid::regular(&[10, 4], &[3, 0]).unwrap();
        assert_eq!(grid.chunks(), &[vec![3, 3, 3, 1], vec![4]]);
        assert_eq!(grid.offsets()[0], vec![0, 3, 6, 9]);
        let blocks: Vec<_> = Grid::regular(&[4, 4], &[2, 3])
            .unwrap()
            .block_indices()
            .collect();
        assert_eq!(blocks, [vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]);
    }

    #[test]
    fn broadcasting_follows_numpy() {
        let x = Grid::regular(&[6, 4], &[3, 2]).unwrap();
        let row = Grid::regular(&[4], &[2]).unwrap();
        let col = Grid::regular(&[6, 1], &[3, 1]).unwrap();
        assert_eq!(broadcast("-", &x, &row).unwrap(), x);
        assert_eq!(broadcast("-", &col, &x).unwrap(), x);
        assert_eq!(broadcast_index(&col, &x, &[1, 1]), vec![1, 0]);
        let bad = Grid::regular(&[6], &[3]).unwrap();
        let err = broadcast("-", &x, &bad).unwrap_err();
        assert_eq!(err.to_string(), "-: shapes [6, 4] and [6] do not match");
    }
}
