//! The worker's peer port: other workers and executors fetch values (`GetData`) and place
//! values (`PutData`) here. Values leave as raw frames; objects are encoded on the way out.

use actix::prelude::*;
use tracing::{debug, warn};

use super::actor::{Worker, LOG_TARGET};
use super::spill::ShellOutbox;
use crate::actors::remote::handshake::reply_envelope;
use crate::actors::remote::{Arrival, Incoming, Session, SessionEvent, SessionId, SessionOptions};
use crate::messages::peer_link::{join_value, split_value, PeerToWorker, WorkerToPeer};
use crate::messages::HelloReply;
use crate::worker_core::store::Held;

/// Room left beside a value alone in a data reply for the reply's header (its key and type).
const ONE_VALUE_HEADER_ROOM: u64 = 64 << 10;

/// A peer finished its handshake with this worker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AdmitPeer(pub Arrival);

impl Worker {
    fn serve_get(&self, session: SessionId, tag: u64, keys: Vec<crate::ids::TaskKey>) {
        let Some(link) = self.peer_sessions.get(&session) else {
            return;
        };
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
        link.reply_with_frames(tag, WorkerToPeer::Data { found, missing }, frames);
    }

    fn serve_put(
        &mut self,
        session: SessionId,
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
        if let Some(link) = self.peer_sessions.get(&session) {
            link.reply(tag, WorkerToPeer::Stored(sizes));
        }
    }
}

impl Handler<AdmitPeer> for Worker {
    type Result = ();

    fn handle(&mut self, AdmitPeer(arrival): AdmitPeer, ctx: &mut Context<Self>) {
        let greeting = reply_envelope(&HelloReply::Welcome {
            id: 0,
            server_name: self.name(),
        });
        let limits = SessionOptions::new(self.config.limits, self.config.bounds);
        // Opened with its send queue, so a reply too large for it is dropped at once (and the
        // session closed) rather than held in the session's mailbox: see remote/bounds.rs.
        let link = Session::open(
            arrival.stream,
            ctx.address().recipient(),
            limits,
            Some(greeting),
        );
        debug!(target: LOG_TARGET, peer = %arrival.peer, "peer {} connected", arrival.hello.name);
        self.peer_sessions.insert(link.session_id(), link);
    }
}

impl Handler<SessionEvent<PeerToWorker>> for Worker {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<PeerToWorker>, ctx: &mut Context<Self>) {
        match event {
            SessionEvent::Received { session, incoming } => {
                match (&incoming.body, incoming.reply_tag) {
                    (PeerToWorker::GetData(keys), Some(tag)) => {
                        self.serve_get(session, tag, keys.clone())
                    }
                    (PeerToWorker::PutData(_), _) => self.serve_put(session, incoming, ctx),
                    (PeerToWorker::GetData(_), None) => {}
                }
            }
            SessionEvent::Closed { session, .. } => {
                self.peer_sessions.remove(&session);
            }
        }
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
