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
use std::sync::Arc;
use tokio::net::TcpListener;

use tracing::{info, warn};

pub use crate::actors::scheduler::{self, Scheduler};
pub use actor::{Center, RestartWorkers};

use crate::actors::dashboard::{Dashboard, DashboardServer};
use crate::actors::remote::{accept_loop, LinkBounds, SessionOptions, Tls};
use crate::actors::LOG_CENTER as LOG_TARGET;
use crate::messages::{FrameLimits, Token};
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
    /// The cluster's token: only clients that prove it are admitted (default `None`: anyone
    /// who reaches the port, for trusted networks only).
    pub token: Option<Token>,
    /// TLS of the center's listener (a certificate and key; with a CA, clients must present
    /// a certificate it signed). Default `None`: plain TCP.
    pub tls: Option<Tls>,
    /// Scheduling policy.
    pub scheduler: SchedulerConfig,
    /// Where to serve the dashboard and `/metrics` (default: nowhere; the CLI's default is
    /// port 8788). A port in use falls back to a free one, logged.
    pub dashboard: Option<SocketAddr>,
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
            token: None,
            tls: None,
            scheduler: SchedulerConfig::default(),
            dashboard: None,
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
    /// The dashboard server, while it runs (it stops when the last handle is dropped).
    pub dashboard: Option<Arc<DashboardServer>>,
}

impl CenterHandle {
    /// The dashboard's URL, if one is served.
    pub fn dashboard_link(&self) -> Option<String> {
        self.dashboard.as_ref().map(|server| server.link())
    }
}

/// Binds the port and starts the center on the current actix system.
pub async fn start(config: CenterConfig) -> std::io::Result<CenterHandle> {
    if let Some(tls) = &config.tls {
        tls.acceptor().map_err(std::io::Error::other)?;
    }
    let listener = TcpListener::bind((config.host, config.port)).await?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() { "tls://" } else { "" };
    match reachable_ip(addr.ip()) {
        Some(ip) => info!(
            target: LOG_TARGET,
            "Start center at {scheme}{} (listening on {addr})",
            SocketAddr::new(ip, addr.port())
        ),
        None => info!(target: LOG_TARGET, "Start center at {scheme}{addr}"),
    }
    let limits = config.limits;
    let handshake_timeout = config.handshake_timeout;
    let dashboard = Dashboard::default();
    let server = config
        .dashboard
        .and_then(|at| serve_dashboard(&dashboard, at));
    let sessions = SessionOptions::new(limits, config.bounds);
    let max_connections = config.bounds.max_connections;
    let scheduler = Scheduler::new(config.scheduler.clone(), sessions, config.name.clone());
    let scheduler = match &server {
        Some(server) => scheduler.with_dashboard(dashboard, dashboard_link(server.addr())),
        None => scheduler,
    }
    .start();
    let token = config.token.clone();
    let tls = config.tls.clone();
    let actor = Center::new(config, scheduler.clone()).start();
    scheduler.do_send(scheduler::AttachCenter(actor.clone()));
    let admit = actor.clone();
    actix_rt::spawn(accept_loop(
        listener,
        token,
        tls,
        handshake_timeout,
        max_connections,
        "center",
        move |arrival| admit.do_send(actor::Admit(arrival)),
    ));
    Ok(CenterHandle {
        addr,
        actor,
        dashboard: server.map(Arc::new),
    })
}

/// The dashboard's URL as other machines reach it.
fn dashboard_link(bound: SocketAddr) -> String {
    let ip = reachable_ip(bound.ip()).unwrap_or(bound.ip());
    format!("http://{}/", SocketAddr::new(ip, bound.port()))
}

/// Serves the dashboard at `at`, or on a free port of the same host when `at` is taken.
fn serve_dashboard(dashboard: &Dashboard, at: SocketAddr) -> Option<DashboardServer> {
    let fallback = SocketAddr::new(at.ip(), 0);
    let served = dashboard.serve(at).or_else(|e| {
        warn!(target: LOG_TARGET, "Dashboard port {} unavailable ({e}); using a free port", at.port());
        dashboard.serve(fallback)
    });
    served
        .map_err(|e| warn!(target: LOG_TARGET, "No dashboard: {e}"))
        .ok()
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
    info!(target: LOG_TARGET, "Received {signal}; closing center");
    Ok(())
}
