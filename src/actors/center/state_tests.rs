//! Scenario tests of the center's state machine with an injected clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::state::CenterState;
use crate::ids::WorkerId;
use crate::messages::center_link::{HeartbeatMsg, WorkerDescription};
use crate::messages::{Hello, Role};

fn hello(name: &str) -> Hello {
    Hello {
        role: Role::Worker,
        name: name.into(),
        listen_addr: None,
        nthreads: 2,
        memory_limit: 1 << 30,
        pid: 1,
        functions: vec![],
        resources: Default::default(),
    }
}

fn description(name: &str, port: u16) -> WorkerDescription {
    WorkerDescription::from_hello(&hello(name), addr(port))
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn beat() -> HeartbeatMsg {
    HeartbeatMsg {
        memory_bytes: 10,
        executing: 1,
        stored_keys: 0,
        peer_bytes_in: 0,
        stored_bytes: 0,
        peak_stored_bytes: 0,
        spilled_bytes: 0,
    }
}

struct Scenario {
    center: CenterState,
    start: Instant,
}

impl Scenario {
    fn new(ttl_secs: u64) -> Self {
        Scenario {
            center: CenterState::new(Duration::from_secs(ttl_secs)),
            start: Instant::now(),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    fn join(&mut self, name: &str, port: u16, secs: u64) -> WorkerId {
        let now = self.at(secs);
        let (id, replaced) = self
            .center
            .on_worker_joined(description(name, port), now)
            .expect("the address is free");
        assert_eq!(replaced, None);
        self.center.sanity_check();
        id
    }
}

#[test]
fn join_gives_distinct_ids_and_records_the_worker() {
    let mut s = Scenario::new(10);
    let a = s.join("a", 1, 0);
    let b = s.join("b", 2, 0);
    assert_ne!(a, b);
    assert_eq!(s.center.worker_count(), 2);
    let info = s.center.worker(a).unwrap();
    assert_eq!(
        (
            info.description.name.as_str(),
            info.description.addr,
            info.description.nthreads
        ),
        ("a", addr(1), 2)
    );
}

#[test]
fn heartbeats_keep_a_worker_alive_past_the_ttl() {
    let mut s = Scenario::new(10);
    let a = s.join("a", 1, 0);
    for t in [5, 10, 15, 20] {
        assert!(s.center.on_heartbeat(a, &beat(), s.at(t)));
    }
    assert!(s.center.silent_workers(s.at(29)).is_empty());
    assert_eq!(s.center.worker(a).unwrap().load.memory_bytes, 10);
}

#[test]
fn silent_worker_expires_after_the_ttl() {
    let mut s = Scenario::new(10);
    let a = s.join("a", 1, 0);
    let b = s.join("b", 2, 0);
    assert!(s.center.on_heartbeat(b, &beat(), s.at(8)));
    assert!(s.center.silent_workers(s.at(10)).is_empty());
    let silent = s.center.silent_workers(s.at(11));
    assert_eq!(silent, vec![(a, Duration::from_secs(11))]);
    s.center.on_worker_left(a);
    s.center.sanity_check();
    assert_eq!(s.center.worker_count(), 1);
    assert!(
        !s.center.on_heartbeat(a, &beat(), s.at(12)),
        "a is forgotten"
    );
}

#[test]
fn rejoin_after_loss_gets_a_new_id() {
    let mut s = Scenario::new(10);
    let a = s.join("a", 1, 0);
    assert!(s.center.on_worker_left(a).is_some());
    assert!(
        s.center.on_worker_left(a).is_none(),
        "leaving twice is harmless"
    );
    let again = s.join("a", 1, 3);
    assert_ne!(a, again);
    assert_eq!(s.center.worker_count(), 1);
}

#[test]
fn rejoin_from_the_same_address_replaces_the_disconnected_entry() {
    let mut s = Scenario::new(10);
    let old = s.join("a", 1, 0);
    s.center.on_worker_disconnected(old);
    let (new, replaced) = s
        .center
        .on_worker_joined(description("a", 1), s.at(1))
        .expect("the old connection closed");
    assert_eq!(replaced, Some(old));
    assert_ne!(new, old);
    assert_eq!(s.center.worker_count(), 1);
    s.center.sanity_check();
}

#[test]
fn a_claimant_of_a_connected_workers_address_is_refused_and_the_holder_stays() {
    let mut s = Scenario::new(10);
    let holder = s.join("real", 1, 0);
    let refused = s
        .center
        .on_worker_joined(description("impostor", 1), s.at(1))
        .expect_err("the address is held by a connected worker");
    assert_eq!(
        refused,
        super::state::RegistrationRefused::AddressTaken {
            addr: addr(1),
            holder,
            name: "real".into(),
        }
    );
    assert!(refused.to_string().contains("cannot take over"));
    assert_eq!(s.center.worker_count(), 1);
    assert_eq!(s.center.worker(holder).unwrap().description.name, "real");
    assert!(s.center.on_heartbeat(holder, &beat(), s.at(2)));
    s.center.sanity_check();
}

#[test]
fn a_worker_is_described_once_from_its_hello_and_its_heartbeat() {
    let mut s = Scenario::new(10);
    let a = s.join("a", 7, 0);
    let info = s.center.worker(a).unwrap();
    assert_eq!(info.description.name, "a");
    assert_eq!(info.description.addr, addr(7));
    assert_eq!(info.description.nthreads, 2);
    assert_eq!(info.load, HeartbeatMsg::default(), "no heartbeat yet");
    assert!(s.center.on_heartbeat(a, &beat(), s.at(1)));
    assert_eq!(s.center.worker(a).unwrap().load, beat());
    let left = s.center.on_worker_left(a).unwrap();
    assert_eq!(left.description.addr, addr(7));
    s.center.sanity_check();
}
