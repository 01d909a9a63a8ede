//! The one place where values become bytes and back (bincode 2 through serde).
//!
//! Everything that encodes a header, a handshake or a value goes through [`encode`] and
//! [`decode`], so swapping the format is a change to this file alone. It must not depend on
//! the network or the actors.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Bincode configuration: little endian, variable-length integers, and a decode limit so a
/// hostile length inside a header can't make us allocate more than the header itself.
fn config<const LIMIT: usize>() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

/// The largest header or value we decode in one piece (bounded again by the frame limits).
pub const MAX_DECODE_BYTES: usize = 1 << 32;

/// The decode limits [`decode`] chooses from (bincode takes its limit as a constant).
const DECODE_LIMITS: [usize; 4] = [L0, L1, L2, MAX_DECODE_BYTES];
const L0: usize = 1 << 20;
const L1: usize = 1 << 24;
const L2: usize = 1 << 28;

/// What bincode may count per byte of input: an integer counts its full width (16 bytes at
/// most) however few bytes its varint took.
const CLAIMED_PER_BYTE: usize = 16;

/// The decode limit for an input of `len` bytes: at least 16 bytes per input byte (what a
/// valid input can count), and 1 MiB (what serde may reserve for a sequence on its word).
/// No single allocation while decoding goes past it, so a string or buffer announcing more
/// than the input could hold is refused before it is allocated.
pub fn decode_limit(len: usize) -> usize {
    let needed = len.saturating_mul(CLAIMED_PER_BYTE);
    DECODE_LIMITS
        .into_iter()
        .find(|&limit| limit >= needed)
        .unwrap_or(MAX_DECODE_BYTES)
}

fn decode_within<T: DeserializeOwned, const LIMIT: usize>(
    bytes: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, config::<LIMIT>())
}

/// Encoding or decoding failed.
///
/// Retrying does not help: the bytes or the value are wrong for the expected type.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CodecError {
    /// The value could not be encoded (a serde `Serialize` impl returned an error).
    #[error("could not encode {type_name}: {message}")]
    Encode {
        /// The Rust type being encoded.
        type_name: &'static str,
        /// The encoder's message.
        message: String,
    },
    /// The bytes do not decode as the expected type.
    #[error("could not decode {type_name}: {message}")]
    Decode {
        /// The Rust type expected.
        type_name: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The bytes decoded but left bytes over, so they were not written as this type.
    #[error("could not decode {type_name}: {extra} trailing bytes")]
    TrailingBytes {
        /// The Rust type expected.
        type_name: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
}

/// Encodes `value` into a fresh buffer.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config::<MAX_DECODE_BYTES>()).map_err(|source| {
        CodecError::Encode {
            type_name: std::any::type_name::<T>(),
            message: source.to_string(),
        }
    })
}

/// Encodes `value` into `buffer` (the end of a `Vec`, or a file as it goes).
pub fn encode_into<T: Serialize + ?Sized, W: std::io::Write>(
    value: &T,
    buffer: &mut W,
) -> Result<(), CodecError> {
    bincode::serde::encode_into_std_write(value, buffer, config::<MAX_DECODE_BYTES>())
        .map(|_| ())
        .map_err(|source| CodecError::Encode {
            type_name: std::any::type_name::<T>(),
            message: source.to_string(),
        })
}

/// Bytes `value` takes when encoded, counted without allocating them.
pub fn encoded_len<T: Serialize + ?Sized>(value: &T) -> u64 {
    let mut counter = ByteCounter(0);
    let _ = bincode::serde::encode_into_writer(value, &mut counter, config::<MAX_DECODE_BYTES>());
    counter.0
}

struct ByteCounter(u64);

impl bincode::enc::write::Writer for &mut ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0 += bytes.len() as u64;
        Ok(())
    }
}

/// Decodes a `T` that must fill `bytes` exactly.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let type_name = std::any::type_name::<T>();
    let decoded = match decode_limit(bytes.len()) {
        L0 => decode_within::<T, L0>(bytes),
        L1 => decode_within::<T, L1>(bytes),
        L2 => decode_within::<T, L2>(bytes),
        _ => decode_within::<T, MAX_DECODE_BYTES>(bytes),
    };
    let (value, used) = decoded.map_err(|source| CodecError::Decode {
        type_name,
        message: source.to_string(),
    })?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes {
            type_name,
            extra: bytes.len() - used,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
        values: Vec<u32>,
        flag: Option<bool>,
    }

    #[test]
    fn round_trip() {
        let sample = Sample {
            name: "w1".into(),
            values: vec![1, 300, 70000],
            flag: Some(true),
        };
        let bytes = encode(&sample).unwrap();
        assert_eq!(decode::<Sample>(&bytes).unwrap(), sample);
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = encode(&7_u32).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode::<u32>(&bytes),
            Err(CodecError::TrailingBytes { extra: 1, .. })
        ));
    }

    #[test]
    fn truncated_input_is_an_error() {
        let bytes = encode(&"hello".to_string()).unwrap();
        assert!(matches!(
            decode::<String>(&bytes[..3]),
            Err(CodecError::Decode { .. })
        ));
    }

    #[test]
    fn hostile_length_inside_a_value_does_not_allocate() {
        // A Vec<u8> announcing u64::MAX elements followed by nothing.
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }
}
