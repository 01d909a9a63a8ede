//! Server side of connections: accept, run the handshake, hand the admitted socket over.
//!
//! Every connection gets its own task, so a slow or hostile peer delays nobody. Whatever goes
//! wrong before the `Hello` is decoded closes that connection with a logged reason.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use super::handshake::{server_handshake, HandshakeError};
use crate::messages::{FrameLimits, Hello};

/// A connection whose `Hello` has been read: the owner decides to welcome or refuse it.
#[derive(Debug)]
pub struct Arrival {
    /// The socket, positioned after the client's `Hello`.
    pub stream: TcpStream,
    /// What the client said of itself.
    pub hello: Hello,
    /// Where it connects from.
    pub peer: SocketAddr,
}

/// Accepts connections forever, handing each handshaken one to `admit`.
pub async fn accept_loop<F>(
    listener: TcpListener,
    limits: FrameLimits,
    handshake_timeout: Duration,
    log_target: &'static str,
    admit: F,
) where
    F: Fn(Arrival) + Clone + Send + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(target: "taskforce::remote", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admit = admit.clone();
        actix_rt::spawn(async move {
            let mut stream = stream;
            match server_handshake(&mut stream, &limits, handshake_timeout).await {
                Ok(hello) => admit(Arrival {
                    stream,
                    hello,
                    peer,
                }),
                Err(e) => log_refusal(log_target, peer, &e),
            }
        });
    }
}

fn log_refusal(target: &'static str, peer: SocketAddr, error: &HandshakeError) {
    match error {
        HandshakeError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            debug!(target: "taskforce::remote", %peer, "connection closed during handshake")
        }
        _ => warn!(
            target: "taskforce::remote",
            %peer, listener = target, error = %error, "closing connection: handshake failed"
        ),
    }
}
