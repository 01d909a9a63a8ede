//! What comes back and what goes away: a job's outcome (kept and reported, or dropped if the
//! task was released meanwhile), the scheduler's releases, values placed by a peer, and the
//! loss of the center (a new one knows nothing of what the old one asked).
//!
//! Pure: no I/O, no actors.

use super::outbox::WorkerOutbox;
use super::state::{TaskState, WorkerState};
use crate::function::{CallOutcome, EncodedValue, Stored};
use crate::ids::{Map, Set, TaskKey};
use crate::messages::center_link::TaskEvent;
use crate::messages::tasks::FailureMsg;

/// Values up to this size ride along with the "finished" report, so clients need not fetch.
pub const INLINE_BYTES: u64 = 4096;

impl WorkerState {
    /// The running task `key` gave its thread back to wait on the cluster: the scheduler
    /// hears of it (so it stops counting the task against this worker's saturation) unless
    /// the run is one nobody waits for any more.
    pub fn on_task_seceded(&mut self, key: TaskKey, out: &mut dyn WorkerOutbox) {
        let wanted = self.tasks.get(&key).is_some_and(|record| {
            matches!(
                record.state,
                TaskState::Running {
                    released: false,
                    ..
                }
            )
        });
        if wanted && !self.held_jobs.iter().any(|job| job.key == key) {
            out.report(TaskEvent::Seceded { key });
        }
    }

    /// The task threads finished `key`. An outcome nobody waits for (the task was released
    /// while it ran, or was asked by a center that is gone) is dropped.
    pub fn on_job_done(&mut self, key: TaskKey, outcome: CallOutcome, out: &mut dyn WorkerOutbox) {
        let orphaned = self.orphaned_runs.remove(&key);
        let Some(record) = self.tasks.get(&key) else {
            if let (true, CallOutcome::Value(value)) = (orphaned, outcome) {
                self.keep_orphaned(key, value, out);
            }
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

    /// The scheduler releases `keys`: drop their values, forget them if waiting, take their
    /// job back if no thread started it, else drop their outcome (a run cannot be stopped; a
    /// later compute of the key keeps it).
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
            let Some(record) = self.tasks.get_mut(&key) else {
                continue;
            };
            if let TaskState::Running { released, .. } = &mut record.state {
                // A thread may take the job between the scheduler's release and this: then
                // withdraw fails and the outcome, when it comes, is dropped.
                match out.withdraw(&key) {
                    true => drop(self.tasks.remove(&key)),
                    false => *released = true,
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

    /// The center is gone. Values stay (the worker offers them to the next center when it
    /// registers again: see [`Self::held_keys`]); every task, fetch and held-back job the old
    /// center asked for is forgotten (what fetches bring is dropped on arrival, as are the
    /// outcomes of runs still on the threads), and so are the peers it named, whose numbers
    /// the next center gives out afresh. Returns how many keys are kept.
    pub fn on_center_lost(&mut self, _out: &mut dyn WorkerOutbox) -> usize {
        let on_threads = self.tasks.iter().filter(|(key, task)| {
            matches!(
                task.state,
                TaskState::Running {
                    released: false,
                    ..
                }
            ) && !self.held_jobs.iter().any(|job| &job.key == *key)
        });
        let on_threads: Vec<TaskKey> = on_threads.map(|(key, _)| key.clone()).collect();
        self.orphaned_runs.extend(on_threads);
        self.held_jobs.clear();
        self.tasks = Map::default();
        self.needed_by = Map::default();
        self.fetching = Map::default();
        self.fetches = Map::default();
        self.peer_addrs = Map::default();
        self.acquiring = Set::default();
        self.store.len()
    }

    /// A run a lost center asked for ended with `value`: kept, and offered to the current
    /// center (the next one learns it from [`Self::held_keys`]).
    fn keep_orphaned(
        &mut self,
        key: TaskKey,
        value: std::sync::Arc<dyn crate::function::Value>,
        out: &mut dyn WorkerOutbox,
    ) {
        let nbytes = value.nbytes();
        self.keep(key.clone(), Stored::Object(value), nbytes, out);
        out.offer(key, nbytes);
    }

    /// Every value held (in memory or spilled) with its size, sorted by key: what the worker
    /// tells a center it registers with after losing the last one.
    pub fn held_keys(&self) -> Vec<(TaskKey, u64)> {
        let mut held: Vec<(TaskKey, u64)> = self.store.entries().collect();
        held.sort_unstable();
        held
    }
}
