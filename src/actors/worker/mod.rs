//! The worker: registers with the center, heartbeats, listens for peers, and (from Stage 2)
//! runs tasks and keeps their results.
//!
//! `taskforce worker ADDR --no-nanny` runs [`serve`]; under a nanny the same runs in a child.
//!
//! This is the actix shell: what to run, fetch, keep and report is decided by the pure
//! [`crate::worker_core::WorkerState`]; the actor feeds it events and performs its commands.

pub mod actor;
pub mod config;
mod connect;
mod execution;
mod peers;
pub mod pool;
pub mod spill;

use std::net::{IpAddr, SocketAddr, UdpSocket};

use actix::{Actor, Addr};
use tokio::net::TcpListener;
use tracing::info;

/// The worker's memory (now part of the worker core).
pub use crate::worker_core::store;
pub use actor::{Shutdown, Worker};
pub use config::WorkerConfig;

use crate::actors::remote::accept_loop;
use crate::actors::remote::handshake::refuse;
use crate::messages::Role;

/// A running worker: the address peers reach it at, and its actor.
#[derive(Clone, Debug)]
pub struct WorkerHandle {
    /// The address advertised to the center and peers.
    pub addr: SocketAddr,
    /// The worker actor.
    pub actor: Addr<Worker>,
}

/// Binds the peer port and starts the worker on the current actix system.
pub async fn start(config: WorkerConfig) -> crate::Result<WorkerHandle> {
    if let Some(tls) = &config.connect.tls {
        tls.acceptor()
            .map_err(|e| crate::Error::TlsSetup(Box::new(e)))?;
    }
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .map_err(|e| crate::Error::listening(config.host, config.port, e))?;
    let bound = listener.local_addr()?;
    let advertised = advertised_ip(config.host, &config.center).map_err(|source| {
        crate::Error::NoAdvertisedAddress {
            center: config.center.clone(),
            source,
        }
    })?;
    let addr = SocketAddr::new(advertised, bound.port());
    info!(target: crate::actors::LOG_WORKER, "Start worker at {addr}");
    let token = config.connect.token.clone();
    let tls = config.connect.tls.clone();
    let handshake_timeout = config.handshake_timeout;
    let max_connections = config.bounds.max_connections;
    let spill = match config.memory {
        Some(_) => Some(spill::SpillDir::create()?),
        None => None,
    };
    let actor = Worker::new(config, addr, spill).start();
    actix_rt::spawn(accept_loop(
        listener,
        token,
        tls,
        handshake_timeout,
        max_connections,
        "worker",
        {
            let actor = actor.clone();
            move |arrival| match arrival.hello.role {
                Role::Peer => actor.do_send(peers::AdmitPeer(arrival)),
                role => {
                    let reason = format!("a worker serves only peers, not {role} connections");
                    actix_rt::spawn(refuse(arrival.stream, reason));
                }
            }
        },
    ));
    Ok(WorkerHandle { addr, actor })
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

/// The address to advertise: the listening host, or, when listening on every interface, the
/// local address of the route to the center (no packet is sent to find it).
/// Never the unspecified address itself: peers could not reach it.
fn advertised_ip(host: IpAddr, center: &str) -> std::io::Result<IpAddr> {
    if !host.is_unspecified() {
        return Ok(host);
    }
    let socket = UdpSocket::bind((host, 0))?;
    socket.connect(crate::actors::remote::stream::split_scheme(center).0)?;
    Ok(socket.local_addr()?.ip())
}
