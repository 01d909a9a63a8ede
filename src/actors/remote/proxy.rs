//! [`Remote`]: a handle to the actor at the other end of a session, used like a local `Addr`.
//!
//! `tell` is `do_send`, `ask` is `send` with a reply matched by tag and a timeout. Callers do
//! not see sockets, tags or encoding. Neither waits for room in the send queue: a producer
//! that can wait calls [`Remote::wait_for_room`] first (see [`super::bounds`]).

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use bytes::Bytes;

use super::flow::SendQueue;
use super::session::{
    Ask, Close, CloseAtBound, Incoming, Outgoing, Reply, SendQueueOf, Session, SessionId, Tell,
    WireMessage,
};
use super::RemoteError;

/// A typed handle to a peer reached through a session.
pub struct Remote<Tx: WireMessage, Rx: WireMessage> {
    id: SessionId,
    session: Addr<Session<Tx, Rx>>,
    send_queue: Option<Arc<SendQueue>>,
}

impl<Tx: WireMessage, Rx: WireMessage> Clone for Remote<Tx, Rx> {
    fn clone(&self) -> Self {
        Remote {
            id: self.id,
            session: self.session.clone(),
            send_queue: self.send_queue.clone(),
        }
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Remote<Tx, Rx> {
    /// Wraps a running session.
    pub fn new(id: SessionId, session: Addr<Session<Tx, Rx>>) -> Self {
        Remote {
            id,
            session,
            send_queue: None,
        }
    }

    /// Wraps a running session whose send queue is known (see [`Session::open`]).
    pub fn with_send_queue(
        id: SessionId,
        session: Addr<Session<Tx, Rx>>,
        send_queue: Arc<SendQueue>,
    ) -> Self {
        Remote {
            id,
            session,
            send_queue: Some(send_queue),
        }
    }

    /// The send queue, if this handle was made with it.
    pub fn known_send_queue(&self) -> Option<Arc<SendQueue>> {
        self.send_queue.clone()
    }

    /// The session's send queue: what it holds for its writer, and its bound.
    pub async fn send_queue(&self) -> Result<Arc<SendQueue>, RemoteError> {
        match &self.send_queue {
            Some(queue) => Ok(queue.clone()),
            None => self
                .session
                .send(SendQueueOf)
                .await
                .map_err(|_| RemoteError::SessionGone),
        }
    }

    /// Waits until the send queue is under its bound (or the session closed), so that what
    /// this producer sends next is not what overflows it.
    pub async fn wait_for_room(&self) {
        if let Ok(queue) = self.send_queue().await {
            queue.room().await;
        }
    }

    /// The session this handle speaks through.
    pub fn session_id(&self) -> SessionId {
        self.id
    }

    /// Whether the connection is still open.
    pub fn is_connected(&self) -> bool {
        self.session.connected()
    }

    /// Sends a message and does not wait.
    pub fn tell(&self, body: Tx) {
        self.session.do_send(Tell(body.into()));
    }

    /// Sends a message with raw data frames and does not wait.
    pub fn tell_with_frames(&self, body: Tx, frames: Vec<Bytes>) {
        self.session.do_send(Tell(Outgoing { body, frames }));
    }

    /// Sends a request and waits for the reply, at most `timeout`.
    pub async fn ask(&self, body: Tx, timeout: Duration) -> Result<Incoming<Rx>, RemoteError> {
        self.session
            .send(Ask::new(body.into(), timeout))
            .await
            .map_err(|_| RemoteError::SessionGone)?
    }

    /// Answers a request that arrived with `tag`.
    pub fn reply(&self, tag: u64, body: Tx) {
        self.session.do_send(Reply {
            tag,
            reply: body.into(),
            counted: 0,
        });
    }

    /// Answers a request that arrived with `tag`, with raw data frames.
    /// With a known send queue, a reply that does not fit beside what is queued and waiting
    /// is dropped here, its frames freed at once, and the session closed at its bound.
    pub fn reply_with_frames(&self, tag: u64, body: Tx, frames: Vec<Bytes>) {
        let mut counted = 0;
        if let Some(queue) = &self.send_queue {
            let bytes = frames.iter().map(Bytes::len).sum();
            if let Err(bound) = queue.enter_mailbox(bytes) {
                return self.session.do_send(CloseAtBound(bound));
            }
            counted = bytes;
        }
        self.session.do_send(Reply {
            tag,
            reply: Outgoing { body, frames },
            counted,
        });
    }

    /// Sends a request with raw data frames and waits for the reply, at most `timeout`.
    pub async fn ask_with_frames(
        &self,
        body: Tx,
        frames: Vec<Bytes>,
        timeout: Duration,
    ) -> Result<Incoming<Rx>, RemoteError> {
        self.session
            .send(Ask::new(Outgoing { body, frames }, timeout))
            .await
            .map_err(|_| RemoteError::SessionGone)?
    }

    /// Closes the connection after what is already queued has been written.
    pub fn close(&self, reason: impl Into<String>) {
        self.session.do_send(Close(reason.into()));
    }
}
