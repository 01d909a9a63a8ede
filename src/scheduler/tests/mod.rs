//! Scenario tests of the scheduler state machine: builders for workers and tasks, a
//! recording outbox that round-trips what travels through serde (bincode), and a harness
//! that checks every invariant after each step.

mod center_restart;
mod copies;
mod failures;
mod placement;
mod random_walk;
mod recomputing;
mod recovery;
mod refcounts;
mod restart;
mod restrictions;
mod scale;
mod stealing;
mod trust;
mod window;

use crate::ids::{ClientId, TaskKey, WorkerId};
use crate::scheduler::{
    ComputeTask, DeathCause, FunctionId, NewTask, Outbox, Restrictions, SchedulerConfig,
    SchedulerState, TaskFailure, TaskState, WorkerDeath, WorkerLoss, WorkerProfile,
};

/// The cause of death tests use when it does not matter: SIGKILL.
pub(super) fn died_of_signal() -> DeathCause {
    DeathCause::Signal {
        number: 9,
        name: "SIGKILL".into(),
    }
}

/// The function most tests use.
pub(super) fn func() -> FunctionId {
    FunctionId::new("f", 42)
}

pub(super) fn key(name: &str) -> TaskKey {
    TaskKey::new(name)
}

pub(super) const C1: ClientId = ClientId(1);
pub(super) const C2: ClientId = ClientId(2);
pub(super) const W1: WorkerId = WorkerId(1);
pub(super) const W2: WorkerId = WorkerId(2);
pub(super) const W3: WorkerId = WorkerId(3);

/// One command as the scheduler sent it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Sent {
    Compute(WorkerId, ComputeTask),
    Release(WorkerId, Vec<TaskKey>),
    InMemory(ClientId, TaskKey),
    Erred(ClientId, TaskKey, TaskFailure),
    Lost(ClientId, TaskKey, String),
    Recomputing(ClientId, TaskKey),
    Acquire(WorkerId, TaskKey, Vec<WorkerId>),
    Steal(WorkerId, TaskKey, u64),
}

/// Records commands; what travels on the wire is round-tripped through bincode first.
#[derive(Default)]
pub(super) struct RecordingOutbox {
    pub(super) sent: Vec<Sent>,
    pub(super) round_trip: bool,
}

fn round_trip<T>(value: T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&value, config).expect("encode");
    let (decoded, read): (T, usize) =
        bincode::serde::decode_from_slice(&bytes, config).expect("decode");
    assert_eq!(read, bytes.len());
    assert_eq!(decoded, value);
    decoded
}

impl RecordingOutbox {
    fn wire<T>(&self, value: T) -> T
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        if self.round_trip {
            round_trip(value)
        } else {
            value
        }
    }
}

impl Outbox for RecordingOutbox {
    fn compute(&mut self, worker: WorkerId, task: ComputeTask) {
        let task = self.wire(task);
        self.sent.push(Sent::Compute(worker, task));
    }
    fn release_data(&mut self, worker: WorkerId, keys: Vec<TaskKey>) {
        let keys = self.wire(keys);
        self.sent.push(Sent::Release(worker, keys));
    }
    fn key_in_memory(&mut self, client: ClientId, key: TaskKey) {
        self.sent.push(Sent::InMemory(client, key));
    }
    fn key_erred(&mut self, client: ClientId, key: TaskKey, failure: TaskFailure) {
        let failure = self.wire(failure);
        self.sent.push(Sent::Erred(client, key, failure));
    }
    fn key_lost(&mut self, client: ClientId, key: TaskKey, reason: String) {
        self.sent.push(Sent::Lost(client, key, reason));
    }
    fn key_recomputing(&mut self, client: ClientId, key: TaskKey) {
        let key = self.wire(key);
        self.sent.push(Sent::Recomputing(client, key));
    }
    fn acquire(&mut self, worker: WorkerId, key: TaskKey, holders: Vec<WorkerId>) {
        let key = self.wire(key);
        self.sent.push(Sent::Acquire(worker, key, holders));
    }
    fn steal(&mut self, worker: WorkerId, key: TaskKey, steal: u64) {
        let key = self.wire(key);
        self.sent.push(Sent::Steal(worker, key, steal));
    }
}

/// Builds a worker for [`Sim::add_worker`].
pub(super) struct WorkerBuilder {
    id: WorkerId,
    nthreads: u32,
    functions: Vec<FunctionId>,
    profile: WorkerProfile,
}

impl WorkerBuilder {
    /// A one-thread worker with [`func`].
    pub(super) fn new(id: WorkerId) -> Self {
        WorkerBuilder {
            id,
            nthreads: 1,
            functions: vec![func()],
            profile: WorkerProfile {
                name: format!("w{}", id.0),
                address: format!("127.0.0.1:{}", 40000 + id.0),
                resources: Default::default(),
            },
        }
    }
    pub(super) fn threads(mut self, nthreads: u32) -> Self {
        self.nthreads = nthreads;
        self
    }
    pub(super) fn functions(mut self, functions: Vec<FunctionId>) -> Self {
        self.functions = functions;
        self
    }
    /// Names it (by default `w<id>`).
    pub(super) fn named(mut self, name: &str) -> Self {
        self.profile.name = name.to_string();
        self
    }
    /// Offers `resources` (as `--resources` spells them).
    pub(super) fn resources(mut self, resources: &str) -> Self {
        self.profile.resources = resources.parse().expect("resources");
        self
    }
}

/// Builds a task for [`Sim::submit`].
pub(super) struct TaskBuilder {
    task: NewTask,
}

impl TaskBuilder {
    /// A task running [`func`] with no dependencies and order 0.
    pub(super) fn new(name: &str) -> Self {
        let task = NewTask {
            key: key(name),
            function: func(),
            spec: name.as_bytes().into(),
            deps: Vec::new(),
            order: 0,
            restrictions: None,
        };
        TaskBuilder { task }
    }
    pub(super) fn deps(mut self, deps: &[&str]) -> Self {
        self.task.deps = deps.iter().map(|dep| key(dep)).collect();
        self
    }
    pub(super) fn order(mut self, order: i64) -> Self {
        self.task.order = order;
        self
    }
    pub(super) fn function(mut self, function: FunctionId) -> Self {
        self.task.function = function;
        self
    }
    pub(super) fn restrictions(mut self, restrictions: Restrictions) -> Self {
        self.task.restrictions = Some(restrictions);
        self
    }
    pub(super) fn build(self) -> NewTask {
        self.task
    }
}

/// The scheduler plus a recording outbox; every step is followed by `sanity_check`.
pub(super) struct Sim {
    pub(super) state: SchedulerState,
    out: RecordingOutbox,
}

impl Sim {
    pub(super) fn new() -> Self {
        Sim::with_config(test_config())
    }

    pub(super) fn with_config(config: SchedulerConfig) -> Self {
        let out = RecordingOutbox {
            sent: Vec::new(),
            round_trip: true,
        };
        Sim {
            state: SchedulerState::new(config),
            out,
        }
    }

    /// Runs one event, checks invariants, returns what it sent.
    pub(super) fn step<R>(
        &mut self,
        event: impl FnOnce(&mut SchedulerState, &mut dyn Outbox) -> R,
    ) -> Vec<Sent> {
        self.step_with(event).1
    }

    /// Runs one event, checks invariants, returns what the event returned and what it sent.
    pub(super) fn step_with<R>(
        &mut self,
        event: impl FnOnce(&mut SchedulerState, &mut dyn Outbox) -> R,
    ) -> (R, Vec<Sent>) {
        let returned = event(&mut self.state, &mut self.out);
        self.state.sanity_check();
        let sent = std::mem::take(&mut self.out.sent);
        self.check_recomputing(&sent);
        (returned, sent)
    }

    /// "Recomputing" goes only to a client that wants the key, and only while it is on its
    /// way back to memory.
    fn check_recomputing(&self, sent: &[Sent]) {
        for sent in sent {
            if let Sent::Recomputing(client, key) = sent {
                let state = self
                    .state
                    .task_state(key)
                    .expect("recomputing a forgotten key");
                assert!(
                    state.is_active(),
                    "{key} is recomputing but {}",
                    state.name()
                );
                assert!(
                    self.state.who_wants(key).contains(client),
                    "{client} does not want {key}"
                );
            }
        }
    }

    pub(super) fn add_worker(&mut self, worker: WorkerBuilder) -> Vec<Sent> {
        self.step(|s, out| {
            let WorkerBuilder {
                id,
                nthreads,
                functions,
                profile,
            } = worker;
            s.on_worker_added_with(id, nthreads, functions, profile, out)
        })
    }

    pub(super) fn remove_worker(&mut self, worker: WorkerId) -> Vec<Sent> {
        self.lose_worker(worker).1
    }

    /// Removes `worker`, returning what the scheduler says the loss cost and what it sent.
    pub(super) fn lose_worker(&mut self, worker: WorkerId) -> (WorkerLoss, Vec<Sent>) {
        self.lose_worker_of(worker, died_of_signal())
    }

    /// Removes `worker`, which died of `cause`.
    pub(super) fn lose_worker_of(
        &mut self,
        worker: WorkerId,
        cause: DeathCause,
    ) -> (WorkerLoss, Vec<Sent>) {
        self.step_with(|s, out| s.on_worker_removed(worker, cause, out))
    }

    pub(super) fn restart(&mut self) -> Vec<Sent> {
        self.step(|s, out| s.on_restart(out))
    }

    pub(super) fn submit(
        &mut self,
        client: ClientId,
        tasks: Vec<TaskBuilder>,
        wanted: &[&str],
    ) -> Vec<Sent> {
        let tasks = tasks.into_iter().map(TaskBuilder::build).collect();
        let wanted = keys(wanted);
        self.step(|s, out| s.on_update_graph(client, tasks, wanted, out))
    }

    pub(super) fn finish(&mut self, worker: WorkerId, name: &str, nbytes: u64) -> Vec<Sent> {
        self.step(|s, out| s.on_task_finished(worker, key(name), nbytes, out))
    }

    pub(super) fn fail(&mut self, worker: WorkerId, name: &str, message: &str) -> Vec<Sent> {
        let failure = failed(worker, name, message);
        self.step(|s, out| s.on_task_erred(worker, key(name), failure, out))
    }

    /// `client` takes keys another client computed, the one way a client can: by
    /// submitting the same tasks, with those of every input it does not hold.
    pub(super) fn shares(&mut self, client: ClientId, names: &[&str]) -> Vec<Sent> {
        let mut tasks = Vec::new();
        let mut seen = crate::ids::Set::default();
        let mut stack = keys(names);
        while let Some(next) = stack.pop() {
            let Some(record) = self.state.tasks.get(&next) else {
                continue;
            };
            let Some(run) = record.run.as_ref() else {
                continue;
            };
            if record.who_wants.contains(&client) || !seen.insert(next.clone()) {
                continue;
            }
            stack.extend(record.dependencies.iter().cloned());
            tasks.push(NewTask {
                key: next,
                function: run.function.clone(),
                spec: run.spec.clone(),
                deps: record.dependencies.clone(),
                order: 0,
                restrictions: record.restrictions.as_deref().cloned(),
            });
        }
        let wanted = keys(names);
        self.step(|s, out| s.on_update_graph(client, tasks, wanted, out))
    }

    pub(super) fn wants(&mut self, client: ClientId, names: &[&str]) -> Vec<Sent> {
        let names = keys(names);
        self.step(|s, out| s.on_client_wants(client, names, out))
    }

    pub(super) fn releases(&mut self, client: ClientId, names: &[&str]) -> Vec<Sent> {
        let names = keys(names);
        self.step(|s, out| s.on_client_releases(client, names, out))
    }

    pub(super) fn cancel(&mut self, client: ClientId, names: &[&str]) -> Vec<Sent> {
        let names = keys(names);
        self.step(|s, out| s.on_cancel(client, names, out))
    }

    pub(super) fn scatter(
        &mut self,
        client: ClientId,
        name: &str,
        worker: WorkerId,
        nbytes: u64,
    ) -> Vec<Sent> {
        self.step(|s, out| s.on_scattered(client, vec![(key(name), worker, nbytes)], out))
    }

    /// The state's name of `name`, or "forgotten".
    pub(super) fn state_of(&self, name: &str) -> &'static str {
        self.state
            .task_state(&key(name))
            .map_or("forgotten", TaskState::name)
    }

    /// Where `name` is processing, if it is.
    pub(super) fn runner(&self, name: &str) -> Option<WorkerId> {
        match self.state.task_state(&key(name)) {
            Some(TaskState::Processing { worker }) => Some(*worker),
            _ => None,
        }
    }

    /// Runs every processing task to memory (`nbytes` each) until nothing is processing.
    pub(super) fn run_all(&mut self, nbytes: u64) -> Vec<Sent> {
        let mut sent = Vec::new();
        loop {
            let mut running: Vec<(WorkerId, TaskKey)> = self
                .processing()
                .into_iter()
                .map(|(key, worker)| (worker, key))
                .collect();
            if running.is_empty() {
                return sent;
            }
            running.sort();
            for (worker, key) in running {
                sent.extend(self.step(|s, out| s.on_task_finished(worker, key, nbytes, out)));
            }
        }
    }

    pub(super) fn processing(&self) -> Vec<(TaskKey, WorkerId)> {
        self.state
            .tasks
            .iter()
            .filter_map(|(key, task)| match task.state {
                TaskState::Processing { worker } => Some((key.clone(), worker)),
                _ => None,
            })
            .collect()
    }
}

/// `worker` answers a ping (a held-off worker takes tasks again); what that sent.
pub(super) fn ping_answered(sim: &mut Sim, worker: WorkerId) -> Vec<Sent> {
    let answered = crate::scheduler::WorkerTiming {
        round_trip: std::time::Duration::from_micros(100),
        tasks_done: 0,
        busy: std::time::Duration::ZERO,
    };
    sim.step(|s, out| s.on_worker_timing(worker, answered, out))
}

pub(super) fn keys(names: &[&str]) -> Vec<TaskKey> {
    names.iter().map(|name| key(name)).collect()
}

pub(super) fn failed(worker: WorkerId, name: &str, message: &str) -> TaskFailure {
    TaskFailure::Failed {
        function: func(),
        key: key(name),
        worker,
        message: message.to_string(),
    }
}

/// The compute orders in `sent`, as (worker, key).
pub(super) fn computes(sent: &[Sent]) -> Vec<(WorkerId, TaskKey)> {
    sent.iter()
        .filter_map(|sent| match sent {
            Sent::Compute(worker, task) => Some((*worker, task.key.clone())),
            _ => None,
        })
        .collect()
}

/// The released (worker, key) pairs in `sent`, sorted.
pub(super) fn releases(sent: &[Sent]) -> Vec<(WorkerId, TaskKey)> {
    let mut pairs: Vec<_> = sent
        .iter()
        .flat_map(|sent| match sent {
            Sent::Release(worker, keys) => keys.iter().map(|key| (*worker, key.clone())).collect(),
            _ => Vec::new(),
        })
        .collect();
    pairs.sort();
    pairs
}

/// The client reports in `sent` (everything but worker commands).
pub(super) fn reports(sent: &[Sent]) -> Vec<Sent> {
    sent.iter()
        .filter(|sent| !matches!(sent, Sent::Compute(..) | Sent::Release(..)))
        .cloned()
        .collect()
}

pub(super) fn pairs(list: &[(WorkerId, &str)]) -> Vec<(WorkerId, TaskKey)> {
    list.iter()
        .map(|(worker, name)| (*worker, key(name)))
        .collect()
}

/// The configuration the scenarios are written against: 2 tasks per thread plus 2 per worker,
/// 3 allowed failures (independent of the product's defaults, which are tuned by benchmark).
pub(super) fn test_config() -> SchedulerConfig {
    SchedulerConfig {
        tasks_per_thread: 2,
        extra_tasks_per_worker: 2,
        allowed_failures: 3,
        ..SchedulerConfig::default()
    }
}
