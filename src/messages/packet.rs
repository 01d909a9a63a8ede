//! The header of every message after the handshake: a tag for request/reply matching and
//! the typed body of one link's message enum.
//!
//! Pure data: no sockets here.

use serde::{Deserialize, Serialize};

/// How a packet relates to others on the same connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tag {
    /// Fire and forget.
    Tell,
    /// A request; the peer answers with `Reply` carrying the same number.
    Ask(u64),
    /// The answer to the request with this number.
    Reply(u64),
}

/// One message's header: its tag and its body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Packet<M> {
    /// Request/reply matching.
    pub tag: Tag,
    /// The message itself.
    pub body: M,
}
