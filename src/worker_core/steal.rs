//! Giving tasks back: the scheduler asks for tasks another worker is about to idle for
//! (work stealing); each one no thread has started (waiting for its inputs, held back by
//! the memory gate, or queued for the threads) is dropped here and reported given back.
//! A task running, finished or unknown here is left alone: its report goes as usual.
//!
//! Pure: no I/O, no actors.

use super::outbox::WorkerOutbox;
use super::state::{TaskState, WorkerState};
use crate::ids::TaskKey;
use crate::messages::center_link::TaskEvent;

impl WorkerState {
    /// The scheduler asks `keys` back: each not started yet is dropped and reported
    /// [`TaskEvent::GivenBack`]. Inputs fetched or being fetched for them stay (the fetch
    /// ends as a copy, as for a released task).
    pub fn on_steal(&mut self, keys: Vec<TaskKey>, out: &mut dyn WorkerOutbox) {
        for key in keys {
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
            if given_back {
                out.report(TaskEvent::GivenBack { key });
            }
        }
    }
}
