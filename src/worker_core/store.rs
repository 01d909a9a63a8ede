//! The worker's memory: values by key, kept as Rust objects or as received bytes.
//!
//! Pure: no I/O, no actors.

use crate::function::Stored;
use crate::ids::{Map, TaskKey};

/// Values held by this worker.
#[derive(Debug, Default)]
pub struct DataStore {
    values: Map<TaskKey, (Stored, u64)>,
    nbytes: u64,
    peak_nbytes: u64,
}

impl DataStore {
    /// Keeps `value`, which takes `nbytes` when moved, under `key` (replacing an older one).
    pub fn insert(&mut self, key: TaskKey, value: Stored, nbytes: u64) {
        self.nbytes += nbytes;
        if let Some((_, old)) = self.values.insert(key, (value, nbytes)) {
            self.nbytes -= old;
        }
        self.peak_nbytes = self.peak_nbytes.max(self.nbytes);
    }

    /// Drops `key`; returns whether it was held.
    pub fn remove(&mut self, key: &TaskKey) -> bool {
        match self.values.remove(key) {
            Some((_, old)) => {
                self.nbytes -= old;
                true
            }
            None => false,
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &TaskKey) -> Option<&Stored> {
        self.values.get(key).map(|(value, _)| value)
    }

    /// The size of `key`'s value.
    pub fn nbytes_of(&self, key: &TaskKey) -> Option<u64> {
        self.values.get(key).map(|(_, nbytes)| *nbytes)
    }

    /// Whether `key` is held.
    pub fn contains(&self, key: &TaskKey) -> bool {
        self.values.contains_key(key)
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Bytes held (as they would travel).
    pub fn nbytes(&self) -> u64 {
        self.nbytes
    }

    /// The size of every value held (for invariant checks).
    pub fn sizes(&self) -> impl Iterator<Item = u64> + '_ {
        self.values.values().map(|(_, nbytes)| *nbytes)
    }

    /// The most bytes held at once.
    pub fn peak_nbytes(&self) -> u64 {
        self.peak_nbytes
    }
}
