//! The executor's actix shell, on its own thread: owns the session to the scheduler and the
//! connections to workers, applies the scheduler's reports to the shared key states, and
//! fetches or places values for the user's threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::join_all;
use tokio::sync::oneshot;

use super::reconnect::{QueueSlot, Reconnecting};
use super::state::{KeyStatus, SharedState};
use super::submissions::Submissions;
use crate::actors::remote::peer_client::{connect_peer, get_data, put_data, PeerError};
use crate::actors::remote::peer_pool::{PeerAttempt, PeerPool};
use crate::actors::remote::{ConnectOptions, Remote, RemoteError, SessionEvent};
use crate::function::EncodedValue;
use crate::ids::{Map, TaskKey};
use crate::messages::executor_link::{ExecutorToScheduler, SchedulerToExecutor};
use crate::messages::peer_link::WorkerToPeer;

pub(crate) const LOG_TARGET: &str = "taskforce::executor";

pub(crate) type SchedulerLink = Remote<ExecutorToScheduler, SchedulerToExecutor>;

/// Values fetched for a gather, by key.
pub(crate) type Gathered = Result<Map<TaskKey, EncodedValue>, crate::Error>;

/// The executor actor.
pub(crate) struct ExecutorActor {
    pub(crate) shared: Arc<SharedState>,
    pub(crate) scheduler: Option<SchedulerLink>,
    pub(crate) peers: PeerPool,
    pub(crate) options: ConnectOptions,
    pub(crate) name: String,
    pub(crate) releases: Vec<TaskKey>,
    pub(crate) lost: Option<String>,
    /// The center's address, to reconnect to.
    pub(crate) center: String,
    /// What to re-submit to a restarted center.
    pub(crate) submissions: Submissions,
    /// While the center is lost and the executor tries to reach it again.
    pub(crate) reconnecting: Option<Reconnecting>,
    /// The current link's send queue, shared with the user's threads.
    pub(crate) send_queue: QueueSlot,
}

/// Send a message to the scheduler.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ToScheduler(pub ExecutorToScheduler);

/// Ask the scheduler and hand back its answer.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AskScheduler {
    pub request: ExecutorToScheduler,
    pub timeout: Duration,
    pub reply: oneshot::Sender<Result<SchedulerToExecutor, RemoteError>>,
}

/// The last future of a key was dropped.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ReleaseKey(pub TaskKey);

/// Fetch values from the workers holding them.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Gather {
    pub requests: Vec<(SocketAddr, Vec<TaskKey>)>,
    pub reply: oneshot::Sender<Gathered>,
}

/// Place values on a worker.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Put {
    pub addr: SocketAddr,
    pub values: Vec<(TaskKey, EncodedValue)>,
    pub reply: oneshot::Sender<Result<Vec<u64>, crate::Error>>,
}

/// Close the connection and stop the executor's thread.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

impl ExecutorActor {
    /// Sends the releases gathered so far, leaving out keys this executor holds again (a
    /// future for the same key taken since: the scheduler must keep our want).
    fn flush_releases(&mut self) {
        let shared = &self.shared;
        let keys: Vec<TaskKey> = std::mem::take(&mut self.releases)
            .into_iter()
            .filter(|key| !shared.holds(key))
            .collect();
        for key in &keys {
            self.submissions.released(key);
        }
        if keys.is_empty() {
            return;
        }
        if let Some(scheduler) = &self.scheduler {
            scheduler.tell(ExecutorToScheduler::Release(keys));
        }
    }

    /// Sends `message` if connected; otherwise fails what it asked for.
    pub(crate) fn send_or_refuse(&mut self, message: ExecutorToScheduler) {
        match &self.scheduler {
            Some(scheduler) => scheduler.tell(message),
            None => self.refuse_while_disconnected(&message),
        }
    }

    /// Sends a request and hands its answer back.
    pub(crate) fn ask_scheduler(&mut self, msg: AskScheduler, ctx: &mut Context<Self>) {
        let Some(scheduler) = self.scheduler.clone() else {
            return self.hold_back_ask(msg);
        };
        let asked = async move {
            let answer = scheduler
                .ask(msg.request, msg.timeout)
                .await
                .map(|i| i.body);
            let _ = msg.reply.send(answer);
        };
        ctx.spawn(asked.into_actor(self));
    }

    /// With the scheduler gone, new tasks can only fail: say so at once.
    fn refuse_while_disconnected(&self, message: &ExecutorToScheduler) {
        let reason = self.lost.clone().unwrap_or_else(|| "not connected".into());
        let keys: Vec<&TaskKey> = match message {
            ExecutorToScheduler::UpdateGraph { wanted, .. } => wanted.iter().collect(),
            ExecutorToScheduler::Want(keys) => keys.iter().collect(),
            _ => Vec::new(),
        };
        for key in keys {
            let status = KeyStatus::Disconnected(format!("lost the scheduler: {reason}"));
            self.shared.set_status(key, status);
        }
    }

    /// The link to the worker at `addr`: shared with every other request to it, so
    /// concurrent gathers and scatters make one connection attempt per worker.
    fn peer(&mut self, addr: SocketAddr, ctx: &Context<Self>) -> PeerAttempt {
        let owner = ctx.address().recipient();
        let name = self.name.clone();
        let options = self.options.clone();
        self.peers.link(addr, move || async move {
            connect_peer(addr, name, owner, &options).await
        })
    }

    fn on_report(&mut self, report: SchedulerToExecutor) {
        let shared = &self.shared;
        match report {
            SchedulerToExecutor::InMemory(keys) => {
                shared.set_statuses(keys.into_iter().map(|done| {
                    let status = KeyStatus::Finished {
                        holders: done.holders,
                        inline: done.inline,
                    };
                    (done.key, status)
                }))
            }
            SchedulerToExecutor::Erred(keys) => {
                let updates: Vec<_> = (keys.into_iter())
                    .map(|(k, f)| (k, super::future::erred_status(shared, f.into())))
                    .collect();
                shared.set_statuses(updates)
            }
            SchedulerToExecutor::Lost(keys) => shared.set_statuses(
                keys.into_iter()
                    .map(|(k, r)| (k, super::future::lost_status(r))),
            ),
            SchedulerToExecutor::Recomputing(keys) => {
                shared.set_statuses(keys.into_iter().map(|k| (k, KeyStatus::Pending)))
            }
            SchedulerToExecutor::Cluster(snapshot) => {
                *shared.cluster.write().expect("cluster lock") = snapshot;
            }
            SchedulerToExecutor::Restarted => {
                shared.set_all(KeyStatus::Lost("the cluster was restarted".into()), true);
            }
            SchedulerToExecutor::Ack
            | SchedulerToExecutor::Refused { .. }
            | SchedulerToExecutor::Coordinated(_)
            | SchedulerToExecutor::Moved(_) => {}
        }
    }
}

impl Actor for ExecutorActor {
    type Context = Context<Self>;
}

impl Handler<ToScheduler> for ExecutorActor {
    type Result = ();

    /// The message goes before any pending release, so a future passed by value (released
    /// while the task reading it was built) reaches the scheduler as a dependency first.
    fn handle(&mut self, ToScheduler(message): ToScheduler, _ctx: &mut Context<Self>) {
        if let ExecutorToScheduler::UpdateGraph { tasks, wanted } = &message {
            self.submissions.record(tasks, wanted);
        }
        match &self.scheduler {
            Some(scheduler) => scheduler.tell(message),
            None if self.reconnecting.is_some() => {
                if let Err(message) = self.hold_back(message) {
                    self.refuse_while_disconnected(&message);
                }
            }
            None => self.refuse_while_disconnected(&message),
        }
        self.flush_releases();
    }
}

impl Handler<AskScheduler> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, msg: AskScheduler, ctx: &mut Context<Self>) {
        self.flush_releases();
        self.ask_scheduler(msg, ctx);
    }
}

impl Handler<ReleaseKey> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, ReleaseKey(key): ReleaseKey, ctx: &mut Context<Self>) {
        if self.releases.is_empty() {
            ctx.notify(FlushReleases);
        }
        self.releases.push(key);
    }
}

/// Sends the releases gathered during this turn of the actor.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct FlushReleases;

impl Handler<FlushReleases> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, _: FlushReleases, _ctx: &mut Context<Self>) {
        self.flush_releases();
    }
}

impl Handler<Gather> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, msg: Gather, ctx: &mut Context<Self>) {
        let requests: Vec<_> = msg
            .requests
            .into_iter()
            .map(|(addr, keys)| {
                let link = self.peer(addr, ctx);
                async move {
                    let link = link.await?;
                    let fetched = get_data(&link, addr, keys).await?;
                    Ok::<_, PeerError>((addr, fetched))
                }
            })
            .collect();
        let gathered = async move { join_all(requests).await };
        ctx.spawn(gathered.into_actor(self).map(move |results, _, _| {
            let mut values = Map::default();
            let mut failure = None;
            for result in results {
                match result {
                    Ok((addr, fetched)) => {
                        values.extend(fetched.values);
                        if let Some(key) = fetched.missing.into_iter().next() {
                            failure.get_or_insert(crate::Error::ConnectionLost {
                                reason: format!("{addr} no longer holds {key}"),
                            });
                        }
                    }
                    Err(e) => {
                        failure.get_or_insert(e.into_error());
                    }
                }
            }
            let _ = msg.reply.send(failure.map_or(Ok(values), Err));
        }));
    }
}

impl Handler<Put> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, msg: Put, ctx: &mut Context<Self>) {
        let Put {
            addr,
            values,
            reply,
        } = msg;
        let link = self.peer(addr, ctx);
        let placed = async move {
            let link = link.await?;
            let sizes = put_data(&link, addr, values).await?;
            Ok::<_, PeerError>(sizes)
        };
        ctx.spawn(placed.into_actor(self).map(move |result, _, _| {
            let answer = match result {
                Ok(sizes) => Ok(sizes),
                Err(e) => Err(e.into_error()),
            };
            let _ = reply.send(answer);
        }));
    }
}

impl Handler<Shutdown> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _ctx: &mut Context<Self>) {
        self.flush_releases();
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.close("executor closed");
        }
        System::current().stop();
    }
}

impl Handler<SessionEvent<SchedulerToExecutor>> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<SchedulerToExecutor>, ctx: &mut Context<Self>) {
        let current = self.scheduler.as_ref().map(SchedulerLink::session_id);
        match event {
            SessionEvent::Received { session, incoming } if Some(session) == current => {
                self.on_report(incoming.body)
            }
            SessionEvent::Closed { session, reason } if Some(session) == current => {
                self.scheduler = None;
                self.on_scheduler_lost(reason, ctx);
            }
            _ => {}
        }
    }
}

impl Handler<SessionEvent<WorkerToPeer>> for ExecutorActor {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<WorkerToPeer>, _ctx: &mut Context<Self>) {
        if let SessionEvent::Closed { session, .. } = event {
            self.peers.closed(session);
        }
    }
}
