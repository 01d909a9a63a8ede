//! [`PeerPool`]: one connection per peer address, shared by every request to that peer.
//!
//! A request finds the open link, or waits for the connection attempt already under way, or
//! starts the one attempt; so two fetches to the same peer never race to connect, and no link
//! is ever closed under a request in flight (the pool closes nothing: a link leaves it when
//! its session reports `Closed`, and the next request connects anew).

use std::future::Future;
use std::net::SocketAddr;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};

use super::peer_client::{PeerError, PeerLink};
use super::SessionId;
use crate::ids::Map;

/// A connection attempt every request to one address awaits (a clone per request).
pub type PeerAttempt = Shared<LocalBoxFuture<'static, Result<PeerLink, PeerError>>>;

/// Links to peers by address: open, or being opened. Bounded by the number of peers the
/// owner talks to (one entry per address).
#[derive(Default)]
pub struct PeerPool {
    links: Map<SocketAddr, PeerAttempt>,
}

impl PeerPool {
    /// The link to `addr`: the open one, the attempt under way, or a new attempt made with
    /// `connect` when there is neither (or the last one failed or has closed since).
    pub fn link<F, Fut>(&mut self, addr: SocketAddr, connect: F) -> PeerAttempt
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<PeerLink, PeerError>> + 'static,
    {
        if let Some(attempt) = self.links.get(&addr) {
            match attempt.peek() {
                None => return attempt.clone(),
                Some(Ok(link)) if link.is_connected() => return attempt.clone(),
                Some(_) => {}
            }
        }
        let attempt = connect().boxed_local().shared();
        self.links.insert(addr, attempt.clone());
        attempt
    }

    /// The session of a link closed: forget the link, so the next request connects anew.
    pub fn closed(&mut self, session: SessionId) {
        self.links.retain(
            |_, attempt| !matches!(attempt.peek(), Some(Ok(link)) if link.session_id() == session),
        );
    }

    /// Addresses with an open link or an attempt under way.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether no link is open or being opened.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }
}
