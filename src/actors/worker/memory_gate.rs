//! Holds a worker's task threads back while memory is short: a thread starts no new job while
//! the worker is paused (past the pause fraction, so queued jobs wait as held ones do) or
//! while the results it and its siblings handed back, not yet stored by the worker actor,
//! pass a bound. Without the bound, an actor starved of CPU let finished values pile up in
//! its mailbox, where spilling cannot reach them, as fast as the threads made them.
//!
//! Threads and a condition variable only: no actix, no core state.

use std::sync::{Condvar, Mutex};

/// What the threads wait on.
#[derive(Debug)]
pub struct MemoryGate {
    state: Mutex<GateState>,
    opened: Condvar,
    /// Bytes of results handed back and not yet stored past which no new job starts. A
    /// single result larger than this still goes through: the bound delays the next job,
    /// never the one that ran.
    unstored_bound: u64,
}

#[derive(Debug, Default)]
struct GateState {
    paused: bool,
    unstored: u64,
    /// Threads blocked in `wait_open`: a change wakes them only when there are some, as a
    /// `Condvar` notify is a futex syscall even with no one waiting (it was one per task).
    waiting: u32,
}

impl MemoryGate {
    /// A gate letting at most `unstored_bound` bytes of results wait for the actor.
    pub fn new(unstored_bound: u64) -> Self {
        MemoryGate {
            state: Mutex::default(),
            opened: Condvar::new(),
            unstored_bound,
        }
    }

    /// Blocks the calling task thread until it may start a job.
    pub fn wait_open(&self) {
        let mut state = self.state.lock().expect("memory gate lock");
        while state.paused || state.unstored > self.unstored_bound {
            state.waiting += 1;
            state = self.opened.wait(state).expect("memory gate lock");
            state.waiting -= 1;
        }
    }

    /// A thread handed back a result of `nbytes`.
    pub fn handed_back(&self, nbytes: u64) {
        let mut state = self.state.lock().expect("memory gate lock");
        state.unstored = state.unstored.saturating_add(nbytes);
    }

    /// The actor stored (or dropped) a result of `nbytes` handed back.
    pub fn stored(&self, nbytes: u64) {
        if nbytes == 0 {
            return;
        }
        let mut state = self.state.lock().expect("memory gate lock");
        state.unstored = state.unstored.saturating_sub(nbytes);
        self.notify_waiting(state);
    }

    /// The worker paused or resumed for memory.
    pub fn set_paused(&self, paused: bool) {
        let mut state = self.state.lock().expect("memory gate lock");
        if state.paused == paused {
            return;
        }
        state.paused = paused;
        self.notify_waiting(state);
    }

    /// Releases the lock and wakes the threads in `wait_open`, if any wait.
    fn notify_waiting(&self, state: std::sync::MutexGuard<'_, GateState>) {
        let anyone = state.waiting > 0;
        drop(state);
        if anyone {
            self.opened.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// Runs `wait_open` on a thread; returns a receiver that gets `()` once it passed.
    fn waiter(gate: &Arc<MemoryGate>) -> std::sync::mpsc::Receiver<()> {
        let (sent, passed) = std::sync::mpsc::channel();
        let gate = gate.clone();
        std::thread::spawn(move || {
            gate.wait_open();
            let _ = sent.send(());
        });
        passed
    }

    #[test]
    fn a_pause_holds_threads_until_resumed() {
        let gate = Arc::new(MemoryGate::new(100));
        gate.set_paused(true);
        let passed = waiter(&gate);
        assert!(passed.recv_timeout(Duration::from_millis(100)).is_err());
        gate.set_paused(false);
        assert!(passed.recv_timeout(Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn results_past_the_bound_hold_threads_until_stored() {
        let gate = Arc::new(MemoryGate::new(100));
        gate.handed_back(60);
        gate.wait_open(); // 60 is under the bound
        gate.handed_back(60);
        let passed = waiter(&gate);
        assert!(passed.recv_timeout(Duration::from_millis(100)).is_err());
        gate.stored(60);
        assert!(passed.recv_timeout(Duration::from_secs(30)).is_ok());
    }
}
