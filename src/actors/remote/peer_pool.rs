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

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use actix::prelude::*;

    use super::*;
    use crate::actors::remote::peer_client::{connect_peer, get_data};
    use crate::actors::remote::{ConnectOptions, SessionEvent};
    use crate::actors::worker::{self, WorkerConfig};
    use crate::ids::TaskKey;
    use crate::messages::peer_link::WorkerToPeer;

    /// Owns the client side of the sessions; counts those that closed.
    struct Owner {
        closed: Rc<Cell<usize>>,
    }

    impl Actor for Owner {
        type Context = Context<Self>;
    }

    impl Handler<SessionEvent<WorkerToPeer>> for Owner {
        type Result = ();

        fn handle(&mut self, event: SessionEvent<WorkerToPeer>, _: &mut Context<Self>) {
            if let SessionEvent::Closed { .. } = event {
                self.closed.set(self.closed.get() + 1);
            }
        }
    }

    /// Asks the pool for a link to `addr`, counting the connection attempts it makes.
    fn link(
        pool: &mut PeerPool,
        addr: SocketAddr,
        owner: &Addr<Owner>,
        attempts: &Rc<Cell<usize>>,
    ) -> PeerAttempt {
        let (owner, attempts) = (owner.clone().recipient(), attempts.clone());
        pool.link(addr, move || {
            attempts.set(attempts.get() + 1);
            async move { connect_peer(addr, "test".into(), owner, &ConnectOptions::default()).await }
        })
    }

    /// The quickstart's race: requests to one peer issued before any connection is up. Each
    /// used to connect on its own, and keeping the newest link closed the others under their
    /// requests ("a newer connection to the same peer replaced it").
    #[test]
    fn concurrent_requests_to_one_peer_share_one_connection() {
        System::new().block_on(async {
            let mut config = WorkerConfig::new("127.0.0.1:9");
            config.host = [127, 0, 0, 1].into();
            config.nthreads = 1;
            let worker = worker::start(config).await.expect("worker starts");
            let closed = Rc::new(Cell::new(0));
            let owner = Owner {
                closed: closed.clone(),
            }
            .start();
            let attempts = Rc::new(Cell::new(0));
            let mut pool = PeerPool::default();
            let addr = worker.addr;
            let requests: Vec<_> = (0..16)
                .map(|i| {
                    let link = link(&mut pool, addr, &owner, &attempts);
                    async move {
                        let link = link.await?;
                        get_data(&link, addr, vec![TaskKey::new(format!("k{i}"))]).await
                    }
                })
                .collect();
            for result in futures_util::future::join_all(requests).await {
                let fetched = result.expect("no request fails");
                assert_eq!(fetched.missing.len(), 1, "the worker answered");
            }
            assert_eq!(attempts.get(), 1, "one connection attempt per address");
            assert_eq!((pool.len(), closed.get()), (1, 0), "the link stays open");

            // A closed link leaves the pool; the next request connects anew.
            let open = link(&mut pool, addr, &owner, &attempts)
                .await
                .expect("open");
            assert_eq!(attempts.get(), 1, "the open link is reused");
            open.close("test closes it");
            let deadline = Instant::now() + Duration::from_secs(30);
            while closed.get() == 0 {
                assert!(Instant::now() < deadline, "the session never closed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            pool.closed(open.session_id());
            assert!(pool.is_empty());
            let again = link(&mut pool, addr, &owner, &attempts).await;
            assert!(again.is_ok() && attempts.get() == 2, "connected anew");
        });
    }
}
