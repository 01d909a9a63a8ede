//! The scheduler's commands out: the narrow [`Outbox`] trait the caller implements, and
//! [`OutboxBatch`], an implementation that groups one event's commands per worker and per
//! client so the actor sends one frame to each.
//!
//! No I/O here: sending is the caller's job.

use super::failure::TaskFailure;
use super::types::ComputeTask;
use crate::ids::{ClientId, Map, TaskKey, WorkerId};

/// Where the scheduler writes its commands. Production sends them; tests record them.
///
/// The scheduler calls it at the end of each event, in order. Commands to one worker keep
/// their relative order (a `compute` then a `release_data` of the same key means "cancel").
pub trait Outbox {
    /// Run `task` on `worker`.
    fn compute(&mut self, worker: WorkerId, task: ComputeTask);
    /// Delete these keys from the worker's memory, or cancel them if queued or running there.
    fn release_data(&mut self, worker: WorkerId, keys: Vec<TaskKey>);
    /// Tell a client that wants `key` that its value is in memory (it may gather it).
    fn key_in_memory(&mut self, client: ClientId, key: TaskKey);
    /// Tell a client that wants `key` that it erred.
    fn key_erred(&mut self, client: ClientId, key: TaskKey, failure: TaskFailure);
    /// Tell a client that `key` is gone: cancelled, unknown, or scattered data lost with
    /// its worker.
    fn key_lost(&mut self, client: ClientId, key: TaskKey, reason: String);
    /// Tell a client that wants `key` that its value left memory with a lost worker (or a
    /// holder that could not deliver it) and is being computed again: its future waits.
    fn key_recomputing(&mut self, client: ClientId, key: TaskKey);
    /// The scheduler forgot `key`: nothing holds or needs it any more. For observers (the
    /// dashboard); nothing has to be sent.
    fn task_forgotten(&mut self, _key: TaskKey) {}
    /// Fetch a copy of `key` from one of `holders` and keep it; the worker answers with
    /// `on_task_copied` or `on_copy_failed`. Only the cluster operations (replicate,
    /// rebalance, retire) order copies, so an outbox for a shell that never calls them may
    /// leave this as it is: the default panics, as such an order would be a bug.
    fn acquire(&mut self, worker: WorkerId, key: TaskKey, holders: Vec<WorkerId>) {
        panic!("{worker} asked to copy {key} from {holders:?} through an outbox without copies");
    }
    /// Ask `worker` to give `key` back if none of its threads started it (another worker
    /// is about to idle); the worker answers with `on_steal_answer`, quoting `steal`, the
    /// request's number.
    fn steal(&mut self, worker: WorkerId, key: TaskKey, steal: u64);
}

/// A command to one worker, as [`OutboxBatch`] groups them.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerCommand {
    /// Run this task.
    Compute(ComputeTask),
    /// Delete (or cancel) these keys.
    ReleaseData(Vec<TaskKey>),
    /// Fetch a copy of each key from one of its holders, and keep it.
    Acquire(Vec<(TaskKey, Vec<WorkerId>)>),
    /// Give these tasks back if no thread started them (each with its request's number).
    Steal(Vec<(TaskKey, u64)>),
}

/// A report to one client, as [`OutboxBatch`] groups them.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientReport {
    /// The key is in memory.
    InMemory(TaskKey),
    /// The key erred.
    Erred(TaskKey, TaskFailure),
    /// The key is gone, with a human-readable reason.
    Lost(TaskKey, String),
    /// The key's value was lost and is being computed again.
    Recomputing(TaskKey),
}

/// An [`Outbox`] that groups commands per worker and reports per client, keeping their
/// order, so the actor can send one frame per peer per event batch.
///
/// ```
/// use taskforce::ids::WorkerId;
/// use taskforce::scheduler::{Outbox, OutboxBatch, WorkerCommand};
/// let mut batch = OutboxBatch::default();
/// batch.release_data(WorkerId(1), vec!["a".into()]);
/// batch.release_data(WorkerId(1), vec!["b".into()]);
/// let frames = batch.take_worker_commands();
/// assert_eq!(frames, vec![(WorkerId(1), vec![WorkerCommand::ReleaseData(vec!["a".into(), "b".into()])])]);
/// ```
#[derive(Debug, Default)]
pub struct OutboxBatch {
    workers: Map<WorkerId, Vec<WorkerCommand>>,
    clients: Map<ClientId, Vec<ClientReport>>,
    forgotten: Vec<TaskKey>,
}

impl OutboxBatch {
    /// Takes the commands gathered so far, per worker, ordered by worker id.
    pub fn take_worker_commands(&mut self) -> Vec<(WorkerId, Vec<WorkerCommand>)> {
        let mut frames: Vec<_> = self.workers.drain().collect();
        frames.sort_unstable_by_key(|(worker, _)| *worker);
        frames
    }

    /// Takes the reports gathered so far, per client, ordered by client id.
    pub fn take_client_reports(&mut self) -> Vec<(ClientId, Vec<ClientReport>)> {
        let mut frames: Vec<_> = self.clients.drain().collect();
        frames.sort_unstable_by_key(|(client, _)| *client);
        frames
    }

    /// The keys forgotten since the last call, in order.
    pub fn take_forgotten(&mut self) -> Vec<TaskKey> {
        std::mem::take(&mut self.forgotten)
    }

    /// Whether nothing is waiting to be taken.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty() && self.clients.is_empty() && self.forgotten.is_empty()
    }
}

impl Outbox for OutboxBatch {
    fn compute(&mut self, worker: WorkerId, task: ComputeTask) {
        let commands = self.workers.entry(worker).or_default();
        commands.push(WorkerCommand::Compute(task));
    }

    fn release_data(&mut self, worker: WorkerId, keys: Vec<TaskKey>) {
        let commands = self.workers.entry(worker).or_default();
        match commands.last_mut() {
            Some(WorkerCommand::ReleaseData(pending)) => pending.extend(keys),
            _ => commands.push(WorkerCommand::ReleaseData(keys)),
        }
    }

    fn key_in_memory(&mut self, client: ClientId, key: TaskKey) {
        let reports = self.clients.entry(client).or_default();
        reports.push(ClientReport::InMemory(key));
    }

    fn key_erred(&mut self, client: ClientId, key: TaskKey, failure: TaskFailure) {
        let reports = self.clients.entry(client).or_default();
        reports.push(ClientReport::Erred(key, failure));
    }

    fn key_lost(&mut self, client: ClientId, key: TaskKey, reason: String) {
        let reports = self.clients.entry(client).or_default();
        reports.push(ClientReport::Lost(key, reason));
    }

    fn key_recomputing(&mut self, client: ClientId, key: TaskKey) {
        let reports = self.clients.entry(client).or_default();
        reports.push(ClientReport::Recomputing(key));
    }

    fn task_forgotten(&mut self, key: TaskKey) {
        self.forgotten.push(key);
    }

    fn acquire(&mut self, worker: WorkerId, key: TaskKey, holders: Vec<WorkerId>) {
        let commands = self.workers.entry(worker).or_default();
        match commands.last_mut() {
            Some(WorkerCommand::Acquire(pending)) => pending.push((key, holders)),
            _ => commands.push(WorkerCommand::Acquire(vec![(key, holders)])),
        }
    }

    fn steal(&mut self, worker: WorkerId, key: TaskKey, steal: u64) {
        let commands = self.workers.entry(worker).or_default();
        match commands.last_mut() {
            Some(WorkerCommand::Steal(pending)) => pending.push((key, steal)),
            _ => commands.push(WorkerCommand::Steal(vec![(key, steal)])),
        }
    }
}

/// A command as the state machine buffers it during one event.
#[derive(Debug)]
pub(crate) enum Command {
    Compute(WorkerId, ComputeTask),
    Release(WorkerId, TaskKey),
    InMemory(ClientId, TaskKey),
    Erred(ClientId, TaskKey, TaskFailure),
    Lost(ClientId, TaskKey, String),
    Recomputing(ClientId, TaskKey),
    Forgotten(TaskKey),
    Acquire(WorkerId, TaskKey, Vec<WorkerId>),
    Steal(WorkerId, TaskKey, u64),
}

/// Hands buffered commands to `out` in order, merging each worker's releases into one
/// `release_data` call (flushed before that worker's next `compute`, `acquire` or `steal`,
/// so order holds).
pub(crate) fn deliver(commands: &mut Vec<Command>, out: &mut dyn Outbox) {
    let mut releases: Map<WorkerId, Vec<TaskKey>> = Map::default();
    for command in commands.drain(..) {
        match command {
            Command::Compute(worker, task) => {
                if let Some(keys) = releases.remove(&worker) {
                    out.release_data(worker, keys);
                }
                out.compute(worker, task);
            }
            Command::Release(worker, key) => releases.entry(worker).or_default().push(key),
            Command::InMemory(client, key) => out.key_in_memory(client, key),
            Command::Erred(client, key, failure) => out.key_erred(client, key, failure),
            Command::Lost(client, key, reason) => out.key_lost(client, key, reason),
            Command::Recomputing(client, key) => out.key_recomputing(client, key),
            Command::Forgotten(key) => out.task_forgotten(key),
            Command::Acquire(worker, key, holders) => {
                if let Some(keys) = releases.remove(&worker) {
                    out.release_data(worker, keys);
                }
                out.acquire(worker, key, holders);
            }
            Command::Steal(worker, key, steal) => {
                if let Some(keys) = releases.remove(&worker) {
                    out.release_data(worker, keys);
                }
                out.steal(worker, key, steal);
            }
        }
    }
    let mut releases: Vec<_> = releases.into_iter().collect();
    releases.sort_unstable_by_key(|(worker, _)| *worker);
    for (worker, keys) in releases {
        out.release_data(worker, keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::{FunctionId, Priority};

    fn compute(key: &str) -> ComputeTask {
        ComputeTask {
            key: key.into(),
            function: FunctionId::new("f", 1),
            spec: vec![].into(),
            deps: vec![],
            priority: Priority::default(),
        }
    }

    #[test]
    fn deliver_merges_releases_per_worker_without_reordering_them_past_a_compute() {
        let (w1, w2) = (WorkerId(1), WorkerId(2));
        let mut commands = vec![
            Command::Release(w1, "a".into()),
            Command::Release(w2, "d".into()),
            Command::Compute(w1, compute("b")),
            Command::Release(w1, "c".into()),
            Command::Release(w2, "e".into()),
            Command::InMemory(ClientId(3), "b".into()),
        ];
        let mut batch = OutboxBatch::default();
        deliver(&mut commands, &mut batch);
        assert!(commands.is_empty());
        let release =
            |keys: &[&str]| WorkerCommand::ReleaseData(keys.iter().map(|k| (*k).into()).collect());
        assert_eq!(
            batch.take_worker_commands(),
            vec![
                (
                    w1,
                    vec![
                        release(&["a"]),
                        WorkerCommand::Compute(compute("b")),
                        release(&["c"])
                    ]
                ),
                (w2, vec![release(&["d", "e"])]),
            ]
        );
        assert_eq!(
            batch.take_client_reports(),
            vec![(ClientId(3), vec![ClientReport::InMemory("b".into())])]
        );
        assert!(batch.is_empty());
    }
}
