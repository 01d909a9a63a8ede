//! The service client of a process: one actor on its own thread that keeps one peer link per
//! hosting worker, numbers requests and matches the answers, parks calls for a service that
//! is moving, looks up a service whose host went away, and (in `owner.rs`) moves the
//! services this process spawned when their worker dies.
//!
//! Requests are *told* on the link with the client's own number (not asked), so the calls of
//! one caller reach the host in the order they were made, with no reply timer per call: a
//! call ends with its answer or, when the link closes, with `Restarted`.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use actix::prelude::*;
use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::debug;

use super::owner::OwnedGroup;
use super::target::{Location, Target};
use super::LOG_TARGET;
use crate::actors::remote::peer_client::{connect_peer, PeerError, PeerLink};
use crate::actors::remote::{ConnectOptions, SessionEvent, SessionId};
use crate::ids::Map;
use crate::messages::peer_link::{PeerToWorker, WorkerToPeer};
use crate::messages::service_link::{FindService, FromServiceHost, ServiceId, ToServiceHost};
use crate::service::CallFailure;

/// Calls one process may have in flight (sent or waiting for a moving service). A caller
/// at the bound waits in `submit` until an answer frees a place.
pub const MAX_CALLS_IN_FLIGHT: usize = 100_000;

/// Where an answer goes.
pub(crate) type Answer = oneshot::Sender<Result<FromServiceHost, CallFailure>>;

/// Counts calls in flight against [`MAX_CALLS_IN_FLIGHT`].
#[derive(Default)]
pub(crate) struct InFlight {
    count: Mutex<usize>,
    freed: Condvar,
}

/// One place among the calls in flight, given back when dropped.
pub(crate) struct InFlightPermit(Arc<InFlight>);

impl InFlight {
    /// Waits (blocking this thread) for a place.
    pub(crate) fn acquire(self: &Arc<Self>) -> InFlightPermit {
        let mut count = self.count.lock().expect("in-flight lock");
        while *count >= MAX_CALLS_IN_FLIGHT {
            count = self.freed.wait(count).expect("in-flight lock");
        }
        *count += 1;
        InFlightPermit(self.clone())
    }
}

impl Drop for InFlightPermit {
    fn drop(&mut self) {
        *self.0.count.lock().expect("in-flight lock") -= 1;
        self.0.freed.notify_one();
    }
}

/// A request to one worker (start, stop, find).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Request {
    pub(crate) host: SocketAddr,
    pub(crate) options: Arc<ConnectOptions>,
    pub(crate) body: ToServiceHost,
    pub(crate) answer: Answer,
}

/// A method call, routed by where its service is.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Call {
    pub(crate) target: Arc<Target>,
    pub(crate) method: u32,
    pub(crate) args: Bytes,
    pub(crate) answer: Answer,
    pub(crate) permit: InFlightPermit,
}

struct Pending {
    host: SocketAddr,
    session: Option<SessionId>,
    answer: Answer,
    target: Option<Arc<Target>>,
    _permit: Option<InFlightPermit>,
}

enum Link {
    Open(PeerLink),
    Connecting(Vec<(u64, ToServiceHost)>),
}

/// Calls parked for one service while it moves. At the bound a call fails `Restarted`.
const MAX_WAITING_CALLS: usize = 65_536;

/// The client actor (see the module docs).
pub(crate) struct ServiceClient {
    next_request: u64,
    links: Map<SocketAddr, Link>,
    sessions: Map<SessionId, SocketAddr>,
    pending: Map<u64, Pending>,
    pub(super) waiting: Map<ServiceId, Vec<Call>>,
    resolving: Map<ServiceId, ()>,
    pub(super) owned: Map<ServiceId, OwnedGroup>,
}

/// The options (the cluster's token above all) each cluster's links are made with, by the
/// center's address, and the last ones set (for handles that came from elsewhere).
static CONNECT_OPTIONS: Mutex<Option<KnownOptions>> = Mutex::new(None);

type KnownOptions = (Map<String, Arc<ConnectOptions>>, Arc<ConnectOptions>);

/// Remembers how to connect to the workers of the cluster at `center`; the executor and the
/// worker of a process call it when they start.
pub(crate) fn use_connect_options(center: &str, options: &ConnectOptions) {
    let options = Arc::new(options.clone());
    let mut known = CONNECT_OPTIONS.lock().expect("options lock");
    let (by_center, last) = known.get_or_insert_with(Default::default);
    by_center.insert(center.to_string(), options.clone());
    *last = options;
}

/// How to connect to the workers of the cluster at `center` (or, not knowing it, of the
/// last cluster this process joined).
pub(crate) fn connect_options(center: Option<&str>) -> Arc<ConnectOptions> {
    let known = CONNECT_OPTIONS.lock().expect("options lock");
    let Some((by_center, last)) = known.as_ref() else {
        return Arc::default();
    };
    center
        .and_then(|center| by_center.get(center))
        .unwrap_or(last)
        .clone()
}

/// This process's client and its in-flight count, started on first use.
pub(crate) fn client() -> &'static (Addr<ServiceClient>, Arc<InFlight>) {
    static CLIENT: OnceLock<(Addr<ServiceClient>, Arc<InFlight>)> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let (started, addr) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("taskforce-services".into())
            .spawn(move || {
                let system = actix_rt::System::new();
                system.block_on(async move {
                    let _ = started.send(ServiceClient::new().start());
                });
                system.run().expect("service client thread");
            })
            .expect("start the service client thread");
        let addr = addr.recv().expect("service client started");
        (addr, Arc::new(InFlight::default()))
    })
}

impl ServiceClient {
    fn new() -> Self {
        ServiceClient {
            next_request: 1,
            links: Map::default(),
            sessions: Map::default(),
            pending: Map::default(),
            waiting: Map::default(),
            resolving: Map::default(),
            owned: Map::default(),
        }
    }

    /// Sends `body` to `host`, connecting first if needed; `answer` gets the reply.
    pub(super) fn send(
        &mut self,
        (host, options): (SocketAddr, &ConnectOptions),
        body: ToServiceHost,
        answer: Answer,
        call: Option<(Arc<Target>, InFlightPermit)>,
        ctx: &mut Context<Self>,
    ) {
        let request = self.next_request;
        self.next_request += 1;
        let (target, permit) = call.unzip();
        let mut pending = Pending {
            host,
            session: None,
            answer,
            target,
            _permit: permit,
        };
        match self.links.get_mut(&host) {
            Some(Link::Open(link)) if link.is_connected() => {
                pending.session = Some(link.session_id());
                link.tell(PeerToWorker::Service(request, body));
            }
            Some(Link::Connecting(queue)) => queue.push((request, body)),
            _ => {
                self.links
                    .insert(host, Link::Connecting(vec![(request, body)]));
                self.connect(host, options.clone(), ctx);
            }
        }
        self.pending.insert(request, pending);
    }

    fn connect(&mut self, host: SocketAddr, options: ConnectOptions, ctx: &mut Context<Self>) {
        let owner = ctx.address().recipient();
        let name = format!("services of pid {}", std::process::id());
        let attempt = async move { connect_peer(host, name, owner, &options).await };
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(move |result, client, ctx| client.on_connected(host, result, ctx)),
        );
    }

    fn on_connected(
        &mut self,
        host: SocketAddr,
        result: Result<PeerLink, PeerError>,
        ctx: &mut Context<Self>,
    ) {
        let queued = match self.links.remove(&host) {
            Some(Link::Connecting(queued)) => queued,
            _ => Vec::new(),
        };
        match result {
            Ok(link) => {
                let session = link.session_id();
                self.sessions.insert(session, host);
                for (request, body) in queued {
                    if let Some(pending) = self.pending.get_mut(&request) {
                        pending.session = Some(session);
                    }
                    link.tell(PeerToWorker::Service(request, body));
                }
                self.links.insert(host, Link::Open(link));
            }
            Err(e) => {
                let reason = e.to_string();
                for (request, _) in queued {
                    if let Some(pending) = self.pending.remove(&request) {
                        self.fail_lost(pending, &reason);
                    }
                }
                self.host_lost(host, &reason, ctx);
            }
        }
    }

    /// A request that will have no answer because its host is gone.
    fn fail_lost(&mut self, pending: Pending, reason: &str) {
        if let Some(target) = &pending.target {
            target.lost_host(pending.host);
        }
        let failure =
            CallFailure::Restarted(format!("the worker at {} was lost: {reason}", pending.host));
        let _ = pending.answer.send(Err(failure));
    }

    fn on_answer(&mut self, request: u64, body: FromServiceHost, ctx: &mut Context<Self>) {
        if request == 0 {
            return self.on_report(body, ctx);
        }
        let Some(pending) = self.pending.remove(&request) else {
            return;
        };
        if let (FromServiceHost::Reply(Err(CallFailure::NoSuchService)), Some(target)) =
            (&body, &pending.target)
        {
            target.lost_host(pending.host);
        }
        let _ = pending.answer.send(Ok(body));
    }

    fn on_closed(&mut self, session: SessionId, reason: &str, ctx: &mut Context<Self>) {
        let Some(host) = self.sessions.remove(&session) else {
            return;
        };
        if matches!(self.links.get(&host), Some(Link::Open(link)) if link.session_id() == session) {
            self.links.remove(&host);
        }
        debug!(target: LOG_TARGET, %host, "link to a service host closed: {reason}");
        let lost: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.session == Some(session))
            .map(|(request, _)| *request)
            .collect();
        for request in lost {
            if let Some(pending) = self.pending.remove(&request) {
                self.fail_lost(pending, reason);
            }
        }
        self.host_lost(host, reason, ctx);
    }

    /// Routes a call by where its service is now.
    pub(super) fn route(&mut self, call: Call, ctx: &mut Context<Self>) {
        match call.target.location() {
            Location::At(host) => {
                let Call {
                    target,
                    method,
                    args,
                    answer,
                    permit,
                } = call;
                let body = ToServiceHost::Call {
                    service: target.id,
                    method,
                    args,
                };
                let options = target.options.clone();
                self.send((host, &options), body, answer, Some((target, permit)), ctx);
            }
            Location::Moving => self.park(call),
            Location::Unknown => {
                let target = call.target.clone();
                self.park(call);
                self.resolve(target, false, ctx);
            }
            Location::Failed(cause) => {
                let _ = call.answer.send(Err(CallFailure::Failed(cause)));
            }
            Location::Stopped => {
                let _ = call.answer.send(Err(CallFailure::Stopped));
            }
        }
    }

    fn park(&mut self, call: Call) {
        let waiting = self.waiting.entry(call.target.id).or_default();
        if waiting.len() < MAX_WAITING_CALLS {
            waiting.push(call);
        } else {
            let failure = CallFailure::Restarted("too many calls wait for it to restart".into());
            let _ = call.answer.send(Err(failure));
        }
    }

    /// Routes again the calls parked for `service` (its location changed).
    pub(super) fn release_waiting(&mut self, service: ServiceId, ctx: &mut Context<Self>) {
        for call in self.waiting.remove(&service).unwrap_or_default() {
            self.route(call, ctx);
        }
    }

    /// Asks the known workers, one after the other, which of them hosts `target` now.
    /// With `refreshed` false and a way to ask the scheduler (a handle found by name), a
    /// search that finds nothing asks for the current workers and searches them once more.
    fn resolve(&mut self, target: Arc<Target>, refreshed: bool, ctx: &mut Context<Self>) {
        if self.resolving.insert(target.id, ()).is_some() {
            return;
        }
        let mut answers = Vec::new();
        for host in target.candidates() {
            let (answer, reply) = oneshot::channel();
            let find = ToServiceHost::Find(FindService::Id(target.id));
            self.send((host, &target.options), find, answer, None, ctx);
            answers.push((host, reply));
        }
        let search = async move {
            for (host, reply) in answers {
                if let Ok(Ok(FromServiceHost::Found(Some(_)))) = reply.await {
                    return Some(host);
                }
            }
            None
        };
        ctx.spawn(search.into_actor(self).map(move |found, client, ctx| {
            client.resolving.remove(&target.id);
            match found {
                Some(host) => target.set_location(Location::At(host)),
                None if !refreshed && target.refresh.is_some() => {
                    return client.refresh_candidates(target, ctx);
                }
                None => {
                    let failure = CallFailure::Restarted(
                        "no known worker hosts it now (its owner may be restarting it)".into(),
                    );
                    for call in client.waiting.remove(&target.id).unwrap_or_default() {
                        let _ = call.answer.send(Err(failure.clone()));
                    }
                    return;
                }
            }
            client.release_waiting(target.id, ctx);
        }));
    }
}

impl ServiceClient {
    /// Asks the scheduler for the workers now (off this thread), then searches them.
    fn refresh_candidates(&mut self, target: Arc<Target>, ctx: &mut Context<Self>) {
        let Some(refresh) = target.refresh.clone() else {
            return;
        };
        let me = ctx.address();
        std::thread::spawn(move || {
            let workers = refresh();
            me.do_send(Recandidates { target, workers });
        });
    }
}

/// The workers a handle found by name may be on now.
#[derive(Message)]
#[rtype(result = "()")]
struct Recandidates {
    target: Arc<Target>,
    workers: Result<Vec<SocketAddr>, String>,
}

impl Handler<Recandidates> for ServiceClient {
    type Result = ();

    fn handle(&mut self, found: Recandidates, ctx: &mut Context<Self>) {
        if let Ok(workers) = found.workers {
            found.target.set_candidates(workers);
        }
        self.resolve(found.target, true, ctx);
    }
}

impl Actor for ServiceClient {
    type Context = Context<Self>;
}

impl Handler<Request> for ServiceClient {
    type Result = ();

    fn handle(&mut self, request: Request, ctx: &mut Context<Self>) {
        let options = request.options;
        self.send(
            (request.host, &options),
            request.body,
            request.answer,
            None,
            ctx,
        );
    }
}

impl Handler<Call> for ServiceClient {
    type Result = ();

    fn handle(&mut self, call: Call, ctx: &mut Context<Self>) {
        self.route(call, ctx);
    }
}

impl Handler<SessionEvent<WorkerToPeer>> for ServiceClient {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<WorkerToPeer>, ctx: &mut Context<Self>) {
        match event {
            SessionEvent::Received { incoming, .. } => {
                if let WorkerToPeer::Service(request, body) = incoming.body {
                    self.on_answer(request, body, ctx);
                }
            }
            SessionEvent::Closed { session, reason } => self.on_closed(session, &reason, ctx),
        }
    }
}
