//! Copies the scheduler asks for (`on_acquire`: replicate, rebalance, retire): each key is
//! fetched from one of its holders and kept, as a task's input would be, and the scheduler
//! hears `Copied` or `CopyFailed` for each.
//!
//! Pure: no I/O, no actors.

use std::net::SocketAddr;

use super::outbox::WorkerOutbox;
use super::state::WorkerState;
use crate::ids::{Map, TaskKey, WorkerId};
use crate::messages::center_link::TaskEvent;

impl WorkerState {
    /// The scheduler asks for a copy of each of `keys` (with their holders; `peers` gives
    /// the holders' addresses). A key held already is reported copied at once; one already
    /// on its way (a task's input) is reported when it comes.
    pub fn on_acquire(
        &mut self,
        keys: Vec<(TaskKey, Vec<WorkerId>)>,
        peers: Vec<(WorkerId, SocketAddr)>,
        out: &mut dyn WorkerOutbox,
    ) {
        self.peer_addrs.extend(peers);
        let mut to_fetch = Vec::new();
        let mut holders: Map<TaskKey, Vec<WorkerId>> = Map::default();
        for (key, named) in keys {
            if let Some(nbytes) = self.store.nbytes_of(&key) {
                out.report(TaskEvent::Copied { key, nbytes });
                continue;
            }
            if !self.acquiring.insert(key.clone()) {
                continue;
            }
            if !self.fetching.contains_key(&key) {
                let named = named.into_iter().filter(|holder| *holder != self.id);
                holders.insert(key.clone(), named.collect());
                to_fetch.push(key);
            }
        }
        self.fetch_from_holders(to_fetch, &holders, out);
    }

    /// Keys being copied at the scheduler's request.
    pub fn acquiring_count(&self) -> usize {
        self.acquiring.len()
    }
}
