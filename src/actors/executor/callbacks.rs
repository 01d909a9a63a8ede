//! Done callbacks on futures (dask's `add_done_callback`): each runs once its future is done
//! (finished, erred, cancelled or lost), on one callback thread per executor, never on the
//! executor's network thread, so a callback may call `result()` or submit more work.

use std::sync::{Arc, Mutex};

use tracing::warn;

use super::state::{KeyState, SharedState};
use super::Future;

/// The log target of the executor's callback thread.
const LOG_TARGET: &str = "taskforce::executor";

type Callback = Box<dyn FnOnce() + Send>;

/// Callbacks waiting for their futures, and whether the thread running them is up. The
/// thread stops when none is left and starts again at the next registration. The list is
/// as long as the callbacks the program registered and has not seen run (each holds its
/// future, so its key stays on the cluster until the callback has run).
#[derive(Default)]
pub(crate) struct DoneCallbacks {
    pending: Arc<Mutex<Pending>>,
}

#[derive(Default)]
struct Pending {
    waiting: Vec<(Arc<KeyState>, Callback)>,
    thread_up: bool,
}

impl DoneCallbacks {
    fn register(&self, shared: &Arc<SharedState>, state: Arc<KeyState>, callback: Callback) {
        let start = {
            let mut pending = self.pending.lock().expect("callbacks lock");
            pending.waiting.push((state, callback));
            !std::mem::replace(&mut pending.thread_up, true)
        };
        if start {
            let (pending, shared) = (self.pending.clone(), shared.clone());
            let spawned = std::thread::Builder::new()
                .name("taskforce-callbacks".into())
                .spawn(move || run_callbacks(&pending, &shared));
            if let Err(e) = spawned {
                warn!(target: LOG_TARGET, "could not start the callback thread: {e}");
                self.pending.lock().expect("callbacks lock").thread_up = false;
            }
        }
        // Outside the callbacks lock: the waiting thread takes the change lock first.
        shared.notify_changed();
    }
}

/// Runs the callbacks of done futures as they become done; returns when none is left.
fn run_callbacks(pending: &Mutex<Pending>, shared: &SharedState) {
    loop {
        let mut ready = Vec::new();
        shared.wait_until(|| {
            let mut pending = pending.lock().expect("callbacks lock");
            let (done, waiting) = std::mem::take(&mut pending.waiting)
                .into_iter()
                .partition(|(state, _)| state.is_done());
            pending.waiting = waiting;
            ready = done;
            if ready.is_empty() && pending.waiting.is_empty() {
                pending.thread_up = false;
            }
            !ready.is_empty() || !pending.thread_up
        });
        if ready.is_empty() {
            return;
        }
        for (state, callback) in ready {
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(callback));
            if ran.is_err() {
                warn!(target: LOG_TARGET, key = %state.key, "a done callback panicked");
            }
        }
    }
}

impl<T: 'static> Future<T> {
    /// Calls `callback` with this future once it is done (at once if it is), on the
    /// executor's callback thread. A callback that panics is logged and the others run.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        let future = self.clone();
        let executor = &self.handle.executor;
        let run: Callback = Box::new(move || callback(&future));
        (executor.callbacks).register(&executor.shared, self.state().clone(), run);
    }
}

/// Lets `future`'s task run to the end though the program drops every handle on it (dask's
/// `fire_and_forget`): the executor holds it until it is done, then lets it go. The
/// executor must stay connected meanwhile: a program that exits first takes the task with
/// it, as the scheduler forgets what a gone client wanted.
pub fn fire_and_forget<T: 'static>(future: Future<T>) {
    future.add_done_callback(|_| {});
}
