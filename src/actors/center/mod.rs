//! The center: membership of workers and nannies, heartbeats, and where data lives.
//!
//! [`state`] holds the logic as a pure state machine; [`actor`] is the actix shell that feeds
//! it from the network. `taskforce center` runs [`serve`].

pub mod actor;
pub mod state;
#[cfg(test)]
mod state_tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use actix::{Actor, Addr};
use tokio::net::TcpListener;
use tracing::info;

pub use crate::actors::scheduler::{self, Scheduler};
pub use actor::{Center, RestartWorkers};

use crate::actors::remote::{accept_loop, LinkBounds, SessionOptions};
use crate::messages::FrameLimits;
use crate::scheduler::SchedulerConfig;

/// How a center runs.
#[derive(Clone, Debug)]
pub struct CenterConfig {
    /// Interface to listen on (default `0.0.0.0`).
    pub host: IpAddr,
    /// Port to listen on (default 8787; 0 picks a free one).
    pub port: u16,
    /// Name for logs and handshakes (default `center`).
    pub name: String,
    /// A worker silent for longer than this is removed (default 60 s).
    pub worker_ttl: Duration,
    /// Time a new connection has to complete its handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Bounds on incoming frames.
    pub limits: FrameLimits,
    /// Bounds of the listener and its sessions (send queue, connections).
    pub bounds: LinkBounds,
    /// Scheduling policy.
    pub scheduler: SchedulerConfig,
}

impl Default for CenterConfig {
    fn default() -> Self {
        CenterConfig {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 8787,
            name: "center".into(),
            worker_ttl: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            limits: FrameLimits::default(),
            bounds: LinkBounds::default(),
            scheduler: SchedulerConfig::default(),
        }
    }
}

/// A running center: its address and its actor.
#[derive(Clone, Debug)]
pub struct CenterHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The center actor.
    pub actor: Addr<Center>,
}

/// Binds the port and starts the center on the current actix system.
pub async fn start(config: CenterConfig) -> std::io::Result<CenterHandle> {
    let listener = TcpListener::bind((config.host, config.port)).await?;
    let addr = listener.local_addr()?;
    match reachable_ip(addr.ip()) {
        Some(ip) => info!(
            "Start center at {} (listening on {addr})",
            SocketAddr::new(ip, addr.port())
        ),
        None => info!("Start center at {addr}"),
    }
    let limits = config.limits;
    let handshake_timeout = config.handshake_timeout;
    let sessions = SessionOptions::new(limits, config.bounds);
    let max_connections = config.bounds.max_connections;
    let scheduler = Scheduler::new(config.scheduler.clone(), sessions, config.name.clone()).start();
    let actor = Center::new(config, scheduler.clone()).start();
    scheduler.do_send(scheduler::AttachCenter(actor.clone()));
    let admit = actor.clone();
    actix_rt::spawn(accept_loop(
        listener,
        limits,
        handshake_timeout,
        max_connections,
        "center",
        move |arrival| admit.do_send(actor::Admit(arrival)),
    ));
    Ok(CenterHandle { addr, actor })
}

/// When listening on every interface, the address other machines can reach: the first
/// non-loopback IPv4 address of an interface that is up.
fn reachable_ip(bound: IpAddr) -> Option<IpAddr> {
    use nix::net::if_::InterfaceFlags;
    if !bound.is_unspecified() {
        return None;
    }
    nix::ifaddrs::getifaddrs().ok()?.find_map(|interface| {
        let up = interface.flags.contains(InterfaceFlags::IFF_UP)
            && !interface.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let ip = interface.address?.as_sockaddr_in()?.ip();
        up.then_some(IpAddr::V4(ip))
    })
}

/// Runs a center until SIGINT or SIGTERM.
pub async fn serve(config: CenterConfig) -> crate::Result<()> {
    let stop = crate::signals::termination()?;
    let _center = start(config).await.map_err(crate::Error::Bind)?;
    let signal = stop.await;
    info!("Received {signal}; closing center");
    Ok(())
}
