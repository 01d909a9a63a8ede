//! A restarted center meeting its old workers and executors, on the scheduler's side: the
//! core decides (`SchedulerState::begin_recovery`, `on_worker_holds`, `on_client_resubmitted`,
//! `on_recovery_ended`); this shell keeps the clock and holds executors' messages back.
//!
//! A recovery opens at the first worker that registers holding values or the first executor
//! that re-submits, if this scheduler has never started a task; it lasts
//! [`RECOVERY_GRACE`]. Workers retry a lost center every 2 s at most, so by then every
//! worker that survived is back. Until it ends, executors' graph messages wait here (in
//! arrival order) and are applied at the end, after every re-registration: a re-submitted
//! key is then matched against every value a worker kept, and only what none kept is
//! computed. Cluster-info requests are answered at once.

use std::time::Duration;

use actix::prelude::*;
use tracing::{info, warn};

use super::{Scheduler, LOG_TARGET};
use crate::ids::{ClientId, TaskKey, WorkerId};
use crate::messages::executor_link::ExecutorToScheduler;
use crate::messages::tasks::NewTaskMsg;

/// How long a recovery waits for workers and executors to come back before placing work.
pub(super) const RECOVERY_GRACE: Duration = Duration::from_secs(5);

/// The most executor messages held back during a recovery. At the bound the recovery ends
/// at once (the messages held so far are applied, later ones are not held): an executor
/// cannot make the scheduler buffer without limit.
const MAX_DEFERRED: usize = 65_536;

/// An executor's message held back until the recovery ends.
pub(super) struct Deferred {
    client: ClientId,
    message: ExecutorToScheduler,
    reply_tag: Option<u64>,
}

/// The most tasks of one executor's re-submission gathered before it is applied. One more
/// closes that executor's link with the reason (its futures then fail as with a lost
/// center); it bounds what a client can make the scheduler hold.
const MAX_RESUBMITTED_TASKS: usize = 4_000_000;

/// A worker that registered again reports the values it kept.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerHolds {
    /// Which worker.
    pub id: WorkerId,
    /// `(key, nbytes)` of each value it holds.
    pub keys: Vec<(TaskKey, u64)>,
}

impl Scheduler {
    /// Gathers one part of `client`'s re-submission; at the last part the whole is applied
    /// as one event (a part alone may name dependencies another part brings).
    pub(super) fn on_resubmission_part(
        &mut self,
        client: ClientId,
        tasks: Vec<NewTaskMsg>,
        wanted: Vec<TaskKey>,
        last: bool,
    ) {
        let gathered = self.resubmitting.entry(client).or_default();
        gathered.extend(tasks);
        if gathered.len() > MAX_RESUBMITTED_TASKS {
            self.resubmitting.remove(&client);
            warn!(target: LOG_TARGET, %client, "Closing an executor whose re-submission passed {MAX_RESUBMITTED_TASKS} tasks");
            if let Some(link) = self.clients.get(&client) {
                link.close(format!(
                    "re-submission larger than {MAX_RESUBMITTED_TASKS} tasks"
                ));
            }
            return;
        }
        if !last {
            return;
        }
        let tasks = self.resubmitting.remove(&client).unwrap_or_default();
        self.observer.submitted(&tasks);
        let tasks = tasks.into_iter().map(Into::into).collect();
        info!(target: LOG_TARGET, %client, wanted = wanted.len(), "Executor re-submitted after a center restart");
        self.state
            .on_client_resubmitted(client, tasks, wanted, &mut self.batch);
    }

    /// Opens a recovery if the core agrees (it has never started a task), and arms its end.
    fn open_recovery(&mut self, ctx: &mut Context<Self>) {
        if self.state.begin_recovery() {
            info!(target: LOG_TARGET, grace = ?RECOVERY_GRACE,
                "Recovering from a center restart: waiting for workers and executors to come back");
            ctx.run_later(RECOVERY_GRACE, |scheduler, ctx| scheduler.end_recovery(ctx));
        }
    }

    /// Holds `message` back if a recovery is open (a re-submission may open one); returns
    /// whether it did.
    pub(super) fn defer_while_recovering(
        &mut self,
        client: ClientId,
        message: ExecutorToScheduler,
        reply_tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) -> Option<ExecutorToScheduler> {
        if matches!(message, ExecutorToScheduler::Resubmit { .. }) {
            self.open_recovery(ctx);
        }
        if !self.state.is_recovering() || matches!(message, ExecutorToScheduler::ClusterInfo) {
            return Some(message);
        }
        self.deferred.push(Deferred {
            client,
            message,
            reply_tag,
        });
        if self.deferred.len() >= MAX_DEFERRED {
            warn!(target: LOG_TARGET, held = self.deferred.len(), "Ending the recovery early: too many executor messages held back");
            self.end_recovery(ctx);
        }
        None
    }

    /// Applies what executors sent meanwhile (those still connected), then lets the core
    /// release unclaimed values and place the work.
    fn end_recovery(&mut self, ctx: &mut Context<Self>) {
        if !self.state.is_recovering() {
            return;
        }
        let deferred = std::mem::take(&mut self.deferred);
        let applied = deferred.len();
        for Deferred {
            client,
            message,
            reply_tag,
        } in deferred
        {
            if self.clients.contains_key(&client) {
                self.apply_executor_message(client, message, reply_tag, ctx);
            }
        }
        let kept = self.state.keys_in_memory();
        self.state.on_recovery_ended(&mut self.batch);
        self.flush();
        info!(target: LOG_TARGET, keys_kept = kept, keys_in_memory = self.state.keys_in_memory(),
            executor_messages = applied, workers = self.workers.len(), "Recovery ended");
    }
}

impl Handler<WorkerHolds> for Scheduler {
    type Result = ();

    fn handle(&mut self, WorkerHolds { id, keys }: WorkerHolds, ctx: &mut Context<Self>) {
        (self.observer).messages(crate::dashboard::MessageKind::WorkerHeldKeys, 1);
        if keys.is_empty() {
            return;
        }
        self.open_recovery(ctx);
        let offered = keys.len();
        let kept = self.state.on_worker_holds(id, keys, &mut self.batch);
        info!(target: LOG_TARGET, worker = %id, offered, kept, "Worker registered again holding values");
        self.flush();
    }
}
