//! Messages between a nanny and the center: what happened to the worker process it watches.
//!
//! Pure data: no sockets here.

use serde::{Deserialize, Serialize};

/// What a nanny tells the center.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NannyToCenter {
    /// A worker process was started (first start or restart).
    WorkerStarted(WorkerStartedMsg),
    /// The worker process exited.
    WorkerExited(WorkerExitedMsg),
    /// The restart budget is spent; the nanny stops.
    GaveUp(GaveUpMsg),
}

/// A worker process started under a nanny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStartedMsg {
    /// Its process id.
    pub pid: u32,
    /// How many restarts came before this start.
    pub restarts: u32,
}

/// A worker process under a nanny exited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerExitedMsg {
    /// Its process id.
    pub pid: u32,
    /// How it exited, in words (`exit status 1`, `signal 9 (SIGKILL)`).
    pub status: String,
    /// Whether the nanny is starting a new one.
    pub restarting: bool,
}

/// A nanny giving up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaveUpMsg {
    /// Why, for the center's log.
    pub reason: String,
}

/// What the center tells a nanny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CenterToNanny {
    /// Kill the worker process and start a fresh one (`Executor::restart`).
    RestartWorker,
}
