//! Messages between an executor (a user's process) and the scheduler.
//!
//! Pure data: no sockets here.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::center_link::{HeartbeatMsg, WorkerDescription};
use super::tasks::{FailureMsg, NewTaskMsg};
use crate::function::EncodedValue;
use crate::ids::FunctionId;
use crate::ids::{TaskKey, WorkerId};

/// What an executor tells the scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExecutorToScheduler {
    /// New tasks, and the keys this executor holds futures for.
    UpdateGraph {
        /// Tasks not yet known to the executor's side.
        tasks: Vec<NewTaskMsg>,
        /// Keys the executor wants (holds futures for).
        wanted: Vec<TaskKey>,
    },
    /// The executor holds new futures for existing keys.
    Want(Vec<TaskKey>),
    /// The executor dropped its last future for these keys.
    Release(Vec<TaskKey>),
    /// Cancel these keys for this executor.
    Cancel(Vec<TaskKey>),
    /// Values the executor placed on workers itself (a request: answered by `Ack`).
    Scattered(Vec<ScatteredKey>),
    /// Who is in the cluster (a request: answered by `Cluster`).
    ClusterInfo,
    /// Restart every worker through its nanny (a request: answered by `Ack`).
    Restart,
    /// After losing its center, the executor's first message to the next one: every task it
    /// still holds the spec of, and every key it holds futures for, in parts of a bounded
    /// size that the scheduler takes as one. Keys workers still hold keep their values; a
    /// wanted key nothing can bring back is reported `Lost`.
    Resubmit {
        /// Tasks of submissions whose futures are not all released (this part's share).
        tasks: Vec<NewTaskMsg>,
        /// Every key the executor holds futures for (empty but in the last part).
        wanted: Vec<TaskKey>,
        /// Whether this is the last part.
        last: bool,
    },
    /// A lock, semaphore, queue, event or variable request (a request: answered by
    /// `Coordinated`, perhaps much later when it waits; `Refresh` is told, not asked).
    Coordinate(super::coordination::CoordinationRequest),
    /// Keep at least `n` copies of each of these keys on distinct workers (a request:
    /// answered by `Moved` once the copies are made or failed).
    Replicate {
        /// The keys (the executor's own).
        keys: Vec<TaskKey>,
        /// How many workers should hold each.
        n: u32,
    },
    /// Even out the bytes workers hold (a request: answered by `Moved`).
    Rebalance,
    /// Move the data of these workers (names or `host:port` addresses) elsewhere, then stop
    /// them without a restart (a request: answered by `Moved`, or `Refused`).
    RetireWorkers(Vec<String>),
}

/// One scattered value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScatteredKey {
    /// Its key.
    pub key: TaskKey,
    /// The worker holding it.
    pub worker: WorkerId,
    /// Its size.
    pub nbytes: u64,
}

/// What the scheduler tells an executor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SchedulerToExecutor {
    /// These keys are in memory.
    InMemory(Vec<KeyInMemory>),
    /// These keys erred.
    Erred(Vec<(TaskKey, FailureMsg)>),
    /// These keys are gone (cancelled, or scattered data lost with its worker).
    Lost(Vec<(TaskKey, String)>),
    /// These keys left memory with a lost worker and are being computed again.
    Recomputing(Vec<TaskKey>),
    /// The cluster as it is now (a reply to `ClusterInfo`, and pushed on membership changes).
    Cluster(ClusterSnapshot),
    /// A request was carried out.
    Ack,
    /// The cluster was restarted: every key is forgotten, every future is void.
    Restarted,
    /// A request was refused (a cluster-wide operation this cluster does not allow its
    /// clients); nothing was done.
    Refused {
        /// What was asked ("restart").
        operation: String,
        /// Why it was refused, and how to allow it.
        reason: String,
    },
    /// The answer to a `Coordinate` request.
    Coordinated(super::coordination::CoordinationReply),
    /// What a replicate, rebalance or retire did.
    Moved(MoveReport),
}

/// What a cluster operation (`Executor::replicate`, `rebalance`, `retire_workers`) did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveReport {
    /// Copies made on other workers.
    pub copies: u64,
    /// Bytes those copies hold.
    pub bytes: u64,
    /// Copies that did not come (the holder could not deliver, the worker asked left, or
    /// the operation ran out of time), each named with why, at most 16.
    pub failed: Vec<String>,
    /// Copies that did not come, in all.
    pub failed_count: u64,
    /// Copies dropped from their old holder after a move (rebalance).
    pub dropped: u64,
    /// Workers retired (their names), each stopped after its data was copied elsewhere.
    pub retired: Vec<String>,
    /// Workers asked to retire and kept, each with why ("w2: 3 keys it alone holds could
    /// not be copied elsewhere").
    pub kept: Vec<String>,
}

/// A key that finished, with where to fetch it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyInMemory {
    /// The key.
    pub key: TaskKey,
    /// Workers holding it.
    pub holders: Vec<SocketAddr>,
    /// The value itself when it is small.
    pub inline: Option<EncodedValue>,
}

/// The cluster as the scheduler sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    /// Every worker.
    pub workers: Vec<WorkerView>,
    /// Tasks the scheduler tracks.
    pub tasks: u64,
    /// The URL of the cluster's dashboard, when it serves one.
    pub dashboard: Option<String>,
    /// Tasks ready to run that wait because no connected worker can take them (none left,
    /// or none with their function yet).
    pub tasks_waiting_for_worker: u64,
    /// The last worker death and its cause ("w3 killed by signal SIGABRT"), if any.
    pub last_worker_death: Option<String>,
    /// Why nannies gave up, newest last (at most the last 16): their workers do not come
    /// back.
    pub nannies_gave_up: Vec<String>,
    /// The live supervision trees: the center process's first, then each nanny with its
    /// worker under it, then workers no nanny watches (`taskforce status` draws them).
    pub tree: Vec<super::tree::TreeNode>,
    /// Ready tasks with restrictions (workers, resources) no connected worker satisfies:
    /// "key: needs resources GPU=1: no connected worker satisfies it", at most 16. They
    /// wait, and run when a worker that satisfies them joins.
    pub unplaceable: Vec<String>,
}

/// One worker in a [`ClusterSnapshot`]: its description and last load, flat (the public
/// face of `Executor::cluster_info`), with the scheduler's own counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    /// The center's number for it.
    pub id: WorkerId,
    /// Its name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// Task threads.
    pub nthreads: u32,
    /// Memory limit in bytes (0 = none).
    pub memory_limit: u64,
    /// Resident memory at its last heartbeat.
    pub memory_used: u64,
    /// Keys in its memory, as the worker last reported.
    pub stored_keys: u32,
    /// Keys in its memory, as the scheduler tracks them.
    pub keys_in_memory: u64,
    /// Tasks it is running or has queued.
    pub processing: u64,
    /// Bytes of values it received from other workers.
    pub peer_bytes_in: u64,
    /// Bytes of values it holds, as it last reported.
    pub stored_bytes: u64,
    /// The most bytes of values it held at once, as it last reported.
    pub peak_stored_bytes: u64,
    /// Functions it can run.
    pub functions: Vec<FunctionId>,
    /// Abstract resources it offers (`--resources`), whether in use or not.
    pub resources: crate::resources::Resources,
}

impl WorkerView {
    /// The view of worker `id`: what it is, its last reported load, and what the scheduler
    /// counts for it (keys in memory, tasks in flight).
    pub fn new(
        id: WorkerId,
        description: &WorkerDescription,
        load: &HeartbeatMsg,
        keys_in_memory: u64,
        processing: u64,
    ) -> Self {
        WorkerView {
            id,
            name: description.name.clone(),
            addr: description.addr,
            pid: description.pid,
            nthreads: description.nthreads,
            memory_limit: description.memory_limit,
            memory_used: load.memory_bytes,
            stored_keys: load.stored_keys,
            keys_in_memory,
            processing,
            peer_bytes_in: load.peer_bytes_in,
            stored_bytes: load.stored_bytes,
            peak_stored_bytes: load.peak_stored_bytes,
            functions: description.functions.clone(),
            resources: description.resources.clone(),
        }
    }
}
