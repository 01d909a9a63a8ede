//! Messages between a worker and the center: membership, heartbeats, and task traffic to and
//! from the scheduler (batched: many tasks per frame).
//!
//! Pure data: no sockets here.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::tasks::{ComputeMsg, FailureMsg};
use crate::function::EncodedValue;
use crate::ids::{FunctionId, TaskKey, WorkerId};
use crate::messages::Hello;

/// What a worker tells the center.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WorkerToCenter {
    /// "I am alive", with the worker's current load.
    Heartbeat(HeartbeatMsg),
    /// The worker is leaving on purpose (asked as a request so it knows the center heard).
    Goodbye(GoodbyeMsg),
    /// What happened to tasks since the last report.
    TaskEvents(Vec<TaskEvent>),
    /// The values this worker kept from an earlier center session, `(key, nbytes)`: sent
    /// once, first thing after registering again, so a restarted center learns who holds
    /// what before it places work.
    HeldKeys(Vec<(TaskKey, u64)>),
    /// The worker process's supervision tree, sent when it changes (for `taskforce status`).
    Tree(super::tree::TreeNode),
    /// What the worker did since its last report (its threads' tasks, transfers, spills),
    /// its CPU time and network bytes: sent with each heartbeat, for the dashboard. Added
    /// last so the earlier variants keep their encoding.
    Activity(super::activity::ActivityMsg),
    /// The answer to a [`CenterToWorker::Ping`], at once, with the worker's task counters.
    Pong(PongMsg),
}

/// A worker's answer to a ping: the center times the round trip and, from these running
/// counts, the worker's mean task time; both size the worker's in-flight window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PongMsg {
    /// Tasks the worker's threads have finished since it started.
    pub tasks_done: u64,
    /// Nanoseconds its threads spent running them.
    pub busy_nanos: u64,
}

/// One task's outcome on a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TaskEvent {
    /// The task ran; its value stays on the worker.
    Finished {
        /// The task.
        key: TaskKey,
        /// Bytes its value takes when moved.
        nbytes: u64,
        /// The value itself when it is small, so clients need not fetch it.
        inline: Option<EncodedValue>,
    },
    /// The task failed (a panic, an `Err`, a bad argument, an unknown function).
    Erred {
        /// The task.
        key: TaskKey,
        /// Why.
        failure: FailureMsg,
    },
    /// An input could not be fetched from the peer said to hold it.
    MissingDependency {
        /// The task that needed it.
        key: TaskKey,
        /// The input.
        dependency: TaskKey,
        /// The peer that did not deliver it.
        holder: WorkerId,
    },
    /// The running task gave its thread back to wait on the cluster (it submitted tasks
    /// and waits for them; dask's long-running): it no longer counts against the worker's
    /// saturation, so the scheduler sends the worker more. Last of the variants, so the
    /// others encode as before.
    Seceded {
        /// The task.
        key: TaskKey,
    },
    /// A copy of `key`'s value is held here now, fetched from a peer: for a task here that
    /// needs it, or because the scheduler asked for a copy (`CenterToWorker::Acquire`).
    Copied {
        /// The key.
        key: TaskKey,
        /// Bytes its value takes when moved.
        nbytes: u64,
    },
    /// A copy the scheduler asked for (`CenterToWorker::Acquire`) did not come from `holder`.
    CopyFailed {
        /// The key.
        key: TaskKey,
        /// The peer asked for it (`w0` when none had an address this worker knew).
        holder: WorkerId,
    },
    /// The answer to a steal request (`CenterToWorker::Steal`) for `key`: given back (no
    /// thread had started it, and it is dropped here, for the scheduler to give to another
    /// worker) or kept (running, done, or unknown here: its report goes as usual).
    StealAnswer {
        /// The task.
        key: TaskKey,
        /// The request's number, as the scheduler sent it.
        steal: u64,
        /// Whether the task was given back.
        given_back: bool,
    },
}

/// A worker's periodic report: its load, as the center and the scheduler keep it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatMsg {
    /// Resident memory of the worker process, in bytes.
    pub memory_bytes: u64,
    /// Tasks running now.
    pub executing: u32,
    /// Keys held in the worker's memory.
    pub stored_keys: u32,
    /// Bytes of values received from peers since the worker started.
    pub peer_bytes_in: u64,
    /// Bytes of values held now (as they would travel).
    pub stored_bytes: u64,
    /// The most bytes of values held at once since the worker started.
    pub peak_stored_bytes: u64,
    /// Bytes of values spilled to disk now (0 without a memory limit).
    pub spilled_bytes: u64,
}

/// What a worker is: the one description of it, made once from its [`Hello`] when it
/// registers, kept by the center and the scheduler, and shown to executors in
/// [`super::executor_link::WorkerView`]. Its load is [`HeartbeatMsg`]; who holds which key
/// is the scheduler's alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerDescription {
    /// Its name.
    pub name: String,
    /// Where it listens for peers.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// Task threads.
    pub nthreads: u32,
    /// Memory limit in bytes (0 = none).
    pub memory_limit: u64,
    /// Remote functions it can run.
    pub functions: Vec<FunctionId>,
    /// Abstract resources it offers to tasks (`--resources`).
    pub resources: crate::resources::Resources,
}

impl WorkerDescription {
    /// The description a worker gave in its handshake, listening at `addr`.
    pub fn from_hello(hello: &Hello, addr: SocketAddr) -> Self {
        WorkerDescription {
            name: hello.name.clone(),
            addr,
            pid: hello.pid,
            nthreads: hello.nthreads,
            memory_limit: hello.memory_limit,
            functions: hello.functions.clone(),
            resources: hello.resources.clone(),
        }
    }
}

/// A worker's notice that it is leaving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodbyeMsg {
    /// Why, for the center's log.
    pub reason: String,
}

/// What the center tells a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CenterToWorker {
    /// Acknowledges a [`WorkerToCenter::Goodbye`].
    GoodbyeAck,
    /// The center asks the worker to close (the nanny, if any, decides what happens next).
    Shutdown(ShutdownMsg),
    /// Run these tasks; `peers` gives the address of every worker named as a holder.
    Compute {
        /// The tasks, in the order the scheduler chose them.
        tasks: Vec<ComputeMsg>,
        /// Addresses of the holders the tasks name.
        peers: Vec<(WorkerId, SocketAddr)>,
    },
    /// Delete these keys (or cancel them if they are queued or running).
    Release(Vec<TaskKey>),
    /// Answer with a [`WorkerToCenter::Pong`] at once (sent as a request): measures the
    /// round trip through both actors, as a compute order and its report travel.
    Ping,
    /// Fetch a copy of each key from one of its holders and keep it (replicate, rebalance,
    /// retire); each ends in a `TaskEvent::Copied` or `TaskEvent::CopyFailed`.
    Acquire {
        /// The keys, each with the workers holding it.
        keys: Vec<(TaskKey, Vec<WorkerId>)>,
        /// Addresses of those holders.
        peers: Vec<(WorkerId, SocketAddr)>,
    },
    /// Give these tasks back if no thread started them (another worker is about to idle):
    /// each is answered with a `TaskEvent::StealAnswer` carrying its request's number, given
    /// back (dropped here) or kept (it runs and is reported as usual).
    Steal(Vec<(TaskKey, u64)>),
}

/// The center's request that a worker close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownMsg {
    /// Why, for the worker's log.
    pub reason: String,
}
