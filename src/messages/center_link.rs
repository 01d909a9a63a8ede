//! Messages between a worker and the center (membership now; task traffic joins in Stage 2).
//!
//! Pure data: no sockets here.

use serde::{Deserialize, Serialize};

/// What a worker tells the center.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WorkerToCenter {
    /// "I am alive", with the worker's current load.
    Heartbeat(HeartbeatMsg),
    /// The worker is leaving on purpose (asked as a request so it knows the center heard).
    Goodbye(GoodbyeMsg),
}

/// A worker's periodic report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatMsg {
    /// Resident memory of the worker process, in bytes.
    pub memory_bytes: u64,
    /// Tasks running now.
    pub executing: u32,
    /// Keys held in the worker's memory.
    pub stored_keys: u32,
}

/// A worker's notice that it is leaving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodbyeMsg {
    /// Why, for the center's log.
    pub reason: String,
}

/// What the center tells a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CenterToWorker {
    /// Acknowledges a [`WorkerToCenter::Goodbye`].
    GoodbyeAck,
    /// The center asks the worker to close (the nanny, if any, decides what happens next).
    Shutdown(ShutdownMsg),
}

/// The center's request that a worker close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownMsg {
    /// Why, for the worker's log.
    pub reason: String,
}
