//! The scheduler's actix shell: feeds [`SchedulerState`] with events from workers (through the
//! center) and executors, and sends what it decides, batched: one frame per peer per event.
//!
//! The policy lives in `crate::scheduler`; this file only translates.

use std::net::SocketAddr;

mod cluster_ops;
mod coordination;
mod observe;
mod recovery;
mod restart;
mod window_probe;
pub mod wire;
mod worker_handlers;

pub use recovery::WorkerHolds;

use actix::prelude::*;
use tracing::{debug, info, warn};

use crate::actors::center::state::LeaveReason;
use crate::actors::remote::handshake::reply_envelope;
use crate::actors::remote::SessionOptions;
use crate::actors::remote::{Arrival, Remote, Session, SessionEvent, SessionId};
use crate::dashboard::MessageKind;
use crate::function::EncodedValue;
use crate::ids::{ClientId, Map, TaskKey, WorkerId};
use crate::messages::center_link::{
    CenterToWorker, HeartbeatMsg, TaskEvent, WorkerDescription, WorkerToCenter,
};
use crate::messages::executor_link::{
    ClusterSnapshot, ExecutorToScheduler, KeyInMemory, ScatteredKey, SchedulerToExecutor,
    WorkerView,
};
use crate::messages::nanny_link::DeathCause;
use crate::messages::tasks::ComputeMsg;
use crate::messages::HelloReply;
use crate::scheduler::{
    ClientReport, OutboxBatch, SchedulerConfig, SchedulerState, WorkerCommand, WorkerLoss,
    WorkerProfile,
};

const LOG_TARGET: &str = "taskforce::scheduler";
/// Unplaceable restricted tasks a cluster snapshot names (the count is in
/// `tasks_waiting_for_worker`); the rest are left out so a snapshot stays small.
const MAX_UNPLACEABLE_SHOWN: usize = 16;
/// Workers joining and leaving are the center's news, logged where the cost is known.
const MEMBERSHIP_LOG_TARGET: &str = "taskforce::center";

type WorkerLink = Remote<CenterToWorker, WorkerToCenter>;
type ExecutorLink = Remote<SchedulerToExecutor, ExecutorToScheduler>;

/// A connected worker as the shell keeps it: what it is, its last load, and the center's
/// session with it.
struct WorkerEntry {
    description: WorkerDescription,
    load: HeartbeatMsg,
    link: WorkerLink,
    /// Whether a ping to it awaits its answer (`window_probe.rs`).
    pinging: bool,
    /// Whether a ping to it was answered.
    measured: bool,
}

/// The scheduler actor.
pub struct Scheduler {
    state: SchedulerState,
    center: Option<Addr<crate::actors::center::Center>>,
    restart: Option<restart::PendingRestart>,
    batch: OutboxBatch,
    inline: Map<TaskKey, EncodedValue>,
    workers: Map<WorkerId, WorkerEntry>,
    clients: Map<ClientId, ExecutorLink>,
    client_sessions: Map<SessionId, ClientId>,
    next_client: u32,
    limits: SessionOptions,
    name: String,
    observer: observe::Observer,
    /// The cluster's supervision trees, as the center's root and the center publish them.
    tree: Option<crate::actors::center::ClusterTrees>,
    /// The last worker death and its cause, for `cluster_info`.
    last_death: Option<String>,
    /// Why nannies gave up, newest last; at most [`MAX_GAVE_UP_NOTES`], the oldest dropped.
    gave_up: std::collections::VecDeque<String>,
    /// Whether clients may restart the cluster (`--allow-restart`; off by default).
    restart_allowed: bool,
    /// Executors' messages held back while recovering from a center restart (recovery.rs).
    deferred: Vec<recovery::Deferred>,
    /// Parts of executors' re-submissions gathered until the last arrives (recovery.rs).
    resubmitting: Map<ClientId, Vec<crate::messages::tasks::NewTaskMsg>>,
    /// Locks, semaphores, queues, events and variables (coordination.rs).
    coordination: crate::coordination::Coordination,
    /// The coordination core's clock starts here.
    coordination_epoch: std::time::Instant,
    /// Replicate, rebalance and retire requests waiting for their copies (cluster_ops.rs).
    cluster_ops: cluster_ops::ClusterOps,
}

/// How many nannies' last words a cluster snapshot carries.
const MAX_GAVE_UP_NOTES: usize = 16;

/// A nanny's restart budget is spent: its worker will not come back.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NannyGaveUp {
    /// The nanny's name.
    pub nanny: String,
    /// Why, in words ("its worker killed by signal SIGABRT after 5 restarts within 60 s").
    pub reason: String,
}

/// A worker registered with the center.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerJoined {
    /// Its id.
    pub id: WorkerId,
    /// What it is.
    pub description: WorkerDescription,
    /// The center's session with it.
    pub link: WorkerLink,
}

/// A worker left the center, and why.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerLeft {
    /// Which worker.
    pub id: WorkerId,
    /// Why it left.
    pub reason: LeaveReason,
    /// How it ended, as its nanny reported it or the center saw it.
    pub cause: DeathCause,
    /// Whether its nanny said it is starting a new worker process in its place.
    pub restarting: bool,
}

/// A worker's activity report (for the dashboard).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerActivity {
    /// Which worker.
    pub id: WorkerId,
    /// What it did since its last report.
    pub activity: crate::messages::activity::ActivityMsg,
}

/// A worker's heartbeat figures.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerLoad {
    /// Which worker.
    pub id: WorkerId,
    /// Its load.
    pub load: HeartbeatMsg,
}

/// Task outcomes from a worker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerTaskEvents {
    /// Which worker.
    pub id: WorkerId,
    /// What happened.
    pub events: Vec<TaskEvent>,
}

/// Tells the scheduler which center it works with (for restarts).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachCenter(pub Addr<crate::actors::center::Center>);

/// An executor finished its handshake.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AdmitExecutor(pub Arrival);

impl Scheduler {
    /// A scheduler with no workers and no clients.
    pub fn new(config: SchedulerConfig, limits: SessionOptions, name: String) -> Self {
        let mut state = SchedulerState::new(config);
        // Only an observer wants forgotten keys; `with_dashboard` turns them on.
        state.report_forgotten(false);
        Scheduler {
            state,
            center: None,
            restart: None,
            batch: OutboxBatch::default(),
            inline: Map::default(),
            workers: Map::default(),
            clients: Map::default(),
            client_sessions: Map::default(),
            next_client: 1,
            limits,
            name,
            observer: observe::Observer::default(),
            tree: None,
            last_death: None,
            gave_up: std::collections::VecDeque::new(),
            restart_allowed: false,
            deferred: Vec::new(),
            resubmitting: Map::default(),
            coordination: Default::default(),
            cluster_ops: Default::default(),
            coordination_epoch: std::time::Instant::now(),
        }
    }

    /// Lets clients restart the cluster (`--allow-restart`; a local cluster allows its owner).
    pub fn with_restart_allowed(mut self, allowed: bool) -> Self {
        self.restart_allowed = allowed;
        self
    }

    fn snapshot(&self) -> ClusterSnapshot {
        let mut workers: Vec<WorkerView> = self
            .workers
            .iter()
            .map(|(&id, w)| {
                let keys_in_memory = self.state.has_what(id).len() as u64;
                let processing = self.state.processing_count(id).unwrap_or(0) as u64;
                WorkerView::new(id, &w.description, &w.load, keys_in_memory, processing)
            })
            .collect();
        workers.sort_by_key(|w| w.id);
        ClusterSnapshot {
            workers,
            tasks: self.state.task_count() as u64,
            dashboard: self.observer.link().map(str::to_string),
            tasks_waiting_for_worker: self.state.waiting_for_worker() as u64,
            last_worker_death: self.last_death.clone(),
            nannies_gave_up: self.gave_up.iter().cloned().collect(),
            tree: self.tree.as_ref().map(|t| t.snapshot()).unwrap_or_default(),
            unplaceable: self
                .state
                .unplaceable(MAX_UNPLACEABLE_SHOWN)
                .into_iter()
                .map(|(key, why)| format!("{key}: {why}"))
                .collect(),
        }
    }

    fn broadcast_cluster(&mut self) {
        let snapshot = self.snapshot();
        let clients = self.clients.len() as u64;
        self.observer.messages(MessageKind::Cluster, clients);
        for link in self.clients.values() {
            link.tell(SchedulerToExecutor::Cluster(snapshot.clone()));
        }
    }

    /// Sends what the state machine decided during the last event.
    fn flush(&mut self) {
        for (key, why) in self.state.take_unplaceable_notes() {
            warn!(target: LOG_TARGET, %key, workers = self.workers.len(),
                "Task waits for a worker: {why}");
        }
        for (worker, commands) in self.batch.take_worker_commands() {
            self.send_to_worker(worker, commands);
        }
        for (client, reports) in self.batch.take_client_reports() {
            self.send_to_client(client, reports);
        }
        self.inline.clear();
        self.observer.forgotten(self.batch.take_forgotten());
        self.observer.flush();
    }

    fn send_to_worker(&mut self, worker: WorkerId, commands: Vec<WorkerCommand>) {
        let Some(entry) = self.workers.get(&worker) else {
            return;
        };
        let mut tasks: Vec<ComputeMsg> = Vec::new();
        for command in commands {
            match command {
                WorkerCommand::Compute(task) => {
                    self.observer.sent(&task.key, worker);
                    tasks.push(task.into());
                }
                WorkerCommand::ReleaseData(keys) => {
                    let sent = self.send_compute(entry, std::mem::take(&mut tasks));
                    self.observer.messages(MessageKind::Compute, sent);
                    self.observer.messages(MessageKind::ReleaseData, 1);
                    entry.link.tell(CenterToWorker::Release(keys));
                }
                WorkerCommand::Acquire(keys) => {
                    let sent = self.send_compute(entry, std::mem::take(&mut tasks));
                    self.observer.messages(MessageKind::Compute, sent);
                    self.observer.messages(MessageKind::Acquire, 1);
                    let peers = self.peer_addresses(keys.iter().flat_map(|(_, h)| h.iter()));
                    entry.link.tell(CenterToWorker::Acquire { keys, peers });
                }
                WorkerCommand::Steal(keys) => {
                    let sent = self.send_compute(entry, std::mem::take(&mut tasks));
                    self.observer.messages(MessageKind::Compute, sent);
                    self.observer.messages(MessageKind::Steal, 1);
                    debug!(target: LOG_TARGET, %worker, tasks = keys.len(), "Asking tasks back for an idle worker");
                    entry.link.tell(CenterToWorker::Steal(keys));
                }
            }
        }
        let sent = self.send_compute(entry, tasks);
        self.observer.messages(MessageKind::Compute, sent);
    }

    /// Sends the tasks, if any, in one message; returns the messages sent (0 or 1).
    fn send_compute(&self, entry: &WorkerEntry, tasks: Vec<ComputeMsg>) -> u64 {
        if tasks.is_empty() {
            return 0;
        }
        let holders = tasks
            .iter()
            .flat_map(|task| task.deps.iter().flat_map(|(_, holders)| holders.iter()));
        let peers = self.peer_addresses(holders);
        entry.link.tell(CenterToWorker::Compute { tasks, peers });
        1
    }

    /// The address of each connected worker among `ids`, once each.
    fn peer_addresses<'a>(
        &self,
        ids: impl Iterator<Item = &'a WorkerId>,
    ) -> Vec<(WorkerId, SocketAddr)> {
        let mut peers: Vec<(WorkerId, SocketAddr)> = ids
            .filter_map(|id| self.workers.get(id).map(|w| (*id, w.description.addr)))
            .collect();
        peers.sort_unstable();
        peers.dedup();
        peers
    }

    fn send_to_client(&mut self, client: ClientId, reports: Vec<ClientReport>) {
        let Some(link) = self.clients.get(&client) else {
            return;
        };
        let (mut in_memory, mut erred, mut lost) = (Vec::new(), Vec::new(), Vec::new());
        let mut recomputing = Vec::new();
        for report in reports {
            match report {
                ClientReport::InMemory(key) => in_memory.push(self.key_in_memory(key)),
                ClientReport::Erred(key, failure) => erred.push((key, failure.into())),
                ClientReport::Lost(key, reason) => lost.push((key, reason)),
                ClientReport::Recomputing(key) => recomputing.push(key),
            }
        }
        if !recomputing.is_empty() {
            self.observer.messages(MessageKind::Recomputing, 1);
            link.tell(SchedulerToExecutor::Recomputing(recomputing));
        }
        if !in_memory.is_empty() {
            self.observer.messages(MessageKind::InMemory, 1);
            link.tell(SchedulerToExecutor::InMemory(in_memory));
        }
        if !erred.is_empty() {
            self.observer.messages(MessageKind::Erred, 1);
            link.tell(SchedulerToExecutor::Erred(erred));
        }
        if !lost.is_empty() {
            self.observer.messages(MessageKind::Lost, 1);
            link.tell(SchedulerToExecutor::Lost(lost));
        }
    }

    fn key_in_memory(&self, key: TaskKey) -> KeyInMemory {
        let holders = self
            .state
            .who_has(&key)
            .iter()
            .filter_map(|id| self.workers.get(id).map(|w| w.description.addr))
            .collect();
        let inline = self.inline.get(&key).cloned();
        KeyInMemory {
            key,
            holders,
            inline,
        }
    }

    fn on_task_event(&mut self, worker: WorkerId, event: TaskEvent) {
        self.observer.task_event(&event);
        let checked = match event {
            TaskEvent::Finished {
                key,
                nbytes,
                inline,
            } => {
                let taken =
                    self.state
                        .on_task_finished(worker, key.clone(), nbytes, &mut self.batch);
                if let (Ok(()), Some(value)) = (&taken, inline) {
                    self.inline.insert(key, value);
                }
                taken
            }
            TaskEvent::Erred { key, failure } => {
                self.state
                    .on_task_erred(worker, key, failure.into(), &mut self.batch)
            }
            TaskEvent::MissingDependency {
                key,
                dependency,
                holder,
            } => {
                warn!(target: LOG_TARGET, %worker, %key, %dependency, %holder, "dependency could not be fetched");
                self.state
                    .on_missing_dependency(worker, key, dependency, holder, &mut self.batch)
            }
            TaskEvent::Seceded { key } => self.state.on_task_seceded(worker, key, &mut self.batch),
            TaskEvent::StealAnswer {
                key,
                steal,
                given_back,
            } => {
                let answered =
                    self.state
                        .on_steal_answer(worker, key, steal, given_back, &mut self.batch);
                if let Err(stale) = answered {
                    // Expected: the task finished, was released or sent again meanwhile.
                    debug!(target: LOG_TARGET, %worker, "Ignored a steal answer: {stale}");
                }
                Ok(())
            }
            TaskEvent::Copied { key, nbytes } => {
                let taken = self
                    .state
                    .on_task_copied(worker, key.clone(), nbytes, &mut self.batch);
                let settled = match taken {
                    Ok(true) => Ok(nbytes),
                    _ => Err(format!(
                        "{key} to {worker}: it left memory before the copy came"
                    )),
                };
                self.copy_settled(worker, &key, settled);
                taken.map(|_| ())
            }
            TaskEvent::CopyFailed { key, holder } => {
                if self.state.on_copy_failed(worker, &key, &mut self.batch) {
                    let why = format!("{key} to {worker}: {holder} did not deliver it");
                    warn!(target: LOG_TARGET, %worker, %key, %holder, "A copy could not be fetched");
                    self.copy_settled(worker, &key, Err(why));
                }
                Ok(())
            }
        };
        if let Err(ignored) = checked {
            warn!(target: LOG_TARGET, %worker, "Ignored a worker's report: {ignored}");
        }
    }

    fn on_executor_message(
        &mut self,
        client: ClientId,
        message: ExecutorToScheduler,
        reply_tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        if let Some(message) = self.defer_while_recovering(client, message, reply_tag, ctx) {
            self.apply_executor_message(client, message, reply_tag, ctx);
        }
    }

    fn apply_executor_message(
        &mut self,
        client: ClientId,
        message: ExecutorToScheduler,
        reply_tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        self.observer.messages(executor_message_kind(&message), 1);
        let out = &mut self.batch;
        let mut reply = SchedulerToExecutor::Ack;
        match message {
            ExecutorToScheduler::UpdateGraph { tasks, wanted } => {
                self.observer.submitted(&tasks);
                let tasks = tasks.into_iter().map(Into::into).collect();
                self.state.on_update_graph(client, tasks, wanted, out)
            }
            ExecutorToScheduler::Resubmit {
                tasks,
                wanted,
                last,
            } => self.on_resubmission_part(client, tasks, wanted, last),
            ExecutorToScheduler::Want(keys) => self.state.on_client_wants(client, keys, out),
            ExecutorToScheduler::Release(keys) => self.state.on_client_releases(client, keys, out),
            ExecutorToScheduler::Cancel(keys) => self.state.on_cancel(client, keys, out),
            ExecutorToScheduler::Scattered(keys) => {
                let scattered: Vec<TaskKey> = keys.iter().map(|k| k.key.clone()).collect();
                self.observer.scattered(&scattered);
                let keys = keys
                    .into_iter()
                    .map(
                        |ScatteredKey {
                             key,
                             worker,
                             nbytes,
                         }| (key, worker, nbytes),
                    )
                    .collect();
                self.state.on_scattered(client, keys, out);
            }
            ExecutorToScheduler::ClusterInfo => {
                reply = SchedulerToExecutor::Cluster(self.snapshot())
            }
            ExecutorToScheduler::Restart if self.restart_allowed => {
                return self.restart(client, reply_tag, ctx)
            }
            ExecutorToScheduler::Restart => reply = restart::refusal(client),
            ExecutorToScheduler::Coordinate(request) => {
                return self.on_coordinate(client, request, reply_tag)
            }
            ExecutorToScheduler::Replicate { keys, n } => {
                return self.replicate(client, keys, n as usize, reply_tag, ctx)
            }
            ExecutorToScheduler::Rebalance => return self.rebalance(client, reply_tag, ctx),
            ExecutorToScheduler::RetireWorkers(names) if self.restart_allowed => {
                return self.retire_workers(client, names, reply_tag, ctx)
            }
            ExecutorToScheduler::RetireWorkers(_) => reply = cluster_ops::retire_refusal(client),
        }
        if let (Some(_), true) = (reply_tag, self.clients.contains_key(&client)) {
            let kind = match reply {
                SchedulerToExecutor::Cluster(_) => MessageKind::Cluster,
                _ => MessageKind::Ack,
            };
            self.observer.messages(kind, 1);
        }
        self.flush();
        if let (Some(tag), Some(link)) = (reply_tag, self.clients.get(&client)) {
            link.reply(tag, reply);
        }
    }
}

/// How the dashboard counts an executor's message.
fn executor_message_kind(message: &ExecutorToScheduler) -> MessageKind {
    match message {
        ExecutorToScheduler::UpdateGraph { .. } => MessageKind::UpdateGraph,
        ExecutorToScheduler::Resubmit { .. } => MessageKind::Resubmit,
        ExecutorToScheduler::Want(_) => MessageKind::Want,
        ExecutorToScheduler::Release(_) => MessageKind::Release,
        ExecutorToScheduler::Cancel(_) => MessageKind::Cancel,
        ExecutorToScheduler::Scattered(_) => MessageKind::Scattered,
        ExecutorToScheduler::ClusterInfo => MessageKind::ClusterInfo,
        ExecutorToScheduler::Restart => MessageKind::Restart,
        ExecutorToScheduler::Coordinate(_) => MessageKind::Coordinate,
        ExecutorToScheduler::Replicate { .. }
        | ExecutorToScheduler::Rebalance
        | ExecutorToScheduler::RetireWorkers(_) => MessageKind::ClusterOperation,
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(coordination::COORDINATION_TICK, |scheduler, _| {
            scheduler.coordination_tick()
        });
        ctx.run_interval(window_probe::PROBE_INTERVAL, Scheduler::probe_workers);
    }
}

impl Handler<crate::actors::supervisor::StopChild> for Scheduler {
    type Result = ();

    fn handle(&mut self, _: crate::actors::supervisor::StopChild, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<AdmitExecutor> for Scheduler {
    type Result = ();

    fn handle(&mut self, AdmitExecutor(arrival): AdmitExecutor, ctx: &mut Context<Self>) {
        let client = ClientId(self.next_client);
        self.next_client += 1;
        let greeting = reply_envelope(&HelloReply::Welcome {
            id: client.0,
            server_name: self.name.clone(),
        });
        let (session, addr) = Session::start(
            arrival.stream,
            ctx.address().recipient(),
            self.limits,
            Some(greeting),
        );
        self.client_sessions.insert(session, client);
        self.clients.insert(client, Remote::new(session, addr));
        info!(target: LOG_TARGET, %client, peer = %arrival.peer, pid = arrival.hello.pid, "Executor {} connected", arrival.hello.name);
    }
}

impl Handler<SessionEvent<ExecutorToScheduler>> for Scheduler {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<ExecutorToScheduler>, ctx: &mut Context<Self>) {
        match event {
            SessionEvent::Received { session, incoming } => {
                if let Some(&client) = self.client_sessions.get(&session) {
                    self.on_executor_message(client, incoming.body, incoming.reply_tag, ctx);
                }
            }
            SessionEvent::Closed { session, reason } => {
                let Some(client) = self.client_sessions.remove(&session) else {
                    return;
                };
                self.clients.remove(&client);
                self.resubmitting.remove(&client);
                info!(target: LOG_TARGET, %client, "Executor disconnected: {reason}");
                self.state.on_client_removed(client, &mut self.batch);
                self.flush();
                self.coordination_client_removed(client);
            }
        }
    }
}
