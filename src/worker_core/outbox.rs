//! The worker core's commands out: the narrow [`WorkerOutbox`] trait, the orders it carries
//! ([`Job`], [`FetchOrder`]), and [`WorkerCommand`], a queue of them the actor shell drains.
//!
//! No I/O here: running, fetching and sending are the shell's job.

use std::net::SocketAddr;

use crate::function::{Call, EncodedValue, Stored};
use crate::ids::{TaskKey, WorkerId};
use crate::messages::center_link::TaskEvent;
use crate::scheduler::Priority;

/// One task for the task threads.
pub struct Job {
    /// The task.
    pub key: TaskKey,
    /// The function's registered name (for the task stream of the dashboard).
    pub function: std::sync::Arc<str>,
    /// Where it stands in the scheduler's order (lower runs first).
    pub priority: Priority,
    /// The call to make, its arguments resolved from the worker's memory.
    pub call: Call,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("key", &self.key)
            .field("priority", &self.priority)
            .field("args", &self.call.args.len())
            .finish()
    }
}

/// Names one fetch, so its answer finds the inputs it was for (and an answer to a fetch made
/// for a center that is gone is recognised and dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FetchId(pub u64);

/// Ask the peer `holder` at `addr` for the values of `keys`; answer with
/// [`WorkerState::on_fetched`](super::WorkerState::on_fetched) or
/// [`WorkerState::on_fetch_failed`](super::WorkerState::on_fetch_failed) with `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchOrder {
    /// Which fetch this is.
    pub id: FetchId,
    /// The holder's id (for reports).
    pub holder: WorkerId,
    /// Its peer address.
    pub addr: SocketAddr,
    /// The keys to ask for.
    pub keys: Vec<TaskKey>,
}

/// Where the worker core writes its commands. Production performs them; tests record them.
///
/// Commands come in the order the core decided them; reports keep their order. The spill
/// methods are the exception: the disk answers at once, so the core's memory accounting
/// never runs ahead of what is really on disk.
pub trait WorkerOutbox {
    /// Hand a task to the task threads; its outcome comes back as
    /// [`WorkerState::on_job_done`](super::WorkerState::on_job_done).
    fn run(&mut self, job: Job);
    /// Fetch inputs from a peer.
    fn fetch(&mut self, order: FetchOrder);
    /// Tell the scheduler what happened to a task (or that a fetched copy is held here).
    fn report(&mut self, event: TaskEvent);
    /// Write `key`'s `value` to the spill directory, now; returns whether it is there (only
    /// then does the core drop the memory copy). Without a disk nothing spills.
    fn spill(&mut self, _key: &TaskKey, _value: &Stored) -> bool {
        false
    }
    /// Read `key`'s spilled value back, now; `None` if it cannot be read.
    fn read_back(&mut self, _key: &TaskKey) -> Option<EncodedValue> {
        None
    }
    /// `key`'s spilled value is no longer needed: delete it.
    fn drop_spilled(&mut self, _key: &TaskKey) {}
    /// Take back `key`'s job if no thread has started it yet, now; returns whether it was
    /// taken (then its outcome never comes). Without task threads to ask, nothing is.
    fn withdraw(&mut self, _key: &TaskKey) -> bool {
        false
    }
    /// A run the lost center asked for ended after it was lost; its value (`nbytes`) is kept
    /// here: offer it to the current center, if there is one (a worker that registers later
    /// offers every value it holds).
    fn offer(&mut self, key: TaskKey, nbytes: u64);
}

/// A command of the core, as [`Vec<WorkerCommand>`] queues them for the shell.
#[derive(Debug)]
pub enum WorkerCommand {
    /// See [`WorkerOutbox::run`].
    Run(Job),
    /// See [`WorkerOutbox::fetch`].
    Fetch(FetchOrder),
    /// See [`WorkerOutbox::report`].
    Report(TaskEvent),
    /// See [`WorkerOutbox::offer`].
    Offer(TaskKey, u64),
}

impl WorkerOutbox for Vec<WorkerCommand> {
    fn run(&mut self, job: Job) {
        self.push(WorkerCommand::Run(job));
    }
    fn fetch(&mut self, order: FetchOrder) {
        self.push(WorkerCommand::Fetch(order));
    }
    fn report(&mut self, event: TaskEvent) {
        self.push(WorkerCommand::Report(event));
    }
    fn offer(&mut self, key: TaskKey, nbytes: u64) {
        self.push(WorkerCommand::Offer(key, nbytes));
    }
    /// A run not yet performed is taken out of the commands.
    fn withdraw(&mut self, key: &TaskKey) -> bool {
        let queued = (self.iter())
            .position(|command| matches!(command, WorkerCommand::Run(job) if &job.key == key));
        queued.map(|at| self.remove(at)).is_some()
    }
}
