//! How a worker runs: a typed config with documented defaults (the CLI fills it from flags).

use std::net::{IpAddr, Ipv4Addr};
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
