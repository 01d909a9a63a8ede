//! A session actor owns one established connection and speaks one link's message types.
//!
//! `Tx` is what this side sends, `Rx` what it receives. Received messages go to the owner as
//! [`SessionEvent::Received`]; replies to our own requests are matched by tag and never reach
//! the owner; when the connection ends for any reason the owner gets one
//! [`SessionEvent::Closed`] and every pending request fails with `ConnectionLost`.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;

use super::writer::run_writer;
use super::RemoteError;
use crate::messages::frame::EnvelopeDecoder;
use crate::messages::{codec, Envelope, FrameError, FrameLimits, Packet, Tag};

/// Numbers every session in this process, so an owner can tell its sessions apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl SessionId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SessionId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Bounds a wire message type must meet.
pub trait WireMessage: Serialize + DeserializeOwned + Send + std::fmt::Debug + 'static {}
impl<T: Serialize + DeserializeOwned + Send + std::fmt::Debug + 'static> WireMessage for T {}

/// A message as received: body, raw data frames, and the tag to answer if it was a request.
#[derive(Debug)]
pub struct Incoming<Rx> {
    /// The decoded message.
    pub body: Rx,
    /// Raw data frames that came with it.
    pub frames: Vec<Bytes>,
    /// `Some(tag)` if the sender waits for a reply.
    pub reply_tag: Option<u64>,
}

/// What a session tells its owner.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub enum SessionEvent<Rx: 'static> {
    /// A message arrived.
    Received {
        /// Which session.
        session: SessionId,
        /// The message.
        incoming: Incoming<Rx>,
    },
    /// The connection ended; the session has stopped.
    Closed {
        /// Which session.
        session: SessionId,
        /// Why, in words for the log.
        reason: String,
    },
}

/// A message to send, with its raw data frames.
#[derive(Debug)]
pub struct Outgoing<Tx> {
    /// The message.
    pub body: Tx,
    /// Raw data frames to send beside it.
    pub frames: Vec<Bytes>,
}

impl<Tx> From<Tx> for Outgoing<Tx> {
    fn from(body: Tx) -> Self {
        Outgoing {
            body,
            frames: Vec::new(),
        }
    }
}

/// Send without waiting for an answer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Tell<Tx>(pub Outgoing<Tx>);

/// Send and wait for the peer's reply (or a timeout, or the connection's loss).
#[derive(Message)]
#[rtype(result = "Result<Incoming<Rx>, RemoteError>")]
pub struct Ask<Tx, Rx: 'static> {
    /// The request.
    pub request: Outgoing<Tx>,
    /// How long to wait for the reply.
    pub timeout: Duration,
    _rx: PhantomData<fn() -> Rx>,
}

impl<Tx, Rx> Ask<Tx, Rx> {
    /// A request that waits at most `timeout`.
    pub fn new(request: Outgoing<Tx>, timeout: Duration) -> Self {
        Ask {
            request,
            timeout,
            _rx: PhantomData,
        }
    }
}

/// Answer a request that arrived with `tag`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reply<Tx> {
    /// The request's tag.
    pub tag: u64,
    /// The answer.
    pub reply: Outgoing<Tx>,
}

/// Close the connection; the owner gets `Closed` with this reason.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close(pub String);

#[derive(Message)]
#[rtype(result = "()")]
struct WriterStopped(Option<std::io::Error>);

type PendingReply<Rx> = oneshot::Sender<Result<Incoming<Rx>, RemoteError>>;

/// The actor that owns one connection.
pub struct Session<Tx: WireMessage, Rx: WireMessage> {
    id: SessionId,
    peer: SocketAddr,
    outbox: Option<mpsc::UnboundedSender<Envelope>>,
    owner: Recipient<SessionEvent<Rx>>,
    pending: HashMap<u64, PendingReply<Rx>>,
    next_tag: u64,
    close_reason: Option<String>,
    _tx: PhantomData<fn(Tx)>,
}

impl<Tx: WireMessage, Rx: WireMessage> Session<Tx, Rx> {
    /// Starts a session on an established (handshaken) connection. `greeting`, if any, is
    /// written before anything else (the server's `HelloReply`).
    pub fn start(
        stream: TcpStream,
        owner: Recipient<SessionEvent<Rx>>,
        limits: FrameLimits,
        greeting: Option<Envelope>,
    ) -> (SessionId, Addr<Self>) {
        let id = SessionId::next();
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let _ = stream.set_nodelay(true);
        let (read_half, write_half) = stream.into_split();
        let (outbox, queue) = mpsc::unbounded_channel();
        if let Some(greeting) = greeting {
            let _ = outbox.send(greeting);
        }
        let addr = Session::create(move |ctx| {
            ctx.add_stream(FramedRead::new(read_half, EnvelopeDecoder::new(limits)));
            let me = ctx.address();
            actix::spawn(async move {
                let result = run_writer(write_half, queue).await;
                me.do_send(WriterStopped(result.err()));
            });
            Session {
                id,
                peer,
                outbox: Some(outbox),
                owner,
                pending: HashMap::new(),
                next_tag: 1,
                close_reason: None,
                _tx: PhantomData,
            }
        });
        (id, addr)
    }

    fn send_packet(&mut self, tag: Tag, out: Outgoing<Tx>, ctx: &mut Context<Self>) {
        let header = match codec::encode(&Packet {
            tag,
            body: out.body,
        }) {
            Ok(header) => header,
            Err(e) => panic!("a message of this crate failed to encode: {e}"),
        };
        let envelope = Envelope {
            header: header.into(),
            frames: out.frames,
        };
        let sent = self.outbox.as_ref().map(|queue| queue.send(envelope));
        if !matches!(sent, Some(Ok(()))) {
            self.close("connection already closed".into(), ctx);
        }
    }

    fn close(&mut self, reason: String, ctx: &mut Context<Self>) {
        if self.close_reason.is_none() {
            self.close_reason = Some(reason);
        }
        ctx.stop();
    }

    fn on_envelope(&mut self, envelope: Envelope, ctx: &mut Context<Self>) {
        let packet = match codec::decode::<Packet<Rx>>(&envelope.header) {
            Ok(packet) => packet,
            Err(e) => return self.close(format!("undecodable message: {e}"), ctx),
        };
        let incoming = |reply_tag| Incoming {
            body: packet.body,
            frames: envelope.frames,
            reply_tag,
        };
        match packet.tag {
            Tag::Reply(tag) => {
                if let Some(waiter) = self.pending.remove(&tag) {
                    let _ = waiter.send(Ok(incoming(None)));
                }
            }
            Tag::Tell => self.forward(incoming(None)),
            Tag::Ask(tag) => self.forward(incoming(Some(tag))),
        }
    }

    fn forward(&self, incoming: Incoming<Rx>) {
        self.owner.do_send(SessionEvent::Received {
            session: self.id,
            incoming,
        });
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Actor for Session<Tx, Rx> {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let reason = self
            .close_reason
            .take()
            .unwrap_or_else(|| "session stopped".into());
        for (_, waiter) in self.pending.drain() {
            let _ = waiter.send(Err(RemoteError::ConnectionLost {
                peer: self.peer,
                reason: reason.clone(),
            }));
        }
        self.owner.do_send(SessionEvent::Closed {
            session: self.id,
            reason,
        });
    }
}

impl<Tx: WireMessage, Rx: WireMessage> StreamHandler<Result<Envelope, FrameError>>
    for Session<Tx, Rx>
{
    fn handle(&mut self, item: Result<Envelope, FrameError>, ctx: &mut Context<Self>) {
        match item {
            Ok(envelope) => self.on_envelope(envelope, ctx),
            Err(FrameError::Io(e)) => {
                self.close(format!("connection to {} failed: {e}", self.peer), ctx)
            }
            Err(e) => self.close(format!("bad frame from {}: {e}", self.peer), ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.close("connection closed by peer".into(), ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<Tell<Tx>> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: Tell<Tx>, ctx: &mut Context<Self>) {
        self.send_packet(Tag::Tell, msg.0, ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<Reply<Tx>> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: Reply<Tx>, ctx: &mut Context<Self>) {
        self.send_packet(Tag::Reply(msg.tag), msg.reply, ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<Ask<Tx, Rx>> for Session<Tx, Rx> {
    type Result = ResponseFuture<Result<Incoming<Rx>, RemoteError>>;

    fn handle(&mut self, msg: Ask<Tx, Rx>, ctx: &mut Context<Self>) -> Self::Result {
        let tag = self.next_tag;
        self.next_tag += 1;
        let (waiter, answer) = oneshot::channel();
        self.pending.insert(tag, waiter);
        self.send_packet(Tag::Ask(tag), msg.request, ctx);
        let timeout = msg.timeout;
        ctx.run_later(timeout, move |session, _| {
            if let Some(waiter) = session.pending.remove(&tag) {
                let _ = waiter.send(Err(RemoteError::Timeout(timeout)));
            }
        });
        let peer = self.peer;
        Box::pin(async move {
            answer.await.unwrap_or(Err(RemoteError::ConnectionLost {
                peer,
                reason: "session stopped".into(),
            }))
        })
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<Close> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: Close, ctx: &mut Context<Self>) {
        self.close(msg.0, ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<WriterStopped> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: WriterStopped, ctx: &mut Context<Self>) {
        let reason = match msg.0 {
            Some(e) => format!("write to {} failed: {e}", self.peer),
            None => "connection closed".into(),
        };
        self.close(reason, ctx);
    }
}
