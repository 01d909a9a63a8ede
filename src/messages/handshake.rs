//! The start of every connection: a fixed preamble, then a `Hello` and its reply.
//!
//! ```text
//! both sides:  b"TFRC" | u16 protocol version (LE)     the preamble
//!              the token's challenge and response      (see `super::auth`)
//! client:      Hello        (one envelope)
//! server:      HelloReply   (one envelope: Welcome or Refused)
//! ```
//! The preamble lets each side name a version mismatch before it tries to decode anything
//! the other wrote. Every envelope of the handshake is read under [`HANDSHAKE_LIMITS`], so a
//! stranger cannot make a server allocate more than that before it is authenticated. Pure
//! data: no sockets here (see `crate::actors::remote::handshake`).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::FrameLimits;
use crate::ids::FunctionId;

/// The first four bytes of every taskforce connection.
pub const MAGIC: [u8; 4] = *b"TFRC";

/// The protocol this build speaks. Bump it on any change to a message enum's encoding
/// (6: sessions send keepalives, empty envelopes; 7: task restrictions and worker
/// resources, seceded tasks, coordination requests, activity reports, window pings; 8: copies
/// (acquire orders and their reports), replicate, rebalance and retire requests; 9: steal
/// requests and their answers).
pub const PROTOCOL_VERSION: u16 = 9;

/// Limits on every envelope of the handshake (64 KiB, a header and no data frames): the
/// only thing a peer may send before it is authenticated and admitted. A larger announced
/// length closes the connection before anything is allocated.
pub const HANDSHAKE_LIMITS: FrameLimits = FrameLimits {
    max_header: 64 << 10,
    max_frames: 0,
    max_frame: 0,
    max_message: 64 << 10,
};

/// Bytes of the preamble.
pub const PREAMBLE_LEN: usize = 6;

/// The preamble this build sends.
pub fn preamble() -> [u8; PREAMBLE_LEN] {
    let v = PROTOCOL_VERSION.to_le_bytes();
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], v[0], v[1]]
}

/// What a received preamble says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreambleCheck {
    /// Same magic, same version.
    Compatible,
    /// A taskforce peer speaking another protocol version.
    OtherVersion(u16),
    /// Not a taskforce peer at all.
    NotTaskforce,
}

/// Reads a received preamble.
pub fn check_preamble(bytes: [u8; PREAMBLE_LEN]) -> PreambleCheck {
    if bytes[..4] != MAGIC {
        return PreambleCheck::NotTaskforce;
    }
    match u16::from_le_bytes([bytes[4], bytes[5]]) {
        PROTOCOL_VERSION => PreambleCheck::Compatible,
        other => PreambleCheck::OtherVersion(other),
    }
}

/// Who is connecting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// A worker registering with the center.
    Worker,
    /// A nanny reporting on the worker process it supervises.
    Nanny,
    /// A user's executor connecting to the scheduler.
    Executor,
    /// A worker or executor connecting to a worker to fetch data.
    Peer,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Role::Worker => "worker",
            Role::Nanny => "nanny",
            Role::Executor => "executor",
            Role::Peer => "peer",
        };
        f.write_str(name)
    }
}

/// The client's introduction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// What the client is.
    pub role: Role,
    /// A human name (`--name`, or the host and port).
    pub name: String,
    /// Where the client listens for peers (workers), if anywhere.
    pub listen_addr: Option<SocketAddr>,
    /// Threads that run tasks (workers).
    pub nthreads: u32,
    /// Memory limit in bytes (workers; 0 means none).
    pub memory_limit: u64,
    /// The client's process id, for logs and for nannies to match their child.
    pub pid: u32,
    /// Remote functions the client can run (workers).
    pub functions: Vec<FunctionId>,
    /// Abstract resources the client offers to tasks (workers' `--resources`).
    pub resources: crate::resources::Resources,
}

/// The server's answer to a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    /// Accepted; the id is the number the server gave this connection.
    Welcome {
        /// Worker id, client id or session number, depending on the role.
        id: u32,
        /// The server's name, for the client's logs.
        server_name: String,
    },
    /// Refused; the connection closes after this.
    Refused {
        /// Why, in words for the client's log.
        reason: String,
    },
}

/// Why a handshake failed. The connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Connecting, reading or writing failed (retrying may help).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer said nothing in time (retrying may help).
    #[error("no handshake within {0:?}")]
    Timeout(std::time::Duration),
    /// The peer is not speaking taskforce (retrying will not help).
    #[error("not a taskforce peer (bad magic bytes)")]
    NotTaskforce,
    /// The peer speaks another protocol version (retrying will not help).
    #[error("protocol version mismatch: peer speaks v{theirs}, this build speaks v{ours}")]
    VersionMismatch {
        /// Ours.
        ours: u16,
        /// Theirs.
        theirs: u16,
    },
    /// A frame broke the limits or the stream ended early.
    #[error("bad frame: {0}")]
    Frame(#[from] super::FrameError),
    /// The handshake message did not decode.
    #[error("bad handshake message: {0}")]
    Codec(#[from] super::CodecError),
    /// The token did not check out, on either side (retrying will not help).
    #[error("{reason} (peer {peer})")]
    AuthenticationFailed {
        /// The other side.
        peer: String,
        /// What failed, in words (says "authentication failed").
        reason: String,
    },
    /// TLS failed or one side spoke it and the other did not; the reason names which
    /// (retrying will not help).
    #[error("TLS with {peer} failed: {reason}")]
    Tls {
        /// The other side.
        peer: String,
        /// What failed, in words.
        reason: String,
    },
    /// The server refused us, and said why (retrying will not help).
    #[error("refused by {peer}: {reason}")]
    Refused {
        /// Who refused.
        peer: String,
        /// Their reason.
        reason: String,
    },
}

impl HandshakeError {
    /// Whether trying again later can succeed (the peer may not be up yet).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HandshakeError::Io(_) | HandshakeError::Timeout(_) | HandshakeError::Frame(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::codec;

    fn sample_hello() -> Hello {
        Hello {
            role: Role::Worker,
            name: "w1".into(),
            listen_addr: Some("127.0.0.1:4000".parse().unwrap()),
            nthreads: 2,
            memory_limit: 1 << 30,
            pid: 42,
            functions: vec![FunctionId::new("inc", 7)],
            resources: Default::default(),
        }
    }

    #[test]
    fn preamble_checks() {
        assert_eq!(check_preamble(preamble()), PreambleCheck::Compatible);
        let mut other = preamble();
        other[4] = other[4].wrapping_add(1);
        assert!(matches!(
            check_preamble(other),
            PreambleCheck::OtherVersion(_)
        ));
        assert_eq!(check_preamble(*b"GET / "), PreambleCheck::NotTaskforce);
    }

    #[test]
    fn hello_golden_bytes() {
        let bytes = codec::encode(&sample_hello()).unwrap();
        let golden: &[u8] = &[
            0, 2, b'w', b'1', 1, 0, 127, 0, 0, 1, 251, 160, 15, 2, 252, 0, 0, 0, 64, 42, 1, 3,
            b'i', b'n', b'c', 7, // resources: none
            0,
        ];
        assert_eq!(
            bytes, golden,
            "Hello encoding changed: bump PROTOCOL_VERSION"
        );
        assert_eq!(codec::decode::<Hello>(&bytes).unwrap(), sample_hello());
    }

    #[test]
    fn reply_round_trip() {
        for reply in [
            HelloReply::Welcome {
                id: 3,
                server_name: "center".into(),
            },
            HelloReply::Refused {
                reason: "no".into(),
            },
        ] {
            let bytes = codec::encode(&reply).unwrap();
            assert_eq!(codec::decode::<HelloReply>(&bytes).unwrap(), reply);
        }
    }
}
