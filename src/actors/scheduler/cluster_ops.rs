//! `Executor::replicate`, `rebalance` and `retire_workers` on the scheduler's side: the core
//! plans and orders the copies (`SchedulerState::replicate`, `rebalance`, `plan_retire`);
//! this shell follows each request's copies as workers report them, drops the old copy of
//! each move, stops retired workers through the center once what they alone held is safe,
//! and answers the executor with a [`MoveReport`].
//!
//! A request is answered when every copy it ordered is reported (made or failed), its
//! workers have left (retire), or after [`OPERATION_TIMEOUT`] with what was done by then.
//! At most [`MAX_OPERATIONS`] run at once; one more is refused before anything is ordered.

use actix::prelude::*;
use tracing::{info, warn};

use super::{Scheduler, LOG_TARGET};
use crate::ids::{ClientId, Map, TaskKey, WorkerId};
use crate::messages::executor_link::{MoveReport, SchedulerToExecutor};
use crate::scheduler::CopyOrder;

/// How long a request waits for its copies (and a retire for its workers to leave).
pub(super) const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Requests followed at once; the next is refused until one ends.
const MAX_OPERATIONS: usize = 64;

/// How often a retire plans again for values that landed on its workers meanwhile.
const RETIRE_ROUNDS: u32 = 5;

/// Failure reasons kept per report; the rest are only counted.
const SHOWN_FAILURES: usize = 16;

/// Every request in progress, by number.
#[derive(Default)]
pub(super) struct ClusterOps {
    next: u64,
    running: Map<u64, Operation>,
}

/// One request and the copies it waits for.
struct Operation {
    client: ClientId,
    tag: Option<u64>,
    /// `(key, to)` → the worker whose copy is dropped once `to` reports (a move).
    awaiting: Map<(TaskKey, WorkerId), Option<WorkerId>>,
    report: MoveReport,
    retire: Option<Retirement>,
}

/// The workers a retire stops, and how far it got.
struct Retirement {
    /// Each worker with its name.
    workers: Vec<(WorkerId, String)>,
    rounds: u32,
    /// Whether the center was asked to stop them (then the request waits for them to leave).
    stopping: bool,
}

impl Operation {
    fn failed(&mut self, why: String) {
        self.report.failed_count += 1;
        if self.report.failed.len() < SHOWN_FAILURES {
            self.report.failed.push(why);
        }
    }

    fn expect(&mut self, orders: Vec<CopyOrder>) {
        for order in orders {
            self.awaiting.insert((order.key, order.to), order.from);
        }
    }
}

/// The answer to a client's retire on a cluster that does not allow it (logged): stopping
/// workers takes them from every user, so it is the cluster owner's to allow.
pub(super) fn retire_refusal(client: ClientId) -> SchedulerToExecutor {
    let reason = "this cluster does not allow its clients to retire workers (start the center \
                  with --allow-restart to allow it)";
    warn!(target: LOG_TARGET, %client, "Refusing retire_workers: {reason}");
    refused("retire_workers", reason.into())
}

fn refused(operation: &str, reason: String) -> SchedulerToExecutor {
    SchedulerToExecutor::Refused {
        operation: operation.into(),
        reason,
    }
}

/// The refusal when [`MAX_OPERATIONS`] requests are running.
fn busy(operation: &str) -> SchedulerToExecutor {
    let reason = format!(
        "{MAX_OPERATIONS} replicate, rebalance or retire requests are running; try again when \
         one has ended"
    );
    refused(operation, reason)
}

impl Scheduler {
    /// Orders copies so each of `keys` has `n` holders; answers once they are made.
    pub(super) fn replicate(
        &mut self,
        client: ClientId,
        keys: Vec<TaskKey>,
        n: usize,
        tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        if self.cluster_ops.running.len() >= MAX_OPERATIONS {
            return self.answer(client, tag, busy("replicate"));
        }
        let orders = self.state.replicate(client, &keys, n, &mut self.batch);
        info!(target: LOG_TARGET, %client, keys = keys.len(), n, copies = orders.len(), "Replicating");
        self.begin(client, tag, orders, None, ctx);
    }

    /// Orders moves that even out the bytes workers hold; answers once they are made.
    pub(super) fn rebalance(
        &mut self,
        client: ClientId,
        tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        if self.cluster_ops.running.len() >= MAX_OPERATIONS {
            return self.answer(client, tag, busy("rebalance"));
        }
        let orders = self.state.rebalance(&mut self.batch);
        let bytes: u64 = orders.iter().map(|order| order.nbytes).sum();
        info!(target: LOG_TARGET, %client, moves = orders.len(), bytes, "Rebalancing");
        self.begin(client, tag, orders, None, ctx);
    }

    /// Retires the workers named (by name or address): they take no new task, what only they
    /// hold is copied elsewhere, then the center stops them (no restart).
    pub(super) fn retire_workers(
        &mut self,
        client: ClientId,
        names: Vec<String>,
        tag: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        if self.cluster_ops.running.len() >= MAX_OPERATIONS {
            return self.answer(client, tag, busy("retire_workers"));
        }
        let workers = match self.resolve_workers(&names) {
            Ok(workers) => workers,
            Err(reason) => return self.answer(client, tag, refused("retire_workers", reason)),
        };
        let ids: Vec<WorkerId> = workers.iter().map(|(id, _)| *id).collect();
        for id in &ids {
            self.state.set_retiring(*id, true, &mut self.batch);
        }
        let orders = match self.state.plan_retire(&ids, &mut self.batch) {
            Ok(orders) => orders,
            Err(reason) => {
                for id in &ids {
                    self.state.set_retiring(*id, false, &mut self.batch);
                }
                self.flush();
                return self.answer(client, tag, refused("retire_workers", reason));
            }
        };
        info!(target: LOG_TARGET, %client, workers = ?names, copies = orders.len(), "Retiring workers");
        let retirement = Retirement {
            workers,
            rounds: 0,
            stopping: false,
        };
        self.begin(client, tag, orders, Some(retirement), ctx);
    }

    /// Each name or address to a connected worker; `Err` names those that match none.
    fn resolve_workers(&self, names: &[String]) -> Result<Vec<(WorkerId, String)>, String> {
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for name in names {
            let worker = self.workers.iter().find(|(_, entry)| {
                entry.description.name == *name || entry.description.addr.to_string() == *name
            });
            match worker {
                Some((id, entry)) if !found.iter().any(|(f, _)| f == id) => {
                    found.push((*id, entry.description.name.clone()))
                }
                Some(_) => {}
                None => unknown.push(name.clone()),
            }
        }
        if unknown.is_empty() && !found.is_empty() {
            return Ok(found);
        }
        let mut connected: Vec<String> = (self.workers.values())
            .map(|entry| format!("{} at {}", entry.description.name, entry.description.addr))
            .collect();
        connected.sort();
        Err(format!(
            "no connected worker is named or listens at {}; connected: {}",
            if unknown.is_empty() {
                "(none given)".to_string()
            } else {
                unknown.join(", ")
            },
            if connected.is_empty() {
                "none".to_string()
            } else {
                connected.join(", ")
            }
        ))
    }

    fn begin(
        &mut self,
        client: ClientId,
        tag: Option<u64>,
        orders: Vec<CopyOrder>,
        retire: Option<Retirement>,
        ctx: &mut Context<Self>,
    ) {
        self.flush();
        let mut operation = Operation {
            client,
            tag,
            awaiting: Map::default(),
            report: MoveReport::default(),
            retire,
        };
        operation.expect(orders);
        let id = self.cluster_ops.next;
        self.cluster_ops.next += 1;
        self.cluster_ops.running.insert(id, operation);
        ctx.run_later(OPERATION_TIMEOUT, move |scheduler, _| {
            scheduler.time_out(id)
        });
        self.advance(id);
    }

    /// A copy of `key` on `worker` settled: made (`Ok(nbytes)`) or not, with why. Called
    /// for every copy a worker reports, most of them a task's inputs no request waits for:
    /// with no request running it returns at once. The caller flushes.
    pub(super) fn copy_settled(
        &mut self,
        worker: WorkerId,
        key: &TaskKey,
        outcome: Result<u64, String>,
    ) {
        if self.cluster_ops.running.is_empty() {
            return;
        }
        let ids: Vec<u64> = self.cluster_ops.running.keys().copied().collect();
        for id in ids {
            let operation = self.cluster_ops.running.get_mut(&id).expect("running");
            let Some(from) = operation.awaiting.remove(&(key.clone(), worker)) else {
                continue;
            };
            match &outcome {
                Ok(nbytes) => {
                    operation.report.copies += 1;
                    operation.report.bytes += nbytes;
                    if let Some(from) = from {
                        if self.state.drop_copy(key, from, &mut self.batch) {
                            operation.report.dropped += 1;
                        }
                    }
                }
                Err(why) => operation.failed(why.clone()),
            }
            self.advance(id);
        }
    }

    /// `worker` left: copies awaited from it fail; a retire waiting for it may be done.
    pub(super) fn cluster_ops_worker_left(&mut self, worker: WorkerId) {
        let ids: Vec<u64> = self.cluster_ops.running.keys().copied().collect();
        for id in ids {
            let operation = self.cluster_ops.running.get_mut(&id).expect("running");
            let gone: Vec<(TaskKey, WorkerId)> = (operation.awaiting.keys())
                .filter(|(_, to)| *to == worker)
                .cloned()
                .collect();
            for entry in gone {
                operation.awaiting.remove(&entry);
                operation.failed(format!("{} to {worker}: the worker left", entry.0));
            }
            self.advance(id);
        }
    }

    /// Moves request `id` on when it waits for nothing more: a retire plans again for what
    /// landed on its workers meanwhile, then stops them; the rest are answered.
    fn advance(&mut self, id: u64) {
        let Some(operation) = self.cluster_ops.running.get_mut(&id) else {
            return;
        };
        if !operation.awaiting.is_empty() {
            return;
        }
        let Some(retirement) = &mut operation.retire else {
            return self.finish(id);
        };
        if retirement.stopping {
            let still: Vec<WorkerId> = (retirement.workers.iter())
                .map(|(w, _)| *w)
                .filter(|w| self.workers.contains_key(w))
                .collect();
            if still.is_empty() {
                self.finish(id);
            }
            return;
        }
        let ids: Vec<WorkerId> = retirement.workers.iter().map(|(w, _)| *w).collect();
        let orders = self
            .state
            .plan_retire(&ids, &mut self.batch)
            .unwrap_or_default();
        retirement.rounds += 1;
        if !orders.is_empty() && retirement.rounds < RETIRE_ROUNDS {
            operation.expect(orders);
            return self.flush();
        }
        self.stop_retired(id);
    }

    /// The copies are done: workers still alone in holding some key are kept (not retiring
    /// any more); the others are stopped through the center.
    fn stop_retired(&mut self, id: u64) {
        let operation = self.cluster_ops.running.get_mut(&id).expect("running");
        let retirement = operation.retire.as_mut().expect("a retire");
        let mut stopped = Vec::new();
        let mut kept = Vec::new();
        let leaving: Vec<WorkerId> = retirement.workers.iter().map(|(w, _)| *w).collect();
        for (worker, name) in &retirement.workers {
            // Held by retiring workers alone: stopping them all would lose it.
            let alone = (self.state.has_what(*worker).iter())
                .filter(|key| self.state.who_has(key).iter().all(|h| leaving.contains(h)))
                .count();
            if alone > 0 {
                kept.push(format!(
                    "{name}: {alone} keys only it holds could not be copied elsewhere"
                ));
                self.state.set_retiring(*worker, false, &mut self.batch);
            } else if self.workers.contains_key(worker) {
                stopped.push((*worker, name.clone()));
            }
        }
        for why in &kept {
            warn!(target: LOG_TARGET, "Not retiring {why}");
        }
        operation.report.kept = kept;
        operation.report.retired = stopped.iter().map(|(_, name)| name.clone()).collect();
        retirement.workers = stopped.clone();
        retirement.stopping = true;
        self.flush();
        let ids: Vec<WorkerId> = stopped.iter().map(|(w, _)| *w).collect();
        if let (false, Some(center)) = (ids.is_empty(), &self.center) {
            center.do_send(crate::actors::center::RetireWorkers(ids));
        }
        self.advance(id);
    }

    fn time_out(&mut self, id: u64) {
        let Some(operation) = self.cluster_ops.running.get_mut(&id) else {
            return;
        };
        let late: Vec<(TaskKey, WorkerId)> = operation.awaiting.drain().map(|(k, _)| k).collect();
        for (key, to) in late {
            operation.failed(format!(
                "{key} to {to}: not reported within {OPERATION_TIMEOUT:?}"
            ));
        }
        if let Some(retirement) = &operation.retire {
            let why = match retirement.stopping {
                false => "timed out copying its data",
                true => "did not stop in time",
            };
            for (worker, name) in retirement.workers.clone() {
                if !self.workers.contains_key(&worker) {
                    continue;
                }
                warn!(target: LOG_TARGET, %worker, "Not retiring {name}: it {why}; it takes tasks again");
                self.state.set_retiring(worker, false, &mut self.batch);
                operation.report.retired.retain(|retired| *retired != name);
                operation.report.kept.push(format!("{name}: {why}"));
            }
        }
        self.flush();
        self.finish(id);
    }

    fn finish(&mut self, id: u64) {
        let Some(operation) = self.cluster_ops.running.remove(&id) else {
            return;
        };
        let report = operation.report;
        info!(target: LOG_TARGET, client = %operation.client, copies = report.copies, bytes = report.bytes,
            failed = report.failed_count, dropped = report.dropped, retired = ?report.retired,
            kept = ?report.kept, "Cluster operation done");
        self.answer(
            operation.client,
            operation.tag,
            SchedulerToExecutor::Moved(report),
        );
    }

    fn answer(&mut self, client: ClientId, tag: Option<u64>, reply: SchedulerToExecutor) {
        if let (Some(tag), Some(link)) = (tag, self.clients.get(&client)) {
            self.observer
                .messages(crate::dashboard::MessageKind::Ack, 1);
            link.reply(tag, reply);
        }
    }
}
