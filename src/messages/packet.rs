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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::center_link::{HeartbeatMsg, WorkerToCenter};
    use crate::messages::codec;

    #[test]
    fn heartbeat_packet_golden_bytes() {
        let packet = Packet {
            tag: Tag::Ask(5),
            body: WorkerToCenter::Heartbeat(HeartbeatMsg {
                memory_bytes: 300,
                executing: 2,
                stored_keys: 7,
                peer_bytes_in: 0,
                stored_bytes: 1,
                peak_stored_bytes: 251,
                spilled_bytes: 0,
            }),
        };
        let bytes = codec::encode(&packet).unwrap();
        let golden: &[u8] = &[1, 5, 0, 251, 44, 1, 2, 7, 0, 1, 251, 251, 0, 0];
        assert_eq!(
            bytes, golden,
            "the wire format changed: bump PROTOCOL_VERSION"
        );
        assert_eq!(
            codec::decode::<Packet<WorkerToCenter>>(&bytes).unwrap(),
            packet
        );
    }
}
