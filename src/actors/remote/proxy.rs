//! [`Remote`]: a handle to the actor at the other end of a session, used like a local `Addr`.
//!
//! `tell` is `do_send`, `ask` is `send` with a reply matched by tag and a timeout. Callers do
//! not see sockets, tags or encoding.

use std::time::Duration;

use actix::Addr;
use bytes::Bytes;

use super::session::{
    Ask, Close, Incoming, Outgoing, Reply, Session, SessionId, Tell, WireMessage,
};
use super::RemoteError;

/// A typed handle to a peer reached through a session.
pub struct Remote<Tx: WireMessage, Rx: WireMessage> {
    id: SessionId,
    session: Addr<Session<Tx, Rx>>,
}

impl<Tx: WireMessage, Rx: WireMessage> Clone for Remote<Tx, Rx> {
    fn clone(&self) -> Self {
        Remote {
            id: self.id,
            session: self.session.clone(),
        }
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Remote<Tx, Rx> {
    /// Wraps a running session.
    pub fn new(id: SessionId, session: Addr<Session<Tx, Rx>>) -> Self {
        Remote { id, session }
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
        });
    }

    /// Answers a request that arrived with `tag`, with raw data frames.
    pub fn reply_with_frames(&self, tag: u64, body: Tx, frames: Vec<Bytes>) {
        self.session.do_send(Reply {
            tag,
            reply: Outgoing { body, frames },
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
