//! The center's membership and data-location state, as a pure state machine.
//!
//! No I/O, no actix, no clock: the actor passes `now` in and acts on what comes back.
//! Tests drive it with an injected clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::ids::FunctionId;
use crate::ids::{Map, Set, TaskKey, WorkerId};
use crate::messages::center_link::HeartbeatMsg;
use crate::messages::Hello;

/// What the center knows of one worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerInfo {
    /// The center's number for it.
    pub id: WorkerId,
    /// Its name.
    pub name: String,
    /// Where it listens for peers.
    pub addr: SocketAddr,
    /// Task threads.
    pub nthreads: u32,
    /// Memory limit in bytes (0 = none).
    pub memory_limit: u64,
    /// Resident memory at the last heartbeat.
    pub memory_used: u64,
    /// Tasks running at the last heartbeat.
    pub executing: u32,
    /// Its process id.
    pub pid: u32,
    /// Remote functions it can run.
    pub functions: Vec<FunctionId>,
    /// When it was last heard from.
    pub last_seen: Instant,
}

/// Why a worker left the membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaveReason {
    /// It said goodbye.
    Goodbye(String),
    /// Its connection closed.
    ConnectionLost(String),
    /// It was silent for longer than the worker TTL.
    Silent(Duration),
    /// A new connection from the same address replaced it.
    Replaced,
}

impl std::fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaveReason::Goodbye(why) => write!(f, "left: {why}"),
            LeaveReason::ConnectionLost(why) => write!(f, "connection lost: {why}"),
            LeaveReason::Silent(for_) => write!(f, "silent for {for_:.1?}"),
            LeaveReason::Replaced => f.write_str("replaced by a new connection from its address"),
        }
    }
}

/// Membership, heartbeats and the `who_has`/`has_what` maps.
#[derive(Debug)]
pub struct CenterState {
    worker_ttl: Duration,
    next_worker: u32,
    workers: Map<WorkerId, WorkerInfo>,
    by_addr: Map<SocketAddr, WorkerId>,
    who_has: Map<TaskKey, Set<WorkerId>>,
    has_what: Map<WorkerId, Set<TaskKey>>,
}

impl CenterState {
    /// An empty center that drops workers silent for longer than `worker_ttl`.
    pub fn new(worker_ttl: Duration) -> Self {
        CenterState {
            worker_ttl,
            next_worker: 1,
            workers: Map::default(),
            by_addr: Map::default(),
            who_has: Map::default(),
            has_what: Map::default(),
        }
    }

    /// A worker completed its handshake. Returns its new id, and the id of an older entry at
    /// the same address that this one replaces (that one's connection should be closed).
    pub fn on_worker_joined(
        &mut self,
        hello: &Hello,
        addr: SocketAddr,
        now: Instant,
    ) -> (WorkerId, Option<WorkerId>) {
        let replaced = self.by_addr.get(&addr).copied();
        if let Some(old) = replaced {
            self.on_worker_left(old);
        }
        let id = WorkerId(self.next_worker);
        self.next_worker += 1;
        self.workers.insert(
            id,
            WorkerInfo {
                id,
                name: hello.name.clone(),
                addr,
                nthreads: hello.nthreads,
                memory_limit: hello.memory_limit,
                memory_used: 0,
                executing: 0,
                pid: hello.pid,
                functions: hello.functions.clone(),
                last_seen: now,
            },
        );
        self.by_addr.insert(addr, id);
        self.has_what.insert(id, Set::default());
        (id, replaced)
    }

    /// A heartbeat arrived. Returns false for a worker the center no longer knows.
    pub fn on_heartbeat(&mut self, id: WorkerId, beat: &HeartbeatMsg, now: Instant) -> bool {
        let Some(worker) = self.workers.get_mut(&id) else {
            return false;
        };
        worker.last_seen = now;
        worker.memory_used = beat.memory_bytes;
        worker.executing = beat.executing;
        true
    }

    /// A worker left (goodbye, lost connection, silence). Returns what was known of it and
    /// the keys that were on it; `None` if it was already gone.
    pub fn on_worker_left(&mut self, id: WorkerId) -> Option<(WorkerInfo, Set<TaskKey>)> {
        let info = self.workers.remove(&id)?;
        if self.by_addr.get(&info.addr) == Some(&id) {
            self.by_addr.remove(&info.addr);
        }
        let keys = self.has_what.remove(&id).unwrap_or_default();
        for key in &keys {
            if let Some(holders) = self.who_has.get_mut(key) {
                holders.remove(&id);
                if holders.is_empty() {
                    self.who_has.remove(key);
                }
            }
        }
        Some((info, keys))
    }

    /// Time passes: returns the workers silent past the TTL, with how long they were silent.
    /// They are not removed here; the caller removes them with [`Self::on_worker_left`].
    pub fn silent_workers(&self, now: Instant) -> Vec<(WorkerId, Duration)> {
        let mut silent: Vec<_> = self
            .workers
            .values()
            .map(|w| (w.id, now.saturating_duration_since(w.last_seen)))
            .filter(|(_, quiet)| *quiet > self.worker_ttl)
            .collect();
        silent.sort();
        silent
    }

    /// Records that `worker` holds `keys`.
    pub fn add_keys(&mut self, worker: WorkerId, keys: impl IntoIterator<Item = TaskKey>) {
        let Some(held) = self.has_what.get_mut(&worker) else {
            return;
        };
        for key in keys {
            self.who_has.entry(key.clone()).or_default().insert(worker);
            held.insert(key);
        }
    }

    /// Records that `worker` no longer holds `keys`.
    pub fn remove_keys<'a>(
        &mut self,
        worker: WorkerId,
        keys: impl IntoIterator<Item = &'a TaskKey>,
    ) {
        for key in keys {
            if let Some(held) = self.has_what.get_mut(&worker) {
                held.remove(key);
            }
            if let Some(holders) = self.who_has.get_mut(key) {
                holders.remove(&worker);
                if holders.is_empty() {
                    self.who_has.remove(key);
                }
            }
        }
    }

    /// A worker by id.
    pub fn worker(&self, id: WorkerId) -> Option<&WorkerInfo> {
        self.workers.get(&id)
    }

    /// All workers, in id order.
    pub fn workers(&self) -> Vec<&WorkerInfo> {
        let mut all: Vec<_> = self.workers.values().collect();
        all.sort_by_key(|w| w.id);
        all
    }

    /// Number of workers.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Workers holding `key`.
    pub fn who_has(&self, key: &TaskKey) -> Option<&Set<WorkerId>> {
        self.who_has.get(key)
    }

    /// Keys held by `worker`.
    pub fn has_what(&self, worker: WorkerId) -> Option<&Set<TaskKey>> {
        self.has_what.get(&worker)
    }

    /// Checks that `who_has` and `has_what` mirror each other and name only known workers.
    pub fn sanity_check(&self) {
        for (key, holders) in &self.who_has {
            assert!(!holders.is_empty(), "{key} has an empty holder set");
            for worker in holders {
                assert!(
                    self.has_what[worker].contains(key),
                    "{key} not in has_what[{worker}]"
                );
            }
        }
        for (worker, keys) in &self.has_what {
            assert!(
                self.workers.contains_key(worker),
                "has_what names unknown {worker}"
            );
            for key in keys {
                assert!(
                    self.who_has[key].contains(worker),
                    "{worker} not in who_has[{key}]"
                );
            }
        }
        for (addr, id) in &self.by_addr {
            assert_eq!(self.workers[id].addr, *addr, "by_addr out of date for {id}");
        }
    }
}
