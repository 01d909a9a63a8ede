//! Element-wise arithmetic: the std operator traits on `&Array` (with arrays, under numpy
//! broadcasting, and with scalars), math functions, comparisons to masks, `where_`, and
//! `map_blocks`. Each step composes into its operands' programs when they are element-wise
//! on the same grid, so a chain runs as one task per block.

use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

use super::block::{Block, DType, Element};
use super::grid::{broadcast, Grid};
use super::node::{task_of, Layer, Node, Source, MAX_INPUTS};
use super::program::{Binary, Number, Op, Program, Unary};
use super::Array;
use crate::collections::token::token;
use crate::function::{ArgSpec, RemoteFunction};

/// The programs of `operands` over shared inputs: each operand that is itself element-wise
/// on `grid` in `dtype` is inlined, the others become inputs.
fn fuse(operands: &[&Arc<Node>], grid: &Grid, dtype: DType) -> (Vec<Vec<Op>>, Vec<Arc<Node>>) {
    let attempt = |inline: bool| {
        let mut inputs: Vec<Arc<Node>> = Vec::new();
        let slot = |node: &Arc<Node>, inputs: &mut Vec<Arc<Node>>| -> u8 {
            let at = inputs.iter().position(|n| n.name == node.name);
            at.unwrap_or_else(|| {
                inputs.push(node.clone());
                inputs.len() - 1
            }) as u8
        };
        let programs = operands
            .iter()
            .map(|&node| match &node.source {
                Source::Blockwise {
                    program,
                    inputs: own,
                } if inline && node.grid == *grid && program.dtype == dtype => {
                    let map: Vec<u8> = own.iter().map(|n| slot(n, &mut inputs)).collect();
                    let remap = |op: &Op| match op {
                        Op::Input(i) => Op::Input(map[usize::from(*i)]),
                        other => other.clone(),
                    };
                    program.ops.iter().map(remap).collect()
                }
                _ => vec![Op::Input(slot(node, &mut inputs))],
            })
            .collect::<Vec<Vec<Op>>>();
        (programs, inputs)
    };
    let fused = attempt(true);
    if fused.1.len() <= MAX_INPUTS {
        fused
    } else {
        attempt(false)
    }
}

fn first_error<U: Element>(operands: &[&Arc<Node>]) -> Option<Array<U>> {
    let error = operands.iter().find_map(|node| node.error())?;
    Some(Array::from_node(Node::invalid(error.clone(), U::DTYPE)))
}

/// `node` followed by the steps `after`, computing in `U`.
pub(super) fn map_program<U: Number>(node: &Arc<Node>, op: &str, after: &[Op]) -> Array<U> {
    if let Some(invalid) = first_error(&[node]) {
        return invalid;
    }
    let (mut programs, inputs) = fuse(&[node], &node.grid, U::DTYPE);
    let mut ops = programs.remove(0);
    ops.extend_from_slice(after);
    finish_program(op, node.grid.clone(), ops, inputs)
}

fn finish_program<U: Element>(
    op: &str,
    grid: Grid,
    ops: Vec<Op>,
    inputs: Vec<Arc<Node>>,
) -> Array<U> {
    let program = Program {
        dtype: U::DTYPE,
        ops,
    };
    let names: Vec<&str> = inputs.iter().map(|n| &*n.name).collect();
    let name = token(op, &(program.clone(), grid.clone()), &names);
    let source = Source::Blockwise { program, inputs };
    Array::from_node(Node::new(name, grid, U::DTYPE, source))
}

/// `b` cut like `a` along the axes where both have the same length (numpy-aligned at the
/// right), so the two can be zipped block by block.
fn unify_chunks<T: Number>(a: &Arc<Node>, b: &Arc<Node>) -> Arc<Node> {
    let skip = a.grid.ndim().saturating_sub(b.grid.ndim());
    let other_skip = b.grid.ndim().saturating_sub(a.grid.ndim());
    let mut chunks = b.grid.chunks().to_vec();
    let mut changed = false;
    for (axis, sizes) in chunks.iter_mut().enumerate().skip(other_skip) {
        let mine = &a.grid.chunks()[axis - other_skip + skip];
        let same_len = a.grid.shape()[axis - other_skip + skip] == b.grid.shape()[axis];
        if same_len && b.grid.shape()[axis] != 1 && mine != sizes {
            *sizes = mine.clone();
            changed = true;
        }
    }
    if !changed {
        return b.clone();
    }
    let b: Array<T> = Array::from_node(b.clone());
    b.rechunk_to(Grid::from_chunks(chunks)).node
}

fn binary<T: Number>(op: &'static str, a: &Arc<Node>, b: &Arc<Node>, step: Binary) -> Array<T> {
    if let Some(invalid) = first_error(&[a, b]) {
        return invalid;
    }
    let b = &unify_chunks::<T>(a, b);
    let grid = match broadcast(op, &a.grid, &b.grid) {
        Ok(grid) => grid,
        Err(error) => return Array::from_node(Node::invalid(error, T::DTYPE)),
    };
    let (programs, inputs) = fuse(&[a, b], &grid, T::DTYPE);
    let mut ops: Vec<Op> = programs.into_iter().flatten().collect();
    ops.push(Op::Binary(step));
    finish_program(op, grid, ops, inputs)
}

macro_rules! operator {
    ($trait:ident, $method:ident, $step:ident, $symbol:literal) => {
        impl<T: Number> $trait<&Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, other: &Array<T>) -> Array<T> {
                binary($symbol, &self.node, &other.node, Binary::$step)
            }
        }

        impl<T: Number> $trait<T> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, value: T) -> Array<T> {
                let step = Op::Scalar {
                    op: Binary::$step,
                    value: value.to_f64(),
                    scalar_left: false,
                };
                map_program(&self.node, $symbol, &[step])
            }
        }

        impl<T: Number> $trait<&Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, other: &Array<T>) -> Array<T> {
                (&self).$method(other)
            }
        }

        impl<T: Number> $trait<Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, other: Array<T>) -> Array<T> {
                (&self).$method(&other)
            }
        }

        impl<T: Number> $trait<T> for Array<T> {
            type Output = Array<T>;
            fn $method(self, value: T) -> Array<T> {
                (&self).$method(value)
            }
        }

        scalar_left!($trait, $method, $step, $symbol, f64, f32, i64);
    };
}

macro_rules! scalar_left {
    ($trait:ident, $method:ident, $step:ident, $symbol:literal, $($t:ty),*) => {$(
        impl $trait<&Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, array: &Array<$t>) -> Array<$t> {
                let step = Op::Scalar { op: Binary::$step, value: self.to_f64(), scalar_left: true };
                map_program(&array.node, $symbol, &[step])
            }
        }

        impl $trait<Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, array: Array<$t>) -> Array<$t> {
                self.$method(&array)
            }
        }
    )*};
}

operator!(Add, add, Add, "+");
operator!(Sub, sub, Sub, "-");
operator!(Mul, mul, Mul, "*");
operator!(Div, div, Div, "/");

impl<T: Number> Neg for &Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        map_program(&self.node, "neg", &[Op::Unary(Unary::Neg)])
    }
}

impl<T: Number> Array<T> {
    fn unary(&self, op: &str, step: Unary) -> Array<T> {
        map_program(&self.node, op, &[Op::Unary(step)])
    }

    /// `|x|` element-wise.
    pub fn abs(&self) -> Array<T> {
        self.unary("abs", Unary::Abs)
    }

    /// Each element clamped into `[lo, hi]`.
    pub fn clip(&self, lo: T, hi: T) -> Array<T> {
        self.unary("clip", Unary::Clip(lo.to_f64(), hi.to_f64()))
    }

    /// Applies a user `#[remote]` function `fn(&Block) -> Block` to every block; it must keep
    /// each block's shape. One task per block.
    ///
    /// ```
    /// use taskforce::collections::{array::Block, Array};
    /// use taskforce::threaded::Threaded;
    ///
    /// #[taskforce::remote]
    /// fn double(block: &Block) -> Block {
    ///     Block::from(block.view::<f64>().expect("f64 blocks").mapv(|v| 2.0 * v))
    /// }
    ///
    /// let x = Array::<f64>::ones(&[5], &[2]);
    /// let y = x.map_blocks::<f64, _>(double);
    /// assert_eq!(y.sum().compute(&Threaded::default())?, 10.0);
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn map_blocks<U: Element, F>(&self, function: F) -> Array<U>
    where
        F: RemoteFunction<Args = (Block,), Output = Block>,
    {
        if let Some(invalid) = first_error(&[&self.node]) {
            return invalid;
        }
        let id = function.function_id();
        let name = token(
            "map-blocks",
            &(id.to_string(), U::DTYPE),
            &[&self.node.name],
        );
        let tasks = self
            .node
            .grid
            .block_indices()
            .map(|index| {
                let input = ArgSpec::Key(self.node.key(&index));
                (
                    super::node::block_key(&name, &index),
                    task_of(&function, vec![Ok(input)]),
                )
            })
            .collect();
        let layer = Arc::new(Layer {
            tasks,
            deps: vec![self.node.clone()],
        });
        let grid = self.node.grid.clone();
        Array::from_node(Node::new(name, grid, U::DTYPE, Source::Built(layer)))
    }
}

macro_rules! float_functions {
    ($($t:ty),*) => {$(
        impl Array<$t> {
            /// `√x` element-wise.
            pub fn sqrt(&self) -> Self {
                self.unary("sqrt", Unary::Sqrt)
            }
            /// `eˣ` element-wise.
            pub fn exp(&self) -> Self {
                self.unary("exp", Unary::Exp)
            }
            /// `ln x` element-wise.
            pub fn ln(&self) -> Self {
                self.unary("ln", Unary::Ln)
            }
            /// `xᵖ` element-wise.
            pub fn powf(&self, p: $t) -> Self {
                self.unary("powf", Unary::Powf(f64::from(p)))
            }
        }
    )*};
}

float_functions!(f64, f32);
