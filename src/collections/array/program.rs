//! Fused element-wise programs: a postfix list of [`Op`]s evaluated over a block's inputs in
//! one task, so a chain like `(&x - 1.0).sqrt() * 2.0` (or `random` feeding a reduction)
//! runs as one task per block with no intermediate chunk stored between the steps.
//!
//! Pure computation on ndarray: no graphs, no keys.

use ndarray::{ArrayD, Dimension, IxDyn, Zip};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::block::{Block, DType, Element};

/// Where a block sits in its array: what block-dependent steps (random, arange) need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Its position among the array's blocks in C order.
    pub linear: u64,
    /// The array index of its first element, per axis.
    pub offset: Vec<u64>,
    /// Its shape.
    pub shape: Vec<u64>,
}

impl BlockInfo {
    fn dim(&self) -> IxDyn {
        IxDyn(&self.shape.iter().map(|&n| n as usize).collect::<Vec<_>>())
    }
}

/// A one-operand step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Unary {
    /// `-x`.
    Neg,
    /// `√x`.
    Sqrt,
    /// `eˣ`.
    Exp,
    /// `ln x`.
    Ln,
    /// `|x|`.
    Abs,
    /// `xᵖ`.
    Powf(f64),
    /// `x` clamped into `[lo, hi]`.
    Clip(f64, f64),
}

/// A two-operand step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Binary {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b` (integer division by zero gives 0).
    Div,
}

/// One step of a program. Steps push a block-shaped array on a stack or combine the top ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Pushes input `i`, broadcast to the block's shape and converted to the output type.
    Input(u8),
    /// Pushes uniform random numbers in `[0, 1)`, drawn for this block from `seed`.
    Random(u64),
    /// Pushes a block of one value.
    Full(f64),
    /// Pushes `start + step * i` for the global index `i` along the (only) axis.
    Arange {
        /// The first value.
        start: f64,
        /// The difference between neighbours.
        step: f64,
    },
    /// Replaces the top with a function of it.
    Unary(Unary),
    /// Replaces the top two `a, b` with `a op b`.
    Binary(Binary),
    /// Replaces the top `a` with `a op value` (or `value op a` when `scalar_left`).
    Scalar {
        /// The operation.
        op: Binary,
        /// The scalar.
        value: f64,
        /// Whether the scalar is the left operand.
        scalar_left: bool,
    },
}

/// A program and the element type it computes in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The element type of the result.
    pub dtype: DType,
    /// The steps, in postfix order.
    pub ops: Vec<Op>,
}

/// Element types programs compute in.
pub trait Number:
    Element + num_traits::Zero + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self>
{
    /// Applies a one-operand step.
    fn unary(self, op: Unary) -> Self;
    /// Applies a two-operand step.
    fn binary(self, op: Binary, other: Self) -> Self;
}

macro_rules! float_numbers {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn unary(self, op: Unary) -> Self {
                match op {
                    Unary::Neg => -self,
                    Unary::Sqrt => self.sqrt(),
                    Unary::Exp => self.exp(),
                    Unary::Ln => self.ln(),
                    Unary::Abs => self.abs(),
                    Unary::Powf(p) => self.powf(p as $t),
                    Unary::Clip(lo, hi) => self.max(lo as $t).min(hi as $t),
                }
            }
            fn binary(self, op: Binary, other: Self) -> Self {
                match op {
                    Binary::Add => self + other,
                    Binary::Sub => self - other,
                    Binary::Mul => self * other,
                    Binary::Div => self / other,
                }
            }
        }
    )*};
}

float_numbers!(f64, f32);

impl Number for i64 {
    fn unary(self, op: Unary) -> Self {
        match op {
            Unary::Neg => self.wrapping_neg(),
            Unary::Abs => self.wrapping_abs(),
            Unary::Clip(lo, hi) => self.max(lo as i64).min(hi as i64),
            other => (self as f64).unary(other) as i64,
        }
    }
    fn binary(self, op: Binary, other: Self) -> Self {
        match op {
            Binary::Add => self.wrapping_add(other),
            Binary::Sub => self.wrapping_sub(other),
            Binary::Mul => self.wrapping_mul(other),
            Binary::Div => self.checked_div(other).unwrap_or(0),
        }
    }
}

/// The random numbers of one block: a xoshiro256++ stream seeded from the array's seed and
/// the block's position, so every block draws its own numbers and the same seed gives the
/// same array on any machine.
pub fn random_block(seed: u64, linear: u64, len: usize) -> Vec<f64> {
    let mut rng = block_rng(seed, linear);
    (0..len).map(|_| unit_f64(rng.next_u64())).collect()
}

/// The generator of one block (see `random_block`).
pub fn block_rng(seed: u64, linear: u64) -> Xoshiro256PlusPlus {
    let mixed = xxhash_rust::xxh3::xxh3_64_with_seed(&linear.to_le_bytes(), seed);
    Xoshiro256PlusPlus::seed_from_u64(mixed)
}

/// A uniform `f64` in `[0, 1)` from 64 random bits.
pub fn unit_f64(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
}

/// The numpy broadcast of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let ndim = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() >= ndim {
            s[i + s.len() - ndim]
        } else {
            1
        }
    };
    (0..ndim)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(format!("blocks of shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// A view stretched (numpy broadcasting) to `shape`, owned.
pub fn stretch<T: Clone>(
    view: ndarray::ArrayViewD<'_, T>,
    shape: &[usize],
) -> Result<ArrayD<T>, String> {
    let mut view = view;
    while view.ndim() < shape.len() {
        view.insert_axis_inplace(ndarray::Axis(0));
    }
    let stretched = view.broadcast(IxDyn(shape)).ok_or_else(|| {
        format!(
            "a block of shape {:?} does not broadcast to {shape:?}",
            view.shape()
        )
    })?;
    Ok(stretched.to_owned())
}

/// Input `block` as a `T` array of exactly `shape` (broadcast, converted if its type differs).
fn load<T: Number>(block: &Block, shape: &IxDyn) -> Result<ArrayD<T>, String> {
    let converted;
    let view = match T::view(block) {
        Some(view) => view,
        None => {
            converted = block.to_f64().mapv(T::from_f64);
            converted.view()
        }
    };
    let ndim = shape.ndim();
    let mut aligned = view;
    while aligned.ndim() < ndim {
        aligned.insert_axis_inplace(ndarray::Axis(0));
    }
    let broadcast = aligned.broadcast(shape.clone()).ok_or_else(|| {
        format!(
            "block of shape {:?} does not broadcast to {:?}",
            block.shape(),
            shape.slice()
        )
    })?;
    Ok(broadcast.to_owned())
}

/// Runs `program` on one block's inputs, in the program's element type.
pub fn evaluate(program: &Program, info: &BlockInfo, inputs: &[&Block]) -> Result<Block, String> {
    match program.dtype {
        DType::F64 => run::<f64>(&program.ops, info, inputs).map(Block::F64),
        DType::F32 => run::<f32>(&program.ops, info, inputs).map(Block::F32),
        DType::I64 => run::<i64>(&program.ops, info, inputs).map(Block::I64),
        DType::Bool => Err("element-wise programs compute numbers, not masks".into()),
    }
}

/// Runs the steps on a stack of block-shaped arrays.
pub fn run<T: Number>(
    ops: &[Op],
    info: &BlockInfo,
    inputs: &[&Block],
) -> Result<ArrayD<T>, String> {
    let dim = info.dim();
    let mut stack: Vec<ArrayD<T>> = Vec::with_capacity(4);
    let underflow = || "element-wise program pops an empty stack".to_string();
    for op in ops {
        match *op {
            Op::Input(i) => {
                let block = inputs.get(usize::from(i)).ok_or("missing input block")?;
                stack.push(load(block, &dim)?);
            }
            Op::Random(seed) => {
                let data = random_block(seed, info.linear, dim.size());
                let data = data.into_iter().map(T::from_f64).collect();
                stack.push(ArrayD::from_shape_vec(dim.clone(), data).map_err(|e| e.to_string())?);
            }
            Op::Full(value) => stack.push(ArrayD::from_elem(dim.clone(), T::from_f64(value))),
            Op::Arange { start, step } => {
                let first = info.offset.first().copied().unwrap_or(0) as f64;
                let at = |i: IxDyn| T::from_f64(start + step * (first + i[0] as f64));
                stack.push(ArrayD::from_shape_fn(dim.clone(), at));
            }
            Op::Unary(u) => stack
                .last_mut()
                .ok_or_else(underflow)?
                .mapv_inplace(|v| v.unary(u)),
            Op::Binary(b) => {
                let right = stack.pop().ok_or_else(underflow)?;
                let left = stack.last_mut().ok_or_else(underflow)?;
                Zip::from(left)
                    .and(&right)
                    .for_each(|l, &r| *l = l.binary(b, r));
            }
            Op::Scalar {
                op,
                value,
                scalar_left,
            } => {
                let s = T::from_f64(value);
                let top = stack.last_mut().ok_or_else(underflow)?;
                if scalar_left {
                    top.mapv_inplace(|v| s.binary(op, v));
                } else {
                    top.mapv_inplace(|v| v.binary(op, s));
                }
            }
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(result), true) => Ok(result),
        _ => Err("element-wise program leaves other than one result".into()),
    }
}

/// Elements per tile when a program of no input streams into a full reduction.
pub const TILE: usize = 1 << 14;

/// Whether `ops` read no input block (creation followed by element-wise steps), so they can
/// run a tile at a time.
pub fn streams(ops: &[Op]) -> bool {
    !ops.iter().any(|op| matches!(op, Op::Input(_)))
}

/// Runs a program of no input over its block a tile of [`TILE`] elements at a time, in C
/// order, handing each tile to `each`: the same values as [`run`] without ever holding the
/// block (random numbers are drawn in the same order).
pub fn run_tiled<T: Number>(
    ops: &[Op],
    info: &BlockInfo,
    mut each: impl FnMut(&[T]),
) -> Result<(), String> {
    let len: usize = info.shape.iter().map(|&n| n as usize).product();
    let mut rngs: Vec<Option<Xoshiro256PlusPlus>> = ops
        .iter()
        .map(|op| match op {
            Op::Random(seed) => Some(block_rng(*seed, info.linear)),
            _ => None,
        })
        .collect();
    let first = info.offset.first().copied().unwrap_or(0) as f64;
    let mut stack: Vec<Vec<T>> = Vec::new();
    let mut spare: Vec<Vec<T>> = Vec::new();
    let underflow = || "element-wise program pops an empty stack".to_string();
    let mut done = 0;
    while done < len {
        let n = TILE.min(len - done);
        for (step, op) in ops.iter().enumerate() {
            let mut fresh = || {
                let mut buffer = spare.pop().unwrap_or_default();
                buffer.clear();
                buffer
            };
            match *op {
                Op::Input(_) => return Err("a streamed program reads no input".into()),
                Op::Random(_) => {
                    // A local copy of the generator stays in registers while the tile is
                    // written; through the vector of generators it is reloaded per element.
                    let slot = &mut rngs[step];
                    let mut rng = slot.clone().expect("a generator per random step");
                    let mut buffer = fresh();
                    buffer.extend((0..n).map(|_| T::from_f64(unit_f64(rng.next_u64()))));
                    *slot = Some(rng);
                    stack.push(buffer);
                }
                Op::Full(value) => {
                    let mut buffer = fresh();
                    buffer.resize(n, T::from_f64(value));
                    stack.push(buffer);
                }
                Op::Arange { start, step } => {
                    let at = first + done as f64;
                    let mut buffer = fresh();
                    buffer.extend((0..n).map(|i| T::from_f64(start + step * (at + i as f64))));
                    stack.push(buffer);
                }
                Op::Unary(u) => {
                    let top = stack.last_mut().ok_or_else(underflow)?;
                    top.iter_mut().for_each(|v| *v = v.unary(u));
                }
                Op::Binary(b) => {
                    let right = stack.pop().ok_or_else(underflow)?;
                    let left = stack.last_mut().ok_or_else(underflow)?;
                    left.iter_mut()
                        .zip(&right)
                        .for_each(|(l, &r)| *l = l.binary(b, r));
                    spare.push(right);
                }
                Op::Scalar {
                    op,
                    value,
                    scalar_left,
                } => {
                    let s = T::from_f64(value);
                    let top = stack.last_mut().ok_or_else(underflow)?;
                    if scalar_left {
                        top.iter_mut().for_each(|v| *v = s.binary(op, *v));
                    } else {
                        top.iter_mut().for_each(|v| *v = v.binary(op, s));
                    }
                }
            }
        }
        let tile = stack.pop().ok_or_else(underflow)?;
        if !stack.is_empty() {
            return Err("element-wise program leaves other than one result".into());
        }
        each(&tile);
        spare.push(tile);
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(shape: &[u64]) -> BlockInfo {
        BlockInfo {
            linear: 3,
            offset: vec![10; shape.len()],
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn a_fused_chain_matches_the_steps_one_by_one() {
        let x = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f64);
        let row = Block::F64(ArrayD::from_shape_fn(IxDyn(&[3]), |i| i[0] as f64));
        let ops = vec![
            Op::Input(0),
            Op::Input(1),
            Op::Binary(Binary::Sub),
            Op::Scalar {
                op: Binary::Div,
                value: 2.0,
                scalar_left: true,
            },
            Op::Unary(Unary::Abs),
        ];
        let program = Program {
            dtype: DType::F64,
            ops,
        };
        let got = evaluate(&program, &info(&[2, 3]), &[&Block::F64(x.clone()), &row]).unwrap();
        let row = row.into_array::<f64>().unwrap();
        let expected = (2.0 / (&x - &row)).mapv(f64::abs);
        assert_eq!(got, Block::F64(expected));
    }

    #[test]
    fn random_blocks_differ_by_position_and_repeat_by_seed() {
        assert_eq!(random_block(7, 1, 100), random_block(7, 1, 100));
        assert_ne!(random_block(7, 1, 100), random_block(7, 2, 100));
        assert_ne!(random_block(7, 1, 100), random_block(8, 1, 100));
        assert!(random_block(1, 0, 1000)
            .iter()
            .all(|v| (0.0..1.0).contains(v)));
    }
}
