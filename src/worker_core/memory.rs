//! The worker's memory policy: past a target fraction of its limit, stored values spill to
//! disk (least recently used first); past a pause fraction, the worker takes no new tasks
//! until memory falls back under it. Dask's defaults: 60% and 80%.
//!
//! Pure: the numbers and the decisions only; the disk is the shell's.

/// When to spill and when to pause, for a worker with an explicit memory limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryPolicy {
    /// The limit in bytes.
    pub limit: u64,
    /// Fraction of `limit` past which values held in memory spill to disk (default 0.6).
    pub target: f64,
    /// Fraction of `limit` past which no new task starts (default 0.8).
    pub pause: f64,
}

impl MemoryPolicy {
    /// Dask's fractions for `limit`.
    pub fn new(limit: u64) -> Self {
        MemoryPolicy {
            limit,
            target: 0.6,
            pause: 0.8,
        }
    }

    /// Bytes in memory above which values spill.
    pub fn target_bytes(&self) -> u64 {
        (self.limit as f64 * self.target) as u64
    }

    /// Process memory above which no new task starts.
    pub fn pause_bytes(&self) -> u64 {
        (self.limit as f64 * self.pause) as u64
    }
}
