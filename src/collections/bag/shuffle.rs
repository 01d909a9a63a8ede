//! The hash shuffle behind `foldby` and `groupby`. Each input partition's task splits its
//! elements into one bucket per output partition (by a hash of the key's encoding), folding
//! or listing them per key as it goes; a small task per (input, bucket) picks one bucket out,
//! on the worker that holds the split; each output partition's task depends on its bucket
//! from every input, so buckets move worker to worker by peer fetch, never through the
//! program or one task. Keys and values are erased: hashed and compared by their encodings,
//! put together as the program's `(K, A)` / `(K, Vec<T>)` by bincode's layout of tuples.
//!
//! Knows the function registry and [`Chunk`]s; nothing of graphs, actors or sockets.

use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::chunk::{Chunk, Elem};
use super::error::BagError;
use super::sink::Sink;
use crate::function::{lookup, ArgReader, ArgSlot, EncodedValue, Stored, Value};
use crate::ids::{FunctionId, Map};
use crate::messages::codec;

/// One bucket: each key's encoding, with its accumulator (foldby) or its values (groupby).
pub type Bucket = Vec<(EncodedValue, Encodings)>;

/// `count` values' bincode encodings, back to back: a key's values in a bucket, held as one
/// buffer (not a value each) so a bucket takes about its encoded size in memory, and
/// picking a bucket out of a split shares the buffer instead of copying it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encodings {
    /// How many values.
    pub count: u64,
    /// Their encodings, concatenated.
    pub bytes: Bytes,
}

/// How a shuffle's first stage treats elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    /// The key function.
    pub key: FunctionId,
    /// For foldby: the fold `binop(acc, x)` and the initial accumulator.
    pub fold: Option<(FunctionId, EncodedValue)>,
    /// Output partitions.
    pub buckets: u32,
}

/// A function called through its erased entry.
struct ErasedFn {
    name: Arc<str>,
    invoke: crate::function::registry::Invoke,
}

impl ErasedFn {
    fn resolve(function: &FunctionId) -> Result<Self, BagError> {
        let problem = |problem| BagError::Function {
            function: function.name.to_string(),
            problem,
        };
        let (registration, signature) = lookup(&function.name).ok_or_else(|| problem("missing"))?;
        if signature != function.signature {
            return Err(problem("of another signature"));
        }
        Ok(ErasedFn {
            name: function.name.clone(),
            invoke: registration.invoke,
        })
    }

    fn call(&self, args: Vec<Stored>) -> Result<Arc<dyn Value>, BagError> {
        let slots: Vec<ArgSlot> = args.into_iter().map(ArgSlot::One).collect();
        (self.invoke)(&ArgReader::new(&slots)).map_err(|e| BagError::Type {
            step: "foldby/groupby",
            message: format!("{}: {e}", self.name),
        })
    }
}

/// The value's encoding, in bincode's layout even for vectors of numbers (which travel raw),
/// so it can be put inside a tuple's encoding.
fn encode(value: &Stored) -> Result<EncodedValue, BagError> {
    super::chunk::as_bincode(value.encode()?)
}

/// Appends the value's bincode encoding to `bytes`: a text element straight from its
/// string (the common case: lines and words), anything else through its erased encoding.
fn append_encoding(value: &Stored, bytes: &mut Vec<u8>) -> Result<(), BagError> {
    let text = match value {
        Stored::Object(object) => {
            crate::function::value::downcast_value::<String>(object.as_ref()).ok()
        }
        Stored::Encoded(_) => None,
    };
    match text {
        Some(text) => codec::encode_into(text, bytes)?,
        None => bytes.extend_from_slice(&encode(value)?.bytes),
    }
    Ok(())
}

fn bucket_of(key: &[u8], buckets: u32) -> usize {
    (xxhash_rust::xxh3::xxh3_64(key) % u64::from(buckets.max(1))) as usize
}

/// The first stage: keys each element and folds or lists it in its key's bucket.
pub struct GroupSink {
    key: ErasedFn,
    fold: Option<(ErasedFn, Stored)>,
    buckets: u32,
    /// Key encoding → (key, accumulator or values).
    groups: Map<Vec<u8>, (EncodedValue, Gathered)>,
}

enum Gathered {
    Acc(Stored),
    /// How many values, and their encodings back to back.
    List(u64, Vec<u8>),
}

impl GroupSink {
    /// Resolves the spec's functions in this binary.
    pub fn new(spec: &GroupSpec) -> Result<Self, BagError> {
        let fold = match &spec.fold {
            Some((binop, initial)) => Some((
                ErasedFn::resolve(binop)?,
                Stored::Encoded(Arc::new(initial.clone())),
            )),
            None => None,
        };
        Ok(GroupSink {
            key: ErasedFn::resolve(&spec.key)?,
            fold,
            buckets: spec.buckets,
            groups: Map::default(),
        })
    }
}

impl Sink for GroupSink {
    fn accept(&mut self, elem: Elem<'_>) -> Result<ControlFlow<()>, BagError> {
        let value = elem.into_stored();
        let key = self.key.call(vec![value.clone()])?;
        let key = super::chunk::as_bincode(key.encode()?)?;
        let entry = match self.groups.get_mut(key.bytes.as_ref()) {
            Some(entry) => entry,
            None => {
                let empty = match &self.fold {
                    Some((_, initial)) => Gathered::Acc(initial.clone()),
                    None => Gathered::List(0, Vec::new()),
                };
                self.groups
                    .entry(key.bytes.to_vec())
                    .or_insert((key, empty))
            }
        };
        match (&mut entry.1, &self.fold) {
            (Gathered::Acc(acc), Some((binop, _))) => {
                *acc = Stored::Object(binop.call(vec![acc.clone(), value])?);
            }
            (Gathered::List(count, bytes), _) => {
                *count += 1;
                append_encoding(&value, bytes)?;
            }
            (Gathered::Acc(_), None) => unreachable!("accumulators exist only for a fold"),
        }
        Ok(ControlFlow::Continue(()))
    }

    fn finish(self: Box<Self>) -> Result<Chunk, BagError> {
        let mut buckets: Vec<Bucket> = (0..self.buckets.max(1)).map(|_| Vec::new()).collect();
        for (bytes, (key, gathered)) in self.groups {
            let values = match gathered {
                Gathered::List(count, mut values) => {
                    values.shrink_to_fit();
                    Encodings {
                        count,
                        bytes: values.into(),
                    }
                }
                Gathered::Acc(acc) => Encodings {
                    count: 1,
                    bytes: encode(&acc)?.bytes,
                },
            };
            buckets[bucket_of(&bytes, self.buckets)].push((key, values));
        }
        Ok(Chunk::Buckets(buckets))
    }
}

/// One bucket of a split, as its own chunk.
pub fn pick(split: &Chunk, index: usize) -> Result<Chunk, BagError> {
    match split {
        Chunk::Buckets(buckets) => Ok(Chunk::Group(
            buckets.get(index).cloned().unwrap_or_default(),
        )),
        other => Err(BagError::Type {
            step: "foldby/groupby",
            message: format!("expected buckets, found {}", other.kind()),
        }),
    }
}

/// The encoding of `(key, values)`: the key, the number of values, their encodings.
fn list_pair(key: &EncodedValue, values: &[Encodings]) -> Result<Vec<u8>, BagError> {
    let count: u64 = values.iter().map(|v| v.count).sum();
    let count = codec::encode(&count)?;
    let len = key.bytes.len() + count.len() + values.iter().map(|v| v.bytes.len()).sum::<usize>();
    let mut pair = Vec::with_capacity(len);
    pair.extend_from_slice(&key.bytes);
    pair.extend_from_slice(&count);
    for part in values {
        pair.extend_from_slice(&part.bytes);
    }
    Ok(pair)
}

/// The second stage: one output partition from its bucket of every input, as `(key, acc)`
/// pairs (with `combine`, whose accumulators are of type `acc_type`) or `(key, values)`
/// pairs, typed `pair_type`.
pub fn merge(
    parts: &[Chunk],
    combine: Option<&(FunctionId, String)>,
    pair_type: &str,
) -> Result<Chunk, BagError> {
    let combine = match combine {
        Some((function, acc_type)) => Some((
            ErasedFn::resolve(function)?,
            Arc::<str>::from(acc_type.as_str()),
        )),
        None => None,
    };
    let mut order: Vec<Vec<u8>> = Vec::new();
    let mut groups: Map<Vec<u8>, (EncodedValue, Vec<Encodings>, Option<Stored>)> = Map::default();
    for part in parts {
        let Chunk::Group(bucket) = part else {
            return Err(BagError::Type {
                step: "foldby/groupby",
                message: format!("expected a bucket, found {}", part.kind()),
            });
        };
        for (key, values) in bucket {
            let entry = groups.entry(key.bytes.to_vec()).or_insert_with(|| {
                order.push(key.bytes.to_vec());
                (key.clone(), Vec::new(), None)
            });
            match &combine {
                Some((combine, acc_type)) => {
                    let acc = Stored::Encoded(Arc::new(EncodedValue {
                        type_name: acc_type.clone(),
                        bytes: values.bytes.clone(),
                        raw: false,
                    }));
                    entry.2 = Some(match entry.2.take() {
                        None => acc,
                        Some(prev) => Stored::Object(combine.call(vec![prev, acc])?),
                    });
                }
                None => entry.1.push(values.clone()),
            }
        }
    }
    let type_name: Arc<str> = Arc::from(pair_type);
    let mut out = Vec::with_capacity(order.len());
    for bytes in order {
        let (key, values, acc) = groups.remove(&bytes).expect("recorded");
        let pair = match acc {
            Some(acc) => [key.bytes.as_ref(), &encode(&acc)?.bytes].concat(),
            None => list_pair(&key, &values)?,
        };
        out.push(Stored::Encoded(Arc::new(EncodedValue {
            type_name: type_name.clone(),
            bytes: pair.into(),
            raw: false,
        })));
    }
    Ok(Chunk::Values(out))
}
