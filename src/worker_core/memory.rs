//! The worker's memory policy: past a target fraction of its limit, stored values spill to
//! disk (least recently used first); past a pause fraction, the worker takes no new tasks
//! until memory falls back under it. Dask's defaults: 60% and 80%.
//!
//! Pure: the numbers and the decisions only; the disk is the shell's (reached through the
//! outbox's spill methods).

use super::outbox::{Job, WorkerOutbox};
use super::state::WorkerState;
use crate::function::Stored;
use crate::ids::TaskKey;

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

impl WorkerState {
    /// Spills and pauses by `policy` from now on.
    pub fn set_memory_policy(&mut self, policy: MemoryPolicy) {
        self.memory = Some(policy);
    }

    /// The shell measured the process's resident memory: pause past the pause fraction,
    /// resume (starting the held tasks in priority order) once back under it.
    ///
    /// Past the pause fraction every value in memory spills (memory the process holds
    /// beyond the values is out of the core's reach); returns the bytes spilled now.
    pub fn on_memory_sample(&mut self, rss: u64, out: &mut dyn WorkerOutbox) -> u64 {
        self.rss = rss;
        let before = self.store.memory_nbytes();
        let over = self.memory.is_some_and(|policy| rss > policy.pause_bytes());
        match over {
            true => self.spill_down_to(0, out),
            false => self.relieve_memory(out),
        }
        self.update_pause(out);
        before.saturating_sub(self.store.memory_nbytes())
    }

    /// Whether new tasks are held back for memory.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Bytes of values on disk now.
    pub fn spilled_bytes(&self) -> u64 {
        self.store.nbytes() - self.store.memory_nbytes()
    }

    /// Bytes ever written to disk.
    pub fn spilled_total(&self) -> u64 {
        self.store.spilled_total()
    }

    /// Bytes of values in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.store.memory_nbytes()
    }

    /// Spills the least recently used values until those in memory are under the target.
    /// A value the disk does not take stays in memory, and spilling stops for this turn.
    pub(super) fn relieve_memory(&mut self, out: &mut dyn WorkerOutbox) {
        if let Some(policy) = self.memory {
            self.spill_down_to(policy.target_bytes(), out);
        }
        self.update_pause(out);
    }

    /// Spills the least recently used values until at most `bytes` are in memory.
    fn spill_down_to(&mut self, bytes: u64, out: &mut dyn WorkerOutbox) {
        while self.store.memory_nbytes() > bytes {
            let Some((key, value)) = self.store.oldest_in_memory() else {
                break;
            };
            if !out.spill(key, value) {
                break;
            }
            let key = key.clone();
            self.store.spilled(&key);
        }
    }

    fn update_pause(&mut self, out: &mut dyn WorkerOutbox) {
        let Some(policy) = self.memory else {
            return;
        };
        let used = self.rss.max(self.store.memory_nbytes());
        self.paused = used > policy.pause_bytes();
        if !self.paused && !self.held_jobs.is_empty() {
            let mut jobs = std::mem::take(&mut self.held_jobs);
            jobs.sort_by_key(|job| job.priority);
            for job in jobs {
                out.run(job);
            }
        }
    }

    /// Keeps `value` of `key` in memory (replacing a copy in memory or on disk), then
    /// spills what is past the target.
    pub(super) fn keep(
        &mut self,
        key: TaskKey,
        value: Stored,
        nbytes: u64,
        out: &mut dyn WorkerOutbox,
    ) {
        if self.store.remove(&key) == Some(true) {
            out.drop_spilled(&key);
        }
        self.store.insert(key, value, nbytes);
        self.relieve_memory(out);
    }

    /// Hands `job` to the threads, or holds it while paused.
    pub(super) fn run_or_hold(&mut self, job: Job, out: &mut dyn WorkerOutbox) {
        match self.paused {
            true => self.held_jobs.push(job),
            false => out.run(job),
        }
    }

    /// Drops a job held back for `key` (released before it could start); returns whether
    /// there was one.
    pub(super) fn drop_held(&mut self, key: &TaskKey) -> bool {
        let before = self.held_jobs.len();
        self.held_jobs.retain(|job| &job.key != key);
        self.held_jobs.len() != before
    }

    /// The value of `key` for a task: from memory, or read back from disk. A value read
    /// back goes into memory (as most recently used) only if it fits under the target
    /// without spilling anything; otherwise it serves this task and stays on disk. Tasks
    /// that cycle through more spilled inputs than fit (a shuffle's picks, each reading a
    /// different split) would otherwise evict the next one's input every time.
    /// `None` if not held or unreadable (then it is forgotten).
    pub(super) fn value_for_task(
        &mut self,
        key: &TaskKey,
        out: &mut dyn WorkerOutbox,
    ) -> Option<Stored> {
        match self.store.get(key)? {
            super::store::Held::Memory(value) => {
                let value = value.clone();
                self.store.touch(key);
                Some(value)
            }
            super::store::Held::Disk => {
                let Some(encoded) = out.read_back(key) else {
                    self.store.remove(key);
                    out.drop_spilled(key);
                    return None;
                };
                let nbytes = encoded.len() as u64;
                let value = Stored::Encoded(std::sync::Arc::new(encoded));
                let room = self.memory.map_or(u64::MAX, |policy| policy.target_bytes());
                if self.store.memory_nbytes().saturating_add(nbytes) <= room {
                    out.drop_spilled(key);
                    self.store.insert(key.clone(), value.clone(), nbytes);
                }
                Some(value)
            }
        }
    }
}
