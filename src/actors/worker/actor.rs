//! The worker's actix shell: the connection to the center, heartbeats, reconnects, and a
//! clean goodbye on shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::{error, info, warn};

use super::connect::connect_until;
use super::pool::TaskPool;
use super::spill::{ShellOutbox, SpillDir};
use super::WorkerConfig;
use crate::actors::remote::handshake::HandshakeError;
use crate::actors::remote::peer_pool::PeerPool;
use crate::actors::remote::{Connected, Remote, Session, SessionEvent, SessionOptions};
use crate::ids::WorkerId;
use crate::messages::center_link::TaskEvent;
use crate::messages::center_link::{
    CenterToWorker, GoodbyeMsg, HeartbeatMsg, PongMsg, WorkerToCenter,
};
use crate::messages::{Hello, Role};
use crate::worker_core::{registered_function, WorkerState};

/// Logs of this actor appear under the role's name.
pub(super) const LOG_TARGET: &str = "taskforce::worker";

type CenterLink = Remote<WorkerToCenter, CenterToWorker>;

/// How long a leaving worker waits for the center to acknowledge its goodbye.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

/// The most held keys offered to a center in one frame (about 100 bytes each).
const HELD_KEYS_PER_FRAME: usize = 10_000;

/// How often a worker with a memory limit measures its process's memory.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// The worker actor.
pub struct Worker {
    pub(super) config: WorkerConfig,
    addr: SocketAddr,
    pub(super) center: Option<CenterLink>,
    disconnected_since: Instant,
    /// Why the worker is leaving, once it is.
    leaving: Option<String>,
    connecting: bool,
    /// The decisions: tasks, inputs, values (this actor only feeds it and does what it says).
    pub(super) core: WorkerState,
    pool: Option<TaskPool>,
    /// Links this worker opened to fetch from peers, one per address.
    pub(super) peer_links: PeerPool,
    /// Reports gathered this turn, sent in one frame (see `execution.rs`).
    pub(super) events: Vec<TaskEvent>,
    pub(super) flush_scheduled: bool,
    /// Files of spilled values (only with a memory limit); removed with the worker.
    pub(super) spill: Option<SpillDir>,
    /// Holds the task threads back while memory is short (with a memory limit only).
    pub(super) memory_gate: Option<std::sync::Arc<super::memory_gate::MemoryGate>>,
    /// The services this worker hosts.
    pub(super) services: crate::actors::service::ServiceHost,
    /// The process's supervision tree, and the version of it the center last heard.
    trees: Option<super::WorkerTrees>,
    tree_sent: Option<crate::messages::tree::TreeNode>,
    /// What the threads ran and the values moved since the last activity report.
    pub(super) activity: super::activity::ActivityLog,
}

/// Asks the worker to leave the cluster and stop its process.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    /// Why, for the logs on both sides.
    pub reason: String,
}

impl Worker {
    /// A worker advertising `addr`, not yet connected. With a memory policy it spills to
    /// `spill` (without one, values stay in memory whatever the policy says).
    pub fn new(config: WorkerConfig, addr: SocketAddr, spill: Option<SpillDir>) -> Self {
        let mut core = WorkerState::new(registered_function);
        // Results waiting for the actor may use half the room between pause and limit.
        let memory_gate = config.memory.map(|policy| {
            let headroom = policy.limit.saturating_sub(policy.pause_bytes());
            std::sync::Arc::new(super::memory_gate::MemoryGate::new(headroom / 2))
        });
        if let Some(policy) = config.memory {
            core.set_memory_policy(policy);
        }
        Worker {
            config,
            addr,
            center: None,
            disconnected_since: Instant::now(),
            leaving: None,
            connecting: false,
            core,
            pool: None,
            peer_links: PeerPool::default(),
            events: Vec::new(),
            flush_scheduled: false,
            spill,
            memory_gate,
            services: Default::default(),
            trees: None,
            tree_sent: None,
            activity: Default::default(),
        }
    }

    /// Reports the process's supervision tree (as `trees` holds it) to the center when it
    /// changes, checked at each heartbeat.
    pub fn reporting(mut self, trees: super::WorkerTrees) -> Self {
        self.trees = Some(trees);
        self
    }

    fn report_tree(&mut self) {
        let Some(mut tree) = self.trees.as_ref().and_then(|trees| trees.node()) else {
            return;
        };
        let services = self.services.tree_nodes();
        if !services.is_empty() {
            let mut node = crate::messages::tree::TreeNode::running("services");
            node.children = services;
            tree.children.push(node);
        }
        let Some(center) = &self.center else {
            return;
        };
        if self.tree_sent.as_ref() != Some(&tree) {
            center.tell(WorkerToCenter::Tree(tree.clone()));
            self.tree_sent = Some(tree);
        }
    }

    pub(super) fn pool(&self) -> &TaskPool {
        self.pool
            .as_ref()
            .expect("task threads start with the actor")
    }

    pub(super) fn name(&self) -> String {
        self.config
            .name
            .clone()
            .unwrap_or_else(|| self.addr.to_string())
    }

    fn hello(&self) -> Hello {
        Hello {
            role: Role::Worker,
            name: self.name(),
            listen_addr: Some(self.addr),
            nthreads: self.config.nthreads,
            memory_limit: self.config.memory_limit,
            pid: std::process::id(),
            functions: crate::function::function_ids().to_vec(),
            resources: self.config.resources.clone(),
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        let center = self.config.center.clone();
        let hello = self.hello();
        let options = self.config.connect.clone();
        let deadline = self
            .config
            .death_timeout
            .map(|limit| tokio::time::Instant::from_std(self.disconnected_since + limit));
        self.connecting = true;
        let attempt = async move { connect_until(&center, &hello, &options, deadline).await };
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(|result, worker, ctx| match result {
                    Ok(connected) => worker.on_connected(connected, ctx),
                    Err(e) => worker.on_connect_failed(e),
                }),
        );
    }

    fn on_connected(&mut self, connected: Connected, ctx: &mut Context<Self>) {
        self.connecting = false;
        // The bounds of the links this worker opens: their idle timeout is the heartbeat
        // deadline after which a silent center is lost (`--heartbeat-timeout`).
        let options = SessionOptions::new(self.config.limits, self.config.connect.bounds);
        let (id, session) =
            Session::start(connected.stream, ctx.address().recipient(), options, None);
        self.center = Some(Remote::new(id, session));
        self.core.on_registered(WorkerId(connected.id));
        info!(target: LOG_TARGET, worker_id = connected.id, "Registered with center at: {}", self.config.center);
        if let Some(reason) = self.leaving.clone() {
            let center = self.center.take().expect("just connected");
            return self.say_goodbye(center, reason, ctx);
        }
        self.offer_held_keys();
        self.tree_sent = None;
        self.heartbeat();
    }

    /// Tells a center this worker registered with about the values it kept from the last
    /// one, first thing, so the scheduler knows them before it places work (in frames of at
    /// most [`HELD_KEYS_PER_FRAME`] keys).
    fn offer_held_keys(&self) {
        let Some(center) = &self.center else {
            return;
        };
        let held = self.core.held_keys();
        if !held.is_empty() {
            info!(target: LOG_TARGET, keys = held.len(), "Offering the values kept from the last center");
        }
        for chunk in held.chunks(HELD_KEYS_PER_FRAME) {
            center.tell(WorkerToCenter::HeldKeys(chunk.to_vec()));
        }
    }

    fn on_connect_failed(&mut self, e: HandshakeError) {
        self.connecting = false;
        if self.leaving.is_some() {
            return System::current().stop();
        }
        let center = &self.config.center;
        if e.is_transient() {
            let waited = self.disconnected_since.elapsed();
            let limit = self.config.death_timeout.unwrap_or_default();
            error!(target: LOG_TARGET, "Center at {center} unreachable for {waited:.1?} (death timeout {limit:?}); closing: {e}");
        } else {
            error!(target: LOG_TARGET, "Center at {center} refused this worker; closing: {e}");
        }
        System::current().stop_with_code(1);
    }

    /// The process's resident memory now, in bytes (0 if unknown).
    pub(super) fn rss() -> u64 {
        memory_stats::memory_stats().map_or(0, |m| m.physical_mem as u64)
    }

    /// Tells the core how much memory the process holds: it spills, pauses or resumes.
    fn sample_memory(&mut self, ctx: &mut Context<Self>) {
        let was_paused = self.core.is_paused();
        let mut out = ShellOutbox::new(self.spill.as_mut());
        let rss = Self::rss();
        let spilled = self.core.on_memory_sample(rss, &mut out);
        let commands = out.commands;
        if spilled > 0 || self.core.is_paused() {
            super::allocator::return_large_blocks_on_free();
            super::allocator::return_freed_memory();
        }
        if let Some(gate) = &self.memory_gate {
            gate.set_paused(self.core.is_paused());
        }
        match (was_paused, self.core.is_paused()) {
            (false, true) => {
                warn!(target: LOG_TARGET, memory = rss, "Pausing: memory past the pause fraction of the limit; running tasks finish, new ones wait")
            }
            (true, false) => {
                info!(target: LOG_TARGET, memory = rss, "Resuming: memory back under the pause fraction")
            }
            _ => {}
        }
        self.perform(commands, ctx);
    }

    fn heartbeat(&mut self) {
        self.report_tree();
        if let Some(center) = &self.center {
            let memory_bytes = Self::rss();
            center.tell(WorkerToCenter::Heartbeat(HeartbeatMsg {
                spilled_bytes: self.core.spilled_bytes(),
                memory_bytes,
                executing: self.core.running_count() as u32,
                stored_keys: self.core.stored_keys() as u32,
                peer_bytes_in: self.core.peer_bytes_in(),
                stored_bytes: self.core.stored_bytes(),
                peak_stored_bytes: self.core.peak_stored_bytes(),
            }));
            self.report_activity();
        }
    }

    /// Sends what the worker did since the last report (with the spills the spill directory
    /// noted), for the dashboard.
    fn report_activity(&mut self) {
        let Some(center) = &self.center else {
            return;
        };
        if let Some(spill) = self.spill.as_mut() {
            for (kind, started, stopped) in spill.take_spans() {
                self.activity.record(kind, started, stopped);
            }
        }
        let report = self.activity.report(
            Instant::now(),
            self.core.peer_bytes_in(),
            self.core.is_paused(),
        );
        center.tell(WorkerToCenter::Activity(report));
    }

    fn on_center_message(
        &mut self,
        message: CenterToWorker,
        reply_tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        match message {
            CenterToWorker::Ping => {
                if let (Some(tag), Some(center)) = (reply_tag, &self.center) {
                    let (tasks_done, busy_nanos) = self.pool().counters();
                    center.reply(
                        tag,
                        WorkerToCenter::Pong(PongMsg {
                            tasks_done,
                            busy_nanos,
                        }),
                    );
                }
            }
            CenterToWorker::GoodbyeAck => {}
            CenterToWorker::Compute { tasks, peers } => {
                self.on_compute(tasks.into_iter().map(Into::into).collect(), peers, ctx)
            }
            CenterToWorker::Release(keys) => {
                let mut out = ShellOutbox::new(self.spill.as_mut()).with_pool(self.pool.as_ref());
                self.core.on_release(keys, &mut out);
            }
            CenterToWorker::Steal(keys) => {
                let mut out = ShellOutbox::new(self.spill.as_mut()).with_pool(self.pool.as_ref());
                self.core.on_steal(keys, &mut out);
                let commands = out.commands;
                self.perform(commands, ctx);
            }
            CenterToWorker::Acquire { keys, peers } => {
                let mut out = ShellOutbox::new(self.spill.as_mut());
                self.core.on_acquire(keys, peers, &mut out);
                let commands = out.commands;
                self.perform(commands, ctx);
            }
            CenterToWorker::Shutdown(m) => {
                info!(target: LOG_TARGET, "Center asks this worker to close: {}", m.reason);
                self.leave(format!("center asked: {}", m.reason), ctx);
            }
        }
    }

    fn on_center_lost(&mut self, reason: String, ctx: &mut Context<Self>) {
        self.center = None;
        self.forget_everything();
        if self.leaving.is_some() {
            return;
        }
        warn!(target: LOG_TARGET, "Lost connection to center at {}: {reason}; reconnecting", self.config.center);
        self.disconnected_since = Instant::now();
        self.connect(ctx);
    }

    /// A new center knows nothing of what the old one asked: the core drops its tasks and
    /// keeps its values (offered to the next center), and the reports not yet sent were
    /// meant for the old center.
    fn forget_everything(&mut self) {
        let mut out = ShellOutbox::new(self.spill.as_mut());
        let held = self.core.on_center_lost(&mut out);
        if held > 0 {
            info!(target: LOG_TARGET, keys = held, "keeping the values of the lost center's tasks for the next one");
        }
        self.events.clear();
    }

    /// Leaves the cluster: a goodbye the center acknowledges, then the process stops. A worker
    /// still connecting says goodbye once connected (or stops after the goodbye timeout).
    fn leave(&mut self, reason: String, ctx: &mut Context<Self>) {
        if self.leaving.is_some() {
            return;
        }
        self.leaving = Some(reason.clone());
        match self.center.take() {
            Some(center) => self.say_goodbye(center, reason, ctx),
            None if self.connecting => {
                ctx.run_later(GOODBYE_TIMEOUT, move |_, _| {
                    info!(target: LOG_TARGET, "Closing worker ({reason}) before it could register");
                    System::current().stop();
                });
            }
            None => {
                info!(target: LOG_TARGET, "Closing worker ({reason})");
                System::current().stop();
            }
        }
    }

    fn say_goodbye(&mut self, center: CenterLink, reason: String, ctx: &mut Context<Self>) {
        let goodbye = WorkerToCenter::Goodbye(GoodbyeMsg {
            reason: reason.clone(),
        });
        let farewell = async move { center.ask(goodbye, GOODBYE_TIMEOUT).await };
        ctx.spawn(farewell.into_actor(self).map(move |answer, _, _| {
            if let Err(e) = answer {
                warn!(target: LOG_TARGET, "Center did not acknowledge goodbye: {e}");
            }
            info!(target: LOG_TARGET, "Closing worker ({reason})");
            System::current().stop();
        }));
    }
}

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let cluster = super::in_task::TaskCluster {
            center: self.config.center.clone(),
            connect: self.config.connect.clone(),
        };
        match TaskPool::start(
            self.config.nthreads,
            ctx.address(),
            cluster,
            self.memory_gate.clone(),
        ) {
            Ok(pool) => self.pool = Some(pool),
            Err(e) => {
                error!(target: LOG_TARGET, "could not start task threads: {e}");
                return System::current().stop_with_code(1);
            }
        }
        self.connect(ctx);
        ctx.run_interval(self.config.heartbeat_interval, |worker, _| {
            worker.heartbeat()
        });
        if self.config.memory.is_some() {
            ctx.run_interval(MEMORY_SAMPLE_INTERVAL, Worker::sample_memory);
        }
    }
}

impl Handler<SessionEvent<CenterToWorker>> for Worker {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<CenterToWorker>, ctx: &mut Context<Self>) {
        crate::actors::test_panic::tick("worker");
        let current = self.center.as_ref().map(Remote::session_id);
        match event {
            SessionEvent::Received { session, incoming } if Some(session) == current => {
                self.on_center_message(incoming.body, incoming.reply_tag, ctx)
            }
            SessionEvent::Closed { session, reason } if Some(session) == current => {
                self.on_center_lost(reason, ctx)
            }
            _ => {}
        }
    }
}

impl Handler<Shutdown> for Worker {
    type Result = ();

    fn handle(&mut self, msg: Shutdown, ctx: &mut Context<Self>) {
        self.leave(msg.reason, ctx);
    }
}
