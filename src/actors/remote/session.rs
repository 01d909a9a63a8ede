//! A session actor owns one established connection and speaks one link's message types.
//!
//! `Tx` is what this side sends, `Rx` what it receives. Received messages go to the owner as
//! [`SessionEvent::Received`]; replies to our own requests are matched by tag and never reach
//! the owner; when the connection ends for any reason the owner gets one
//! [`SessionEvent::Closed`] and every pending request fails with the reason
//! ([`RemoteError::closed`]). Both directions are bounded as [`super::bounds`] decides.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use super::bounds::{AtSendBound, BoundReached, LinkBounds};
use super::flow::{GatedRead, InboundCredit, LastRead, Receipt, SendQueue, TimedRead};
use super::idle::{self, Liveness, Tick};
use super::listen::SessionSocket;
use super::writer::run_writer;
use super::{CloseReason, ProtocolViolation, RemoteError};
use crate::messages::frame::EnvelopeDecoder;
use crate::messages::{codec, Envelope, FrameError, FrameLimits, Packet, Tag};

const LOG_TARGET: &str = "taskforce::remote";

/// How a session reads, and how it holds to its bounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionOptions {
    /// Bounds on incoming frames.
    pub limits: FrameLimits,
    /// Bounds on the queues of the session.
    pub bounds: LinkBounds,
    /// What a message that finds the send queue full does (see [`super::bounds`]).
    pub at_send_bound: AtSendBound,
}

impl SessionOptions {
    /// Options from frame limits and link bounds, closing the session at the send bound.
    pub fn new(limits: FrameLimits, bounds: LinkBounds) -> Self {
        SessionOptions {
            limits,
            bounds,
            at_send_bound: AtSendBound::Close,
        }
    }
}

impl From<FrameLimits> for SessionOptions {
    fn from(limits: FrameLimits) -> Self {
        SessionOptions::new(limits, LinkBounds::default())
    }
}

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
    /// Counts this message against the session's unhandled bound until dropped.
    receipt: Option<Receipt>,
}

impl<Rx> Incoming<Rx> {
    /// Takes the receipt that counts this message against its session's unhandled bound
    /// (see [`super::bounds`]): the session reads on only once it is dropped.
    pub fn take_receipt(&mut self) -> Option<Receipt> {
        self.receipt.take()
    }
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
    /// Bytes of it counted on their way to the mailbox (`SendQueue::enter_mailbox`).
    pub(super) counted: usize,
}

/// Close the session at a bound its proxy found reached.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct CloseAtBound(pub(super) super::BoundReached);

/// Close the connection; the owner gets `Closed` with this reason.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close(pub String);

/// Ask for the session's send queue, to wait for room on it.
#[derive(Message)]
#[rtype(result = "Arc<SendQueue>")]
pub struct SendQueueOf;

#[derive(Message)]
#[rtype(result = "()")]
struct WriterStopped(Option<std::io::Error>);

type PendingReply<Rx> = oneshot::Sender<Result<Incoming<Rx>, RemoteError>>;

/// The actor that owns one connection.
pub struct Session<Tx: WireMessage, Rx: WireMessage> {
    id: SessionId,
    peer: SocketAddr,
    /// Unbounded as a channel; held to `bounds.send_queue_bytes` by `send_queue`, which
    /// counts every envelope in it and in the writer's batch.
    outbox: Option<mpsc::UnboundedSender<Envelope>>,
    send_queue: Arc<SendQueue>,
    writer: tokio::task::JoinHandle<()>,
    at_send_bound: AtSendBound,
    inbound: Arc<InboundCredit>,
    owner: Recipient<SessionEvent<Rx>>,
    pending: HashMap<u64, PendingReply<Rx>>,
    next_tag: u64,
    close_reason: Option<CloseReason>,
    /// What the peer accepts, taken to be what this side accepts (both ends of a link are
    /// configured alike): outgoing frames are cut into pieces of its `max_frame`, and a
    /// message over its limits is not sent.
    limits: FrameLimits,
    liveness: Liveness,
    /// When the socket last gave bytes (noted by [`TimedRead`]): the peer was heard then,
    /// mid-message or not.
    last_read: Arc<LastRead>,
    /// The listener's connection slot, if this connection was accepted: freed with the
    /// session.
    _slot: Option<OwnedSemaphorePermit>,
    _tx: PhantomData<fn(Tx)>,
}

impl<Tx: WireMessage, Rx: WireMessage> Session<Tx, Rx> {
    /// Starts a session on an established (handshaken) connection. `greeting`, if any, is
    /// written before anything else (the server's `HelloReply`).
    pub fn start(
        socket: impl Into<SessionSocket>,
        owner: Recipient<SessionEvent<Rx>>,
        options: impl Into<SessionOptions>,
        greeting: Option<Envelope>,
    ) -> (SessionId, Addr<Self>) {
        let (id, addr, _) = Self::start_counted(socket.into(), owner, options.into(), greeting);
        (id, addr)
    }

    /// Like [`Session::start`], returning a [`super::Remote`] that knows the send queue
    /// (so producers can wait for room without asking the session).
    pub fn open(
        socket: impl Into<SessionSocket>,
        owner: Recipient<SessionEvent<Rx>>,
        options: impl Into<SessionOptions>,
        greeting: Option<Envelope>,
    ) -> super::Remote<Tx, Rx> {
        let (id, addr, queue) = Self::start_counted(socket.into(), owner, options.into(), greeting);
        super::Remote::with_send_queue(id, addr, queue)
    }

    fn start_counted(
        socket: SessionSocket,
        owner: Recipient<SessionEvent<Rx>>,
        options: SessionOptions,
        greeting: Option<Envelope>,
    ) -> (SessionId, Addr<Self>, Arc<SendQueue>) {
        let id = SessionId::next();
        let (stream, slot) = socket.into_parts();
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let _ = stream.tcp().set_nodelay(true);
        super::tcp_keepalive::backstop(stream.tcp(), options.bounds.idle_timeout);
        let (read_half, write_half) = tokio::io::split(stream);
        let last_read = LastRead::new();
        let read_half = TimedRead::new(read_half, last_read.clone());
        let send_queue = SendQueue::new(options.bounds.send_queue_bytes);
        let inbound = InboundCredit::new(options.bounds.unhandled_bytes);
        let (outbox, queue) = mpsc::unbounded_channel();
        if let Some(greeting) = greeting {
            let _ = send_queue.admit(greeting.wire_len(), AtSendBound::Wait);
            let _ = outbox.send(greeting);
        }
        let writer_queue = send_queue.clone();
        let session_queue = send_queue.clone();
        let mut ctx = Context::new();
        let frames = FramedRead::new(read_half, EnvelopeDecoder::new(options.limits));
        ctx.add_stream(GatedRead::new(frames, inbound.clone()));
        let liveness = Liveness::new(options.bounds.idle_timeout, Instant::now());
        ctx.run_interval(liveness.period(), |session: &mut Self, ctx| {
            session.on_tick(ctx)
        });
        let me = ctx.address();
        let writer = actix::spawn(async move {
            let result = run_writer(write_half, queue, writer_queue).await;
            me.do_send(WriterStopped(result.err()));
        });
        let session = Session {
            id,
            peer,
            outbox: Some(outbox),
            send_queue: session_queue,
            writer,
            at_send_bound: options.at_send_bound,
            inbound,
            owner: owner.clone(),
            pending: HashMap::new(),
            next_tag: 1,
            close_reason: None,
            limits: options.limits,
            liveness,
            last_read,
            _slot: slot,
            _tx: PhantomData,
        };
        let addr = super::session_watch::start_temporary(ctx, session, id, owner);
        (id, addr, send_queue)
    }

    /// Queues one message for the writer. A message over the limits is not sent: the error
    /// goes back to the caller (an ask fails with it; a tell or a reply is logged and
    /// dropped), and the connection stays up.
    fn send_packet(
        &mut self,
        tag: Tag,
        out: Outgoing<Tx>,
        ctx: &mut Context<Self>,
    ) -> Result<(), FrameError> {
        let header = match codec::encode(&Packet {
            tag,
            body: out.body,
        }) {
            Ok(header) => header,
            Err(e) => panic!("a message of this crate failed to encode: {e}"),
        };
        let envelope = Envelope {
            frames: out.frames,
            max_piece: self.limits.max_frame,
            ..Envelope::new(header)
        };
        if let Err(e) = self.limits.check_outgoing(&envelope) {
            warn!(target: LOG_TARGET, peer = %self.peer, session = self.id.0, ?tag, "not sending a message over the limits: {e}");
            return Err(e);
        }
        let already_closed = || CloseReason::Requested("connection already closed".into());
        let Some(outbox) = &self.outbox else {
            self.close(already_closed(), ctx);
            return Ok(());
        };
        if let Err(bound) = self
            .send_queue
            .admit(envelope.wire_len(), self.at_send_bound)
        {
            self.close(CloseReason::Bound(bound), ctx);
            return Ok(());
        }
        if outbox.send(envelope).is_err() {
            self.close(already_closed(), ctx);
            return Ok(());
        }
        self.liveness.sent(Instant::now());
        Ok(())
    }

    fn on_tick(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if let Some(at) = self.last_read.at() {
            self.liveness.heard(at);
        }
        match self.liveness.tick(now, self.inbound.is_full()) {
            Tick::Quiet => {}
            Tick::Keepalive => {
                if let Some(outbox) = &self.outbox {
                    let keepalive = idle::keepalive();
                    let _ = self
                        .send_queue
                        .admit(keepalive.wire_len(), AtSendBound::Wait);
                    let _ = outbox.send(keepalive);
                }
            }
            Tick::Idle => {
                let after = self.liveness.timeout();
                self.close(CloseReason::Bound(BoundReached::Idle { after }), ctx)
            }
        }
    }

    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        if self.close_reason.is_none() {
            let (peer, session) = (self.peer, self.id.0);
            match &reason {
                CloseReason::Bound(BoundReached::Idle { .. }) => {
                    info!(target: LOG_TARGET, %peer, session, %reason, "closing session")
                }
                CloseReason::Bound(_) | CloseReason::Protocol { .. } => {
                    warn!(target: LOG_TARGET, %peer, session, %reason, "closing session")
                }
                _ => debug!(target: LOG_TARGET, %peer, session, %reason, "closing session"),
            }
            self.close_reason = Some(reason);
        }
        // Nothing more is queued: a message after the close fails rather than waits. What is
        // queued is still written on a close asked for, but not to a peer that broke the
        // protocol, failed, or stopped reading: there the writer may be stuck on a full
        // socket, and aborting it frees the queue and closes the connection now.
        self.outbox = None;
        if matches!(
            self.close_reason,
            Some(CloseReason::Bound(_) | CloseReason::Protocol { .. } | CloseReason::Io { .. })
        ) {
            self.writer.abort();
        }
        ctx.stop();
    }

    fn violation(&mut self, source: ProtocolViolation, ctx: &mut Context<Self>) {
        let peer = self.peer;
        self.close(CloseReason::Protocol { peer, source }, ctx);
    }

    fn on_envelope(&mut self, envelope: Envelope, ctx: &mut Context<Self>) {
        crate::actors::test_panic::tick_session::<Rx>();
        let packet = match codec::decode::<Packet<Rx>>(&envelope.header) {
            Ok(packet) => packet,
            Err(e) => return self.violation(ProtocolViolation::Undecodable(e), ctx),
        };
        let receipt = match packet.tag {
            Tag::Reply(_) => None,
            Tag::Tell | Tag::Ask(_) => Some(self.inbound.take(envelope.wire_len())),
        };
        let incoming = |reply_tag| Incoming {
            body: packet.body,
            frames: envelope.frames,
            reply_tag,
            receipt,
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

    fn started(&mut self, ctx: &mut Context<Self>) {
        super::session_watch::close_when_owner_stops(
            ctx,
            |session| &session.owner,
            |session, ctx| session.close(CloseReason::Requested("its owner stopped".into()), ctx),
        );
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let reason = self
            .close_reason
            .take()
            .unwrap_or_else(|| CloseReason::Requested("session stopped".into()));
        self.send_queue.close();
        for (_, waiter) in self.pending.drain() {
            let _ = waiter.send(Err(RemoteError::closed(self.peer, &reason)));
        }
        self.owner.do_send(SessionEvent::Closed {
            session: self.id,
            reason: reason.to_string(),
        });
    }
}

impl<Tx: WireMessage, Rx: WireMessage> StreamHandler<Result<Envelope, FrameError>>
    for Session<Tx, Rx>
{
    fn handle(&mut self, item: Result<Envelope, FrameError>, ctx: &mut Context<Self>) {
        match item {
            Ok(envelope) => {
                self.liveness.heard(Instant::now());
                if !idle::is_keepalive(&envelope) {
                    self.on_envelope(envelope, ctx)
                }
            }
            // A TLS peer that exits closes its socket without TLS's close_notify: for us,
            // as for a plain socket, the peer closed.
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.close(CloseReason::PeerClosed, ctx)
            }
            Err(FrameError::Io(e)) => {
                let peer = self.peer;
                let source = Arc::new(e);
                self.close(CloseReason::Io { peer, source }, ctx)
            }
            Err(e) => self.violation(ProtocolViolation::Frame(Arc::new(e)), ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.close(CloseReason::PeerClosed, ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<Tell<Tx>> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: Tell<Tx>, ctx: &mut Context<Self>) {
        let _ = self.send_packet(Tag::Tell, msg.0, ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<Reply<Tx>> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: Reply<Tx>, ctx: &mut Context<Self>) {
        self.send_queue.leave_mailbox(msg.counted);
        let _ = self.send_packet(Tag::Reply(msg.tag), msg.reply, ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<CloseAtBound> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: CloseAtBound, ctx: &mut Context<Self>) {
        self.close(CloseReason::Bound(msg.0), ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<Ask<Tx, Rx>> for Session<Tx, Rx> {
    type Result = ResponseFuture<Result<Incoming<Rx>, RemoteError>>;

    fn handle(&mut self, msg: Ask<Tx, Rx>, ctx: &mut Context<Self>) -> Self::Result {
        let tag = self.next_tag;
        self.next_tag += 1;
        let (waiter, answer) = oneshot::channel();
        self.pending.insert(tag, waiter);
        if let Err(source) = self.send_packet(Tag::Ask(tag), msg.request, ctx) {
            if let Some(waiter) = self.pending.remove(&tag) {
                let peer = self.peer;
                let source = Arc::new(source);
                let _ = waiter.send(Err(RemoteError::TooLarge { peer, source }));
            }
        }
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
        self.close(CloseReason::Requested(msg.0), ctx);
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<SendQueueOf> for Session<Tx, Rx> {
    type Result = MessageResult<SendQueueOf>;

    fn handle(&mut self, _: SendQueueOf, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.send_queue.clone())
    }
}

impl<Tx: WireMessage, Rx: WireMessage> Handler<WriterStopped> for Session<Tx, Rx> {
    type Result = ();

    fn handle(&mut self, msg: WriterStopped, ctx: &mut Context<Self>) {
        let reason = match msg.0 {
            Some(e) => CloseReason::Io {
                peer: self.peer,
                source: Arc::new(e),
            },
            None => CloseReason::Requested("connection closed".into()),
        };
        self.close(reason, ctx);
    }
}
