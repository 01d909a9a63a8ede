//! A worker's activity report, sent beside each heartbeat: what its threads ran (for the
//! dashboard's task stream), the values it moved and spilled, its CPU time and network
//! bytes, and whether it is paused.
//!
//! Pure data: no sockets, no clock. Times travel as "how long before the report was made",
//! so neither side needs the other's clock.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Spans a report carries at most; a worker keeps the newest and counts the rest in
/// [`ActivityMsg::dropped_spans`].
pub const MAX_SPANS_PER_REPORT: usize = 2_000;

/// What a worker did since its last report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityMsg {
    /// CPU seconds (user and system) the worker process used since it started.
    pub cpu_seconds: f64,
    /// Bytes of values received from peers since the worker started.
    pub bytes_in: u64,
    /// Bytes of values sent to peers and executors since the worker started.
    pub bytes_out: u64,
    /// Whether the worker is paused (memory past its pause fraction: running tasks finish,
    /// new ones wait).
    pub paused: bool,
    /// Work finished since the last report, oldest first (at most
    /// [`MAX_SPANS_PER_REPORT`]).
    pub spans: Vec<SpanMsg>,
    /// Spans finished since the last report that did not fit.
    pub dropped_spans: u32,
}

/// One piece of work a worker finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanMsg {
    /// What it was.
    pub kind: SpanKind,
    /// Microseconds before the report that it started.
    pub started_us_ago: u64,
    /// Microseconds before the report that it ended.
    pub stopped_us_ago: u64,
}

/// What kind of work a [`SpanMsg`] was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SpanKind {
    /// A task ran on task thread `thread`.
    Compute {
        /// The task thread's number (0-based).
        thread: u32,
        /// The function's registered name.
        function: Arc<str>,
        /// Whether it failed.
        erred: bool,
    },
    /// Values fetched from a peer.
    Transfer {
        /// Bytes received.
        nbytes: u64,
    },
    /// A value written to the spill directory.
    Spill {
        /// Bytes written.
        nbytes: u64,
    },
    /// A spilled value read back from disk.
    Unspill {
        /// Bytes read.
        nbytes: u64,
    },
}
