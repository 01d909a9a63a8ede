//! The JSON the browser receives: plain serde structs, each list bounded by the model.

use std::sync::Arc;

use serde::Serialize;

/// Tasks by phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Submitted, waiting for inputs or a worker.
    pub waiting: u64,
    /// Sent to a worker, not reported yet.
    pub processing: u64,
    /// Finished, value held on a worker.
    pub memory: u64,
    /// Failed.
    pub erred: u64,
    /// Finished and since released (done and forgotten).
    pub released: u64,
}

/// Progress of one function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FunctionProgress {
    /// The function's registered name.
    pub function: String,
    /// Its tasks by phase.
    pub counts: Counts,
}

/// One worker as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkerPanel {
    /// The scheduler's number for it.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Where peers reach it.
    pub addr: String,
    /// Task threads.
    pub nthreads: u32,
    /// Memory limit in bytes (0: none).
    pub memory_limit: u64,
    /// Resident memory of the process.
    pub memory_used: u64,
    /// Bytes of values it holds, in memory and spilled.
    pub stored_bytes: u64,
    /// Bytes of values it holds in memory (the memory it manages).
    pub managed_bytes: u64,
    /// Resident memory beyond the values it holds in memory (the interpreter of no one:
    /// buffers, allocator slack, the program itself).
    pub unmanaged_bytes: u64,
    /// Bytes received from peers so far.
    pub peer_bytes_in: u64,
    /// Bytes sent to peers and executors so far.
    pub bytes_out: u64,
    /// Bytes of its values spilled to disk now.
    pub spilled_bytes: u64,
    /// Tasks sent to it and not reported yet.
    pub processing: u64,
    /// CPU use over its last report period, in percent of one core (0 before two reports).
    pub cpu_percent: f64,
    /// Bytes per second received from peers over its last report period.
    pub bytes_in_per_second: f64,
    /// Bytes per second sent to peers and executors over its last report period.
    pub bytes_out_per_second: f64,
    /// `running`, `paused` (memory past its pause fraction), `restarting: <cause>` (its
    /// nanny starts a new process) or `dead: <cause>`.
    pub state: String,
}

impl WorkerPanel {
    /// Whether the worker is still connected (running or paused).
    pub fn is_live(&self) -> bool {
        self.state == "running" || self.state == "paused"
    }
}

/// One bar of the task stream: a task on a worker's thread, or a transfer or spill on the
/// worker's own lane, from when it started to when it ended (as the worker measured it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskSpan {
    /// The worker.
    pub worker: u32,
    /// The task thread (0-based); `None` for the worker's lane of transfers and spills.
    pub thread: Option<u32>,
    /// `compute`, `transfer` (values fetched from a peer), `spill` (a value written to
    /// disk) or `unspill` (read back).
    pub kind: &'static str,
    /// The function (colours the bar), or the kind for a transfer or spill.
    pub function: Arc<str>,
    /// Bytes moved (0 for a task).
    pub nbytes: u64,
    /// Seconds since the dashboard started.
    pub start: f64,
    /// Seconds since the dashboard started.
    pub stop: f64,
    /// Whether it failed.
    pub erred: bool,
}

/// A layer of the graph: tasks by phase, and the layers it reads from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerView {
    /// The layer's name.
    pub name: String,
    /// Its tasks by phase.
    pub counts: Counts,
    /// Layers whose keys its tasks read.
    pub inputs: Vec<String>,
}

/// A line of the event log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventLine {
    /// Seconds since the dashboard started.
    pub at: f64,
    /// What happened.
    pub text: String,
}

/// Everything the page shows, at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// Seconds since the dashboard started.
    pub now: f64,
    /// All tasks by phase.
    pub totals: Counts,
    /// Tasks finished since the dashboard started.
    pub finished_total: u64,
    /// Progress per function (the busiest first).
    pub functions: Vec<FunctionProgress>,
    /// Workers, live and recently dead.
    pub workers: Vec<WorkerPanel>,
    /// The most recent task spans.
    pub stream: Vec<TaskSpan>,
    /// The graph by layer.
    pub layers: Vec<LayerView>,
    /// The most recent events, oldest first.
    pub events: Vec<EventLine>,
    /// The cluster's supervision trees with their restart counts (the center process's
    /// first), when the dashboard is given them; the model itself leaves this empty.
    pub tree: Vec<crate::messages::tree::TreeNode>,
    /// Spans workers could not report (they keep a bounded number per report).
    pub dropped_spans: u64,
}
