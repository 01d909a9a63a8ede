//! Turning what Bag tasks computed back into the program's types: a partition chunk into
//! `Vec<T>`, accumulators into numbers. Runs in the program, which knows `T`.

use std::any::Any;

use serde::de::DeserializeOwned;

use super::chunk::{Chunk, FreqTable, NumberAcc};
use super::error::BagError;
use super::frequencies::pair_bytes;
use super::sink::NumberKind;
use crate::messages::codec;

fn mismatch<T>(found: &str) -> BagError {
    BagError::Type {
        step: "compute",
        message: format!(
            "expected elements of type {}, found {found}",
            std::any::type_name::<T>()
        ),
    }
}

/// Moves a `Vec<S>` into a `Vec<T>` when they are the same type.
fn same_vec<S: 'static, T: 'static>(items: Vec<S>) -> Option<Vec<T>> {
    let boxed: Box<dyn Any> = Box::new(items);
    boxed.downcast::<Vec<T>>().ok().map(|b| *b)
}

/// The elements of a partition chunk as `T`.
pub fn elements<T: DeserializeOwned + Clone + 'static>(chunk: Chunk) -> Result<Vec<T>, BagError> {
    match chunk {
        Chunk::Strings(items) => same_vec(items).ok_or_else(|| mismatch::<T>("text")),
        Chunk::Values(items) => items
            .iter()
            .map(|item| item.read::<T>().map(std::borrow::Cow::into_owned))
            .collect::<Result<_, _>>()
            .map_err(|e| mismatch::<T>(&e.to_string())),
        Chunk::Freqs(table) => freq_pairs(table),
        other => Err(mismatch::<T>(other.kind())),
    }
}

/// A frequency table as `(value, count)` pairs of type `T`.
fn freq_pairs<T: DeserializeOwned + 'static>(table: FreqTable) -> Result<Vec<T>, BagError> {
    let FreqTable { strings, values } = table;
    let mut out: Vec<T> = if strings.is_empty() {
        Vec::new()
    } else {
        let pairs: Vec<(String, u64)> = strings.into_iter().collect();
        same_vec(pairs).ok_or_else(|| mismatch::<T>("(String, u64) pairs"))?
    };
    for (value, n) in values.into_values() {
        let bytes = pair_bytes(&value.bytes, n)?;
        out.push(codec::decode(&bytes).map_err(|e| mismatch::<T>(&e.to_string()))?);
    }
    Ok(out)
}

/// Numbers a Bag can `sum`, `min`, `max` and `mean`.
pub trait Number: Copy + DeserializeOwned + Send + Sync + 'static {
    /// Which kernel reads them.
    const KIND: NumberKind;
    /// The sum from accumulators.
    fn sum_of(acc: &NumberAcc) -> Self;
    /// The minimum or maximum from accumulators (`None` when empty).
    fn bound_of(acc: &NumberAcc, max: bool) -> Option<Self>;
}

macro_rules! int_numbers {
    ($($t:ty => $kind:ident),*) => {$(
        impl Number for $t {
            const KIND: NumberKind = NumberKind::$kind;
            fn sum_of(acc: &NumberAcc) -> Self {
                acc.int_sum as $t
            }
            fn bound_of(acc: &NumberAcc, max: bool) -> Option<Self> {
                acc.int_min_max.map(|(lo, hi)| (if max { hi } else { lo }) as $t)
            }
        }
    )*};
}

macro_rules! float_numbers {
    ($($t:ty => $kind:ident),*) => {$(
        impl Number for $t {
            const KIND: NumberKind = NumberKind::$kind;
            fn sum_of(acc: &NumberAcc) -> Self {
                acc.float_sum as $t
            }
            fn bound_of(acc: &NumberAcc, max: bool) -> Option<Self> {
                (if max { acc.max } else { acc.min }).map(|x| x as $t)
            }
        }
    )*};
}

int_numbers!(i64 => I64, i32 => I32, u64 => U64, u32 => U32, usize => Usize);
float_numbers!(f64 => F64, f32 => F32);
