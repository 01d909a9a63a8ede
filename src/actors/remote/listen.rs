//! Server side of connections: accept, run the handshake, hand the admitted socket over.
//!
//! Every connection gets its own task, so a slow or hostile peer delays nobody. Whatever goes
//! wrong before the `Hello` is decoded closes that connection with a logged reason. A
//! listener holds at most `max_connections` at once; what happens past the cap is decided in
//! [`super::bounds`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use super::bounds::{BoundReached, MAX_REFUSING, REFUSAL_GRACE};
use super::handshake::{auth_envelope, server_handshake, write_envelope, HandshakeError};
use crate::messages::auth::AuthMessage;
use crate::messages::handshake::preamble;
use crate::messages::{Hello, Token};

const LOG_TARGET: &str = "taskforce::remote";

/// A connected socket, with the listener's connection slot it holds if it was accepted (the
/// slot is freed when the session that takes the socket stops).
#[derive(Debug)]
pub struct SessionSocket {
    stream: TcpStream,
    slot: Option<OwnedSemaphorePermit>,
}

impl SessionSocket {
    /// The socket and its slot.
    pub fn into_parts(self) -> (TcpStream, Option<OwnedSemaphorePermit>) {
        (self.stream, self.slot)
    }

    /// The socket, to write a last word on before dropping it.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

impl From<TcpStream> for SessionSocket {
    fn from(stream: TcpStream) -> Self {
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

/// Accepts connections forever, handing each handshaken one to `admit`; at most
/// `max_connections` are held at once, and one more is refused with the reason. With a
/// `token`, only clients that prove it get as far as their `Hello`; without one, anyone who
/// reaches the port does (a warning says so when the port is reachable from other hosts).
pub async fn accept_loop<F>(
    listener: TcpListener,
    token: Option<Token>,
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
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(target: LOG_TARGET, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            let full = BoundReached::Connections {
                max: max_connections,
            };
            warn!(target: LOG_TARGET, %peer, listener = log_target, reason = %full, "refusing connection");
            if let Ok(turn) = refusing.clone().try_acquire_owned() {
                actix_rt::spawn(async move {
                    refuse_before_hello(stream, full.to_string()).await;
                    drop(turn);
                });
            }
            continue;
        };
        let admit = admit.clone();
        let token = token.clone();
        actix_rt::spawn(async move {
            let mut stream = stream;
            match server_handshake(&mut stream, token.as_ref(), handshake_timeout).await {
                Ok(hello) => admit(Arrival {
                    stream: SessionSocket {
                        stream,
                        slot: Some(slot),
                    },
                    hello,
                    peer,
                }),
                Err(e) => log_refusal(log_target, peer, &e),
            }
        });
    }
}

/// Tells a client refused before its `Hello` why: our preamble and a `Refused` in place of
/// the challenge, which is what its handshake reads. Then waits (briefly) for the client to close, so closing
/// with its `Hello` unread does not reset the connection before it reads the reason.
async fn refuse_before_hello(mut stream: TcpStream, reason: String) {
    let words = async {
        stream.write_all(&preamble()).await?;
        write_envelope(
            &mut stream,
            &auth_envelope(&AuthMessage::Refused { reason }),
        )
        .await?;
        stream.shutdown().await?;
        let mut sink = [0_u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_GRACE, words).await;
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
        HandshakeError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            debug!(target: LOG_TARGET, %peer, "connection closed during handshake")
        }
        _ => warn!(
            target: LOG_TARGET,
            %peer, listener = target, error = %error, "closing connection: handshake failed"
        ),
    }
}
