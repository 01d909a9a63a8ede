//! Actors in other processes, reached over TCP.
//!
//! A [`session::Session`] actor owns each connection; a [`proxy::Remote`] lets an actor send
//! typed messages to the actor at the other end as it would to a local `Addr`, with
//! request/reply matched by tag, timeouts, and connection loss reported to the owner as an
//! event. Generic over the link's message types: the center, workers, nannies and executors
//! all use it.

pub mod connect;
mod framing;
pub mod handshake;
pub mod listen;
pub mod peer_client;
pub mod peer_pool;
pub mod proxy;
pub mod session;
mod writer;

use std::net::SocketAddr;
use std::time::Duration;

pub use connect::{connect_with_backoff, ConnectOptions, Connected};
pub use listen::{accept_loop, Arrival};
pub use proxy::Remote;
pub use session::{Incoming, Session, SessionEvent, SessionId};

/// A message to a remote actor could not be delivered or answered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemoteError {
    /// The connection closed before the reply came (retrying on a new connection may help).
    #[error("connection to {peer} lost: {reason}")]
    ConnectionLost {
        /// The peer.
        peer: SocketAddr,
        /// Why it closed.
        reason: String,
    },
    /// No reply within the time allowed (the peer may be overloaded or gone).
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The session actor had already stopped.
    #[error("session already stopped")]
    SessionGone,
}
