//! Giving tasks back: the scheduler asks for tasks another worker is about to idle for
//! (work stealing); each one no thread has started (waiting for its inputs, held back by
//! the memory gate, or queued for the threads) is dropped here and answered given back. A
//! task running, finished or unknown here is left alone and answered kept: its report goes
//! as usual. Every request is answered, so the scheduler never waits on one.
//!
//! Pure: no I/O, no actors.

use super::outbox::WorkerOutbox;
use super::state::{TaskState, WorkerState};
use crate::ids::TaskKey;
use crate::messages::center_link::TaskEvent;

impl WorkerState {
    /// The scheduler asks `keys` back, each with its request's number: each not started yet
    /// is dropped, and each is answered ([`TaskEvent::StealAnswer`]). Inputs fetched or
    /// being fetched for a task given back stay (the fetch ends as a copy, as for a
    /// released task).
    pub fn on_steal(&mut self, keys: Vec<(TaskKey, u64)>, out: &mut dyn WorkerOutbox) {
        for (key, steal) in keys {
            let given_back = match self.tasks.get(&key).map(|record| &record.state) {
                Some(TaskState::WaitingForInputs { .. }) => {
                    self.forget_waiting(&key);
                    true
                }
                Some(TaskState::Running {
                    released: false, ..
                }) => {
                    let taken = self.drop_held(&key) || out.withdraw(&key);
                    if taken {
                        self.tasks.remove(&key);
                    }
                    taken
                }
                Some(TaskState::Running { released: true, .. }) | None => false,
            };
            out.report(TaskEvent::StealAnswer {
                key,
                steal,
                given_back,
            });
        }
    }
}
