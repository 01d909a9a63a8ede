//! The worker: registers with the center, heartbeats, listens for peers, and (from Stage 2)
//! runs tasks and keeps their results.
//!
//! `taskforce worker ADDR --no-nanny` runs [`serve`]; under a nanny the same runs in a child.
//!
//! This is the actix shell: what to run, fetch, keep and report is decided by the pure
//! [`crate::worker_core::WorkerState`]; the actor feeds it events and performs its commands.
//!
//! # The worker process's supervision tree
//!
//! ```text
//! worker               one_for_all, restarts nothing: any exit ends the process (code 1)
//! ├── worker           permanent   the center link, heartbeats, the task pool's threads
//! │                                and the values: nothing a restart could rebuild
//! ├── peers            one_for_one, at most 3 restarts in 60 s, then gives up (escalates)
//! │   ├── peer-service permanent   the connections peers opened (its sessions are its
//! │   │                            temporary children); requests go to the worker actor
//! │   └── listener     permanent   accepts on a duplicate of the bound port
//! └── services         drawn only while the worker hosts some (see below)
//!     └── service group svc-…      the group's policy (strategy, intensity)
//!         └── NAME (TYPE)          permanent: one service instance (NAME: its id if unnamed)
//! ```
//!
//! A panic in the peer service restarts it alone (peers connect again). Anything that
//! cannot be rebuilt ends the process with the reason logged; the nanny starts a fresh
//! worker, and the scheduler recomputes what the old one held, as for any lost worker.
//! Service groups are supervisors of their own on the service thread (a group past its
//! intensity fails its services, not the worker); the worker's report draws them under
//! `services`, followed by the last 16 groups that gave up.

mod activity;
pub mod actor;
mod allocator;
pub mod config;
mod connect;
mod execution;
pub mod in_task;
mod memory_gate;
mod peers;
pub mod pool;
pub mod spill;
mod tree;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

use actix::Addr;
use tokio::net::TcpListener;
use tracing::{error, info};

/// The worker's memory (now part of the worker core).
pub use crate::worker_core::store;
pub use actor::{Shutdown, Worker};
pub use config::WorkerConfig;

use crate::actors::supervisor::ChildRef;
pub use tree::WorkerTrees;

/// A running worker: the address peers reach it at, its actor and its supervision tree.
#[derive(Clone, Debug)]
pub struct WorkerHandle {
    /// The address advertised to the center and peers.
    pub addr: SocketAddr,
    /// The worker actor (never restarted in place: the process exits instead).
    pub actor: Addr<Worker>,
    /// The process's supervision tree as its supervisors publish it.
    pub trees: WorkerTrees,
}

/// Binds the peer port and starts the worker's tree on the current actix system. If the
/// tree gives up, the error is logged and the actix system stops with code 1 (under a
/// nanny: a restart).
pub async fn start(config: WorkerConfig) -> crate::Result<WorkerHandle> {
    if let Some(tls) = &config.connect.tls {
        tls.acceptor()
            .map_err(|e| crate::Error::TlsSetup(Box::new(e)))?;
    }
    let no_address = |source| crate::Error::NoAdvertisedAddress {
        center: config.center.clone(),
        source,
    };
    let center = center_addr(&config.center).map_err(no_address)?;
    let host = listen_host(config.host, center);
    let listener = TcpListener::bind((host, config.port))
        .await
        .map_err(|e| crate::Error::listening(host, config.port, e))?;
    let bound = listener.local_addr()?;
    let addr = match config.contact_address {
        Some(contact) => contact.with_port(bound.port()),
        None => SocketAddr::new(
            advertised_ip(host, center).map_err(no_address)?,
            bound.port(),
        ),
    };
    info!(target: crate::actors::LOG_WORKER, "Start worker at {addr}");
    // Remote functions on this worker that call services connect with the worker's token.
    crate::actors::service::use_connect_options(&config.center, &config.connect);
    let spill = match config.memory {
        Some(_) => Some(spill::SpillDir::create()?),
        None => None,
    };
    let name = config.name.clone().unwrap_or_else(|| addr.to_string());
    let trees = WorkerTrees::default();
    let worker = ChildRef::default();
    let make_worker = {
        let config = config.clone();
        let trees = trees.clone();
        move || Worker::new(config, addr, spill).reporting(trees)
    };
    let root = tree::root(
        &config,
        name,
        listener.into_std()?,
        make_worker,
        worker.clone(),
        trees.clone(),
    );
    let (_supervisor, running) = root.start_root();
    actix_rt::spawn(async move {
        let reason = running.exited().await;
        if reason.is_abnormal() {
            error!(target: crate::actors::LOG_WORKER, "Worker gave up: {reason}; exiting");
            actix::System::current().stop_with_code(1);
        }
    });
    let actor = started(&worker).await.ok_or(crate::Error::GaveUp {
        process: "worker".into(),
        reason: "its actor did not start".into(),
    })?;
    Ok(WorkerHandle { addr, actor, trees })
}

/// The worker actor, once the root has started it. The root starts its children on its
/// own first turn, so a few turns of this (single-threaded) runtime suffice; `None` if it
/// has not after many (its start failed, and the root is giving up).
async fn started(worker: &ChildRef<Worker>) -> Option<Addr<Worker>> {
    for _ in 0..1000 {
        if let Some(actor) = worker.get() {
            return Some(actor);
        }
        tokio::task::yield_now().await;
    }
    None
}

/// Runs a worker until it is told to stop (SIGINT/SIGTERM, or the center asks).
/// Returns the process exit code.
pub fn serve(config: WorkerConfig) -> crate::Result<i32> {
    crate::actors::nanny::die_with_parent();
    let system = actix::System::new();
    let stop = system.block_on(async { crate::signals::termination() })?;
    let handle = system.block_on(start(config))?;
    system.block_on(async move {
        actix_rt::spawn(async move {
            let signal = stop.await;
            handle.actor.do_send(Shutdown {
                reason: format!("received {signal}"),
            });
        });
    });
    Ok(system.run_with_code()?)
}

/// The center's address, resolved (the first one a name resolves to).
fn center_addr(center: &str) -> std::io::Result<SocketAddr> {
    let text = crate::actors::remote::stream::split_scheme(center).0;
    text.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{text} resolves to no address"),
        )
    })
}

/// The interface to listen on: `host`, except that "every IPv4 interface" (the default)
/// becomes every interface, IPv6 included, when the center is an IPv6 address, so peers on
/// the center's network reach the address advertised there.
fn listen_host(host: IpAddr, center: SocketAddr) -> IpAddr {
    match (host, center) {
        (IpAddr::V4(v4), SocketAddr::V6(_)) if v4.is_unspecified() => {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        }
        _ => host,
    }
}

/// The address to advertise: the listening host; or, when listening on every interface, the
/// local address of the route to the center; or, when that is loopback (the center is on
/// this host's loopback), this host's address on the default route, which other hosts can
/// reach as well, if it has one (else loopback, which the center warns about when it
/// listens beyond loopback). No packet is sent to find these. Never the unspecified address
/// itself: peers could not reach it.
fn advertised_ip(host: IpAddr, center: SocketAddr) -> std::io::Result<IpAddr> {
    if !host.is_unspecified() {
        return Ok(host);
    }
    let on_route = local_ip_towards(center)?;
    if !on_route.is_loopback() {
        return Ok(on_route);
    }
    // Documentation addresses (RFC 5737, RFC 3849): routed, if at all, by the default route.
    let beyond: SocketAddr = match center {
        SocketAddr::V4(_) => ([192, 0, 2, 1], 9).into(),
        SocketAddr::V6(_) => (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
    };
    Ok(local_ip_towards(beyond)
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .unwrap_or(on_route))
}

/// The local address the kernel would send from to reach `target` (a UDP socket's
/// `connect` picks the route and sends nothing).
fn local_ip_towards(target: SocketAddr) -> std::io::Result<IpAddr> {
    let any: IpAddr = match target {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((any, 0))?;
    socket.connect(target)?;
    Ok(socket.local_addr()?.ip())
}

#[cfg(test)]
mod address_tests {
    use super::*;

    #[test]
    fn a_named_host_is_advertised_as_is_and_v6_centers_get_a_v6_listener() {
        let center: SocketAddr = "[::1]:8787".parse().unwrap();
        let host: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(advertised_ip(host, center).unwrap(), host);
        assert_eq!(
            listen_host(Ipv4Addr::UNSPECIFIED.into(), center),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        );
        let v4_center: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        assert_eq!(
            listen_host(Ipv4Addr::UNSPECIFIED.into(), v4_center),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn a_worker_of_a_loopback_center_advertises_an_address_others_reach_when_there_is_one() {
        let center: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        let advertised = advertised_ip(Ipv4Addr::UNSPECIFIED.into(), center).unwrap();
        let beyond = local_ip_towards(([192, 0, 2, 1], 9).into()).ok();
        match beyond {
            // A host with a default route: its address there, not loopback.
            Some(ip) if !ip.is_loopback() => assert_eq!(advertised, ip),
            // A host without one (a bare namespace): loopback is all there is.
            _ => assert!(advertised.is_loopback(), "{advertised}"),
        }
    }
}
