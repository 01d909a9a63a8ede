//! Every bound of the remote layer, and what happens when it is reached: the one place that
//! decides it. The mechanisms live next to the queues they guard (`flow.rs`, `listen.rs`);
//! this module is the policy they follow. Knows no actor.
//!
//! # Send queue of a session ([`LinkBounds::send_queue_bytes`], default 512 MiB)
//!
//! Each session's messages wait, encoded, for its writer task; the bytes waiting (including
//! the writer's current batch, until it reaches the socket) are counted. A message is admitted
//! if it fits under the bound, or if the queue is empty, so one message larger than the bound
//! (a big value) still travels, alone. What happens to a message that does not fit is chosen
//! per session ([`AtSendBound`]):
//! - [`AtSendBound::Close`] (every session by default): the session closes at once (its
//!   writer is stopped and the queue freed), logs a warning naming the bound, its owner gets
//!   `Closed`, and pending requests fail with `RemoteError::Overloaded`. The producers of
//!   these sessions are actor handlers that cannot wait, and a peer this far behind has
//!   stopped reading: it is treated as gone, which its owner already knows how to handle (a
//!   lost worker, a departed executor).
//! - [`AtSendBound::Wait`] (the executor's link to the scheduler): producers that can wait
//!   (the user's `submit`, `map`, `compute` and requests, blocking their thread) wait until
//!   the queue is under the bound before they send ([`super::Remote::wait_for_room`],
//!   [`super::SendQueue::wait_for_room_blocking`]); messages from handlers that cannot wait
//!   (releases) are admitted regardless and counted. Each waiting producer passes the bound by
//!   at most its one message. The peer client's requests (fetches, scatters) wait for room
//!   too, on every session, for at most as long as a request may take.
//!
//! # Received messages not yet handled ([`LinkBounds::unhandled_bytes`], default 64 MiB)
//!
//! A session hands each received message to its owner's mailbox, which actix does not bound.
//! The session counts the bytes of messages its owner has not finished with (the count drops
//! when the owner drops the [`super::Incoming`]) and stops reading its socket while the count
//! is at the bound, so the kernel's buffers fill and TCP slows the sender. This is how an
//! executor that submits faster than the scheduler handles its graphs is slowed: the
//! scheduler stops reading it, the executor's send queue (policy `Wait`) fills, and its next
//! `submit` waits. A message is always read when nothing is unhandled, so one message larger
//! than the bound still arrives. Replies to our own requests are not counted: the requester
//! takes them at once. An owner may keep a message's [`super::Receipt`]
//! ([`super::Incoming::take_receipt`]) past its handler to keep counting it.
//!
//! What the scheduler holds once it has read a graph is the graph itself, as long as the
//! executor holds futures for it (as in Dask): that is the user's own working set, not a
//! queue, and it is not bounded here. Holding receipts while the scheduler's backlog of
//! unfinished tasks is over a bound would bound it, but would also stop the releases and
//! cancels that shrink it; that is a scheduling decision, left to the scheduler.
//!
//! # Connections in their handshake ([`MAX_HANDSHAKING`], 128 per listener)
//!
//! Before its handshake completes, a connection is a stranger: it may send only the small
//! handshake messages (`HANDSHAKE_LIMITS`, 64 KiB each), within the handshake deadline, and
//! at most [`MAX_HANDSHAKING`] are in their handshake at once. A new connection that finds
//! the pool full drops the oldest one (its socket closes; a warning is logged on the first
//! drop and every 1000th). So a flood of strangers holds at most that many sockets, never
//! fills the admitted connections' slots, and must open connections faster than a real
//! client completes its handshake (a round trip or three) to crowd it out.
//!
//! # Connections per listener ([`LinkBounds::max_connections`], default 1024)
//!
//! Each admitted connection (handshake done, token proved) holds a slot until its session
//! stops (mini-redis's `MAX_CONNECTIONS` semaphore). A connection that finds no slot is
//! refused: it is sent a `Refused` reply naming the limit (so the client reports "refused by
//! ...: at its limit of N connections" rather than a reset). One warning is logged when the
//! listener reaches its cap, not one per refused connection; the next connection admitted
//! re-arms it. Accept failures (out of file descriptors) are logged the same way.
//!
//! # Idle sessions ([`LinkBounds::idle_timeout`], default 5 min)
//!
//! A session that receives nothing, not a byte, for the idle period closes, logged at info,
//! freeing its slot: a client holding the token cannot keep slots with connections it never
//! uses. Live ends are never idle, however quiet their owners: each session sends a keepalive
//! when it has sent nothing for 1 s ([`super::idle`]). On the side that opened a connection
//! the same period is the heartbeat deadline (`ConnectOptions::heartbeat_timeout`, default
//! 30 s, at least 5 s): a center or peer silent that long is lost, as if it had closed. Time
//! during which we stop reading (the owner is behind) does not count, and every byte read
//! counts as heard, so one large message arriving slowly over a slow link is not silence.
//!
//! # Frames (`FrameLimits`, in `crate::messages`)
//!
//! The sizes of incoming headers and frames are checked before allocation; a frame over its
//! limit is a protocol violation and closes that session only.

use std::time::Duration;

/// Default bound on the bytes a session holds for its writer.
pub const DEFAULT_SEND_QUEUE_BYTES: usize = 512 << 20;
/// Default bound on the bytes of received messages the owner has not handled yet.
pub const DEFAULT_UNHANDLED_BYTES: usize = 64 << 20;
/// Default cap on the connections a listener holds at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Connections a listener lets be in their handshake at once; a new one drops the oldest.
pub const MAX_HANDSHAKING: usize = 128;

/// The bounds of a link, with the defaults above. Part of the center's, the worker's and the
/// connecting side's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkBounds {
    /// Bytes a session may hold for its writer (default 512 MiB); see the module docs for
    /// what happens at the bound.
    pub send_queue_bytes: usize,
    /// Bytes of received messages the owner may have pending before the session stops
    /// reading (default 64 MiB).
    pub unhandled_bytes: usize,
    /// Connections a listener holds at once (default 1024); more are refused.
    pub max_connections: usize,
    /// A session that receives nothing, not even a keepalive, for this long closes
    /// (default 5 min; 30 s in `ConnectOptions`, where it is the heartbeat deadline; live
    /// ends send keepalives, see [`super::idle`]).
    pub idle_timeout: Duration,
}

impl Default for LinkBounds {
    fn default() -> Self {
        LinkBounds {
            send_queue_bytes: DEFAULT_SEND_QUEUE_BYTES,
            unhandled_bytes: DEFAULT_UNHANDLED_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: super::idle::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// What a session does with a message that finds its send queue at the bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AtSendBound {
    /// Close the session: the peer is not reading (the default).
    #[default]
    Close,
    /// Admit it: its producer waited for room, or it is a small control message.
    Wait,
}

/// A bound of the remote layer was reached; the words name the bound and its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoundReached {
    /// A session's send queue is full: the peer is not reading fast enough.
    #[error(
        "send queue bound reached: {queued} bytes queued and {incoming} more to send, over the \
         bound of {bound} bytes (the peer is not reading)"
    )]
    SendQueue {
        /// Bytes queued when the message came.
        queued: usize,
        /// The message's size.
        incoming: usize,
        /// The bound.
        bound: usize,
    },
    /// A listener holds as many connections as it may.
    #[error("at its limit of {max} connections")]
    Connections {
        /// The cap.
        max: usize,
    },
    /// Nothing came from the peer, not even a keepalive, for the idle period.
    #[error("silent: nothing received, not even a keepalive, for {after:?}")]
    Idle {
        /// The idle period.
        after: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_bound() {
        let full = BoundReached::SendQueue {
            queued: 10,
            incoming: 5,
            bound: 12,
        };
        assert_eq!(
            full.to_string(),
            "send queue bound reached: 10 bytes queued and 5 more to send, over the bound of \
             12 bytes (the peer is not reading)"
        );
        let cap = BoundReached::Connections { max: 3 };
        assert_eq!(cap.to_string(), "at its limit of 3 connections");
    }
}
