//! The encoded call of a task ([`TaskSpec`]): opaque bytes made by the function layer,
//! carried untouched by the scheduler and the wire, and read back by the worker.
//!
//! Plain data: no I/O, and nothing from the scheduler, the wire or the actors.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The encoded task (function arguments and whatever else the worker needs), opaque to the
/// scheduler. Cloning is a reference-count bump; on the wire it is one length-prefixed byte
/// string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskSpec(Arc<[u8]>);

impl TaskSpec {
    /// Wraps encoded task bytes.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        TaskSpec(bytes.into())
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for TaskSpec {
    fn from(bytes: Vec<u8>) -> Self {
        TaskSpec(bytes.into())
    }
}

impl From<&[u8]> for TaskSpec {
    fn from(bytes: &[u8]) -> Self {
        TaskSpec(bytes.into())
    }
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskSpec({} bytes)", self.0.len())
    }
}

impl Serialize for TaskSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaskSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(SpecVisitor)
    }
}

/// Accepts a byte string (or, from self-describing formats, a sequence of bytes).
struct SpecVisitor;

impl<'de> serde::de::Visitor<'de> for SpecVisitor {
    type Value = TaskSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("encoded task bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<TaskSpec, E> {
        Ok(TaskSpec::from(bytes))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<TaskSpec, E> {
        Ok(TaskSpec::from(bytes))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<TaskSpec, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(TaskSpec::from(bytes))
    }
}
