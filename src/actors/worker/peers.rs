//! The worker's peer port: other workers and executors fetch values (`GetData`) and place
//! values (`PutData`) here, and call the services it hosts (`Service`, handed to the
//! worker's `ServiceHost`). Values leave as raw frames; objects are encoded on the way out.
//!
//! The [`PeerService`] owns the connections peers opened (its sessions are its temporary
//! children: they close when it stops) and hands each request to the [`Worker`], which holds
//! the values. It keeps nothing a restart would lose but those connections, so its
//! supervisor restarts it alone; peers that lose a connection connect again.

use actix::prelude::*;
use tracing::{debug, warn};

use super::actor::{Worker, LOG_TARGET};
use super::spill::ShellOutbox;
use crate::actors::remote::handshake::reply_envelope;
use crate::actors::remote::{
    Arrival, Incoming, Remote, Session, SessionEvent, SessionId, SessionOptions,
};
use crate::actors::supervisor::StopChild;
use crate::ids::Map;
use crate::messages::peer_link::{join_value, split_value, PeerToWorker, WorkerToPeer};
use crate::messages::HelloReply;
use crate::worker_core::store::Held;

type PeerLink = Remote<WorkerToPeer, PeerToWorker>;

/// Room left beside a value alone in a data reply for the reply's header (its key and type).
const ONE_VALUE_HEADER_ROOM: u64 = 64 << 10;

/// A peer finished its handshake with this worker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AdmitPeer(pub Arrival);

/// A peer's request, for the worker to answer on `link`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ServePeer {
    /// The peer's connection.
    pub link: PeerLink,
    /// Its request.
    pub incoming: Incoming<PeerToWorker>,
}

/// The actor that owns the connections peers opened to this worker.
pub struct PeerService {
    worker: Addr<Worker>,
    name: String,
    options: SessionOptions,
    sessions: Map<SessionId, PeerLink>,
}

impl PeerService {
    /// A peer service handing requests to `worker`, greeting peers as `name`.
    pub fn new(worker: Addr<Worker>, name: String, options: SessionOptions) -> Self {
        PeerService {
            worker,
            name,
            options,
            sessions: Map::default(),
        }
    }
}

impl Actor for PeerService {
    type Context = Context<Self>;
}

impl Handler<StopChild> for PeerService {
    type Result = ();

    fn handle(&mut self, _: StopChild, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<AdmitPeer> for PeerService {
    type Result = ();

    fn handle(&mut self, AdmitPeer(arrival): AdmitPeer, ctx: &mut Context<Self>) {
        let greeting = reply_envelope(&HelloReply::Welcome {
            id: 0,
            server_name: self.name.clone(),
        });
        // Opened with its send queue, so a reply too large for it is dropped at once (and the
        // session closed) rather than held in the session's mailbox: see remote/bounds.rs.
        let link = Session::open(
            arrival.stream,
            ctx.address().recipient(),
            self.options,
            Some(greeting),
        );
        debug!(target: LOG_TARGET, peer = %arrival.peer, "peer {} connected", arrival.hello.name);
        self.sessions.insert(link.session_id(), link);
    }
}

impl Handler<SessionEvent<PeerToWorker>> for PeerService {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<PeerToWorker>, _ctx: &mut Context<Self>) {
        crate::actors::test_panic::tick("peer-service");
        match event {
            SessionEvent::Received { session, incoming } => {
                if let Some(link) = self.sessions.get(&session) {
                    let link = link.clone();
                    self.worker.do_send(ServePeer { link, incoming });
                }
            }
            SessionEvent::Closed { session, .. } => {
                self.sessions.remove(&session);
                self.worker.do_send(PeerClosed(session));
            }
        }
    }
}

impl Worker {
    fn serve_get(&mut self, link: &PeerLink, tag: u64, keys: Vec<crate::ids::TaskKey>) {
        let (mut found, mut frames, mut missing) = (Vec::new(), Vec::new(), Vec::new());
        // Values past the message limit are left unanswered: the asker asks again for them
        // (`get_data`). A first value alone over the limit is answered `TooLarge`.
        // Half the limit for several values leaves their header room to spare.
        let max = self.config.limits.max_message;
        let (budget, alone) = (max / 2, max.saturating_sub(ONE_VALUE_HEADER_ROOM));
        let mut bytes_in_reply = 0_u64;
        for key in keys {
            if !found.is_empty() && bytes_in_reply >= budget {
                break;
            }
            let encoded = match self.core.get(&key) {
                Some(Held::Memory(value)) => Some(value.encode().map_err(|e| e.to_string())),
                Some(Held::Disk) => self.spill.as_ref().map(|disk| disk.read(&key)),
                None => None,
            };
            match encoded {
                Some(Ok(value))
                    if !found.is_empty() && bytes_in_reply + value.len() as u64 > budget =>
                {
                    break;
                }
                Some(Ok(value)) if value.len() as u64 > alone => {
                    let nbytes = value.len() as u64;
                    warn!(target: LOG_TARGET, %key, nbytes, max, "a peer asked for a value larger than a message may be");
                    return link.reply(tag, WorkerToPeer::TooLarge { key, nbytes, max });
                }
                Some(Ok(value)) => {
                    bytes_in_reply += value.len() as u64;
                    let (meta, bytes) = split_value(value);
                    found.push((key, meta));
                    frames.push(bytes);
                }
                Some(Err(e)) => {
                    warn!(target: LOG_TARGET, %key, "could not encode a value for a peer: {e}");
                    missing.push(key);
                }
                None => missing.push(key),
            }
        }
        self.activity.served(bytes_in_reply);
        link.reply_with_frames(tag, WorkerToPeer::Data { found, missing }, frames);
    }

    fn serve_put(
        &mut self,
        link: &PeerLink,
        incoming: Incoming<PeerToWorker>,
        ctx: &mut Context<Self>,
    ) {
        let (PeerToWorker::PutData(metas), Some(tag)) = (incoming.body, incoming.reply_tag) else {
            return;
        };
        let values = metas
            .into_iter()
            .zip(incoming.frames)
            .map(|((key, meta), bytes)| (key, join_value(meta, bytes)))
            .collect();
        let mut out = ShellOutbox::new(self.spill.as_mut());
        let sizes = self.core.on_put(values, &mut out);
        let commands = out.commands;
        self.perform(commands, ctx);
        link.reply(tag, WorkerToPeer::Stored(sizes));
    }
}

impl Worker {
    fn serve_service(&mut self, link: PeerLink, body: PeerToWorker) {
        if let PeerToWorker::Service(request, body) = body {
            self.services.on_request(link, request, body);
        }
    }
}

impl Handler<ServePeer> for Worker {
    type Result = ();

    fn handle(&mut self, ServePeer { link, incoming }: ServePeer, ctx: &mut Context<Self>) {
        match (&incoming.body, incoming.reply_tag) {
            (PeerToWorker::GetData(keys), Some(tag)) => {
                let keys = keys.clone();
                self.serve_get(&link, tag, keys)
            }
            (PeerToWorker::PutData(_), _) => self.serve_put(&link, incoming, ctx),
            (PeerToWorker::GetData(_), None) => {}
            (PeerToWorker::Service(..), _) => self.serve_service(link, incoming.body),
        }
    }
}

/// A peer's connection to this worker closed (calls it made to services here end).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PeerClosed(pub SessionId);

impl Handler<PeerClosed> for Worker {
    type Result = ();

    fn handle(&mut self, PeerClosed(session): PeerClosed, _ctx: &mut Context<Self>) {
        self.services.on_link_closed(session);
    }
}

impl Handler<SessionEvent<WorkerToPeer>> for Worker {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<WorkerToPeer>, _ctx: &mut Context<Self>) {
        if let SessionEvent::Closed { session, .. } = event {
            self.peer_links.closed(session);
        }
    }
}
