//! Actors in other processes, reached over TCP, plain or TLS ([`tls`], [`stream`]).
//!
//! A [`session::Session`] actor owns each connection; a [`proxy::Remote`] lets an actor send
//! typed messages to the actor at the other end as it would to a local `Addr`, with
//! request/reply matched by tag, timeouts, and connection loss reported to the owner as an
//! event. Generic over the link's message types: the center, workers, nannies and executors
//! all use it. Every queue here is bounded; [`bounds`] says how, and what happens at each
//! bound.

pub mod bounds;
pub mod connect;
mod flow;
mod framing;
pub mod handshake;
pub mod idle;
pub mod listen;
pub mod peer_client;
pub mod peer_pool;
pub mod proxy;
pub mod session;
mod session_watch;
pub mod stream;
pub mod tcp_keepalive;
pub mod tls;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use bounds::{AtSendBound, BoundReached, LinkBounds};
pub use connect::{connect_with_backoff, ConnectOptions, Connected};
pub use flow::{Receipt, SendQueue};
pub use listen::{accept_loop, Arrival, SessionSocket};
pub use proxy::Remote;
pub use session::{Incoming, Session, SessionEvent, SessionId, SessionOptions};
pub use stream::LinkStream;
pub use tls::{Tls, TlsError, TlsFiles};

use crate::messages::{CodecError, FrameError};

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
    /// No reply within the time allowed (the peer may be overloaded or gone; retrying may
    /// help).
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The session actor had already stopped.
    #[error("session already stopped")]
    SessionGone,
    /// The peer broke the protocol, so the session closed (retrying the same peer won't
    /// help).
    #[error("{peer} broke the protocol: {source}")]
    Protocol {
        /// The peer.
        peer: SocketAddr,
        /// What it sent.
        #[source]
        source: ProtocolViolation,
    },
    /// The request was over the link's frame limits, so it was not sent; the connection
    /// stays up (retrying the same request won't help).
    #[error("message to {peer} not sent: {source}")]
    TooLarge {
        /// The peer.
        peer: SocketAddr,
        /// The limit in the way.
        #[source]
        source: std::sync::Arc<crate::messages::FrameError>,
    },
    /// The session closed at one of its bounds: the peer did not read what we sent.
    #[error("connection to {peer} closed: {source}")]
    Overloaded {
        /// The peer.
        peer: SocketAddr,
        /// The bound.
        #[source]
        source: BoundReached,
    },
}

impl RemoteError {
    /// What a request pending on a session learns when the session closes for `reason`.
    pub fn closed(peer: SocketAddr, reason: &CloseReason) -> Self {
        match reason {
            CloseReason::Protocol { source, .. } => RemoteError::Protocol {
                peer,
                source: source.clone(),
            },
            CloseReason::Bound(bound) => RemoteError::Overloaded {
                peer,
                source: bound.clone(),
            },
            other => RemoteError::ConnectionLost {
                peer,
                reason: other.to_string(),
            },
        }
    }

    /// The crate-level error for a failed `operation` (words for the user: "ask the
    /// scheduler", "gather from 10.0.0.2:7001"), keeping this error as its source.
    pub fn into_error(self, operation: impl Into<String>) -> crate::Error {
        let operation = operation.into();
        match self {
            RemoteError::Timeout(_) => crate::Error::Timeout {
                operation,
                source: Box::new(self),
            },
            RemoteError::Protocol { .. } => crate::Error::Protocol {
                operation,
                source: Box::new(self),
            },
            RemoteError::TooLarge { source, .. } => crate::Error::MessageTooLarge {
                operation,
                source: Box::new(source),
            },
            other => crate::Error::ConnectionLost {
                reason: format!("{operation}: {other}"),
            },
        }
    }
}

/// A peer sent something that is not our protocol; its session closes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProtocolViolation {
    /// The bytes do not frame (bad lengths, limits broken).
    #[error("bad frame: {0}")]
    Frame(#[source] Arc<FrameError>),
    /// A frame did not decode as a message of this link.
    #[error("undecodable message: {0}")]
    Undecodable(#[source] CodecError),
    /// A message that decodes but is not an answer to what was asked.
    #[error("unexpected message: {0}")]
    Unexpected(String),
}

/// Why a session closed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloseReason {
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    PeerClosed,
    /// Reading or writing the socket failed.
    #[error("connection to {peer} failed: {source}")]
    Io {
        /// The peer.
        peer: SocketAddr,
        /// The failure.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The peer broke the protocol.
    #[error("protocol violation by {peer}: {source}")]
    Protocol {
        /// The peer.
        peer: SocketAddr,
        /// What it sent.
        #[source]
        source: ProtocolViolation,
    },
    /// A bound of this session was reached (see [`bounds`]).
    #[error("{0}")]
    Bound(#[source] BoundReached),
    /// The owner closed it, for this reason.
    #[error("{0}")]
    Requested(String),
}
