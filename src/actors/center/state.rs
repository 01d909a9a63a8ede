//! The center's membership state (who is connected, their description, load and last
//! heartbeat), as a pure state machine. Where data lives is the scheduler's alone.
//!
//! No I/O, no actix, no clock: the actor passes `now` in and acts on what comes back.
//! Tests drive it with an injected clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::ids::{Map, WorkerId};
use crate::messages::center_link::{HeartbeatMsg, WorkerDescription};
use crate::messages::nanny_link::DeathCause;

/// What the center knows of one worker: its description, its last load, and when it was
/// last heard from. Which keys it holds is the scheduler's business, not the center's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerInfo {
    /// The center's number for it.
    pub id: WorkerId,
    /// What it is (from its handshake).
    pub description: WorkerDescription,
    /// Its last heartbeat (all zero before the first).
    pub load: HeartbeatMsg,
    /// When it was last heard from.
    pub last_seen: Instant,
    /// Whether its connection is open (a closed one may linger, waiting for its nanny's
    /// report; a new worker may take its address).
    pub connected: bool,
}

/// Why a worker's registration is refused. The claimant is told this and closed; the
/// members stay as they were.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationRefused {
    /// Another worker, still connected, is registered at this address: a newcomer cannot
    /// evict it by claiming its address (retrying helps only once that worker has left).
    #[error(
        "the address {addr} belongs to worker {holder} ({name}), which is still connected; \
         a worker cannot take over another's address"
    )]
    AddressTaken {
        /// The address claimed.
        addr: SocketAddr,
        /// The worker registered there.
        holder: WorkerId,
        /// Its name.
        name: String,
    },
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

impl LeaveReason {
    /// What the center can tell of how the worker ended (a nanny knows more: a signal, an
    /// exit code).
    pub fn cause(&self) -> DeathCause {
        match self {
            LeaveReason::Silent(quiet) => DeathCause::heartbeats_lost(*quiet),
            other => DeathCause::ConnectionClosed {
                reason: other.to_string(),
            },
        }
    }
}

/// Membership and heartbeats. Where data lives is kept by the scheduler alone.
#[derive(Debug)]
pub struct CenterState {
    worker_ttl: Duration,
    next_worker: u32,
    workers: Map<WorkerId, WorkerInfo>,
    by_addr: Map<SocketAddr, WorkerId>,
}

impl CenterState {
    /// An empty center that drops workers silent for longer than `worker_ttl`.
    pub fn new(worker_ttl: Duration) -> Self {
        CenterState {
            worker_ttl,
            next_worker: 1,
            workers: Map::default(),
            by_addr: Map::default(),
        }
    }

    /// A worker completed its handshake. Returns its new id, and the id of an older entry at
    /// the same address that this one replaces: one whose connection has closed (its nanny's
    /// report may still be awaited), so a restarted worker takes its place at once. A worker
    /// still connected at that address keeps it and the newcomer is refused.
    pub fn on_worker_joined(
        &mut self,
        description: WorkerDescription,
        now: Instant,
    ) -> Result<(WorkerId, Option<WorkerId>), RegistrationRefused> {
        let addr = description.addr;
        let replaced = self.by_addr.get(&addr).copied();
        if let Some(holder) = replaced.and_then(|id| self.workers.get(&id)) {
            if holder.connected {
                return Err(RegistrationRefused::AddressTaken {
                    addr,
                    holder: holder.id,
                    name: holder.description.name.clone(),
                });
            }
        }
        if let Some(old) = replaced {
            self.on_worker_left(old);
        }
        let id = WorkerId(self.next_worker);
        self.next_worker += 1;
        let info = WorkerInfo {
            id,
            description,
            load: HeartbeatMsg::default(),
            last_seen: now,
            connected: true,
        };
        self.workers.insert(id, info);
        self.by_addr.insert(addr, id);
        Ok((id, replaced))
    }

    /// A worker's connection closed; it stays a member until it leaves, but no longer holds
    /// its address against a newcomer.
    pub fn on_worker_disconnected(&mut self, id: WorkerId) {
        if let Some(worker) = self.workers.get_mut(&id) {
            worker.connected = false;
        }
    }

    /// A heartbeat arrived. Returns false for a worker the center no longer knows.
    pub fn on_heartbeat(&mut self, id: WorkerId, beat: &HeartbeatMsg, now: Instant) -> bool {
        let Some(worker) = self.workers.get_mut(&id) else {
            return false;
        };
        worker.last_seen = now;
        worker.load = beat.clone();
        true
    }

    /// A worker left (goodbye, lost connection, silence). Returns what was known of it;
    /// `None` if it was already gone.
    pub fn on_worker_left(&mut self, id: WorkerId) -> Option<WorkerInfo> {
        let info = self.workers.remove(&id)?;
        if self.by_addr.get(&info.description.addr) == Some(&id) {
            self.by_addr.remove(&info.description.addr);
        }
        Some(info)
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

    /// Checks that the address index names exactly the known workers at their addresses.
    pub fn sanity_check(&self) {
        for (addr, id) in &self.by_addr {
            let worker = &self.workers[id];
            assert_eq!(
                worker.description.addr, *addr,
                "by_addr out of date for {id}"
            );
        }
        assert_eq!(
            self.by_addr.len(),
            self.workers.len(),
            "a worker missing from by_addr"
        );
    }
}
