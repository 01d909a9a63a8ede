//! [`Chunk`]: what a Bag task leaves in worker memory — a partition's elements, or a partial
//! aggregate (a count, a frequency table, numeric accumulators) — and [`Elem`], one element
//! as it flows through a fused pipeline without being boxed.
//!
//! Strings, the common case, are kept as `Vec<String>`; elements of any other type are erased
//! [`Stored`] values that only the functions of the pipeline (and the program that built it)
//! know the type of. Knows nothing of graphs or where it runs.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::BagError;
use super::shuffle::Bucket;
use crate::function::{EncodedValue, Stored, Value};
use crate::ids::Map;

/// A partition's elements or a partial aggregate, as a Bag task leaves it.
#[derive(Clone, Debug)]
pub enum Chunk {
    /// Text elements.
    Strings(Vec<String>),
    /// Elements of another type, erased.
    Values(Vec<Stored>),
    /// A partial count.
    Count(u64),
    /// A partial frequency table.
    Freqs(FreqTable),
    /// Partial numeric accumulators (sum, min, max, count).
    Numbers(NumberAcc),
    /// A shuffle's split of one partition: one bucket per output partition.
    Buckets(Vec<Bucket>),
    /// One bucket of a split.
    Group(Bucket),
}

/// Counts per distinct element: strings by value, other elements by their encoded bytes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FreqTable {
    /// Text elements and their counts.
    pub strings: Map<String, u64>,
    /// Other elements, keyed by their encoding, with one encoded copy and the count.
    pub values: Map<Vec<u8>, (EncodedValue, u64)>,
}

impl FreqTable {
    /// Adds another table's counts to this one.
    pub fn merge(&mut self, other: FreqTable) {
        for (s, n) in other.strings {
            *self.strings.entry(s).or_insert(0) += n;
        }
        for (k, (v, n)) in other.values {
            self.values.entry(k).or_insert((v, 0)).1 += n;
        }
    }

    /// Distinct elements.
    pub fn len(&self) -> usize {
        self.strings.len() + self.values.len()
    }

    /// Whether no element was counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Running sum, min, max and count of numbers (as `f64` and exactly as `i128`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NumberAcc {
    /// Elements seen.
    pub count: u64,
    /// Exact sum of integer elements.
    pub int_sum: i128,
    /// Sum as floating point.
    pub float_sum: f64,
    /// Smallest element.
    pub min: Option<f64>,
    /// Largest element.
    pub max: Option<f64>,
    /// Smallest and largest as integers, when the elements are integers.
    pub int_min_max: Option<(i128, i128)>,
}

impl NumberAcc {
    /// Folds another accumulator into this one.
    pub fn merge(&mut self, other: &NumberAcc) {
        self.count += other.count;
        self.int_sum += other.int_sum;
        self.float_sum += other.float_sum;
        self.min = min_opt(self.min, other.min, f64::min);
        self.max = min_opt(self.max, other.max, f64::max);
        self.int_min_max = match (self.int_min_max, other.int_min_max) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (one, None) | (None, one) => one,
        };
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(pick(x, y)),
        (one, None) | (None, one) => one,
    }
}

impl Chunk {
    /// Elements in a partition chunk (`None` for aggregates).
    pub fn element_count(&self) -> Option<usize> {
        match self {
            Chunk::Strings(items) => Some(items.len()),
            Chunk::Values(items) => Some(items.len()),
            Chunk::Freqs(table) => Some(table.len()),
            Chunk::Count(_) | Chunk::Numbers(_) | Chunk::Buckets(_) | Chunk::Group(_) => None,
        }
    }

    /// What kind of chunk it is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Chunk::Strings(_) => "text elements",
            Chunk::Values(_) => "elements",
            Chunk::Count(_) => "a count",
            Chunk::Freqs(_) => "a frequency table",
            Chunk::Numbers(_) => "numeric accumulators",
            Chunk::Buckets(_) => "shuffle buckets",
            Chunk::Group(_) => "a shuffle bucket",
        }
    }
}

/// The wire form of a [`Chunk`]: erased elements travel as their encodings.
#[derive(Deserialize)]
enum ChunkWire {
    Strings(Vec<String>),
    Values(Vec<EncodedValue>),
    Count(u64),
    Freqs(FreqTable),
    Numbers(NumberAcc),
    Buckets(Vec<Bucket>),
    Group(Bucket),
}

/// The same wire form, borrowing what it can (variants in the same order as [`ChunkWire`]).
#[derive(Serialize)]
enum ChunkWireRef<'a> {
    Strings(&'a [String]),
    Values(Vec<EncodedValue>),
    Count(u64),
    Freqs(&'a FreqTable),
    Numbers(&'a NumberAcc),
    Buckets(&'a [Bucket]),
    Group(&'a Bucket),
}

impl Serialize for Chunk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let wire = match self {
            Chunk::Strings(items) => ChunkWireRef::Strings(items),
            Chunk::Values(items) => ChunkWireRef::Values(
                items
                    .iter()
                    .map(Stored::encode)
                    .collect::<Result<_, _>>()
                    .map_err(S::Error::custom)?,
            ),
            Chunk::Count(n) => ChunkWireRef::Count(*n),
            Chunk::Freqs(table) => ChunkWireRef::Freqs(table),
            Chunk::Numbers(acc) => ChunkWireRef::Numbers(acc),
            Chunk::Buckets(buckets) => ChunkWireRef::Buckets(buckets),
            Chunk::Group(bucket) => ChunkWireRef::Group(bucket),
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match ChunkWire::deserialize(deserializer)? {
            ChunkWire::Strings(items) => Chunk::Strings(items),
            ChunkWire::Values(items) => Chunk::Values(
                items
                    .into_iter()
                    .map(|v| Stored::Encoded(Arc::new(v)))
                    .collect(),
            ),
            ChunkWire::Count(n) => Chunk::Count(n),
            ChunkWire::Freqs(table) => Chunk::Freqs(table),
            ChunkWire::Numbers(acc) => Chunk::Numbers(acc),
            ChunkWire::Buckets(buckets) => Chunk::Buckets(buckets),
            ChunkWire::Group(bucket) => Chunk::Group(bucket),
        })
    }
}

/// One element flowing through a fused pipeline: borrowed text, owned text, or an erased value.
pub enum Elem<'a> {
    /// Text borrowed from the input (a line of a file buffer, a word of a line).
    Str(&'a str),
    /// Text made by a step.
    Owned(String),
    /// A value of another type.
    Obj(Stored),
}

impl Elem<'_> {
    /// The text, if the element is text (an erased `String` counts).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Elem::Str(s) => Some(s),
            Elem::Owned(s) => Some(s),
            Elem::Obj(Stored::Object(v)) => v.as_any().downcast_ref::<String>().map(String::as_str),
            Elem::Obj(Stored::Encoded(_)) => None,
        }
    }

    /// The element as an owned erased value (allocates for text).
    pub fn into_stored(self) -> Stored {
        match self {
            Elem::Str(s) => Stored::Object(Arc::new(s.to_owned())),
            Elem::Owned(s) => Stored::Object(Arc::new(s)),
            Elem::Obj(stored) => stored,
        }
    }

    /// The element as owned text, if it is text.
    pub fn into_string(self) -> Result<String, Stored> {
        match self {
            Elem::Str(s) => Ok(s.to_owned()),
            Elem::Owned(s) => Ok(s),
            Elem::Obj(stored) => match stored {
                Stored::Object(value) if value.as_any().is::<String>() => {
                    let any = value.into_any();
                    let text = any.downcast::<String>().expect("checked above");
                    Ok(Arc::try_unwrap(text).unwrap_or_else(|shared| (*shared).clone()))
                }
                other => Err(other),
            },
        }
    }
}

/// An encoded value in bincode's own layout: vectors of numbers travel as raw memory, which
/// can't be put inside the encoding of a tuple; those are re-encoded.
pub fn as_bincode(value: EncodedValue) -> Result<EncodedValue, BagError> {
    if !value.raw {
        return Ok(value);
    }
    macro_rules! reencode {
        ($($t:ty),*) => {$(
            if &*value.type_name == std::any::type_name::<Vec<$t>>() {
                let items: Vec<$t> = crate::function::decode_value(&value).map_err(|e| BagError::Type {
                    step: "encode",
                    message: e.to_string(),
                })?;
                return Ok(EncodedValue {
                    bytes: crate::messages::codec::encode(&items)?.into(),
                    raw: false,
                    ..value
                });
            }
        )*};
    }
    reencode!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);
    Err(BagError::Type {
        step: "encode",
        message: format!("raw bytes of unexpected type {}", value.type_name),
    })
}

/// Wraps any value as an erased element.
pub fn erased<T: Value>(value: T) -> Stored {
    Stored::Object(Arc::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::encode_value;
    use crate::messages::codec;

    #[test]
    fn chunks_round_trip_through_the_codec() {
        let chunk = Chunk::Values(vec![erased(3_i64), erased(4_i64)]);
        let back: Chunk = codec::decode(&codec::encode(&chunk).unwrap()).unwrap();
        let Chunk::Values(items) = back else {
            panic!("values")
        };
        assert_eq!(*items[1].read::<i64>().unwrap(), 4);
        let strings = Chunk::Strings(vec!["a".into(), "b".into()]);
        let back: Chunk = codec::decode(&codec::encode(&strings).unwrap()).unwrap();
        assert!(matches!(back, Chunk::Strings(v) if v == ["a", "b"]));
        let mut table = FreqTable::default();
        table.strings.insert("x".into(), 2);
        let v = encode_value(&7_u8).unwrap();
        table.values.insert(v.bytes.to_vec(), (v, 1));
        let back: Chunk = codec::decode(&codec::encode(&Chunk::Freqs(table)).unwrap()).unwrap();
        assert!(matches!(back, Chunk::Freqs(t) if t.strings["x"] == 2 && t.values.len() == 1));
    }

    #[test]
    fn text_elements_are_read_without_copies() {
        let line = String::from("a line");
        assert_eq!(Elem::Str(&line).as_str(), Some("a line"));
        assert_eq!(
            Elem::Obj(erased(String::from("x"))).into_string().unwrap(),
            "x"
        );
        assert!(Elem::Obj(erased(1_i64)).into_string().is_err());
    }
}
