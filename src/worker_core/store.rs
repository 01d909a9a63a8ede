//! The worker's memory: values by key, kept as Rust objects or as received bytes, or spilled
//! to disk (the shell's files; the store only knows they are there). Values in memory are
//! ordered by last use so the least recently used spills first.
//!
//! Pure: no I/O, no actors.

use std::collections::BTreeMap;

use crate::function::Stored;
use crate::ids::{Map, TaskKey};

/// Where a held value is.
#[derive(Debug)]
pub enum Held<'a> {
    /// In memory.
    Memory(&'a Stored),
    /// Spilled to disk: read it back from the spill directory.
    Disk,
}

#[derive(Debug)]
struct Entry {
    /// `None` once spilled.
    value: Option<Stored>,
    nbytes: u64,
    /// Its place in `by_use` while in memory.
    last_use: u64,
}

/// Values held by this worker.
#[derive(Debug, Default)]
pub struct DataStore {
    values: Map<TaskKey, Entry>,
    /// Values in memory by last use, oldest first.
    by_use: BTreeMap<u64, TaskKey>,
    clock: u64,
    nbytes: u64,
    memory_nbytes: u64,
    peak_nbytes: u64,
    spilled_total: u64,
}

impl DataStore {
    /// Every held key with its size, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (TaskKey, u64)> + '_ {
        self.values
            .iter()
            .map(|(key, entry)| (key.clone(), entry.nbytes))
    }

    /// Keeps `value`, which takes `nbytes` when moved, under `key` in memory (replacing an
    /// older one, in memory or on disk).
    pub fn insert(&mut self, key: TaskKey, value: Stored, nbytes: u64) {
        self.remove(&key);
        self.clock += 1;
        self.by_use.insert(self.clock, key.clone());
        let entry = Entry {
            value: Some(value),
            nbytes,
            last_use: self.clock,
        };
        self.values.insert(key, entry);
        self.nbytes += nbytes;
        self.memory_nbytes += nbytes;
        self.peak_nbytes = self.peak_nbytes.max(self.nbytes);
    }

    /// Drops `key`; returns where it was (`Some(true)` on disk), `None` if not held.
    pub fn remove(&mut self, key: &TaskKey) -> Option<bool> {
        let entry = self.values.remove(key)?;
        self.nbytes -= entry.nbytes;
        let in_memory = entry.value.is_some();
        if in_memory {
            self.memory_nbytes -= entry.nbytes;
            self.by_use.remove(&entry.last_use);
        }
        Some(!in_memory)
    }

    /// The value of `key` and where it is.
    pub fn get(&self, key: &TaskKey) -> Option<Held<'_>> {
        let entry = self.values.get(key)?;
        Some(entry.value.as_ref().map_or(Held::Disk, Held::Memory))
    }

    /// Marks `key` (in memory) as just used, so it spills last.
    pub fn touch(&mut self, key: &TaskKey) {
        let Some(entry) = self.values.get_mut(key) else {
            return;
        };
        if entry.value.is_some() {
            self.by_use.remove(&entry.last_use);
            self.clock += 1;
            entry.last_use = self.clock;
            self.by_use.insert(self.clock, key.clone());
        }
    }

    /// The least recently used value in memory, to spill.
    pub fn oldest_in_memory(&self) -> Option<(&TaskKey, &Stored)> {
        let key = self.by_use.values().next()?;
        let value = self.values.get(key)?.value.as_ref()?;
        Some((key, value))
    }

    /// Records that `key`'s value now lives on disk only.
    pub fn spilled(&mut self, key: &TaskKey) {
        let Some(entry) = self.values.get_mut(key) else {
            return;
        };
        if entry.value.take().is_some() {
            self.by_use.remove(&entry.last_use);
            self.memory_nbytes -= entry.nbytes;
            self.spilled_total += entry.nbytes;
        }
    }

    /// The keys on disk.
    pub fn on_disk(&self) -> impl Iterator<Item = &TaskKey> + '_ {
        self.values
            .iter()
            .filter(|(_, entry)| entry.value.is_none())
            .map(|(key, _)| key)
    }

    /// The size of `key`'s value.
    pub fn nbytes_of(&self, key: &TaskKey) -> Option<u64> {
        self.values.get(key).map(|entry| entry.nbytes)
    }

    /// Whether `key` is held (in memory or on disk).
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

    /// Bytes held, in memory and on disk (as they would travel).
    pub fn nbytes(&self) -> u64 {
        self.nbytes
    }

    /// Bytes held in memory.
    pub fn memory_nbytes(&self) -> u64 {
        self.memory_nbytes
    }

    /// Bytes ever spilled to disk.
    pub fn spilled_total(&self) -> u64 {
        self.spilled_total
    }

    /// The size of every value held and whether it is in memory (for invariant checks).
    pub fn sizes(&self) -> impl Iterator<Item = (u64, bool)> + '_ {
        self.values
            .values()
            .map(|entry| (entry.nbytes, entry.value.is_some()))
    }

    /// Values in memory listed in the use order (for invariant checks).
    pub fn use_order_len(&self) -> usize {
        self.by_use.len()
    }

    /// The most bytes held at once.
    pub fn peak_nbytes(&self) -> u64 {
        self.peak_nbytes
    }
}
