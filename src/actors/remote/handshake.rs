//! The handshake over a real socket: preamble exchange, `Hello`, `HelloReply`.
//!
//! Reads exactly what the handshake needs and nothing more, so the session that takes the
//! socket afterwards starts at a message boundary. Knows no actor.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::messages::frame::PREFIX_LEN;
use crate::messages::handshake::{check_preamble, preamble, PreambleCheck, PREAMBLE_LEN};
use crate::messages::PROTOCOL_VERSION;
use crate::messages::{codec, Envelope, FrameLimits, Hello, HelloReply};

pub use crate::messages::handshake::HandshakeError;

async fn exchange_preambles(stream: &mut TcpStream) -> Result<(), HandshakeError> {
    stream.write_all(&preamble()).await?;
    let mut theirs = [0_u8; PREAMBLE_LEN];
    stream.read_exact(&mut theirs).await?;
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
    stream: &mut TcpStream,
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
        header: Bytes::from(header),
        frames,
    })
}

/// Writes one envelope.
pub async fn write_envelope(stream: &mut TcpStream, envelope: &Envelope) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(envelope.wire_len());
    envelope.put_all(&mut bytes);
    stream.write_all(&bytes).await
}

/// Encodes a reply as the envelope the server writes.
pub fn reply_envelope(reply: &HelloReply) -> Envelope {
    Envelope::new(codec::encode(reply).expect("HelloReply always encodes"))
}

/// Client side: preambles, then `hello`, then the server's reply.
/// Returns the id and server name of a `Welcome`.
pub async fn client_handshake(
    stream: &mut TcpStream,
    hello: &Hello,
    limits: &FrameLimits,
    timeout: Duration,
) -> Result<(u32, String), HandshakeError> {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let exchange = async {
        exchange_preambles(stream).await?;
        write_envelope(stream, &Envelope::new(codec::encode(hello)?)).await?;
        let reply = read_envelope(stream, limits).await?;
        Ok::<_, HandshakeError>(codec::decode::<HelloReply>(&reply.header)?)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(HandshakeError::Timeout(timeout)),
        Ok(Err(e)) => Err(e),
        Ok(Ok(HelloReply::Welcome { id, server_name })) => Ok((id, server_name)),
        Ok(Ok(HelloReply::Refused { reason })) => Err(HandshakeError::Refused { peer, reason }),
    }
}

/// Server side: preambles, then the client's `Hello`. The caller decides and replies.
pub async fn server_handshake(
    stream: &mut TcpStream,
    limits: &FrameLimits,
    timeout: Duration,
) -> Result<Hello, HandshakeError> {
    let exchange = async {
        exchange_preambles(stream).await?;
        let hello = read_envelope(stream, limits).await?;
        Ok::<_, HandshakeError>(codec::decode::<Hello>(&hello.header)?)
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
