//! The handshake over a real socket: preamble exchange, the token's challenge and response
//! (`crate::messages::auth`), `Hello`, `HelloReply`.
//!
//! Reads exactly what the handshake needs and nothing more, so the session that takes the
//! socket afterwards starts at a message boundary. Knows no actor.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::messages::auth::{random_nonce, AuthError, AuthMessage, ClientAuth, ServerAuth};
use crate::messages::frame::PREFIX_LEN;
use crate::messages::handshake::{
    check_preamble, preamble, PreambleCheck, HANDSHAKE_LIMITS, PREAMBLE_LEN,
};
use crate::messages::PROTOCOL_VERSION;
use crate::messages::{codec, Envelope, FrameLimits, Hello, HelloReply, Token};

use super::stream::LinkStream;

pub use crate::messages::handshake::HandshakeError;

/// The first byte a TLS client sends (a handshake record).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

async fn exchange_preambles(stream: &mut LinkStream) -> Result<(), HandshakeError> {
    stream.write_all(&preamble()).await?;
    let mut theirs = [0_u8; PREAMBLE_LEN];
    stream.read_exact(&mut theirs).await?;
    check_theirs(theirs)
}

fn check_theirs(theirs: [u8; PREAMBLE_LEN]) -> Result<(), HandshakeError> {
    match check_preamble(theirs) {
        PreambleCheck::Compatible => Ok(()),
        PreambleCheck::NotTaskforce => Err(HandshakeError::NotTaskforce),
        PreambleCheck::OtherVersion(theirs) => Err(HandshakeError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs,
        }),
    }
}

/// Reads one whole envelope, checking every length before allocating.
pub async fn read_envelope(
    stream: &mut LinkStream,
    limits: &FrameLimits,
) -> Result<Envelope, HandshakeError> {
    let mut prefix = [0_u8; PREFIX_LEN];
    stream.read_exact(&mut prefix).await?;
    let (header_len, count) = limits.check_prefix(prefix)?;
    let mut lengths = vec![0_u8; 8 * count as usize];
    stream.read_exact(&mut lengths).await?;
    let layout = limits.check_lengths(header_len, &lengths[..], count)?;
    let mut header = vec![0_u8; layout.header_len];
    stream.read_exact(&mut header).await?;
    let mut frames = Vec::with_capacity(layout.frame_lens.len());
    for len in layout.frame_lens {
        let mut frame = vec![0_u8; len];
        stream.read_exact(&mut frame).await?;
        frames.push(Bytes::from(frame));
    }
    Ok(Envelope {
        frames,
        ..Envelope::new(header)
    })
}

/// Writes one envelope.
pub async fn write_envelope(stream: &mut LinkStream, envelope: &Envelope) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(envelope.wire_len());
    envelope.put_all(&mut bytes);
    stream.write_all(&bytes).await
}

/// Encodes a reply as the envelope the server writes.
pub fn reply_envelope(reply: &HelloReply) -> Envelope {
    Envelope::new(codec::encode(reply).expect("HelloReply always encodes"))
}

/// Reads one handshake envelope (under [`HANDSHAKE_LIMITS`]) and decodes it as `T`.
async fn read_small<T: serde::de::DeserializeOwned>(
    stream: &mut LinkStream,
) -> Result<T, HandshakeError> {
    let envelope = read_envelope(stream, &HANDSHAKE_LIMITS).await?;
    Ok(codec::decode::<T>(&envelope.header)?)
}

async fn write_small<T: serde::Serialize>(
    stream: &mut LinkStream,
    message: &T,
) -> Result<(), HandshakeError> {
    write_envelope(stream, &Envelope::new(codec::encode(message)?)).await?;
    Ok(())
}

fn auth_envelope(message: &AuthMessage) -> Envelope {
    Envelope::new(codec::encode(message).expect("AuthMessage always encodes"))
}

fn auth_failure(peer: &str, error: AuthError) -> HandshakeError {
    HandshakeError::AuthenticationFailed {
        peer: peer.into(),
        reason: error.to_string(),
    }
}

/// Client side: answers the server's challenge and checks its proof ([`ClientAuth`]).
async fn client_authenticate(
    stream: &mut LinkStream,
    token: Option<&Token>,
    peer: &str,
) -> Result<(), HandshakeError> {
    let mut auth = ClientAuth::new(token.cloned(), random_nonce());
    loop {
        let message = read_small::<AuthMessage>(stream).await?;
        match auth.on_message(message) {
            Ok(Some(reply)) => write_small(stream, &reply).await?,
            Ok(None) => return Ok(()),
            Err(e) => return Err(auth_failure(peer, e)),
        }
    }
}

/// Client side: preambles, proof of the token (both ways), then `hello` and the server's
/// reply. Returns the id and server name of a `Welcome`.
pub async fn client_handshake(
    stream: &mut LinkStream,
    hello: &Hello,
    token: Option<&Token>,
    timeout: Duration,
) -> Result<(u32, String), HandshakeError> {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let exchange = async {
        exchange_preambles(stream).await?;
        client_authenticate(stream, token, &peer).await?;
        write_small(stream, hello).await?;
        read_small::<HelloReply>(stream).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(HandshakeError::Timeout(timeout)),
        Ok(Err(e)) => Err(e),
        Ok(Ok(HelloReply::Welcome { id, server_name })) => Ok((id, server_name)),
        Ok(Ok(HelloReply::Refused { reason })) => Err(HandshakeError::Refused { peer, reason }),
    }
}

/// Server side: our preamble and challenge (in one write), the client's preamble, its
/// response checked ([`ServerAuth`]), our proof, then the client's `Hello`. The caller
/// decides and replies. A client that fails authentication is told so before the error
/// returns; nothing it sends is parsed but the handshake messages, each under
/// [`HANDSHAKE_LIMITS`].
pub async fn server_handshake(
    stream: &mut LinkStream,
    token: Option<&Token>,
    timeout: Duration,
) -> Result<Hello, HandshakeError> {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let exchange = async {
        let (mut auth, challenge) = ServerAuth::new(token.cloned(), random_nonce());
        let mut opening = preamble().to_vec();
        auth_envelope(&challenge).put_all(&mut opening);
        stream.write_all(&opening).await?;
        let mut theirs = [0_u8; PREAMBLE_LEN];
        stream.read_exact(&mut theirs).await?;
        if theirs[0] == TLS_HANDSHAKE_RECORD {
            return Err(HandshakeError::Tls {
                peer: peer.clone(),
                reason: "a TLS client connected to this port, which has no TLS (start the \
                         server with --tls-cert and --tls-key, or connect without TLS)"
                    .into(),
            });
        }
        check_theirs(theirs)?;
        let response = read_small::<AuthMessage>(stream).await?;
        match auth.on_message(response) {
            Ok(accepted) => write_small(stream, &accepted).await?,
            Err(e) => {
                if e.is_denial() {
                    let denied = AuthMessage::Denied {
                        reason: e.to_string(),
                    };
                    let _ = write_small(stream, &denied).await;
                    let _ = stream.shutdown().await;
                }
                return Err(auth_failure(&peer, e));
            }
        }
        read_small::<Hello>(stream).await
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HandshakeError::Timeout(timeout))?
}

/// Server side: tells the client why it is refused and closes the connection (freeing its
/// connection slot).
pub async fn refuse(socket: impl Into<super::SessionSocket>, reason: String) {
    let mut socket = socket.into();
    let stream = socket.stream_mut();
    let envelope = reply_envelope(&HelloReply::Refused { reason });
    let _ = write_envelope(stream, &envelope).await;
    let _ = stream.shutdown().await;
}

/// Server side, on a TLS port: tells a client that opened in plain TCP, in our protocol, that
/// this port requires TLS (its preamble is read first, so the reply is not lost to a reset).
pub async fn tell_needs_tls(stream: &mut LinkStream) {
    let mut theirs = [0_u8; PREAMBLE_LEN];
    if stream.read_exact(&mut theirs).await.is_err() {
        return;
    }
    let mut reply = preamble().to_vec();
    auth_envelope(&AuthMessage::Denied {
        reason: "this port requires TLS; connect with tls://HOST:PORT, or set the \
                 cluster's CA (--tls-ca, TASKFORCE_TLS_CA) and, if it asks for one, a client \
                 certificate (TASKFORCE_TLS_CERT, TASKFORCE_TLS_KEY)"
            .into(),
    })
    .put_all(&mut reply);
    let _ = stream.write_all(&reply).await;
}
