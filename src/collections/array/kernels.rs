//! The built-in kernels of arrays: `#[remote]` functions with stable names
//! (`taskforce.array.*`), linked into the stock `taskforce` binary and every program that
//! uses the crate, so any worker can run any array graph.
//!
//! Each kernel is a thin call into the pure block arithmetic of the sibling modules.

use serde::{Deserialize, Serialize};

use super::block::{Block, DType};
use super::program::{evaluate, streams, BlockInfo, Program};
use super::reduce_math::{self, ReduceSpec};

/// What a blockwise task does: run a program over its inputs, then maybe reduce the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The element-wise program.
    pub program: Program,
    /// The reduction applied to the program's result (its partial is the task's value).
    pub reduce: Option<ReduceSpec>,
}

fn run_plan(plan: &Plan, info: &BlockInfo, inputs: &[&Block]) -> Result<Block, String> {
    if let Some(spec) = &plan.reduce {
        let ops = &plan.program.ops;
        if streams(ops) && reduce_math::streamable(spec, info.shape.len()) {
            return match plan.program.dtype {
                DType::F64 => reduce_math::partial_streamed::<f64>(spec, ops, info),
                DType::F32 => reduce_math::partial_streamed::<f32>(spec, ops, info),
                DType::I64 => reduce_math::partial_streamed::<i64>(spec, ops, info),
                DType::Bool => Err("element-wise programs compute numbers, not masks".into()),
            };
        }
    }
    let block = evaluate(&plan.program, info, inputs)?;
    match &plan.reduce {
        None => Ok(block),
        Some(spec) => reduce_math::partial(spec, info, &block),
    }
}

/// A block computed from no input (creation: random, full, arange).
#[crate::remote(name = "taskforce.array.blockwise0")]
pub fn blockwise0(plan: &Plan, info: &BlockInfo) -> Result<Block, String> {
    run_plan(plan, info, &[])
}

/// A block computed from one input block.
#[crate::remote(name = "taskforce.array.blockwise1")]
pub fn blockwise1(plan: &Plan, info: &BlockInfo, a: &Block) -> Result<Block, String> {
    run_plan(plan, info, &[a])
}

/// A block computed from two input blocks.
#[crate::remote(name = "taskforce.array.blockwise2")]
pub fn blockwise2(plan: &Plan, info: &BlockInfo, a: &Block, b: &Block) -> Result<Block, String> {
    run_plan(plan, info, &[a, b])
}

/// A block computed from three input blocks.
#[crate::remote(name = "taskforce.array.blockwise3")]
pub fn blockwise3(
    plan: &Plan,
    info: &BlockInfo,
    a: &Block,
    b: &Block,
    c: &Block,
) -> Result<Block, String> {
    run_plan(plan, info, &[a, b, c])
}

/// Several partials of a reduction combined into one.
#[crate::remote(name = "taskforce.array.combine")]
pub fn combine(spec: &ReduceSpec, parts: Vec<Block>) -> Result<Block, String> {
    reduce_math::combine(spec, parts)
}

/// The final value of a reduction from its last partial.
#[crate::remote(name = "taskforce.array.finish")]
pub fn finish(spec: &ReduceSpec, part: &Block) -> Result<Block, String> {
    reduce_math::finish(spec, part.clone())
}

/// A block given in the graph itself (from an `ndarray` array).
#[crate::remote(name = "taskforce.array.identity")]
pub fn identity(block: Block) -> Block {
    block
}

/// How two elements compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Compare {
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
}

fn broadcast_pair(
    a: &Block,
    b: &Block,
) -> Result<(ndarray::ArrayD<f64>, ndarray::ArrayD<f64>), String> {
    let (a, b) = (a.to_f64(), b.to_f64());
    let shape = super::program::broadcast_shapes(a.shape(), b.shape())?;
    let a = super::program::stretch(a.view(), &shape)?;
    let b = super::program::stretch(b.view(), &shape)?;
    Ok((a, b))
}

/// A mask of `a cmp b` (broadcast; compared as `f64`).
#[crate::remote(name = "taskforce.array.compare")]
pub fn compare(cmp: Compare, a: &Block, b: &Block) -> Result<Block, String> {
    let (a, b) = broadcast_pair(a, b)?;
    let test = move |x: f64, y: f64| match cmp {
        Compare::Lt => x < y,
        Compare::Le => x <= y,
        Compare::Gt => x > y,
        Compare::Ge => x >= y,
        Compare::Eq => x == y,
        Compare::Ne => x != y,
    };
    Ok(Block::Bool(
        ndarray::Zip::from(&a)
            .and(&b)
            .map_collect(|&x, &y| test(x, y)),
    ))
}

/// `a` where `mask` holds, else `b` (broadcast, in `dtype`).
#[crate::remote(name = "taskforce.array.select")]
pub fn select(
    dtype: super::block::DType,
    mask: &Block,
    a: &Block,
    b: &Block,
) -> Result<Block, String> {
    let mask = mask.view::<bool>().ok_or("where_ needs a boolean mask")?;
    let shape = super::program::broadcast_shapes(mask.shape(), a.shape())?;
    let shape = super::program::broadcast_shapes(&shape, b.shape())?;
    let (mask, a, b) = (
        super::program::stretch(mask, &shape)?,
        super::program::stretch(a.to_f64().view(), &shape)?,
        super::program::stretch(b.to_f64().view(), &shape)?,
    );
    let picked = ndarray::Zip::from(&mask)
        .and(&a)
        .and(&b)
        .map_collect(|&m, &x, &y| if m { x } else { y });
    Ok(match dtype {
        super::block::DType::F32 => Block::F32(picked.mapv(|v| v as f32)),
        super::block::DType::I64 => Block::I64(picked.mapv(|v| v as i64)),
        _ => Block::F64(picked),
    })
}

/// A block with its axes permuted.
#[crate::remote(name = "taskforce.array.transpose")]
pub fn transpose(axes: Vec<usize>, block: &Block) -> Result<Block, String> {
    if axes.len() != block.shape().len() {
        return Err(format!(
            "axes {axes:?} for a block of shape {:?}",
            block.shape()
        ));
    }
    Ok(match block {
        Block::F64(a) => Block::F64(
            a.view()
                .permuted_axes(axes)
                .as_standard_layout()
                .into_owned(),
        ),
        Block::F32(a) => Block::F32(
            a.view()
                .permuted_axes(axes)
                .as_standard_layout()
                .into_owned(),
        ),
        Block::I64(a) => Block::I64(
            a.view()
                .permuted_axes(axes)
                .as_standard_layout()
                .into_owned(),
        ),
        Block::Bool(a) => Block::Bool(
            a.view()
                .permuted_axes(axes)
                .as_standard_layout()
                .into_owned(),
        ),
    })
}

/// Part of a block: per axis `(start, stop, step)` in the block's own indices.
#[crate::remote(name = "taskforce.array.slice")]
pub fn slice(ranges: Vec<(u64, u64, u64)>, block: &Block) -> Result<Block, String> {
    if ranges.len() != block.shape().len() {
        return Err(format!(
            "{} ranges for a block of shape {:?}",
            ranges.len(),
            block.shape()
        ));
    }
    let cut = |axis: ndarray::AxisDescription| {
        let (start, stop, step) = ranges[axis.axis.index()];
        ndarray::Slice::new(start as isize, Some(stop as isize), step.max(1) as isize)
    };
    Ok(match block {
        Block::F64(a) => Block::F64(a.slice_each_axis(cut).to_owned()),
        Block::F32(a) => Block::F32(a.slice_each_axis(cut).to_owned()),
        Block::I64(a) => Block::I64(a.slice_each_axis(cut).to_owned()),
        Block::Bool(a) => Block::Bool(a.slice_each_axis(cut).to_owned()),
    })
}

/// A block with a new axis of length 1 at `axis`.
#[crate::remote(name = "taskforce.array.expand_dims")]
pub fn expand_dims(axis: usize, block: &Block) -> Result<Block, String> {
    let axis = ndarray::Axis(axis);
    Ok(match block.clone() {
        Block::F64(a) => Block::F64(a.insert_axis(axis)),
        Block::F32(a) => Block::F32(a.insert_axis(axis)),
        Block::I64(a) => Block::I64(a.insert_axis(axis)),
        Block::Bool(a) => Block::Bool(a.insert_axis(axis)),
    })
}

/// The matrix product of two 2-d blocks (in `f64`; `i64` blocks are converted back).
#[crate::remote(name = "taskforce.array.matmul")]
pub fn matmul(a: &Block, b: &Block) -> Result<Block, String> {
    let (x, y) = (a.to_f64(), b.to_f64());
    let x = x
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| e.to_string())?;
    let y = y
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| e.to_string())?;
    if x.ncols() != y.nrows() {
        return Err(format!(
            "matmul of blocks {:?} and {:?}",
            x.shape(),
            y.shape()
        ));
    }
    let product = x.dot(&y).into_dyn();
    Ok(match a.dtype() {
        super::block::DType::F32 => Block::F32(product.mapv(|v| v as f32)),
        super::block::DType::I64 => Block::I64(product.mapv(|v| v as i64)),
        _ => Block::F64(product),
    })
}

fn join<T: Clone>(
    axis: usize,
    parts: Vec<ndarray::ArrayD<T>>,
) -> Result<ndarray::ArrayD<T>, String> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(ndarray::Axis(axis), &views).map_err(|e| e.to_string())
}

fn assemble_typed<T: Clone>(
    axis: usize,
    counts: &[usize],
    mut parts: Vec<ndarray::ArrayD<T>>,
) -> Result<ndarray::ArrayD<T>, String> {
    let Some((&here, rest)) = counts.split_first() else {
        return parts.pop().ok_or_else(|| "no parts".to_string());
    };
    let per: usize = rest.iter().product();
    let mut rows = Vec::with_capacity(here);
    for _ in 0..here {
        let tail = parts.split_off(per.min(parts.len()));
        rows.push(assemble_typed(
            axis + 1,
            rest,
            std::mem::replace(&mut parts, tail),
        )?);
    }
    join(axis, rows)
}

/// One block from pieces laid out `counts` per axis, in C order (for rechunk).
#[crate::remote(name = "taskforce.array.assemble")]
pub fn assemble(counts: Vec<usize>, parts: Vec<Block>) -> Result<Block, String> {
    if counts.iter().product::<usize>() != parts.len() {
        return Err(format!("{} pieces for a layout of {counts:?}", parts.len()));
    }
    macro_rules! typed {
        ($variant:ident) => {{
            let typed: Option<Vec<_>> = parts
                .into_iter()
                .map(|p| match p {
                    Block::$variant(a) => Some(a),
                    _ => None,
                })
                .collect();
            let typed = typed.ok_or("pieces of mixed types")?;
            Ok(Block::$variant(assemble_typed(0, &counts, typed)?))
        }};
    }
    match parts.first().map(Block::dtype) {
        Some(super::block::DType::F64) => typed!(F64),
        Some(super::block::DType::F32) => typed!(F32),
        Some(super::block::DType::I64) => typed!(I64),
        Some(super::block::DType::Bool) => typed!(Bool),
        None => Err("no pieces".into()),
    }
}

/// A block given a new shape with the same number of elements (C order).
#[crate::remote(name = "taskforce.array.reshape")]
pub fn reshape(shape: Vec<usize>, block: &Block) -> Result<Block, String> {
    fn to<T: Clone>(a: &ndarray::ArrayD<T>, shape: &[usize]) -> Result<ndarray::ArrayD<T>, String> {
        let data: Vec<T> = a.iter().cloned().collect();
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), data).map_err(|e| e.to_string())
    }
    Ok(match block {
        Block::F64(a) => Block::F64(to(a, &shape)?),
        Block::F32(a) => Block::F32(to(a, &shape)?),
        Block::I64(a) => Block::I64(to(a, &shape)?),
        Block::Bool(a) => Block::Bool(to(a, &shape)?),
    })
}
