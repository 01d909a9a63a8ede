//! The writing half of a connection: a task that drains a queue of envelopes onto the socket.
//!
//! Small messages queued together leave in one `write` (batching for free under load); large
//! data frames are written straight from their buffers, never copied into the batch.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use crate::messages::Envelope;

/// Frames at least this large are written from their own buffer.
const DIRECT_WRITE_BYTES: usize = 64 * 1024;
/// A batch is flushed once it holds this much.
const BATCH_BYTES: usize = 256 * 1024;

/// Writes every envelope from `queue` until the queue closes or the socket fails.
pub async fn run_writer(
    mut socket: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Envelope>,
) -> std::io::Result<()> {
    let mut batch = BytesMut::with_capacity(16 * 1024);
    while let Some(first) = queue.recv().await {
        put_envelope(&mut socket, &mut batch, first).await?;
        while batch.len() < BATCH_BYTES {
            match queue.try_recv() {
                Ok(next) => put_envelope(&mut socket, &mut batch, next).await?,
                Err(_) => break,
            }
        }
        flush(&mut socket, &mut batch).await?;
    }
    flush(&mut socket, &mut batch).await?;
    socket.shutdown().await
}

async fn put_envelope(
    socket: &mut OwnedWriteHalf,
    batch: &mut BytesMut,
    envelope: Envelope,
) -> std::io::Result<()> {
    envelope.put_prefix(batch);
    batch.extend_from_slice(&envelope.header);
    for frame in envelope.frames {
        put_frame(socket, batch, frame).await?;
    }
    Ok(())
}

async fn put_frame(
    socket: &mut OwnedWriteHalf,
    batch: &mut BytesMut,
    frame: Bytes,
) -> std::io::Result<()> {
    if frame.len() < DIRECT_WRITE_BYTES {
        batch.extend_from_slice(&frame);
        return Ok(());
    }
    flush(socket, batch).await?;
    socket.write_all(&frame).await
}

async fn flush(socket: &mut OwnedWriteHalf, batch: &mut BytesMut) -> std::io::Result<()> {
    if !batch.is_empty() {
        socket.write_all(batch).await?;
        batch.clear();
    }
    Ok(())
}
