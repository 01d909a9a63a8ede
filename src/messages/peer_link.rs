//! Messages to a worker from a peer (another worker or an executor): fetch and place data,
//! and call the services it hosts.
//!
//! Values ride in raw data frames beside the header, one frame per value, in the order the
//! header lists them. Pure data: no sockets here.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::service_link::{FromServiceHost, ToServiceHost};
use crate::function::EncodedValue;
use crate::ids::TaskKey;

/// What a peer asks of a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerToWorker {
    /// Send these keys' values (a request: answered by `Data`).
    GetData(Vec<TaskKey>),
    /// Keep these values (a request: answered by `Stored`); frames carry the bytes.
    PutData(Vec<(TaskKey, ValueMeta)>),
    /// A service call, start, stop or lookup, numbered by the caller; told, not asked, so
    /// a caller's calls stay in order without a reply timer each (see `super::service_link`).
    Service(u64, ToServiceHost),
}

/// What a worker answers a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerToPeer {
    /// Values found (frames carry the bytes, in this order) and keys not held here.
    Data {
        /// Keys sent, with how to read their frames.
        found: Vec<(TaskKey, ValueMeta)>,
        /// Keys this worker does not hold.
        missing: Vec<TaskKey>,
    },
    /// The values of a `PutData` are stored; their sizes.
    Stored(Vec<u64>),
    /// A service host's answer to the caller's request of that number, or a report to the
    /// owner numbered 0 (see `super::service_link`).
    Service(u64, FromServiceHost),
    /// The first key asked for holds a value larger than one message may be (a `GetData`
    /// answer instead of `Data`): it cannot be sent, and asking again won't help.
    TooLarge {
        /// The key.
        key: TaskKey,
        /// Its encoded size in bytes.
        nbytes: u64,
        /// The largest message, in bytes.
        max: u64,
    },
}

/// How to read a value's frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueMeta {
    /// `std::any::type_name` of its type.
    pub type_name: Arc<str>,
    /// Whether the frame is raw numeric memory.
    pub raw: bool,
}

/// Splits an encoded value into its header part and its frame.
pub fn split_value(value: EncodedValue) -> (ValueMeta, Bytes) {
    (
        ValueMeta {
            type_name: value.type_name,
            raw: value.raw,
        },
        value.bytes,
    )
}

/// Joins a header part and its frame back into an encoded value.
pub fn join_value(meta: ValueMeta, bytes: Bytes) -> EncodedValue {
    EncodedValue {
        type_name: meta.type_name,
        bytes,
        raw: meta.raw,
    }
}
