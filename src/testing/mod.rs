//! Real parts for tests, benches and examples that need a network worse than loopback:
//! [`LatencyProxy`], a TCP proxy adding delay, jitter and cuts (the kernels we run on have
//! no netem or iptables).
//!
//! Uses std threads and sockets only; nothing here is used by the runtime itself.

mod latency_proxy;

pub use latency_proxy::{LatencyProxy, LinkShape, CHUNKS_IN_FLIGHT, CHUNK_BYTES, MAX_CONNECTIONS};
