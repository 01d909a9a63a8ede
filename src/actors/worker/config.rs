//! How a worker runs: a typed config with documented defaults (the CLI fills it from flags).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::actors::remote::{ConnectOptions, LinkBounds};
use crate::messages::FrameLimits;
use crate::worker_core::MemoryPolicy;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The center's address, `HOST:PORT`.
    pub center: String,
    /// Interface to listen on for peers (default `0.0.0.0`).
    pub host: IpAddr,
    /// Port to listen on for peers (default 0: any free port).
    pub port: u16,
    /// The address to advertise instead of the one the worker finds (default `None`: `host`
    /// if it names one interface, else the address on the route to the center, or on the
    /// default route when the center is on loopback; see `worker::advertised_ip`).
    pub contact_address: Option<ContactAddress>,
    /// Name for logs (default: the advertised address).
    pub name: Option<String>,
    /// Threads that run tasks (default: the number of cores).
    pub nthreads: u32,
    /// Abstract resources offered to tasks (`--resources`; default none).
    pub resources: crate::resources::Resources,
    /// Memory limit in bytes (default: the machine's total memory).
    pub memory_limit: u64,
    /// When to spill values to disk and pause taking tasks; `None` (no explicit limit)
    /// never spills nor pauses (default `None`).
    pub memory: Option<MemoryPolicy>,
    /// Time between heartbeats to the center (default 1 s).
    pub heartbeat_interval: Duration,
    /// Exit if the center stays unreachable this long; `None` waits forever (default `None`).
    pub death_timeout: Option<Duration>,
    /// Time a peer has to complete its handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// How to connect and retry; its token is also the one peers must prove.
    pub connect: ConnectOptions,
    /// Bounds on incoming frames.
    pub limits: FrameLimits,
    /// Bounds of the peer listener and its sessions (send queue, connections).
    pub bounds: LinkBounds,
}

impl WorkerConfig {
    /// A worker of `center` with every other setting at its default.
    pub fn new(center: impl Into<String>) -> Self {
        WorkerConfig {
            center: center.into(),
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            contact_address: None,
            name: None,
            nthreads: default_nthreads(),
            resources: Default::default(),
            memory_limit: total_memory(),
            memory: None,
            heartbeat_interval: Duration::from_secs(1),
            death_timeout: None,
            handshake_timeout: Duration::from_secs(10),
            connect: ConnectOptions::default(),
            limits: FrameLimits::default(),
            bounds: LinkBounds::default(),
        }
    }
}

/// The number of cores this process may use.
pub fn default_nthreads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// The machine's total memory in bytes (0 if unknown).
pub fn total_memory() -> u64 {
    nix::sys::sysinfo::sysinfo().map_or(0, |info| info.ram_total())
}

/// The address a worker advertises (`--contact-address`) when the one it would find is not
/// reachable from other hosts: behind NAT, in a container, through a forwarded port. Without
/// a port, the worker's own listening port is advertised.
///
/// ```
/// use taskforce::worker::config::ContactAddress;
/// let forwarded: ContactAddress = "203.0.113.7:9000".parse().unwrap();
/// assert_eq!(forwarded.port, Some(9000));
/// let v6: ContactAddress = "[2001:db8::7]".parse().unwrap();
/// assert_eq!((v6.ip.to_string(), v6.port), ("2001:db8::7".to_string(), None));
/// assert!("a-host-name".parse::<ContactAddress>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContactAddress {
    /// The address other hosts reach the worker at.
    pub ip: IpAddr,
    /// The port they reach it on, if not the one it listens on.
    pub port: Option<u16>,
}

impl ContactAddress {
    /// The address to advertise for a worker listening on `bound_port`.
    pub fn with_port(self, bound_port: u16) -> SocketAddr {
        SocketAddr::new(self.ip, self.port.unwrap_or(bound_port))
    }
}

/// A `--contact-address` that is not an IP address, with or without a port.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected an IP address, optionally with a port (10.0.0.5, 10.0.0.5:9000, [2001:db8::5]:9000), got {0:?}")]
pub struct BadContactAddress(pub String);

impl FromStr for ContactAddress {
    type Err = BadContactAddress;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(ContactAddress {
                ip: addr.ip(),
                port: Some(addr.port()),
            });
        }
        let bare = text.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>()
            .map(|ip| ContactAddress { ip, port: None })
            .map_err(|_| BadContactAddress(text.into()))
    }
}

impl std::fmt::Display for ContactAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}", SocketAddr::new(self.ip, port)),
            None => write!(f, "{}", self.ip),
        }
    }
}
