//! `sanity_check`: asserts every invariant tying the worker's tasks, the inputs they wait for
//! and the fetches in flight together. Tests call it after every step; it walks everything,
//! so production code does not.
//!
//! Read-only, no I/O.

use super::state::{TaskState, WorkerState};
use crate::ids::{Set, TaskKey};

impl WorkerState {
    /// Panics with a description of the first broken invariant, if any.
    ///
    /// Checks: a waiting task misses at least one input, and each input it misses is on its
    /// way in a known fetch and lists the task among those that need it; every task listed
    /// as needing an input is waiting for it (once); every input on its way belongs to
    /// exactly the fetch that names it, and every fetch names at least one input still on
    /// its way from it; the store's byte count matches its values and stays under its peak.
    pub fn sanity_check(&self) {
        for (key, task) in &self.tasks {
            if let TaskState::WaitingForInputs { missing, .. } = &task.state {
                assert!(!missing.is_empty(), "{key}: waiting for nothing");
                for dep in missing {
                    self.check_missing_input(key, dep);
                }
            }
        }
        for key in &self.acquiring {
            assert!(
                self.fetching.contains_key(key),
                "{key}: copy asked for, not on its way"
            );
        }
        for (dep, needers) in &self.needed_by {
            assert!(!needers.is_empty(), "{dep}: empty list of needers");
            let unique: Set<&TaskKey> = needers.iter().collect();
            assert_eq!(unique.len(), needers.len(), "{dep}: a needer listed twice");
            for key in needers {
                let waits = matches!(
                    self.tasks.get(key).map(|task| &task.state),
                    Some(TaskState::WaitingForInputs { missing, .. }) if missing.contains(dep)
                );
                assert!(
                    waits,
                    "{key} listed as needing {dep} but does not wait for it"
                );
            }
        }
        self.check_fetches();
        self.check_memory();
        assert!(
            self.store.nbytes() <= self.store.peak_nbytes(),
            "peak below bytes held"
        );
    }

    fn check_memory(&self) {
        let stored: u64 = self.store.sizes().map(|(nbytes, _)| nbytes).sum();
        assert_eq!(stored, self.store.nbytes(), "stored byte count is off");
        let in_memory = self.store.sizes().filter(|(_, memory)| *memory);
        let (count, bytes) = in_memory.fold((0, 0), |(n, b), (nbytes, _)| (n + 1, b + nbytes));
        assert_eq!(
            bytes,
            self.store.memory_nbytes(),
            "memory byte count is off"
        );
        assert_eq!(count, self.store.use_order_len(), "use order out of step");
        for job in &self.held_jobs {
            assert!(self.paused, "{}: held while not paused", job.key);
            let running = matches!(
                self.tasks.get(&job.key).map(|task| &task.state),
                Some(TaskState::Running { .. })
            );
            assert!(running, "{}: held but not running", job.key);
        }
    }

    fn check_missing_input(&self, key: &TaskKey, dep: &TaskKey) {
        let fetch = self
            .fetching
            .get(dep)
            .unwrap_or_else(|| panic!("{key} waits for {dep}, which nobody fetches"));
        assert!(
            self.fetches.contains_key(fetch),
            "{dep} is on its way in an unknown fetch {fetch:?}"
        );
        let listed = self
            .needed_by
            .get(dep)
            .is_some_and(|needers| needers.contains(key));
        assert!(
            listed,
            "{key} waits for {dep} but is not listed as needing it"
        );
    }

    fn check_fetches(&self) {
        for (dep, fetch) in &self.fetching {
            let record = self
                .fetches
                .get(fetch)
                .unwrap_or_else(|| panic!("{dep} is on its way in an unknown fetch {fetch:?}"));
            assert!(
                record.keys.contains(dep),
                "{fetch:?} does not ask for {dep}"
            );
        }
        for (fetch, record) in &self.fetches {
            let pending = record
                .keys
                .iter()
                .any(|dep| self.fetching.get(dep) == Some(fetch));
            assert!(pending, "{fetch:?} brings nothing anyone waits for");
            assert!(
                self.peer_addrs.contains_key(&record.holder),
                "{fetch:?} asks {} whose address is unknown",
                record.holder
            );
        }
    }
}
