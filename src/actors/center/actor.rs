//! The center's actix shell: admits connections, feeds [`CenterState`], logs what happened.
//!
//! Handlers here only translate between the network and the state machine.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::{debug, info, warn};

use super::state::{CenterState, LeaveReason, WorkerInfo};
use super::tree::MemberTrees;
use super::CenterConfig;
use crate::actors::remote::handshake::refuse;
use crate::actors::remote::handshake::reply_envelope;
use crate::actors::remote::{Arrival, Remote, Session, SessionEvent, SessionId, SessionOptions};
use crate::actors::scheduler::{
    AdmitExecutor, AttachCenter, NannyGaveUp, Scheduler, WorkerActivity, WorkerHolds, WorkerJoined,
    WorkerLeft, WorkerLoad, WorkerTaskEvents,
};
use crate::actors::supervisor::StopChild;
use crate::ids::{Map, Set, WorkerId};
use crate::messages::center_link::{
    CenterToWorker, ShutdownMsg, WorkerDescription, WorkerToCenter,
};
use crate::messages::nanny_link::{CenterToNanny, DeathCause, NannyToCenter};
use crate::messages::tree::TreeNode;
use crate::messages::{Hello, HelloReply, Role};

/// Logs of this actor appear under the role's name.
const LOG_TARGET: &str = "taskforce::center";

type WorkerLink = Remote<CenterToWorker, WorkerToCenter>;
type NannyLink = Remote<CenterToNanny, NannyToCenter>;

/// The center actor.
pub struct Center {
    config: CenterConfig,
    scheduler: Addr<Scheduler>,
    state: CenterState,
    worker_sessions: Map<SessionId, WorkerId>,
    worker_links: Map<WorkerId, WorkerLink>,
    nannies: Map<SessionId, NannyEntry>,
    /// How watched worker processes ended, by pid, as their nannies reported it before the
    /// center saw the worker leave. At most [`MAX_EXIT_REPORTS`]; at the bound it is
    /// cleared (a cleared report only makes one error vaguer).
    exit_reports: Map<u32, DeathCause>,
    /// Pids among `exit_reports` whose nanny said it is starting a new worker (cleared with
    /// them), so the dashboard shows "restarting" rather than "dead".
    restarting: Set<u32>,
    /// Watched workers whose connection closed before their nanny's report, by pid: they
    /// leave when the report comes or after [`NANNY_REPORT_GRACE`].
    awaiting_report: Map<u32, (WorkerId, String)>,
    /// Where the members' trees are published for status reports, and each worker
    /// process's own tree as it last reported it.
    members: MemberTrees,
    worker_trees: Map<WorkerId, TreeNode>,
}

/// How long a watched worker whose connection closed waits for its nanny to say how it
/// ended before it leaves with what the center saw.
const NANNY_REPORT_GRACE: Duration = Duration::from_secs(2);

/// The most exit reports kept for workers the center has not yet seen leave.
const MAX_EXIT_REPORTS: usize = 256;

/// A connected nanny: its name, its link, and the pid of the worker process it watches
/// (from its last `WorkerStarted`), by which the center knows which worker is whose.
struct NannyEntry {
    name: String,
    link: NannyLink,
    child_pid: Option<u32>,
    /// How often it restarted its worker, and how the worker last ended, as it reported.
    restarts: u32,
    last_exit: Option<String>,
}

/// A connection finished its handshake and asks to be admitted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Admit(pub Arrival);

/// Asks every nanny to replace its worker process, and every worker no connected nanny
/// watches to shut down; answers how many nannies were asked (how many fresh workers to
/// expect).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct RestartWorkers;

/// Stops these workers for good (`Executor::retire_workers`, their data already copied
/// elsewhere): a worker a nanny watches is stopped by its nanny, which then closes instead of
/// starting another; any other worker is asked to shut down.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetireWorkers(pub Vec<crate::ids::WorkerId>);

impl Center {
    /// A center with no members yet, reporting to `scheduler`.
    pub fn new(config: CenterConfig, scheduler: Addr<Scheduler>) -> Self {
        Center {
            scheduler,
            state: CenterState::new(config.worker_ttl),
            config,
            worker_sessions: Map::default(),
            worker_links: Map::default(),
            nannies: Map::default(),
            exit_reports: Map::default(),
            restarting: Set::default(),
            awaiting_report: Map::default(),
            members: MemberTrees::default(),
            worker_trees: Map::default(),
        }
    }

    /// Publishes the members' trees (nannies, workers) to `members` as they change.
    pub fn publishing(mut self, members: MemberTrees) -> Self {
        self.members = members;
        self
    }

    /// Each nanny with its worker under it, then the workers no connected nanny watches.
    /// Linear in the members (a worker is found by its pid), since it runs at each join.
    fn publish_members(&self) {
        let mut workers = self.state.workers();
        workers.sort_by_key(|w| w.id);
        let mut by_pid: Map<u32, &WorkerInfo> =
            workers.iter().map(|w| (w.description.pid, *w)).collect();
        let mut nannies: Vec<&NannyEntry> = self.nannies.values().collect();
        nannies.sort_by(|a, b| a.name.cmp(&b.name));
        let mut trees: Vec<TreeNode> = nannies
            .iter()
            .map(|nanny| {
                let mut tree = TreeNode::running(format!("nanny {}", nanny.name));
                tree.restarts = nanny.restarts;
                tree.last_exit = nanny.last_exit.clone();
                let watched = nanny.child_pid.and_then(|pid| by_pid.remove(&pid));
                tree.children = watched
                    .map(|w| worker_node(w, self.worker_trees.get(&w.id)))
                    .into_iter()
                    .collect();
                tree
            })
            .collect();
        let unwatched = workers
            .iter()
            .filter(|w| by_pid.contains_key(&w.description.pid));
        trees.extend(unwatched.map(|w| worker_node(w, self.worker_trees.get(&w.id))));
        self.members.set(trees);
    }

    fn welcome(&self, id: u32) -> crate::messages::Envelope {
        reply_envelope(&HelloReply::Welcome {
            id,
            server_name: self.config.name.clone(),
        })
    }

    fn admit_worker(&mut self, arrival: Arrival, ctx: &mut Context<Self>) {
        let Arrival {
            stream,
            hello,
            peer,
        } = arrival;
        let (id, description) = match self.register_worker(&hello, peer) {
            Ok(joined) => joined,
            Err(reason) => {
                actix::spawn(refuse(stream, reason));
                return;
            }
        };
        let greeting = self.welcome(id.0);
        let (session, addr) = Session::start(
            stream,
            ctx.address().recipient(),
            SessionOptions::new(self.config.limits, self.config.bounds),
            Some(greeting),
        );
        let link = Remote::new(session, addr);
        self.worker_sessions.insert(session, id);
        self.worker_links.insert(id, link.clone());
        let listen_addr = description.addr;
        self.scheduler.do_send(WorkerJoined {
            id,
            description,
            link,
        });
        self.publish_members();
        info!(target: LOG_TARGET, worker = %id, name = %hello.name, pid = hello.pid, nthreads = hello.nthreads,
            memory_limit = hello.memory_limit, functions = hello.functions.len(),
            "Register worker at {listen_addr} ({} workers)", self.state.worker_count()
        );
    }

    /// Enters a worker in the membership: the one place a registration is checked. Refused
    /// (with the reason for the worker, logged) without a listening address, or at the
    /// address of a worker still connected; a worker whose connection closed is replaced.
    fn register_worker(
        &mut self,
        hello: &Hello,
        peer: SocketAddr,
    ) -> Result<(WorkerId, WorkerDescription), String> {
        let Some(listen_addr) = hello.listen_addr else {
            warn!(target: LOG_TARGET, %peer, "refusing worker {}: it sent no listening address", hello.name);
            return Err("a worker must send its listening address".into());
        };
        let description = WorkerDescription::from_hello(hello, listen_addr);
        let joined = self
            .state
            .on_worker_joined(description.clone(), Instant::now());
        let (id, replaced) = joined.map_err(|refused| {
            warn!(target: LOG_TARGET, %peer, name = %hello.name, pid = hello.pid,
                "Refusing worker registration: {refused}");
            refused.to_string()
        })?;
        if let Some(old) = replaced {
            self.drop_worker(old, LeaveReason::Replaced);
        }
        if let Some(warning) = unreachable_advertisement(listen_addr, self.config.host) {
            warn!(target: LOG_TARGET, worker = %id, name = %hello.name, %peer, "{warning}");
        }
        Ok((id, description))
    }

    fn admit_nanny(&mut self, arrival: Arrival, ctx: &mut Context<Self>) {
        let Arrival {
            stream,
            hello,
            peer,
        } = arrival;
        let greeting = self.welcome(0);
        let (session, addr) = Session::start(
            stream,
            ctx.address().recipient(),
            SessionOptions::new(self.config.limits, self.config.bounds),
            Some(greeting),
        );
        info!(target: LOG_TARGET, %peer, pid = hello.pid, "Nanny {} connected", hello.name);
        let entry = NannyEntry {
            name: hello.name,
            link: Remote::new(session, addr),
            child_pid: None,
            restarts: 0,
            last_exit: None,
        };
        self.nannies.insert(session, entry);
        self.publish_members();
    }

    /// Forgets a worker everywhere: membership (if still there: a replaced worker's entry
    /// is already gone), its session, and the scheduler's view. The scheduler, which alone
    /// knows which keys the worker held, logs the loss with what it cost.
    fn drop_worker(&mut self, id: WorkerId, reason: LeaveReason) {
        let left = self.state.on_worker_left(id);
        let pid = left.as_ref().map(|w| w.description.pid);
        let reported = pid.and_then(|pid| self.exit_reports.remove(&pid));
        let restarting = pid.is_some_and(|pid| self.restarting.remove(&pid));
        let cause = reported.unwrap_or_else(|| reason.cause());
        self.worker_trees.remove(&id);
        let link = self.worker_links.remove(&id);
        if let Some(link) = &link {
            self.worker_sessions.remove(&link.session_id());
            link.close(reason.to_string());
        }
        if left.is_some() || link.is_some() {
            self.scheduler.do_send(WorkerLeft {
                id,
                reason,
                cause,
                restarting,
            });
        }
        self.publish_members();
    }

    fn check_heartbeats(&mut self) {
        for (id, quiet) in self.state.silent_workers(Instant::now()) {
            self.drop_worker(id, LeaveReason::Silent(quiet));
        }
    }

    fn on_worker_message(&mut self, id: WorkerId, message: WorkerToCenter, tag: Option<u64>) {
        match message {
            WorkerToCenter::Heartbeat(beat) => {
                self.state.on_heartbeat(id, &beat, Instant::now());
                self.scheduler.do_send(WorkerLoad { id, load: beat });
            }
            WorkerToCenter::TaskEvents(events) => {
                self.scheduler.do_send(WorkerTaskEvents { id, events });
            }
            WorkerToCenter::HeldKeys(keys) => {
                self.scheduler.do_send(WorkerHolds { id, keys });
            }
            WorkerToCenter::Activity(activity) => {
                self.scheduler.do_send(WorkerActivity { id, activity });
            }
            WorkerToCenter::Tree(tree) => {
                self.worker_trees.insert(id, tree);
                self.publish_members();
            }
            WorkerToCenter::Goodbye(goodbye) => {
                if let (Some(tag), Some(link)) = (tag, self.worker_links.get(&id)) {
                    link.reply(tag, CenterToWorker::GoodbyeAck);
                }
                self.drop_worker(id, LeaveReason::Goodbye(goodbye.reason));
            }
            // Pongs answer the scheduler's pings and reach it as replies; one sent unasked
            // carries nothing to act on.
            WorkerToCenter::Pong(_) => {
                debug!(target: LOG_TARGET, worker = %id, "ignored a pong nobody asked for");
            }
        }
    }

    /// A nanny said how its worker process `pid` ended: the worker leaves with that cause,
    /// now if its connection already closed, or when it does.
    fn on_exit_report(&mut self, pid: u32, cause: DeathCause) {
        if self.exit_reports.len() >= MAX_EXIT_REPORTS {
            self.exit_reports.clear();
            self.restarting.clear();
        }
        self.exit_reports.insert(pid, cause);
        if let Some((id, reason)) = self.awaiting_report.remove(&pid) {
            self.drop_worker(id, LeaveReason::ConnectionLost(reason));
        }
    }

    /// A worker's connection closed. A worker some nanny watches waits (briefly) for the
    /// nanny's word on how it ended: the socket's end and the nanny's report race, and only
    /// the report can name a signal or a memory kill.
    fn on_worker_closed(&mut self, id: WorkerId, reason: String, ctx: &mut Context<Self>) {
        self.state.on_worker_disconnected(id);
        let pid = self.state.worker(id).map(|w| w.description.pid);
        let watched = pid.filter(|pid| {
            !self.exit_reports.contains_key(pid)
                && self.nannies.values().any(|n| n.child_pid == Some(*pid))
        });
        let Some(pid) = watched else {
            return self.drop_worker(id, LeaveReason::ConnectionLost(reason));
        };
        self.awaiting_report.insert(pid, (id, reason));
        ctx.run_later(NANNY_REPORT_GRACE, move |center, _| {
            if let Some((id, reason)) = center.awaiting_report.remove(&pid) {
                center.drop_worker(id, LeaveReason::ConnectionLost(reason));
            }
        });
    }

    fn on_nanny_message(&mut self, session: SessionId, message: NannyToCenter) {
        let Some(nanny) = self.nannies.get_mut(&session) else {
            return;
        };
        let name = &nanny.name;
        match message {
            NannyToCenter::WorkerStarted(m) => {
                nanny.child_pid = Some(m.pid);
                nanny.restarts = m.restarts;
                info!(target: LOG_TARGET, nanny = %name, pid = m.pid, restarts = m.restarts, "Nanny started a worker process")
            }
            NannyToCenter::WorkerExited(m) => {
                warn!(target: LOG_TARGET, nanny = %name, pid = m.pid, restarting = m.restarting,
                    "Nanny reports its worker process {}", m.cause
                );
                nanny.last_exit = Some(m.cause.to_string());
                // Noted before the report, which may make the worker leave at once.
                if m.restarting {
                    self.restarting.insert(m.pid);
                }
                self.on_exit_report(m.pid, m.cause);
            }
            NannyToCenter::GaveUp(m) => {
                warn!(target: LOG_TARGET, nanny = %name, "Nanny gave up: {m}");
                self.scheduler.do_send(NannyGaveUp {
                    nanny: name.clone(),
                    reason: m.to_string(),
                });
            }
        }
    }
}

/// A worker as a node of the cluster's tree, with its process's tree under it once it
/// reported one.
fn worker_node(worker: &WorkerInfo, tree: Option<&TreeNode>) -> TreeNode {
    let mut node = TreeNode::running(format!("worker {}", worker.description.name));
    let (id, pid) = (worker.id, worker.description.pid);
    node.status = format!("running (id {id}, pid {pid})");
    if let Some(tree) = tree {
        node.children = tree.children.clone();
    }
    node
}

impl Actor for Center {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.scheduler.do_send(AttachCenter(ctx.address()));
        self.publish_members();
        let every =
            (self.config.worker_ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        ctx.run_interval(every, |center, _| center.check_heartbeats());
    }
}

impl Handler<StopChild> for Center {
    type Result = ();

    fn handle(&mut self, _: StopChild, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Admit> for Center {
    type Result = ();

    fn handle(&mut self, Admit(arrival): Admit, ctx: &mut Context<Self>) {
        match arrival.hello.role {
            Role::Worker => self.admit_worker(arrival, ctx),
            Role::Nanny => self.admit_nanny(arrival, ctx),
            Role::Executor => self.scheduler.do_send(AdmitExecutor(arrival)),
            role @ Role::Peer => {
                warn!(target: LOG_TARGET, peer = %arrival.peer, %role, "refusing connection: the center does not serve this role");
                let reason = format!("the center does not accept {role} connections");
                actix::spawn(refuse(arrival.stream, reason));
            }
        }
    }
}

impl Handler<SessionEvent<WorkerToCenter>> for Center {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<WorkerToCenter>, ctx: &mut Context<Self>) {
        match event {
            SessionEvent::Received { session, incoming } => {
                if let Some(&id) = self.worker_sessions.get(&session) {
                    self.on_worker_message(id, incoming.body, incoming.reply_tag);
                }
            }
            SessionEvent::Closed { session, reason } => {
                if let Some(id) = self.worker_sessions.remove(&session) {
                    self.on_worker_closed(id, reason, ctx);
                }
            }
        }
    }
}

impl Handler<SessionEvent<NannyToCenter>> for Center {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<NannyToCenter>, _ctx: &mut Context<Self>) {
        match event {
            SessionEvent::Received { session, incoming } => {
                self.on_nanny_message(session, incoming.body);
                self.publish_members();
            }
            SessionEvent::Closed { session, reason } => {
                if let Some(nanny) = self.nannies.remove(&session) {
                    info!(target: LOG_TARGET, nanny = %nanny.name, "Nanny disconnected: {reason}");
                    self.publish_members();
                }
            }
        }
    }
}

impl Handler<RestartWorkers> for Center {
    type Result = usize;

    /// A worker whose nanny has not connected yet (it connects after starting its worker)
    /// is told to shut down: its nanny, if it has one, starts a fresh one, and an old
    /// worker never outlives a restart unnoticed.
    fn handle(&mut self, _: RestartWorkers, _ctx: &mut Context<Self>) -> usize {
        let watched: Set<u32> = self.nannies.values().filter_map(|n| n.child_pid).collect();
        for nanny in self.nannies.values() {
            info!(target: LOG_TARGET, nanny = %nanny.name, "Asking nanny to restart its worker");
            nanny.link.tell(CenterToNanny::RestartWorker);
        }
        for worker in self.state.workers() {
            if watched.contains(&worker.description.pid) {
                continue;
            }
            let Some(link) = self.worker_links.get(&worker.id) else {
                continue;
            };
            info!(target: LOG_TARGET, worker = %worker.id, pid = worker.description.pid,
                "Asking a worker no connected nanny watches to shut down for the restart");
            link.tell(CenterToWorker::Shutdown(ShutdownMsg {
                reason: "the cluster restarts".into(),
            }));
        }
        self.nannies.len()
    }
}

impl Handler<RetireWorkers> for Center {
    type Result = ();

    fn handle(&mut self, RetireWorkers(ids): RetireWorkers, _ctx: &mut Context<Self>) {
        for worker in self.state.workers() {
            if !ids.contains(&worker.id) {
                continue;
            }
            let pid = worker.description.pid;
            let nanny = self.nannies.values().find(|n| n.child_pid == Some(pid));
            if let Some(nanny) = nanny {
                info!(target: LOG_TARGET, worker = %worker.id, pid, nanny = %nanny.name,
                    "Retiring a worker: asking its nanny to stop it and close");
                nanny.link.tell(CenterToNanny::Retire);
            } else if let Some(link) = self.worker_links.get(&worker.id) {
                info!(target: LOG_TARGET, worker = %worker.id, pid, "Retiring a worker: asking it to shut down");
                link.tell(CenterToWorker::Shutdown(ShutdownMsg {
                    reason: "retired (its data was copied to other workers)".into(),
                }));
            }
        }
    }
}

/// Why a worker advertising `advertised` cannot be reached from other hosts while the
/// center listens on `center_host`, with the fix; `None` when it can (or when the center
/// itself is on loopback, so nothing elsewhere reaches either).
pub(super) fn unreachable_advertisement(
    advertised: SocketAddr,
    center_host: std::net::IpAddr,
) -> Option<String> {
    if !advertised.ip().is_loopback() || center_host.is_loopback() {
        return None;
    }
    Some(format!(
        "Worker advertises the loopback address {advertised}, which executors and workers on \
         other hosts cannot reach, while this center listens on {center_host}. Fix: start the \
         worker with --contact-address set to an address other hosts reach it at (or --host \
         set to one of its interfaces), or give it the center's network address instead of a \
         loopback one"
    ))
}

#[cfg(test)]
mod address_tests {
    use super::unreachable_advertisement;

    #[test]
    fn loopback_workers_of_a_center_reachable_from_elsewhere_are_warned_with_the_fix() {
        let loopback = "127.0.0.1:4000".parse().unwrap();
        let words =
            unreachable_advertisement(loopback, "0.0.0.0".parse().unwrap()).expect("a warning");
        assert!(words.contains("127.0.0.1:4000"), "{words}");
        assert!(words.contains("--contact-address"), "{words}");
        let v6 = "[::1]:4000".parse().unwrap();
        assert!(unreachable_advertisement(v6, "10.0.0.1".parse().unwrap()).is_some());
        assert_eq!(
            unreachable_advertisement(loopback, "127.0.0.1".parse().unwrap()),
            None
        );
        let reachable = "10.0.0.2:4000".parse().unwrap();
        assert_eq!(
            unreachable_advertisement(reachable, "0.0.0.0".parse().unwrap()),
            None
        );
    }
}
