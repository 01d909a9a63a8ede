//! The scheduler's actix shell: feeds [`SchedulerState`] with events from workers (through the
//! center) and executors, and sends what it decides, batched: one frame per peer per event.
//!
//! The policy lives in `crate::scheduler`; this file only translates.

use std::net::SocketAddr;

mod restart;

use actix::prelude::*;
use tracing::{info, warn};

use crate::actors::remote::handshake::reply_envelope;
use crate::actors::remote::SessionOptions;
use crate::actors::remote::{Arrival, Remote, Session, SessionEvent, SessionId};
use crate::function::EncodedValue;
use crate::ids::{ClientId, Map, TaskKey, WorkerId};
use crate::messages::center_link::{CenterToWorker, TaskEvent, WorkerToCenter};
use crate::messages::executor_link::{
    ClusterSnapshot, ExecutorToScheduler, KeyInMemory, ScatteredKey, SchedulerToExecutor,
    WorkerView,
};
use crate::messages::HelloReply;
use crate::scheduler::{
    ClientReport, ComputeTask, FunctionId, OutboxBatch, SchedulerConfig, SchedulerState, TaskState,
    WorkerCommand,
};

const LOG_TARGET: &str = "taskforce::scheduler";

type WorkerLink = Remote<CenterToWorker, WorkerToCenter>;
type ExecutorLink = Remote<SchedulerToExecutor, ExecutorToScheduler>;

struct WorkerEntry {
    name: String,
    addr: SocketAddr,
    pid: u32,
    nthreads: u32,
    memory_limit: u64,
    memory_used: u64,
    stored_keys: u32,
    peer_bytes_in: u64,
    stored_bytes: u64,
    peak_stored_bytes: u64,
    functions: Vec<FunctionId>,
    link: WorkerLink,
}

/// The scheduler actor.
pub struct Scheduler {
    config: SchedulerConfig,
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
}

/// A worker registered with the center.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerJoined {
    /// Its id.
    pub id: WorkerId,
    /// Its name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// Task threads.
    pub nthreads: u32,
    /// Memory limit.
    pub memory_limit: u64,
    /// Functions it can run.
    pub functions: Vec<FunctionId>,
    /// The center's session with it.
    pub link: WorkerLink,
}

/// A worker left the center.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerLeft(pub WorkerId);

/// A worker's heartbeat figures.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerLoad {
    /// Which worker.
    pub id: WorkerId,
    /// Resident memory.
    pub memory_used: u64,
    /// Keys in its store.
    pub stored_keys: u32,
    /// Bytes it received from peers.
    pub peer_bytes_in: u64,
    /// Bytes of values it holds.
    pub stored_bytes: u64,
    /// The most bytes of values it held at once.
    pub peak_stored_bytes: u64,
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
        Scheduler {
            state: SchedulerState::new(config.clone()),
            config,
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
        }
    }

    fn snapshot(&self) -> ClusterSnapshot {
        let mut workers: Vec<WorkerView> = self
            .workers
            .iter()
            .map(|(&id, w)| WorkerView {
                id,
                name: w.name.clone(),
                addr: w.addr,
                pid: w.pid,
                nthreads: w.nthreads,
                memory_limit: w.memory_limit,
                memory_used: w.memory_used,
                stored_keys: w.stored_keys,
                keys_in_memory: self.state.has_what(id).len() as u64,
                processing: self.state.processing_count(id).unwrap_or(0) as u64,
                peer_bytes_in: w.peer_bytes_in,
                stored_bytes: w.stored_bytes,
                peak_stored_bytes: w.peak_stored_bytes,
                functions: w.functions.clone(),
            })
            .collect();
        workers.sort_by_key(|w| w.id);
        ClusterSnapshot {
            workers,
            tasks: self.state.task_count() as u64,
        }
    }

    fn broadcast_cluster(&self) {
        let snapshot = self.snapshot();
        for link in self.clients.values() {
            link.tell(SchedulerToExecutor::Cluster(snapshot.clone()));
        }
    }

    /// Sends what the state machine decided during the last event.
    fn flush(&mut self) {
        for (worker, commands) in self.batch.take_worker_commands() {
            self.send_to_worker(worker, commands);
        }
        for (client, reports) in self.batch.take_client_reports() {
            self.send_to_client(client, reports);
        }
        self.inline.clear();
    }

    fn send_to_worker(&self, worker: WorkerId, commands: Vec<WorkerCommand>) {
        let Some(entry) = self.workers.get(&worker) else {
            return;
        };
        let mut tasks: Vec<ComputeTask> = Vec::new();
        for command in commands {
            match command {
                WorkerCommand::Compute(task) => tasks.push(task),
                WorkerCommand::ReleaseData(keys) => {
                    self.send_compute(entry, std::mem::take(&mut tasks));
                    entry.link.tell(CenterToWorker::Release(keys));
                }
            }
        }
        self.send_compute(entry, tasks);
    }

    fn send_compute(&self, entry: &WorkerEntry, tasks: Vec<ComputeTask>) {
        if tasks.is_empty() {
            return;
        }
        let mut peers: Vec<(WorkerId, SocketAddr)> = tasks
            .iter()
            .flat_map(|task| task.deps.iter().flat_map(|(_, holders)| holders.iter()))
            .filter_map(|id| self.workers.get(id).map(|w| (*id, w.addr)))
            .collect();
        peers.sort_unstable();
        peers.dedup();
        entry.link.tell(CenterToWorker::Compute { tasks, peers });
    }

    fn send_to_client(&self, client: ClientId, reports: Vec<ClientReport>) {
        let Some(link) = self.clients.get(&client) else {
            return;
        };
        let (mut in_memory, mut erred, mut lost) = (Vec::new(), Vec::new(), Vec::new());
        for report in reports {
            match report {
                ClientReport::InMemory(key) => in_memory.push(self.key_in_memory(key)),
                ClientReport::Erred(key, failure) => erred.push((key, failure)),
                ClientReport::Lost(key, reason) => lost.push((key, reason)),
            }
        }
        if !in_memory.is_empty() {
            link.tell(SchedulerToExecutor::InMemory(in_memory));
        }
        if !erred.is_empty() {
            link.tell(SchedulerToExecutor::Erred(erred));
        }
        if !lost.is_empty() {
            link.tell(SchedulerToExecutor::Lost(lost));
        }
    }

    fn key_in_memory(&self, key: TaskKey) -> KeyInMemory {
        let holders = self
            .state
            .who_has(&key)
            .iter()
            .filter_map(|id| self.workers.get(id).map(|w| w.addr))
            .collect();
        let inline = self.inline.get(&key).cloned();
        KeyInMemory {
            key,
            holders,
            inline,
        }
    }

    /// Tells the clients that want them that these keys (held by a lost worker) are no longer
    /// in memory, so their futures wait for the recomputed values.
    fn tell_recomputing(&self, held: Vec<TaskKey>) {
        let mut by_client: Map<ClientId, Vec<TaskKey>> = Map::default();
        for key in held {
            if matches!(self.state.task_state(&key), Some(TaskState::Memory { .. })) {
                continue;
            }
            for client in self.state.who_wants(&key) {
                by_client.entry(*client).or_default().push(key.clone());
            }
        }
        for (client, keys) in by_client {
            if let Some(link) = self.clients.get(&client) {
                link.tell(SchedulerToExecutor::Recomputing(keys));
            }
        }
    }

    fn on_task_event(&mut self, worker: WorkerId, event: TaskEvent) {
        match event {
            TaskEvent::Finished {
                key,
                nbytes,
                inline,
            } => {
                if let Some(value) = inline {
                    self.inline.insert(key.clone(), value);
                }
                self.state
                    .on_task_finished(worker, key, nbytes, &mut self.batch);
            }
            TaskEvent::Erred { key, failure } => {
                self.state
                    .on_task_erred(worker, key, failure, &mut self.batch);
            }
            TaskEvent::MissingDependency {
                key,
                dependency,
                holder,
            } => {
                warn!(target: LOG_TARGET, %worker, %key, %dependency, %holder, "dependency could not be fetched");
                self.state
                    .on_missing_dependency(worker, key, dependency, holder, &mut self.batch);
            }
        }
    }

    fn on_executor_message(
        &mut self,
        client: ClientId,
        message: ExecutorToScheduler,
        reply_tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        let out = &mut self.batch;
        let mut reply = SchedulerToExecutor::Ack;
        match message {
            ExecutorToScheduler::UpdateGraph { tasks, wanted } => {
                self.state.on_update_graph(client, tasks, wanted, out)
            }
            ExecutorToScheduler::Want(keys) => self.state.on_client_wants(client, keys, out),
            ExecutorToScheduler::Release(keys) => self.state.on_client_releases(client, keys, out),
            ExecutorToScheduler::Cancel(keys) => self.state.on_cancel(client, keys, out),
            ExecutorToScheduler::Scattered(keys) => {
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
            ExecutorToScheduler::Restart => return self.restart(client, reply_tag, ctx),
        }
        self.flush();
        if let (Some(tag), Some(link)) = (reply_tag, self.clients.get(&client)) {
            link.reply(tag, reply);
        }
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;
}

impl Handler<WorkerJoined> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: WorkerJoined, _ctx: &mut Context<Self>) {
        let functions = msg.functions.clone();
        self.workers.insert(
            msg.id,
            WorkerEntry {
                name: msg.name,
                addr: msg.addr,
                pid: msg.pid,
                nthreads: msg.nthreads,
                memory_limit: msg.memory_limit,
                memory_used: 0,
                stored_keys: 0,
                peer_bytes_in: 0,
                stored_bytes: 0,
                peak_stored_bytes: 0,
                functions: msg.functions,
                link: msg.link,
            },
        );
        self.state
            .on_worker_added(msg.id, msg.nthreads, functions, &mut self.batch);
        self.flush();
        self.broadcast_cluster();
        self.on_restarted_worker_joined();
    }
}

impl Handler<AttachCenter> for Scheduler {
    type Result = ();

    fn handle(&mut self, AttachCenter(center): AttachCenter, _ctx: &mut Context<Self>) {
        self.center = Some(center);
    }
}

impl Handler<WorkerLeft> for Scheduler {
    type Result = ();

    fn handle(&mut self, WorkerLeft(id): WorkerLeft, _ctx: &mut Context<Self>) {
        if self.workers.remove(&id).is_none() {
            return;
        }
        let held = self.state.has_what(id);
        self.state.on_worker_removed(id, &mut self.batch);
        self.tell_recomputing(held);
        self.flush();
        self.broadcast_cluster();
    }
}

impl Handler<WorkerLoad> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: WorkerLoad, _ctx: &mut Context<Self>) {
        if let Some(worker) = self.workers.get_mut(&msg.id) {
            worker.memory_used = msg.memory_used;
            worker.stored_keys = msg.stored_keys;
            worker.peer_bytes_in = msg.peer_bytes_in;
            worker.stored_bytes = msg.stored_bytes;
            worker.peak_stored_bytes = msg.peak_stored_bytes;
        }
    }
}

impl Handler<WorkerTaskEvents> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: WorkerTaskEvents, _ctx: &mut Context<Self>) {
        for event in msg.events {
            self.on_task_event(msg.id, event);
        }
        self.flush();
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
                info!(target: LOG_TARGET, %client, "Executor disconnected: {reason}");
                self.state.on_client_removed(client, &mut self.batch);
                self.flush();
            }
        }
    }
}
