//! Creating arrays: random (seeded or fresh), full/ones/zeros, arange, linspace, and from an
//! `ndarray` array. Creation layers are blockwise programs of no input, so they fuse into
//! whatever consumes them (a random array feeding a sum runs as one task per block).

use std::sync::Arc;

use ndarray::{ArrayD, Slice};

use super::block::Element;
use super::grid::Grid;
use super::node::{block_key, literal, task_of, Layer, Node, Source};
use super::program::{Number, Op, Program};
use super::Array;
use crate::collections::token::{fresh_seed, token};

fn created<T: Number>(op: &str, shape: &[usize], chunks: &[usize], ops: Vec<Op>) -> Array<T> {
    let grid = match Grid::regular(shape, chunks) {
        Ok(grid) => grid,
        Err(error) => return Array::from_node(Node::invalid(error, T::DTYPE)),
    };
    let program = Program {
        dtype: T::DTYPE,
        ops,
    };
    let name = token(op, &(program.clone(), grid.clone()), &[]);
    let source = Source::Blockwise {
        program,
        inputs: Vec::new(),
    };
    Array::from_node(Node::new(name, grid, T::DTYPE, source))
}

impl Array<f64> {
    /// Uniform random numbers in `[0, 1)` of `shape`, cut into `chunks`, with a seed drawn
    /// now: computing the array twice gives the same numbers, another call gives others.
    /// Every block draws its own numbers.
    ///
    /// ```
    /// use taskforce::collections::Array;
    /// let x = Array::random(&[1_000_000], &[100_000]);      // 10 blocks, nothing runs yet
    /// assert_eq!(x.chunks()[0].len(), 10);
    /// ```
    pub fn random(shape: &[usize], chunks: &[usize]) -> Array<f64> {
        Array::random_seeded(shape, chunks, fresh_seed())
    }

    /// [`Array::random`] with a given seed: the same numbers in any program on any runner.
    pub fn random_seeded(shape: &[usize], chunks: &[usize], seed: u64) -> Array<f64> {
        created("random", shape, chunks, vec![Op::Random(seed)])
    }

    /// `num` evenly spaced values from `start` to `stop` inclusive, cut into `chunk`s.
    pub fn linspace(start: f64, stop: f64, num: usize, chunk: usize) -> Array<f64> {
        let step = if num > 1 {
            (stop - start) / (num - 1) as f64
        } else {
            0.0
        };
        created(
            "linspace",
            &[num],
            &[chunk],
            vec![Op::Arange { start, step }],
        )
    }
}

impl<T: Number> Array<T> {
    /// An array of `value` everywhere.
    pub fn full(shape: &[usize], chunks: &[usize], value: T) -> Array<T> {
        created("full", shape, chunks, vec![Op::Full(value.to_f64())])
    }

    /// An array of ones.
    pub fn ones(shape: &[usize], chunks: &[usize]) -> Array<T> {
        created("full", shape, chunks, vec![Op::Full(1.0)])
    }

    /// An array of zeros.
    pub fn zeros(shape: &[usize], chunks: &[usize]) -> Array<T> {
        created("full", shape, chunks, vec![Op::Full(0.0)])
    }

    /// `start, start + step, …` below `stop`, as numpy's `arange`, cut into `chunk`s.
    pub fn arange(start: f64, stop: f64, step: f64, chunk: usize) -> Array<T> {
        let len = if step == 0.0 {
            0
        } else {
            ((stop - start) / step).ceil().max(0.0) as usize
        };
        created("arange", &[len], &[chunk], vec![Op::Arange { start, step }])
    }
}

impl<T: Element> Array<T> {
    /// An array holding `array`, cut into `chunks`: one task per block, each carrying its
    /// block's data in the graph.
    pub fn from_ndarray(array: &ArrayD<T>, chunks: &[usize]) -> Array<T> {
        let grid = match Grid::regular(array.shape(), chunks) {
            Ok(grid) => grid,
            Err(error) => return Array::from_node(Node::invalid(error, T::DTYPE)),
        };
        let offsets = grid.offsets();
        let blocks: Vec<(Vec<usize>, ArrayD<T>)> = grid
            .block_indices()
            .map(|index| {
                let block = array.slice_each_axis(|axis| {
                    let (a, i) = (axis.axis.index(), index[axis.axis.index()]);
                    let start = offsets[a][i];
                    Slice::from(start..start + grid.chunks()[a][i])
                });
                (index, block.to_owned())
            })
            .collect();
        let encoded: Vec<_> = blocks
            .into_iter()
            .map(|(index, block)| (index, literal(&T::into_block(block))))
            .collect();
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (_, spec) in &encoded {
            if let Ok(crate::function::ArgSpec::Value(value)) = spec {
                hasher.update(&value.bytes);
            }
        }
        let data_hash = format!("{:032x}", hasher.digest128());
        let name = token("from-ndarray", &grid, &[&data_hash]);
        let tasks = encoded
            .into_iter()
            .map(|(index, spec)| {
                let task = task_of(&super::kernels::identity, vec![spec]);
                (block_key(&name, &index), task)
            })
            .collect();
        let layer = Arc::new(Layer {
            tasks,
            deps: Vec::new(),
        });
        Array::from_node(Node::new(name, grid, T::DTYPE, Source::Built(layer)))
    }
}
