//! [`Block`]: one chunk of an array as it lives on a worker and travels between them — an
//! `ndarray` array of one of the supported element types, encoded as its shape plus its raw
//! memory (one copy each way, never element by element) — and the [`Element`] types.
//!
//! Pure data: depends on ndarray, serde and bytemuck only.

use std::fmt;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The element type of a [`Block`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    /// `f64`.
    F64,
    /// `f32`.
    F32,
    /// `i64`.
    I64,
    /// `bool` (masks from comparisons).
    Bool,
}

/// One chunk of an array: an `ndarray` array of one element type.
///
/// User functions given to [`Array::map_blocks`](super::Array::map_blocks) take and return
/// blocks; [`Block::into_array`] and `Block::from` convert to and from `ArrayD<T>`.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A chunk of `f64`.
    F64(ArrayD<f64>),
    /// A chunk of `f32`.
    F32(ArrayD<f32>),
    /// A chunk of `i64`.
    I64(ArrayD<i64>),
    /// A chunk of `bool`.
    Bool(ArrayD<bool>),
}

/// An array element type: `f64`, `f32`, `i64` or `bool`.
pub trait Element: Copy + Send + Sync + PartialOrd + fmt::Debug + 'static {
    /// Its [`DType`].
    const DTYPE: DType;
    /// Wraps an array of this type.
    fn into_block(array: ArrayD<Self>) -> Block;
    /// The array inside a block of this type.
    fn from_block(block: Block) -> Option<ArrayD<Self>>;
    /// A view of the array inside a block of this type.
    fn view(block: &Block) -> Option<ArrayViewD<'_, Self>>;
    /// This value from an `f64` (`as` conversion; `true` for non-zero).
    fn from_f64(value: f64) -> Self;
    /// This value as an `f64` (`as` conversion; 1 for `true`).
    fn to_f64(self) -> f64;
}

macro_rules! elements {
    ($($t:ty => $variant:ident),*) => {$(
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn into_block(array: ArrayD<Self>) -> Block {
                Block::$variant(array)
            }
            fn from_block(block: Block) -> Option<ArrayD<Self>> {
                match block {
                    Block::$variant(array) => Some(array),
                    _ => None,
                }
            }
            fn view(block: &Block) -> Option<ArrayViewD<'_, Self>> {
                match block {
                    Block::$variant(array) => Some(array.view()),
                    _ => None,
                }
            }
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
        }

        impl From<ArrayD<$t>> for Block {
            fn from(array: ArrayD<$t>) -> Self {
                Block::$variant(array)
            }
        }
    )*};
}

elements!(f64 => F64, f32 => F32, i64 => I64);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn into_block(array: ArrayD<Self>) -> Block {
        Block::Bool(array)
    }
    fn from_block(block: Block) -> Option<ArrayD<Self>> {
        match block {
            Block::Bool(array) => Some(array),
            _ => None,
        }
    }
    fn view(block: &Block) -> Option<ArrayViewD<'_, Self>> {
        match block {
            Block::Bool(array) => Some(array.view()),
            _ => None,
        }
    }
    fn from_f64(value: f64) -> Self {
        value != 0.0
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
}

impl From<ArrayD<bool>> for Block {
    fn from(array: ArrayD<bool>) -> Self {
        Block::Bool(array)
    }
}

impl Block {
    /// Its element type.
    pub fn dtype(&self) -> DType {
        match self {
            Block::F64(_) => DType::F64,
            Block::F32(_) => DType::F32,
            Block::I64(_) => DType::I64,
            Block::Bool(_) => DType::Bool,
        }
    }

    /// Its shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Block::F64(a) => a.shape(),
            Block::F32(a) => a.shape(),
            Block::I64(a) => a.shape(),
            Block::Bool(a) => a.shape(),
        }
    }

    /// The array inside, if it holds `T`s.
    pub fn into_array<T: Element>(self) -> Option<ArrayD<T>> {
        T::from_block(self)
    }

    /// A view of the array inside, if it holds `T`s.
    pub fn view<T: Element>(&self) -> Option<ArrayViewD<'_, T>> {
        T::view(self)
    }

    /// Every element converted to `f64`.
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            Block::F64(a) => a.clone(),
            Block::F32(a) => a.mapv(f64::from),
            Block::I64(a) => a.mapv(|v| v as f64),
            Block::Bool(a) => a.mapv(|v| f64::from(u8::from(v))),
        }
    }
}

fn dtype_tag(dtype: DType) -> u8 {
    match dtype {
        DType::F64 => 0,
        DType::F32 => 1,
        DType::I64 => 2,
        DType::Bool => 3,
    }
}

fn dtype_of_tag(tag: u8) -> Option<DType> {
    [DType::F64, DType::F32, DType::I64, DType::Bool]
        .get(usize::from(tag))
        .copied()
}

/// The raw bytes of an array in standard (C) order, borrowed when it already is.
fn raw_bytes<T: bytemuck::Pod>(array: &ArrayD<T>, out: impl FnOnce(&[u8])) {
    match array.as_slice() {
        Some(slice) => out(bytemuck::cast_slice(slice)),
        None => {
            let owned: Vec<T> = array.iter().copied().collect();
            out(bytemuck::cast_slice(&owned))
        }
    }
}

impl Serialize for Block {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let shape: Vec<u64> = self.shape().iter().map(|&n| n as u64).collect();
        let mut tuple = serializer.serialize_tuple(3)?;
        tuple.serialize_element(&dtype_tag(self.dtype()))?;
        tuple.serialize_element(&shape)?;
        let mut result = Ok(());
        let mut put = |bytes: &[u8]| result = tuple.serialize_element(RawBytes::new(bytes));
        match self {
            Block::F64(a) => raw_bytes(a, &mut put),
            Block::F32(a) => raw_bytes(a, &mut put),
            Block::I64(a) => raw_bytes(a, &mut put),
            Block::Bool(a) => {
                let bytes: Vec<u8> = a.iter().map(|&b| u8::from(b)).collect();
                put(&bytes)
            }
        }
        result?;
        tuple.end()
    }
}

/// Bytes serialized as one byte string (serde's `bytes`), not as a sequence of `u8`s.
#[repr(transparent)]
struct RawBytes([u8]);

impl RawBytes {
    fn new(bytes: &[u8]) -> &RawBytes {
        // SAFETY: `RawBytes` is a transparent wrapper around `[u8]`.
        unsafe { &*(bytes as *const [u8] as *const RawBytes) }
    }
}

impl Serialize for RawBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(3, BlockVisitor)
    }
}

struct BlockVisitor;

impl<'de> Visitor<'de> for BlockVisitor {
    type Value = Block;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array block: dtype, shape and raw bytes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Block, A::Error> {
        let missing = || de::Error::custom("truncated array block");
        let tag: u8 = seq.next_element()?.ok_or_else(missing)?;
        let dtype = dtype_of_tag(tag)
            .ok_or_else(|| de::Error::custom(format!("unknown array dtype tag {tag}")))?;
        let shape: Vec<u64> = seq.next_element()?.ok_or_else(missing)?;
        let shape = shape
            .into_iter()
            .map(usize::try_from)
            .collect::<Result<Vec<usize>, _>>()
            .map_err(de::Error::custom)?;
        seq.next_element_seed(BlockSeed { dtype, shape })?
            .ok_or_else(missing)
    }
}

/// Reads the raw bytes of a block of known dtype and shape straight into its array.
struct BlockSeed {
    dtype: DType,
    shape: Vec<usize>,
}

impl<'de> DeserializeSeed<'de> for BlockSeed {
    type Value = Block;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Block, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl BlockSeed {
    fn build<T: bytemuck::Pod, E: de::Error>(&self, bytes: &[u8]) -> Result<ArrayD<T>, E> {
        let len: usize = self.shape.iter().product();
        if bytes.len() != len * std::mem::size_of::<T>() {
            return Err(E::custom(format!(
                "array block of shape {:?} with {} bytes",
                self.shape,
                bytes.len()
            )));
        }
        let data: Vec<T> = bytemuck::allocation::pod_collect_to_vec(bytes);
        ArrayD::from_shape_vec(IxDyn(&self.shape), data).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for BlockSeed {
    type Value = Block;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the raw bytes of an array block")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Block, E> {
        Ok(match self.dtype {
            DType::F64 => Block::F64(self.build(bytes)?),
            DType::F32 => Block::F32(self.build(bytes)?),
            DType::I64 => Block::I64(self.build(bytes)?),
            DType::Bool => Block::Bool(self.build::<u8, E>(bytes)?.mapv(|b| b != 0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::{decode_value, encode_value};

    #[test]
    fn blocks_round_trip_as_shape_plus_raw_bytes() {
        let a = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 10 + i[1]) as f64 * 0.5);
        let encoded = encode_value(&Block::F64(a.clone())).unwrap();
        assert!(encoded.len() < 12 * 8 + 16, "{} bytes", encoded.len());
        assert_eq!(
            decode_value::<Block>(&encoded).unwrap(),
            Block::F64(a.clone())
        );
        let transposed = Block::F64(a.t().to_owned());
        let back = decode_value::<Block>(&encode_value(&transposed).unwrap()).unwrap();
        assert_eq!(back, transposed);
        let mask = Block::Bool(a.mapv(|v| v > 2.0));
        assert_eq!(
            decode_value::<Block>(&encode_value(&mask).unwrap()).unwrap(),
            mask
        );
        let ints = Block::I64(ArrayD::from_elem(IxDyn(&[]), -7));
        assert_eq!(
            decode_value::<Block>(&encode_value(&ints).unwrap()).unwrap(),
            ints
        );
    }
}
