//! The arithmetic of tree reductions on blocks: a block's partial result ([`partial`]),
//! the combine of several partials ([`combine`]), and the final value ([`finish`]).
//!
//! Partials keep the reduced axes with length 1, so partials of blocks that differ only along
//! reduced axes line up element by element. `mean`/`var`/`std` partials are `(count, mean,
//! M2)` triples stacked on a leading axis and combined with Chan's pairwise formula, which
//! stays exact for data with a large offset; `argmin`/`argmax` partials are `(value, index)`
//! pairs. NaN propagates as numpy's does (min, max and the arg-reductions pick the first NaN).
//!
//! Pure computation on ndarray.

use ndarray::{stack, ArrayD, ArrayViewD, Axis, Dimension, IxDyn, Zip};
use serde::{Deserialize, Serialize};

use super::block::Block;
use super::program::{BlockInfo, Number};

/// What a reduction computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reduction {
    /// Sum.
    Sum,
    /// Smallest element.
    Min,
    /// Largest element.
    Max,
    /// Mean.
    Mean,
    /// Population variance.
    Var,
    /// Population standard deviation.
    Std,
    /// Index of the smallest element.
    ArgMin,
    /// Index of the largest element.
    ArgMax,
}

impl Reduction {
    fn is_moment(self) -> bool {
        matches!(self, Reduction::Mean | Reduction::Var | Reduction::Std)
    }

    fn is_arg(self) -> bool {
        matches!(self, Reduction::ArgMin | Reduction::ArgMax)
    }
}

/// A reduction over some axes of an array.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReduceSpec {
    /// What it computes.
    pub kind: Reduction,
    /// The reduced axes, ascending.
    pub axes: Vec<usize>,
    /// The input array's shape (for the flat index of a full arg-reduction).
    pub shape: Vec<u64>,
}

/// Elements are NaN-aware through `x != x`, which holds for NaN only.
#[allow(clippy::eq_op)]
fn is_nan<T: PartialEq>(v: T) -> bool {
    v != v
}

fn pick<T: Number>(kind: Reduction, a: T, b: T) -> T {
    if is_nan(a) {
        return a;
    }
    if is_nan(b) {
        return b;
    }
    let take_b = match kind {
        Reduction::Min | Reduction::ArgMin => b < a,
        _ => b > a,
    };
    if take_b {
        b
    } else {
        a
    }
}

fn sum_keep<T: Number>(a: ArrayViewD<'_, T>, axes: &[usize]) -> ArrayD<T> {
    if axes.len() == a.ndim() {
        return ArrayD::from_elem(IxDyn(&vec![1; a.ndim()]), a.sum());
    }
    let mut out = a.to_owned();
    for &axis in axes.iter().rev() {
        out = out.sum_axis(Axis(axis)).insert_axis(Axis(axis));
    }
    out
}

fn fold_keep<T: Number>(a: ArrayViewD<'_, T>, axes: &[usize], f: impl Fn(T, T) -> T) -> ArrayD<T> {
    let mut out = a.to_owned();
    for &axis in axes.iter().rev() {
        let folded = out.map_axis(Axis(axis), |lane| {
            lane.iter()
                .copied()
                .reduce(&f)
                .expect("reductions of empty arrays are refused")
        });
        out = folded.insert_axis(Axis(axis));
    }
    out
}

fn moments<T: Number>(a: ArrayViewD<'_, T>, axes: &[usize]) -> Result<ArrayD<f64>, String> {
    let x = a.mapv(T::to_f64);
    let count: usize = axes.iter().map(|&axis| a.shape()[axis]).product();
    let mean = sum_keep(x.view(), axes) / count as f64;
    let deviation = &x - &mean;
    let m2 = sum_keep((&deviation * &deviation).view(), axes);
    let counts = ArrayD::from_elem(mean.raw_dim(), count as f64);
    stack(Axis(0), &[counts.view(), mean.view(), m2.view()]).map_err(|e| e.to_string())
}

fn arg_partial<T: Number>(
    spec: &ReduceSpec,
    info: &BlockInfo,
    a: ArrayViewD<'_, T>,
) -> Result<ArrayD<f64>, String> {
    let kind = spec.kind;
    let better = |(v, i): (T, f64), (w, j): (T, f64)| {
        let keep = is_nan(v) || (!is_nan(w) && pick(kind, v, w) == v);
        if keep {
            (v, i)
        } else {
            (w, j)
        }
    };
    let (values, indices) = if spec.axes.len() == a.ndim() && a.ndim() != 1 {
        let (mut strides, mut stride) = (vec![0.0; a.ndim()], 1.0);
        for axis in (0..a.ndim()).rev() {
            strides[axis] = stride;
            stride *= spec.shape[axis] as f64;
        }
        let flat = |index: IxDyn| -> f64 {
            (0..index.ndim())
                .map(|d| (info.offset[d] + index[d] as u64) as f64 * strides[d])
                .sum()
        };
        let best = a
            .indexed_iter()
            .map(|(index, &v)| (v, flat(index)))
            .reduce(better)
            .ok_or("arg-reduction of an empty block")?;
        let ones = IxDyn(&vec![1; a.ndim()]);
        (
            ArrayD::from_elem(ones.clone(), best.0.to_f64()),
            ArrayD::from_elem(ones, best.1),
        )
    } else {
        let axis = *spec.axes.first().ok_or("arg-reduction without an axis")?;
        let start = info.offset[axis] as f64;
        let best = a.map_axis(Axis(axis), |lane| {
            let mut items = lane.iter().enumerate().map(|(i, &v)| (v, start + i as f64));
            let first = items
                .next()
                .expect("reductions of empty arrays are refused");
            items.fold(first, better)
        });
        let values = best.mapv(|(v, _)| v.to_f64()).insert_axis(Axis(axis));
        (values, best.mapv(|(_, i)| i).insert_axis(Axis(axis)))
    };
    stack(Axis(0), &[values.view(), indices.view()]).map_err(|e| e.to_string())
}

/// The partial result of one block.
pub fn partial(spec: &ReduceSpec, info: &BlockInfo, block: &Block) -> Result<Block, String> {
    macro_rules! typed {
        ($a:expr, $wrap:path) => {{
            let a = $a.view();
            let axes = &spec.axes;
            Ok(match spec.kind {
                Reduction::Sum => $wrap(sum_keep(a, axes)),
                Reduction::Min | Reduction::Max => {
                    $wrap(fold_keep(a, axes, |x, y| pick(spec.kind, x, y)))
                }
                kind if kind.is_moment() => Block::F64(moments(a, axes)?),
                _ => Block::F64(arg_partial(spec, info, a)?),
            })
        }};
    }
    match block {
        Block::F64(a) => typed!(a, Block::F64),
        Block::F32(a) => typed!(a, Block::F32),
        Block::I64(a) => typed!(a, Block::I64),
        Block::Bool(a) => {
            let ints = a.mapv(i64::from);
            typed!(ints, Block::I64)
        }
    }
}

fn combine_same<T: Number>(kind: Reduction, parts: Vec<ArrayD<T>>) -> Result<ArrayD<T>, String> {
    let mut parts = parts.into_iter();
    let mut acc = parts.next().ok_or("combine of no partials")?;
    for part in parts {
        if part.shape() != acc.shape() {
            return Err(format!(
                "partials of shapes {:?} and {:?}",
                acc.shape(),
                part.shape()
            ));
        }
        match kind {
            Reduction::Sum => acc.zip_mut_with(&part, |a, &b| *a = *a + b),
            _ => acc.zip_mut_with(&part, |a, &b| *a = pick(kind, *a, b)),
        }
    }
    Ok(acc)
}

fn combine_moments(a: &mut ArrayD<f64>, b: &ArrayD<f64>) {
    let (mut a_n, mut a_mean, mut a_m2) = (a.clone(), a.clone(), a.clone());
    a_n.index_axis_inplace(Axis(0), 0);
    a_mean.index_axis_inplace(Axis(0), 1);
    a_m2.index_axis_inplace(Axis(0), 2);
    let (b_n, b_mean, b_m2) = (
        b.index_axis(Axis(0), 0),
        b.index_axis(Axis(0), 1),
        b.index_axis(Axis(0), 2),
    );
    Zip::from(&mut a_n)
        .and(&mut a_mean)
        .and(&mut a_m2)
        .and(&b_n)
        .and(&b_mean)
        .and(&b_m2)
        .for_each(|n, mean, m2, &nb, &mb, &m2b| {
            let total = *n + nb;
            if nb == 0.0 {
                return;
            }
            let delta = mb - *mean;
            *mean += delta * nb / total;
            *m2 += m2b + delta * delta * *n * nb / total;
            *n = total;
        });
    *a = stack(Axis(0), &[a_n.view(), a_mean.view(), a_m2.view()]).expect("equal shapes");
}

fn combine_args(kind: Reduction, a: &mut ArrayD<f64>, b: &ArrayD<f64>) {
    let (values, indices) = a.view_mut().split_at(Axis(0), 1);
    Zip::from(values.index_axis_move(Axis(0), 0))
        .and(indices.index_axis_move(Axis(0), 0))
        .and(b.index_axis(Axis(0), 0))
        .and(b.index_axis(Axis(0), 1))
        .for_each(|v, i, &w, &j| {
            let take = match (is_nan(*v), is_nan(w)) {
                (true, true) => j < *i,
                (true, false) => false,
                (false, true) => true,
                (false, false) if *v == w => j < *i,
                (false, false) => pick(kind, *v, w) != *v,
            };
            if take {
                (*v, *i) = (w, j);
            }
        });
}

/// The combine of several partials of the same reduction.
pub fn combine(spec: &ReduceSpec, parts: Vec<Block>) -> Result<Block, String> {
    let kind = spec.kind;
    if kind.is_moment() || kind.is_arg() {
        let mut parts = parts.into_iter().map(|p| p.into_array::<f64>());
        let mut acc = parts.next().flatten().ok_or("combine of no partials")?;
        for part in parts {
            let part = part.ok_or("a moment partial that is not f64")?;
            if kind.is_moment() {
                combine_moments(&mut acc, &part);
            } else {
                combine_args(kind, &mut acc, &part);
            }
        }
        return Ok(Block::F64(acc));
    }
    macro_rules! same {
        ($variant:ident, $t:ty) => {{
            let typed: Option<Vec<ArrayD<$t>>> =
                parts.into_iter().map(|p| p.into_array()).collect();
            Ok(Block::$variant(combine_same(
                kind,
                typed.ok_or("partials of mixed types")?,
            )?))
        }};
    }
    match parts.first().map(Block::dtype) {
        Some(super::block::DType::F64) => same!(F64, f64),
        Some(super::block::DType::F32) => same!(F32, f32),
        Some(_) => same!(I64, i64),
        None => Err("combine of no partials".into()),
    }
}

fn drop_axes<T: Clone>(mut a: ArrayD<T>, axes: &[usize], shift: usize) -> ArrayD<T> {
    for &axis in axes.iter().rev() {
        a.index_axis_inplace(Axis(axis + shift), 0);
    }
    a
}

/// The final value from the last partial: the reduced axes dropped.
pub fn finish(spec: &ReduceSpec, block: Block) -> Result<Block, String> {
    let axes = &spec.axes;
    if !(spec.kind.is_moment() || spec.kind.is_arg()) {
        return Ok(match block {
            Block::F64(a) => Block::F64(drop_axes(a, axes, 0)),
            Block::F32(a) => Block::F32(drop_axes(a, axes, 0)),
            Block::I64(a) => Block::I64(drop_axes(a, axes, 0)),
            Block::Bool(_) => return Err("a boolean partial".into()),
        });
    }
    let a = drop_axes(
        block
            .into_array::<f64>()
            .ok_or("a partial that is not f64")?,
        axes,
        1,
    );
    let field = |i: usize| a.index_axis(Axis(0), i);
    Ok(match spec.kind {
        Reduction::Mean => Block::F64(field(1).to_owned()),
        Reduction::Var => Block::F64(&field(2) / &field(0)),
        Reduction::Std => Block::F64((&field(2) / &field(0)).mapv(f64::sqrt)),
        _ => Block::I64(field(1).mapv(|i| i as i64)),
    })
}

/// Whether a full reduction of `kind` can take its block a tile at a time.
pub fn streamable(spec: &ReduceSpec, ndim: usize) -> bool {
    spec.axes.len() == ndim && !spec.kind.is_arg()
}

/// The partial of a full reduction over a block streamed by `program` in tiles (see
/// [`run_tiled`](super::program::run_tiled)), never holding the block.
pub fn partial_streamed<T: Number>(
    spec: &ReduceSpec,
    ops: &[super::program::Op],
    info: &BlockInfo,
) -> Result<Block, String> {
    let ones = IxDyn(&vec![1; info.shape.len()]);
    let kind = spec.kind;
    if kind.is_moment() {
        let mut acc = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.0, 0.0, 0.0]).expect("3");
        super::program::run_tiled::<T>(ops, info, |tile| {
            let n = tile.len() as f64;
            let mean = tile.iter().map(|v| v.to_f64()).sum::<f64>() / n;
            let m2 = tile
                .iter()
                .map(|v| (v.to_f64() - mean).powi(2))
                .sum::<f64>();
            let part = ArrayD::from_shape_vec(IxDyn(&[3]), vec![n, mean, m2]).expect("3");
            combine_moments(&mut acc, &part);
        })?;
        let mut shape = vec![3];
        shape.extend(ones.slice());
        let acc = acc
            .into_shape_with_order(IxDyn(&shape))
            .map_err(|e| e.to_string())?;
        return Ok(Block::F64(acc));
    }
    let mut acc: Option<T> = None;
    super::program::run_tiled::<T>(ops, info, |tile| {
        let part = match kind {
            Reduction::Sum => ndarray::ArrayView1::from(tile).sum(),
            _ => match tile.iter().copied().reduce(|a, b| pick(kind, a, b)) {
                Some(part) => part,
                None => return,
            },
        };
        acc = Some(match (acc, kind) {
            (None, _) => part,
            (Some(a), Reduction::Sum) => a + part,
            (Some(a), _) => pick(kind, a, part),
        });
    })?;
    let value = match (acc, kind) {
        (Some(value), _) => value,
        (None, Reduction::Sum) => T::zero(),
        (None, _) => return Err("reduction of an empty block".into()),
    };
    Ok(T::into_block(ArrayD::from_elem(ones, value)))
}
