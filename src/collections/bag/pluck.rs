//! `pluck` on bags of pairs: the first or second component of each `(A, B)`, taken from the
//! pair's encoding without knowing the program's types. That works when the first component
//! has a layout the worker can measure in bincode's encoding — a `String`, a `bool` or a
//! number — which the program checks when it builds the step.

use std::any::TypeId;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::chunk::{as_bincode, Chunk};
use super::error::BagError;
use super::frequencies::pairs;
use crate::function::{EncodedValue, Stored};
use crate::remote;

/// How the first component of a pair is laid out in bincode's encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// A length (varint) and that many bytes: `String`.
    Text,
    /// One byte: `bool`, `u8`, `i8`.
    Byte,
    /// A varint: the other integer types.
    Varint,
    /// Four bytes: `f32`.
    Four,
    /// Eight bytes: `f64`.
    Eight,
}

impl Layout {
    /// The layout of `A`, if it is one the worker can measure.
    pub fn of<A: 'static>() -> Option<Layout> {
        let id = TypeId::of::<A>();
        let is = |others: &[TypeId]| others.contains(&id);
        if id == TypeId::of::<String>() {
            Some(Layout::Text)
        } else if is(&[TypeId::of::<bool>(), TypeId::of::<u8>(), TypeId::of::<i8>()]) {
            Some(Layout::Byte)
        } else if is(&[
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<u128>(),
            TypeId::of::<usize>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
            TypeId::of::<i128>(),
            TypeId::of::<isize>(),
        ]) {
            Some(Layout::Varint)
        } else if id == TypeId::of::<f32>() {
            Some(Layout::Four)
        } else if id == TypeId::of::<f64>() {
            Some(Layout::Eight)
        } else {
            None
        }
    }

    /// Bytes the first component takes at the start of `bytes`.
    fn len(self, bytes: &[u8]) -> Option<usize> {
        let varint = |bytes: &[u8]| -> Option<(usize, u128)> {
            let first = *bytes.first()?;
            let wide = |n: usize| -> Option<u128> {
                let raw = bytes.get(1..1 + n)?;
                let mut value = 0_u128;
                for (i, b) in raw.iter().enumerate() {
                    value |= u128::from(*b) << (8 * i);
                }
                Some(value)
            };
            match first {
                0..=250 => Some((1, u128::from(first))),
                251 => Some((3, wide(2)?)),
                252 => Some((5, wide(4)?)),
                253 => Some((9, wide(8)?)),
                _ => Some((17, wide(16)?)),
            }
        };
        let len = match self {
            Layout::Text => {
                let (head, n) = varint(bytes)?;
                head + usize::try_from(n).ok()?
            }
            Layout::Byte => 1,
            Layout::Varint => varint(bytes)?.0,
            Layout::Four => 4,
            Layout::Eight => 8,
        };
        (len <= bytes.len()).then_some(len)
    }
}

/// Component `index` (0 or 1) of every pair in a partition, typed `out_type`.
#[remote(name = "taskforce.bag.pluck")]
pub fn pluck(
    input: &Chunk,
    index: u8,
    layout: Layout,
    pair_type: &str,
    out_type: &str,
) -> Result<Chunk, BagError> {
    let items = match input {
        Chunk::Values(items) => items.clone(),
        Chunk::Freqs(table) => pairs(table, pair_type)?,
        other => {
            return Err(BagError::Type {
                step: "pluck",
                message: format!("expected pairs, found {}", other.kind()),
            })
        }
    };
    let type_name: Arc<str> = Arc::from(out_type);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let pair = as_bincode(item.encode()?)?;
        let split = layout.len(&pair.bytes).ok_or_else(|| BagError::Type {
            step: "pluck",
            message: format!("can't take apart a {}", pair.type_name),
        })?;
        let bytes = if index == 0 {
            pair.bytes.slice(..split)
        } else {
            pair.bytes.slice(split..)
        };
        out.push(Stored::Encoded(Arc::new(EncodedValue {
            type_name: type_name.clone(),
            bytes,
            raw: false,
        })));
    }
    Ok(Chunk::Values(out))
}
