//! What comes back and what goes away: a job's outcome (kept and reported, or dropped if the
//! task was released meanwhile), the scheduler's releases, values placed by a peer, and the
//! loss of the center (a new one knows nothing of what the old one asked).
//!
//! Pure: no I/O, no actors.

use super::outbox::WorkerOutbox;
use super::state::{TaskState, WorkerState};
use crate::function::{CallOutcome, EncodedValue, Stored};
use crate::ids::{Map, TaskKey};
use crate::messages::center_link::TaskEvent;
use crate::messages::tasks::FailureMsg;

/// Values up to this size ride along with the "finished" report, so clients need not fetch.
pub const INLINE_BYTES: u64 = 4096;

impl WorkerState {
    /// The task threads finished `key`. An outcome nobody waits for (the task was released
    /// while it ran, or was asked by a center that is gone) is dropped.
    pub fn on_job_done(&mut self, key: TaskKey, outcome: CallOutcome, out: &mut dyn WorkerOutbox) {
        let Some(record) = self.tasks.get(&key) else {
            return;
        };
        if self.held_jobs.iter().any(|job| job.key == key) {
            // Only after a center loss: the old run ends while the new center's is held.
            return;
        }
        let TaskState::Running { function, released } = &record.state else {
            // Only after a center loss: the old run ends while the new center's task waits.
            return;
        };
        let (function, released) = (function.clone(), *released);
        self.tasks.remove(&key);
        if released {
            return;
        }
        let worker = self.id;
        let event = match outcome {
            CallOutcome::Value(value) => {
                let nbytes = value.nbytes();
                let inline = (nbytes <= INLINE_BYTES)
                    .then(|| value.encode().ok())
                    .flatten();
                self.keep(key.clone(), Stored::Object(value), nbytes, out);
                TaskEvent::Finished {
                    key,
                    nbytes,
                    inline,
                }
            }
            CallOutcome::Failed(error) => {
                let message = error.to_string();
                let failure = FailureMsg::Failed {
                    function,
                    key: key.clone(),
                    worker,
                    message,
                };
                TaskEvent::Erred { key, failure }
            }
            CallOutcome::Panicked(message) => {
                let failure = FailureMsg::Panicked {
                    function,
                    key: key.clone(),
                    worker,
                    message,
                };
                TaskEvent::Erred { key, failure }
            }
        };
        out.report(event);
    }

    /// The scheduler releases `keys`: drop their values, forget them if waiting, drop their
    /// outcome if running (a run cannot be stopped; a later compute of the key keeps it).
    pub fn on_release(&mut self, keys: Vec<TaskKey>, out: &mut dyn WorkerOutbox) {
        for key in keys {
            if self.store.remove(&key) == Some(true) {
                out.drop_spilled(&key);
            }
            self.forget_waiting(&key);
            if self.drop_held(&key) {
                self.tasks.remove(&key);
                continue;
            }
            if let Some(record) = self.tasks.get_mut(&key) {
                if let TaskState::Running { released, .. } = &mut record.state {
                    *released = true;
                }
            }
        }
    }

    /// A peer (an executor's scatter) places `values` here; returns their sizes. A key held
    /// already keeps its value: a peer cannot overwrite what a task computed or another
    /// client scattered (a scattered key names its content, so an honest copy is the same).
    pub fn on_put(
        &mut self,
        values: Vec<(TaskKey, EncodedValue)>,
        out: &mut dyn WorkerOutbox,
    ) -> Vec<u64> {
        let mut sizes = Vec::with_capacity(values.len());
        for (key, value) in values {
            if let Some(held) = self.store.nbytes_of(&key) {
                sizes.push(held);
                continue;
            }
            let nbytes = value.len() as u64;
            let value = Stored::Encoded(std::sync::Arc::new(value));
            self.keep(key, value, nbytes, out);
            sizes.push(nbytes);
        }
        sizes
    }

    /// The center is gone. A new one knows nothing of what the old one asked: drop every
    /// value and task, and forget fetches in flight (what they bring is dropped on arrival,
    /// as are the outcomes of runs still on the threads). Returns how many keys were held.
    pub fn on_center_lost(&mut self, out: &mut dyn WorkerOutbox) -> usize {
        let held = self.store.len();
        for key in self.store.on_disk() {
            out.drop_spilled(key);
        }
        self.store = Default::default();
        self.held_jobs.clear();
        self.tasks = Map::default();
        self.needed_by = Map::default();
        self.fetching = Map::default();
        self.fetches = Map::default();
        held
    }
}
