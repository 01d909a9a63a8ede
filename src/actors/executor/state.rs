//! What an executor knows of each key it holds futures for, shared between the user's threads
//! (which wait) and the executor actor (which updates it as the scheduler reports).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::task::Waker;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::function::EncodedValue;
use crate::ids::TaskKey;
use crate::messages::executor_link::ClusterSnapshot;
use crate::scheduler::TaskFailure;

/// Where a key stands, as far as this executor knows.
#[derive(Clone, Debug)]
pub enum KeyStatus {
    /// Not finished yet.
    Pending,
    /// In memory on the cluster.
    Finished {
        /// Workers holding it.
        holders: Vec<SocketAddr>,
        /// The value, when small enough to have come with the report.
        inline: Option<EncodedValue>,
    },
    /// It erred.
    Erred(TaskFailure),
    /// It was cancelled (by this executor, or by the scheduler with a cancelled dependency).
    Cancelled,
    /// It is gone: lost with its worker, or forgotten by a restart.
    Lost(String),
    /// The connection to the scheduler was lost before the key finished.
    Disconnected(String),
}

impl KeyStatus {
    /// Whether the key will change no more (finished, erred, cancelled or lost).
    pub fn is_done(&self) -> bool {
        !matches!(self, KeyStatus::Pending)
    }

    /// The word `Debug` of a future shows.
    pub fn name(&self) -> &'static str {
        match self {
            KeyStatus::Pending => "pending",
            KeyStatus::Finished { .. } => "finished",
            KeyStatus::Erred(_) => "error",
            KeyStatus::Cancelled => "cancelled",
            KeyStatus::Lost(_) => "lost",
            KeyStatus::Disconnected(_) => "lost",
        }
    }
}

/// One key's status, with the ways to wait for it to change.
#[derive(Debug)]
pub struct KeyState {
    /// The key.
    pub key: TaskKey,
    status: Mutex<KeyStatus>,
    wakers: Mutex<Vec<Waker>>,
    handles: AtomicUsize,
    version: std::sync::atomic::AtomicU64,
}

impl KeyState {
    fn new(key: TaskKey) -> Self {
        KeyState {
            key,
            status: Mutex::new(KeyStatus::Pending),
            wakers: Mutex::new(Vec::new()),
            handles: AtomicUsize::new(1),
            version: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The current status.
    pub fn status(&self) -> KeyStatus {
        self.status.lock().expect("status lock").clone()
    }

    /// Whether the status is done now, without cloning it (a finished status holds a list
    /// of holders and maybe the value: cloning it per check made waits allocate per key).
    pub fn is_done(&self) -> bool {
        self.status.lock().expect("status lock").is_done()
    }

    /// `read` applied to the current status, under its lock (keep it short).
    pub fn with_status<R>(&self, read: impl FnOnce(&KeyStatus) -> R) -> R {
        read(&self.status.lock().expect("status lock"))
    }

    /// How many times the status changed.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Registers `waker` to be woken at the next change; returns whether the key is done now.
    pub fn poll_done(&self, waker: &Waker) -> bool {
        if !self.is_done() {
            let mut wakers = self.wakers.lock().expect("wakers lock");
            // A stream polls every pending key on each wake-up: one entry per distinct waker
            // keeps the list as short as the number of tasks waiting.
            if !wakers.iter().any(|known| known.will_wake(waker)) {
                wakers.push(waker.clone());
            }
        }
        self.is_done()
    }

    /// Registers `waker` to be woken at the next change, done or not; returns the version
    /// now (compare with [`Self::version`] taken earlier to see whether it changed).
    pub fn poll_version(&self, waker: &Waker) -> u64 {
        let mut wakers = self.wakers.lock().expect("wakers lock");
        if !wakers.iter().any(|known| known.will_wake(waker)) {
            wakers.push(waker.clone());
        }
        drop(wakers);
        self.version()
    }
}

/// Every key this executor holds futures for, the cluster as last reported, and a signal for
/// threads waiting on any change.
#[derive(Debug, Default)]
pub struct SharedState {
    /// Fx-hashed: keys are this process's own (no peer chooses them), and SipHash was a
    /// visible share of each submit, report and release.
    keys: DashMap<TaskKey, Arc<KeyState>, rustc_hash::FxBuildHasher>,
    /// The cluster as the scheduler last reported it.
    pub cluster: RwLock<ClusterSnapshot>,
    changes: Mutex<u64>,
    changed: Condvar,
    /// This executor's id at the scheduler (a new one after each reconnect).
    client: std::sync::atomic::AtomicU32,
}

impl SharedState {
    /// Takes a handle on `key`: returns its state and whether it is new to this executor.
    pub fn acquire(&self, key: TaskKey) -> (Arc<KeyState>, bool) {
        match self.keys.entry(key) {
            Entry::Occupied(entry) => {
                entry.get().handles.fetch_add(1, Ordering::Relaxed);
                (entry.get().clone(), false)
            }
            Entry::Vacant(entry) => {
                let state = Arc::new(KeyState::new(entry.key().clone()));
                entry.insert(state.clone());
                (state, true)
            }
        }
    }

    /// Every key this executor holds futures for, sorted.
    pub fn held_keys(&self) -> Vec<TaskKey> {
        let mut keys: Vec<TaskKey> = self.keys.iter().map(|e| e.key().clone()).collect();
        keys.sort_unstable();
        keys
    }

    /// This executor's id at the scheduler it is connected to now.
    pub fn client(&self) -> crate::ids::ClientId {
        crate::ids::ClientId(self.client.load(Ordering::Relaxed))
    }

    /// The scheduler numbered this executor `client` (at connect, and at each reconnect).
    pub fn set_client(&self, client: crate::ids::ClientId) {
        self.client.store(client.0, Ordering::Relaxed);
    }

    /// `key`'s status, if this executor holds a future for it.
    pub fn status_of(&self, key: &TaskKey) -> Option<KeyStatus> {
        self.keys.get(key).map(|state| state.status())
    }

    /// Whether this executor holds a future for `key`.
    pub fn holds(&self, key: &TaskKey) -> bool {
        self.keys.contains_key(key)
    }

    /// Drops a handle on `key`; returns true if it was the last (the key is forgotten here).
    pub fn release(&self, key: &TaskKey) -> bool {
        if let Entry::Occupied(entry) = self.keys.entry(key.clone()) {
            if entry.get().handles.fetch_sub(1, Ordering::AcqRel) == 1 {
                entry.remove();
                return true;
            }
        }
        false
    }

    /// Sets `key`'s status (if this executor still holds it) and wakes its waiters.
    pub fn set_status(&self, key: &TaskKey, status: KeyStatus) {
        self.set_statuses([(key.clone(), status)]);
    }

    /// Sets the status of each key this executor still holds, then wakes the threads waiting
    /// on any change once (a report of many keys is one wake-up, not one per key).
    pub fn set_statuses(&self, updates: impl IntoIterator<Item = (TaskKey, KeyStatus)>) {
        for (key, status) in updates {
            if let Some(state) = self.keys.get(&key).map(|s| s.clone()) {
                Self::apply(&state, status);
            }
        }
        self.notify_changed();
    }

    fn apply(state: &KeyState, status: KeyStatus) {
        *state.status.lock().expect("status lock") = status;
        state.version.fetch_add(1, Ordering::AcqRel);
        for waker in state.wakers.lock().expect("wakers lock").drain(..) {
            waker.wake();
        }
    }

    /// Wakes every thread waiting on a change (something they wait for may hold now).
    pub(crate) fn notify_changed(&self) {
        *self.changes.lock().expect("changes lock") += 1;
        self.changed.notify_all();
    }

    /// Sets every key that is not done yet to `status` (the connection was lost, a restart).
    pub fn set_all(&self, status: KeyStatus, including_done: bool) {
        let states: Vec<Arc<KeyState>> = self.keys.iter().map(|e| e.value().clone()).collect();
        for state in states {
            if including_done || !state.is_done() {
                Self::apply(&state, status.clone());
            }
        }
        self.notify_changed();
    }

    /// Blocks until `done()` is true, re-checking after every status change. A task on a
    /// worker secedes while it blocks here (see `worker::in_task`).
    pub fn wait_until(&self, mut done: impl FnMut() -> bool) {
        if done() {
            return;
        }
        let seceded = crate::actors::worker::in_task::secede_while_waiting();
        let mut changes = self.changes.lock().expect("changes lock");
        while !done() {
            changes = self.changed.wait(changes).expect("changes lock");
        }
        // Only now rejoin: rejoining may wait for a slot, and the actor needs this lock.
        drop(changes);
        drop(seceded);
    }

    /// Like [`Self::wait_until`], giving up after `timeout`; returns whether `done()` held.
    pub fn wait_until_for(
        &self,
        timeout: std::time::Duration,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        if done() {
            return true;
        }
        let deadline = std::time::Instant::now() + timeout;
        let seceded = crate::actors::worker::in_task::secede_while_waiting();
        let mut changes = self.changes.lock().expect("changes lock");
        let mut held = true;
        while !done() {
            let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                held = false;
                break;
            };
            changes = self
                .changed
                .wait_timeout(changes, left)
                .expect("changes lock")
                .0;
        }
        // Only now rejoin: rejoining may wait for a slot, and the actor needs this lock.
        drop(changes);
        drop(seceded);
        held
    }
}
