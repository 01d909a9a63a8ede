//! Server side of connections: accept, run the handshake, hand the admitted socket over.
//!
//! Every connection gets its own task, so a slow or hostile peer delays nobody. Whatever goes
//! wrong before the `Hello` is decoded (a missing or wrong token among it) closes that
//! connection with a logged reason naming the peer. How many connections may be in their
//! handshake, and how many admitted, is decided in [`super::bounds`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use tracing::{debug, warn};

use super::bounds::{BoundReached, MAX_HANDSHAKING};
use super::handshake::{refuse, server_handshake, HandshakeError};
use super::stream::{secure_server, LinkStream};
use super::tls::Tls;
use crate::messages::{Hello, Token};

const LOG_TARGET: &str = "taskforce::remote";

/// A connected socket, with the listener's connection slot it holds if it was accepted (the
/// slot is freed when the session that takes the socket stops).
#[derive(Debug)]
pub struct SessionSocket {
    stream: LinkStream,
    slot: Option<OwnedSemaphorePermit>,
}

impl SessionSocket {
    /// The socket and its slot.
    pub fn into_parts(self) -> (LinkStream, Option<OwnedSemaphorePermit>) {
        (self.stream, self.slot)
    }

    /// The socket, to write a last word on before dropping it.
    pub fn stream_mut(&mut self) -> &mut LinkStream {
        &mut self.stream
    }
}

impl From<TcpStream> for SessionSocket {
    fn from(stream: TcpStream) -> Self {
        LinkStream::Plain(stream).into()
    }
}

impl From<LinkStream> for SessionSocket {
    fn from(stream: LinkStream) -> Self {
        SessionSocket { stream, slot: None }
    }
}

/// A connection whose `Hello` has been read: the owner decides to welcome or refuse it.
#[derive(Debug)]
pub struct Arrival {
    /// The socket, positioned after the client's `Hello`, holding its connection slot.
    pub stream: SessionSocket,
    /// What the client said of itself.
    pub hello: Hello,
    /// Where it connects from.
    pub peer: SocketAddr,
}

/// Accepts connections forever, handing each handshaken one to `admit`. With `tls`, each
/// connection first completes a TLS handshake (with a client certificate if `tls` has a CA);
/// a client that does not start one is told that the port requires TLS. With a `token`, only
/// clients that prove it get as far as their `Hello`; without one, anyone who reaches the
/// port does (a warning says so when the port is reachable from other hosts). At most
/// [`MAX_HANDSHAKING`] connections are in their handshake at once (the oldest is dropped for
/// a new one), and at most `max_connections` are admitted at once (one more is refused with
/// the reason): see [`super::bounds`].
pub async fn accept_loop<F>(
    listener: TcpListener,
    token: Option<Token>,
    tls: Option<Tls>,
    handshake_timeout: Duration,
    max_connections: usize,
    log_target: &'static str,
    admit: F,
) where
    F: Fn(Arrival) + Clone + Send + 'static,
{
    if let Ok(addr) = listener.local_addr() {
        warn_if_open(log_target, addr, token.as_ref());
    }
    let slots = Arc::new(Semaphore::new(max_connections));
    let at_cap = Arc::new(OnceUntilReset::default());
    let accept_failing = OnceUntilReset::default();
    let handshaking = Arc::new(Mutex::new(Handshaking::default()));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                accept_failing.reset();
                accepted
            }
            Err(e) => {
                if accept_failing.first() {
                    warn!(
                        target: LOG_TARGET, listener = log_target, error = %e,
                        "accept failed (out of file descriptors?); retrying every 50 ms, logged \
                         again once accepting works and fails anew"
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admit = admit.clone();
        let token = token.clone();
        let tls = tls.clone();
        let slots = slots.clone();
        let at_cap = at_cap.clone();
        let pool = handshaking.clone();
        // Held across the spawn: the task's own removal (on its first poll, at the earliest)
        // finds its entry.
        let mut running = handshaking.lock().expect("handshake pool lock");
        let id = running.make_room(log_target);
        let task = actix_rt::spawn(async move {
            let shake = async {
                let mut stream = secure_server(stream, tls.as_ref(), peer).await?;
                let hello = server_handshake(&mut stream, token.as_ref(), handshake_timeout).await;
                Ok((stream, hello?))
            };
            // One deadline for TLS and our handshake together; the latter has its own too.
            let outcome = tokio::time::timeout(handshake_timeout, shake)
                .await
                .unwrap_or(Err(HandshakeError::Timeout(handshake_timeout)));
            pool.lock().expect("handshake pool lock").finished(id);
            match outcome {
                Ok((stream, hello)) => {
                    let cap = Cap {
                        slots: &slots,
                        max: max_connections,
                        logged: &at_cap,
                    };
                    admit_or_refuse(stream, hello, peer, cap, log_target, &admit)
                }
                Err(e) => log_refusal(log_target, peer, &e),
            }
        });
        running.started(id, task.abort_handle());
    }
}

/// The connections in their handshake, oldest first.
#[derive(Default)]
struct Handshaking {
    next_id: u64,
    running: VecDeque<(u64, AbortHandle)>,
    dropped: u64,
}

impl Handshaking {
    /// A number for a new handshake, dropping the oldest one if the pool is full (its socket
    /// closes: a client that authenticates takes a round trip or two, a flood of strangers
    /// has to outpace that to crowd it out). Logs the first drop, then every 1000th.
    fn make_room(&mut self, listener: &'static str) -> u64 {
        if self.running.len() >= MAX_HANDSHAKING {
            if let Some((_, oldest)) = self.running.pop_front() {
                oldest.abort();
                if self.dropped % 1000 == 0 {
                    warn!(
                        target: LOG_TARGET,
                        %listener, dropped = self.dropped + 1,
                        "{MAX_HANDSHAKING} connections in their handshake; dropping the oldest"
                    );
                }
                self.dropped += 1;
            }
        }
        self.next_id += 1;
        self.next_id
    }

    fn started(&mut self, id: u64, task: AbortHandle) {
        self.running.push_back((id, task));
    }

    fn finished(&mut self, id: u64) {
        self.running.retain(|(other, _)| *other != id);
    }
}

/// A condition logged once when it starts, not at every occurrence.
#[derive(Default)]
struct OnceUntilReset(AtomicBool);

impl OnceUntilReset {
    /// Whether this occurrence is the first since the last reset.
    fn first(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }

    /// The condition ended; its next occurrence is logged.
    fn reset(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// A listener's connection slots, and whether reaching them has been logged.
struct Cap<'a> {
    slots: &'a Arc<Semaphore>,
    max: usize,
    logged: &'a OnceUntilReset,
}

/// Hands a handshaken connection to `admit` with a connection slot, or refuses it with the
/// reason when the listener is at its cap (one warning when the cap is reached; the next
/// admitted connection re-arms it).
fn admit_or_refuse<F: Fn(Arrival)>(
    stream: LinkStream,
    hello: Hello,
    peer: SocketAddr,
    cap: Cap<'_>,
    log_target: &'static str,
    admit: &F,
) {
    let Ok(slot) = cap.slots.clone().try_acquire_owned() else {
        let full = BoundReached::Connections { max: cap.max };
        if cap.logged.first() {
            warn!(
                target: LOG_TARGET, %peer, listener = log_target, reason = %full,
                "refusing connections until one closes (logged once until then)"
            );
        } else {
            debug!(target: LOG_TARGET, %peer, listener = log_target, "refusing connection: at the cap");
        }
        actix_rt::spawn(refuse(stream, full.to_string()));
        return;
    };
    cap.logged.reset();
    admit(Arrival {
        stream: SessionSocket {
            stream,
            slot: Some(slot),
        },
        hello,
        peer,
    });
}

/// Warns, once per listener, that a listener without a token on a non-loopback address
/// admits anyone who can reach it.
fn warn_if_open(listener: &'static str, addr: SocketAddr, token: Option<&Token>) {
    if token.is_none() && !addr.ip().is_loopback() {
        warn!(
            target: LOG_TARGET,
            %listener, %addr,
            "listening without a token on an address other hosts can reach: anyone who reaches \
             it can join or steer this cluster; run with --token or TASKFORCE_TOKEN unless the \
             network is trusted"
        );
    }
}

fn log_refusal(target: &'static str, peer: SocketAddr, error: &HandshakeError) {
    match error {
        HandshakeError::AuthenticationFailed { reason, .. } => warn!(
            target: LOG_TARGET,
            %peer, listener = target, %reason, "authentication failed; connection closed"
        ),
        HandshakeError::Tls { reason, .. } => warn!(
            target: LOG_TARGET,
            %peer, listener = target, %reason, "TLS failed; connection closed"
        ),
        HandshakeError::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            debug!(target: LOG_TARGET, %peer, "connection closed during handshake")
        }
        _ => warn!(
            target: LOG_TARGET,
            %peer, listener = target, error = %error, "closing connection: handshake failed"
        ),
    }
}
