//! The center: membership of workers and nannies, heartbeats, and where data lives.
//!
//! [`state`] holds the logic as a pure state machine; [`actor`] is the actix shell that feeds
//! it from the network. `taskforce center` runs [`serve`].
//!
//! # The center process's supervision tree
//!
//! ```text
//! center            one_for_all, at most 3 restarts in 60 s, then the process exits (code 1)
//! ├── scheduler     permanent   the task graph; its sessions with executors are its
//! │                             temporary children
//! ├── center        permanent   membership; its sessions with workers and nannies are its
//! │                             temporary children
//! └── listener      permanent   accepts on a duplicate of the bound port, admits to the
//!                               live center
//! ```
//!
//! One for all: the scheduler's workers are the center's sessions, and a fresh scheduler
//! has no task graph, so the three restart together. That is a center restart in place:
//! every session closes (a session never outlives its owner, and a session's panic reaches
//! its owner as `Closed`), workers reconnect and register again, executors reconnect. A
//! session's panic closes only that connection.

pub mod actor;
pub mod state;
#[cfg(test)]
mod state_tests;
mod tree;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use actix::Addr;
use std::sync::Arc;
use tokio::net::TcpListener;

use tracing::{error, info, warn};

pub use crate::actors::scheduler::{self, Scheduler};
pub use actor::{Center, RestartWorkers, RetireWorkers};
pub use tree::{ClusterTrees, MemberTrees};

use crate::actors::dashboard::{Dashboard, DashboardServer};
use crate::actors::remote::{LinkBounds, Tls};
use crate::actors::supervisor::{ChildRef, RunningChild, Supervisor};
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
    /// Whether clients may restart the cluster, cancelling everyone's work (default
    /// `false`: a restart is refused with the reason; `--allow-restart`).
    pub allow_restart: bool,
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
            allow_restart: false,
            tls: None,
            scheduler: SchedulerConfig::default(),
            dashboard: None,
        }
    }
}

/// A running center: its address, its live actor and its supervision tree.
#[derive(Clone, Debug)]
pub struct CenterHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The center actor (a new one after each restart of the tree).
    pub center: ChildRef<Center>,
    /// The root supervisor of the center's tree.
    pub supervisor: Addr<Supervisor>,
    /// The live trees of the center process and its members.
    pub trees: ClusterTrees,
    /// The dashboard server, while it runs (it stops when the last handle is dropped).
    pub dashboard: Option<Arc<DashboardServer>>,
}

impl CenterHandle {
    /// The dashboard's URL, if one is served.
    pub fn dashboard_link(&self) -> Option<String> {
        self.dashboard.as_ref().map(|server| server.link())
    }
}

/// Binds the port and starts the center's tree on the current actix system. If the tree
/// gives up, the error is logged and the actix system stops with code 1.
pub async fn start(config: CenterConfig) -> std::io::Result<CenterHandle> {
    if let Some(tls) = &config.tls {
        tls.acceptor().map_err(std::io::Error::other)?;
    }
    let (handle, root) = launch(config).await?;
    actix_rt::spawn(async move {
        let reason = root.exited().await;
        if reason.is_abnormal() {
            error!(target: LOG_TARGET, "Center gave up: {reason}; stopping");
            actix::System::current().stop_with_code(1);
        }
    });
    Ok(handle)
}

async fn launch(config: CenterConfig) -> std::io::Result<(CenterHandle, RunningChild)> {
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
    let trees = ClusterTrees::default();
    let dashboard = Dashboard::default().with_trees(trees.clone());
    let server = config
        .dashboard
        .and_then(|at| serve_dashboard(&dashboard, at, config.token.clone()));
    let parts = tree::CenterParts {
        config,
        listener: listener.into_std()?,
        dashboard: server
            .as_ref()
            .map(|server| (dashboard, dashboard_link(server.addr()))),
        trees,
    };
    let trees = parts.trees.clone();
    let center = ChildRef::default();
    let (supervisor, root) = tree::root(parts, center.clone()).start_root();
    let handle = CenterHandle {
        addr,
        center,
        supervisor,
        trees,
        dashboard: server.map(Arc::new),
    };
    Ok((handle, root))
}

/// The dashboard's URL as other machines reach it.
fn dashboard_link(bound: SocketAddr) -> String {
    let ip = reachable_ip(bound.ip()).unwrap_or(bound.ip());
    format!("http://{}/", SocketAddr::new(ip, bound.port()))
}

/// Serves the dashboard at `at`, or on a free port of the same host when `at` is taken.
fn serve_dashboard(
    dashboard: &Dashboard,
    at: SocketAddr,
    token: Option<Token>,
) -> Option<DashboardServer> {
    let fallback = SocketAddr::new(at.ip(), 0);
    let served = dashboard.serve_with_token(at, token.clone()).or_else(|e| {
        warn!(target: LOG_TARGET, "Dashboard port {} unavailable ({e}); using a free port", at.port());
        dashboard.serve_with_token(fallback, token)
    });
    served
        .map_err(|e| warn!(target: LOG_TARGET, "No dashboard: {e}"))
        .ok()
}

/// When listening on every interface, the address other machines can reach: the first
/// non-loopback address of an interface that is up, of the family listened on.
fn reachable_ip(bound: IpAddr) -> Option<IpAddr> {
    use nix::net::if_::InterfaceFlags;
    if !bound.is_unspecified() {
        return None;
    }
    nix::ifaddrs::getifaddrs().ok()?.find_map(|interface| {
        let up = interface.flags.contains(InterfaceFlags::IFF_UP)
            && !interface.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let address = interface.address?;
        let ip = match bound {
            IpAddr::V4(_) => IpAddr::V4(address.as_sockaddr_in()?.ip()),
            // Link-local addresses need a scope other hosts cannot guess.
            IpAddr::V6(_) => Some(address.as_sockaddr_in6()?.ip())
                .filter(|v6| v6.segments()[0] & 0xffc0 != 0xfe80)
                .map(IpAddr::V6)?,
        };
        up.then_some(ip)
    })
}

/// Runs a center until SIGINT or SIGTERM.
pub async fn serve(config: CenterConfig) -> crate::Result<()> {
    let stop = crate::signals::termination()?;
    let (_center, root) = launch(config).await.map_err(crate::Error::Bind)?;
    tokio::select! {
        signal = stop => {
            info!(target: LOG_TARGET, "Received {signal}; closing center");
            Ok(())
        }
        reason = root.exited() => {
            error!(target: LOG_TARGET, "Center gave up: {reason}; exiting");
            Err(crate::Error::GaveUp { process: "center".into(), reason: reason.to_string() })
        }
    }
}
