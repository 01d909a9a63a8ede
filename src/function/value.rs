//! Values produced by tasks: kept as Rust objects where they live, encoded only to move.
//!
//! [`Value`] is the erased form a worker stores (`Arc<dyn Value>`); [`EncodedValue`] is the
//! form that travels. Vectors of plain numbers travel as their raw bytes (one copy, no
//! element-by-element encoding); everything else goes through the codec. Every encoded value
//! names its Rust type, so a mismatch is a clear error rather than garbage.

use std::any::{Any, TypeId};
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::messages::{codec, CodecError};

/// The element types whose vectors travel as raw bytes.
macro_rules! raw_element_types {
    ($macro:ident) => {
        $macro!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8)
    };
}

/// A value as it travels: its Rust type name, then either codec bytes or raw bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedValue {
    /// `std::any::type_name` of the value's type.
    pub type_name: Arc<str>,
    /// The value's bytes.
    pub bytes: Bytes,
    /// Whether `bytes` are the raw memory of a vector of plain numbers.
    pub raw: bool,
}

impl EncodedValue {
    /// Bytes on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no bytes at all are carried (the unit value).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A value could not be turned into the type asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value is of another type.
    #[error("expected a value of type {expected}, found {found}")]
    TypeMismatch {
        /// The type asked for.
        expected: String,
        /// The type the value has.
        found: String,
    },
    /// The bytes did not decode.
    #[error("could not decode {type_name}: {message}")]
    Corrupt {
        /// The type asked for.
        type_name: String,
        /// The decoder's message.
        message: String,
    },
}

/// A task result held in memory, type-erased. Implemented for every serde type.
pub trait Value: Any + Send + Sync {
    /// Encodes the value to move it.
    fn encode(&self) -> Result<EncodedValue, CodecError>;
    /// Writes the bytes [`Value::encode`] would make to `out` as they are made, without
    /// holding them all (a spill to disk costs no copy of the value in memory).
    fn write_encoded(&self, out: &mut dyn std::io::Write) -> Result<(), CodecError>;
    /// Whether its encoded bytes are raw memory (see [`EncodedValue::raw`]).
    fn travels_raw(&self) -> bool;
    /// Bytes it takes when moved (used for locality decisions).
    fn nbytes(&self) -> u64;
    /// `std::any::type_name` of its type.
    fn type_name(&self) -> &'static str;
    /// For downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
    /// For taking the concrete type out of a shared value.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<T: Serialize + Send + Sync + 'static> Value for T {
    fn encode(&self) -> Result<EncodedValue, CodecError> {
        encode_value(self)
    }

    fn write_encoded(&self, mut out: &mut dyn std::io::Write) -> Result<(), CodecError> {
        match raw_bytes_of(self) {
            Some(raw) => out.write_all(raw).map_err(|e| CodecError::Encode {
                type_name: std::any::type_name::<T>(),
                message: e.to_string(),
            }),
            None => codec::encode_into(self, &mut out),
        }
    }

    fn travels_raw(&self) -> bool {
        raw_bytes_of(self).is_some()
    }

    fn nbytes(&self) -> u64 {
        raw_bytes_of(self).map_or_else(|| codec::encoded_len(self), |raw| raw.len() as u64)
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl std::fmt::Debug for dyn Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} value, {} bytes>", self.type_name(), self.nbytes())
    }
}

/// Encodes a concrete value.
pub fn encode_value<T: Serialize + 'static>(value: &T) -> Result<EncodedValue, CodecError> {
    let type_name: Arc<str> = Arc::from(std::any::type_name::<T>());
    if let Some(raw) = raw_bytes_of(value) {
        return Ok(EncodedValue {
            type_name,
            bytes: Bytes::copy_from_slice(raw),
            raw: true,
        });
    }
    Ok(EncodedValue {
        type_name,
        bytes: codec::encode(value)?.into(),
        raw: false,
    })
}

/// Encodes a value it may keep: a `Vec` of plain numbers becomes the bytes of its own
/// buffer, without a copy (so scattering a large array holds one copy of it, not two);
/// anything else is encoded as [`encode_value`] does.
pub fn encode_value_owned<T: Serialize + Send + 'static>(
    value: T,
) -> Result<EncodedValue, CodecError> {
    let type_name: Arc<str> = Arc::from(std::any::type_name::<T>());
    let mut boxed: Box<dyn Any + Send> = Box::new(value);
    macro_rules! try_types {
        ($($t:ty),*) => {
            $(boxed = match boxed.downcast::<Vec<$t>>() {
                Ok(numbers) => {
                    let bytes = Bytes::from_owner(RawNumbers(*numbers));
                    return Ok(EncodedValue { type_name, bytes, raw: true });
                }
                Err(other) => other,
            };)*
        };
    }
    raw_element_types!(try_types);
    let value = boxed.downcast::<T>().expect("the value put in the box");
    encode_value(&*value)
}

/// A vector of plain numbers seen as its bytes (the owner of a [`Bytes`] made without copy).
struct RawNumbers<P>(Vec<P>);

impl<P: bytemuck::Pod> AsRef<[u8]> for RawNumbers<P> {
    fn as_ref(&self) -> &[u8] {
        bytemuck::cast_slice(self.0.as_slice())
    }
}

/// Decodes an encoded value as `T`, checking its type first.
pub fn decode_value<T: DeserializeOwned + 'static>(value: &EncodedValue) -> Result<T, ValueError> {
    let expected = std::any::type_name::<T>();
    if &*value.type_name != expected {
        return Err(ValueError::TypeMismatch {
            expected: expected.into(),
            found: value.type_name.to_string(),
        });
    }
    if value.raw {
        return from_raw_bytes::<T>(&value.bytes).ok_or_else(|| ValueError::Corrupt {
            type_name: expected.into(),
            message: "raw bytes for a type that is not a vector of numbers".into(),
        });
    }
    codec::decode(&value.bytes).map_err(|e| ValueError::Corrupt {
        type_name: expected.into(),
        message: e.to_string(),
    })
}

/// Reads a stored value as `T`: a borrow of the object if it is one, else a decode.
pub fn downcast_value<T: 'static>(value: &dyn Value) -> Result<&T, ValueError> {
    value
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| ValueError::TypeMismatch {
            expected: std::any::type_name::<T>().into(),
            found: value.type_name().into(),
        })
}

/// The raw memory of `value` if it is a `Vec` of plain numbers.
fn raw_bytes_of<T: 'static>(value: &T) -> Option<&[u8]> {
    let any = value as &dyn Any;
    macro_rules! try_types {
        ($($t:ty),*) => {
            $(if let Some(v) = any.downcast_ref::<Vec<$t>>() {
                return Some(bytemuck::cast_slice(v.as_slice()));
            })*
        };
    }
    raw_element_types!(try_types);
    None
}

/// Rebuilds a `Vec` of plain numbers from raw bytes, if `T` is one.
fn from_raw_bytes<T: 'static>(bytes: &[u8]) -> Option<T> {
    macro_rules! try_types {
        ($($t:ty),*) => {
            $(if TypeId::of::<T>() == TypeId::of::<Vec<$t>>() {
                if bytes.len() % std::mem::size_of::<$t>() != 0 {
                    return None;
                }
                let vec: Vec<$t> = bytemuck::allocation::pod_collect_to_vec(bytes);
                let boxed: Box<dyn Any> = Box::new(vec);
                return boxed.downcast::<T>().ok().map(|b| *b);
            })*
        };
    }
    raw_element_types!(try_types);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_travel_raw_and_come_back_equal() {
        let data: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
        let encoded = encode_value(&data).unwrap();
        assert!(encoded.raw);
        assert_eq!(encoded.len(), 8000);
        assert_eq!(decode_value::<Vec<f64>>(&encoded).unwrap(), data);
        assert_eq!(Value::nbytes(&data), 8000);
    }

    #[test]
    fn owned_numbers_lend_their_buffer_and_encode_as_borrowed_ones_do() {
        let numbers = vec![1.5_f64, -2.0, 3.25];
        let sent = numbers.clone();
        let address = sent.as_ptr() as usize;
        let owned = encode_value_owned(sent).unwrap();
        assert_eq!(owned, encode_value(&numbers).unwrap());
        assert_eq!(owned.bytes.as_ptr() as usize, address, "no copy");
        let words = encode_value_owned(vec!["a".to_string()]).unwrap();
        assert_eq!(words, encode_value(&vec!["a".to_string()]).unwrap());
        assert_eq!(decode_value::<Vec<f64>>(&owned).unwrap(), numbers);
    }

    #[test]
    fn other_types_go_through_the_codec() {
        let value = (String::from("python"), vec![1_u16, 2], Some(3.5_f32));
        let encoded = encode_value(&value).unwrap();
        assert!(!encoded.raw);
        assert_eq!(
            decode_value::<(String, Vec<u16>, Option<f32>)>(&encoded).unwrap(),
            value
        );
        assert_eq!(Value::nbytes(&value), encoded.len() as u64);
    }

    #[test]
    fn a_type_mismatch_names_both_types() {
        let encoded = encode_value(&vec![1.0_f64]).unwrap();
        let err = decode_value::<Vec<i64>>(&encoded).unwrap_err();
        assert_eq!(
            err,
            ValueError::TypeMismatch {
                expected: "alloc::vec::Vec<i64>".into(),
                found: "alloc::vec::Vec<f64>".into()
            }
        );
    }

    #[test]
    fn stored_objects_downcast_without_copying() {
        let stored: Arc<dyn Value> = Arc::new(vec![1_i64, 2, 3]);
        let borrowed: &Vec<i64> = downcast_value(stored.as_ref()).unwrap();
        assert_eq!(borrowed, &vec![1, 2, 3]);
        assert!(downcast_value::<String>(stored.as_ref()).is_err());
    }

    #[test]
    fn unaligned_raw_bytes_still_decode() {
        let data = vec![1.5_f64, -2.0];
        let encoded = encode_value(&data).unwrap();
        let mut shifted = vec![0_u8];
        shifted.extend_from_slice(&encoded.bytes);
        let unaligned = EncodedValue {
            bytes: Bytes::from(shifted).slice(1..),
            ..encoded
        };
        assert_eq!(decode_value::<Vec<f64>>(&unaligned).unwrap(), data);
    }
}
