//! The writing half of a connection: a task that drains a queue of envelopes onto the socket.
//!
//! Small messages queued together leave in one `write` (batching for free under load); large
//! data frames are written straight from their buffers, never copied into the batch. Every
//! envelope is counted off the session's [`SendQueue`] only once its bytes are on the socket,
//! so the count covers the batch too.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::io::WriteHalf;
use tokio::sync::mpsc;

use super::flow::SendQueue;
use super::stream::LinkStream;
use crate::messages::Envelope;

/// Frames at least this large are written from their own buffer.
const DIRECT_WRITE_BYTES: usize = 64 * 1024;
/// A batch is flushed once it holds this much.
const BATCH_BYTES: usize = 256 * 1024;

/// The socket and the bytes written to it but not yet counted off the queue.
struct Outlet<'a> {
    socket: WriteHalf<LinkStream>,
    batch: BytesMut,
    uncounted: usize,
    counter: &'a SendQueue,
}

/// Writes every envelope from `queue` until the queue closes or the socket fails.
pub async fn run_writer(
    socket: WriteHalf<LinkStream>,
    mut queue: mpsc::UnboundedReceiver<Envelope>,
    counter: std::sync::Arc<SendQueue>,
) -> std::io::Result<()> {
    let mut outlet = Outlet {
        socket,
        batch: BytesMut::with_capacity(16 * 1024),
        uncounted: 0,
        counter: &counter,
    };
    while let Some(first) = queue.recv().await {
        outlet.put_envelope(first).await?;
        while outlet.batch.len() < BATCH_BYTES {
            match queue.try_recv() {
                Ok(next) => outlet.put_envelope(next).await?,
                Err(_) => break,
            }
        }
        outlet.flush().await?;
    }
    outlet.flush().await?;
    outlet.socket.shutdown().await
}

impl Outlet<'_> {
    async fn put_envelope(&mut self, envelope: Envelope) -> std::io::Result<()> {
        self.uncounted += envelope.wire_len();
        envelope.put_prefix(&mut self.batch);
        self.batch.extend_from_slice(&envelope.header);
        for frame in envelope.frames {
            self.put_frame(frame).await?;
        }
        Ok(())
    }

    async fn put_frame(&mut self, frame: Bytes) -> std::io::Result<()> {
        if frame.len() < DIRECT_WRITE_BYTES {
            self.batch.extend_from_slice(&frame);
            return Ok(());
        }
        self.write_batch().await?;
        self.socket.write_all(&frame).await
    }

    async fn write_batch(&mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() {
            self.socket.write_all(&self.batch).await?;
            self.batch.clear();
        }
        Ok(())
    }

    /// Writes the batch and counts everything written so far off the queue.
    async fn flush(&mut self) -> std::io::Result<()> {
        self.write_batch().await?;
        // TLS may hold written bytes in its own buffer; on plain TCP this does nothing.
        self.socket.flush().await?;
        self.counter.written(std::mem::take(&mut self.uncounted));
        Ok(())
    }
}
