//! Scenario tests of the worker core: a table of test functions, builders for the tasks the
//! scheduler sends, a recording outbox that round-trips every report through the wire codec,
//! and a harness that checks every invariant after each step.

mod copies;
mod failures;
mod fetching;
mod memory;
mod random_walk;
mod running;
mod steal;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::function::registry::Invoke;
use crate::function::{encode_value, ArgReader, ArgSpec, CallError, CallOutcome, TaskBody, Value};
use crate::ids::{FunctionId, TaskKey, WorkerId};
use crate::messages::center_link::TaskEvent;
use crate::messages::codec;
use crate::scheduler::{ComputeTask, Priority};
use crate::worker_core::{FetchId, FetchOrder, Job, WorkerOutbox, WorkerState};

/// This worker.
pub(super) const ME: WorkerId = WorkerId(1);
pub(super) const W2: WorkerId = WorkerId(2);
pub(super) const W3: WorkerId = WorkerId(3);
/// A holder whose address nobody gave.
pub(super) const NOWHERE: WorkerId = WorkerId(9);

pub(super) fn key(name: &str) -> TaskKey {
    TaskKey::new(name)
}

pub(super) fn addr(worker: WorkerId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7000 + worker.0 as u16))
}

/// The function the tests' tasks call.
pub(super) fn func() -> FunctionId {
    FunctionId::new("f", 42)
}

fn unit(_: &ArgReader<'_>) -> Result<Arc<dyn Value>, CallError> {
    Ok(Arc::new(()))
}

/// The functions "linked" into the test worker: only `f`, signature 42.
fn test_functions(name: &str) -> Option<(Invoke, u64)> {
    (name == "f").then_some((unit as Invoke, 42))
}

/// An encoded value of `n` bytes, as a peer would send it.
pub(super) fn bytes(n: usize) -> crate::function::EncodedValue {
    encode_value(&vec![7u8; n]).expect("encode")
}

/// Builds a task as the scheduler sends it in `Compute`.
pub(super) struct TaskBuilder {
    key: TaskKey,
    function: FunctionId,
    args: Vec<ArgSpec>,
    deps: Vec<(TaskKey, Vec<WorkerId>)>,
    order: i64,
    spec: Option<Vec<u8>>,
}

impl TaskBuilder {
    /// A task calling [`func`] with no arguments.
    pub(super) fn new(name: &str) -> Self {
        TaskBuilder {
            key: key(name),
            function: func(),
            args: Vec::new(),
            deps: Vec::new(),
            order: 0,
            spec: None,
        }
    }
    /// An argument read from `input`, which the scheduler says `holders` have.
    pub(super) fn input(mut self, input: &str, holders: &[WorkerId]) -> Self {
        self.args.push(ArgSpec::Key(key(input)));
        self.deps.push((key(input), holders.to_vec()));
        self
    }
    pub(super) fn function(mut self, function: FunctionId) -> Self {
        self.function = function;
        self
    }
    pub(super) fn order(mut self, order: i64) -> Self {
        self.order = order;
        self
    }
    /// Sends these bytes as the task's spec instead of an encoded body.
    pub(super) fn garbage_spec(mut self) -> Self {
        self.spec = Some(vec![0xff; 3]);
        self
    }
    pub(super) fn build(self) -> ComputeTask {
        let body = TaskBody {
            function: self.function.clone(),
            args: self.args,
            retries: 0,
        };
        let spec = match self.spec {
            Some(bytes) => bytes.into(),
            None => body.to_spec().expect("encode body"),
        };
        ComputeTask {
            key: self.key,
            function: self.function,
            spec,
            deps: self.deps,
            priority: Priority {
                generation: 1,
                order: self.order,
            },
        }
    }
}

/// One command as the core gave it.
#[derive(Debug, PartialEq)]
pub(super) enum Sent {
    /// A job for the threads: its key and how many arguments were resolved.
    Run(TaskKey, usize),
    Fetch(FetchOrder),
    Report(TaskEvent),
    /// A value written to the (recorded) disk.
    Spill(TaskKey),
    /// A value read back from it.
    ReadBack(TaskKey),
    /// A spilled value deleted.
    DropSpilled(TaskKey),
    /// A value kept from a run of a lost center's, offered to the current one.
    Offer(TaskKey, u64),
}

/// Records commands; every report is round-tripped through the wire codec first. Its disk
/// keeps spilled values in a map.
#[derive(Default)]
struct RecordingOutbox {
    sent: Vec<Sent>,
    disk: crate::ids::Map<TaskKey, crate::function::EncodedValue>,
    /// When set, jobs run wait in `queued` (no thread free) and can be withdrawn; else a
    /// thread takes each at once.
    threads_busy: bool,
    queued: crate::ids::Set<TaskKey>,
}

impl WorkerOutbox for RecordingOutbox {
    fn run(&mut self, job: Job) {
        if self.threads_busy {
            self.queued.insert(job.key.clone());
        }
        self.sent.push(Sent::Run(job.key, job.call.args.len()));
    }
    fn withdraw(&mut self, key: &TaskKey) -> bool {
        self.queued.remove(key)
    }
    fn fetch(&mut self, order: FetchOrder) {
        self.sent.push(Sent::Fetch(order));
    }
    fn offer(&mut self, key: TaskKey, nbytes: u64) {
        self.sent.push(Sent::Offer(key, nbytes));
    }
    fn report(&mut self, event: TaskEvent) {
        let bytes = codec::encode(&event).expect("encode report");
        let decoded: TaskEvent = codec::decode(&bytes).expect("decode report");
        assert_eq!(decoded, event, "a report changed on the wire");
        self.sent.push(Sent::Report(decoded));
    }
    fn spill(&mut self, key: &TaskKey, value: &crate::function::Stored) -> bool {
        let encoded = value.encode().expect("encode a spilled value");
        assert!(
            self.disk.insert(key.clone(), encoded).is_none(),
            "{key} spilled twice"
        );
        self.sent.push(Sent::Spill(key.clone()));
        true
    }
    fn read_back(&mut self, key: &TaskKey) -> Option<crate::function::EncodedValue> {
        self.sent.push(Sent::ReadBack(key.clone()));
        self.disk.get(key).cloned()
    }
    fn drop_spilled(&mut self, key: &TaskKey) {
        assert!(
            self.disk.remove(key).is_some(),
            "{key} dropped but not on disk"
        );
        self.sent.push(Sent::DropSpilled(key.clone()));
    }
}

/// The worker core plus a recording outbox; every step is followed by `sanity_check`.
pub(super) struct Sim {
    pub(super) state: WorkerState,
    out: RecordingOutbox,
}

impl Sim {
    /// Worker [`ME`], knowing the addresses of [`W2`] and [`W3`].
    pub(super) fn new() -> Self {
        let mut state = WorkerState::new(test_functions);
        state.on_registered(ME);
        Sim {
            state,
            out: RecordingOutbox::default(),
        }
    }

    /// From now on no task thread is free: jobs wait in the queue, and can be taken back.
    pub(super) fn threads_busy(&mut self) {
        self.out.threads_busy = true;
    }

    /// Like [`Sim::new`], spilling and pausing by `policy`.
    pub(super) fn with_memory(policy: crate::worker_core::MemoryPolicy) -> Self {
        let mut sim = Sim::new();
        sim.state.set_memory_policy(policy);
        sim
    }

    /// Runs one event, checks invariants (and that the disk holds exactly the values the
    /// core thinks spilled), returns what it sent.
    pub(super) fn step(
        &mut self,
        event: impl FnOnce(&mut WorkerState, &mut dyn WorkerOutbox),
    ) -> Vec<Sent> {
        event(&mut self.state, &mut self.out);
        self.state.sanity_check();
        let mut on_disk: Vec<&TaskKey> = self.state.store.on_disk().collect();
        let mut written: Vec<&TaskKey> = self.out.disk.keys().collect();
        on_disk.sort();
        written.sort();
        assert_eq!(on_disk, written, "the disk and the core disagree");
        std::mem::take(&mut self.out.sent)
    }

    pub(super) fn compute(&mut self, tasks: Vec<TaskBuilder>) -> Vec<Sent> {
        let tasks = tasks.into_iter().map(TaskBuilder::build).collect();
        let peers = vec![(W2, addr(W2)), (W3, addr(W3))];
        self.step(|s, out| s.on_compute(tasks, peers, out))
    }

    /// The fetch `order` brings the values of `found` (the rest it lacks).
    pub(super) fn fetched(&mut self, order: &FetchOrder, found: &[&str]) -> Vec<Sent> {
        let values = found.iter().map(|name| (key(name), bytes(10))).collect();
        self.step(|s, out| s.on_fetched(order.id, values, out))
    }

    /// The scheduler asks for copies of `keys`, each from the holders named.
    pub(super) fn acquire(&mut self, keys: &[(&str, &[WorkerId])]) -> Vec<Sent> {
        let keys = (keys.iter())
            .map(|(name, holders)| (key(name), holders.to_vec()))
            .collect();
        let peers = vec![(W2, addr(W2)), (W3, addr(W3))];
        self.step(|s, out| s.on_acquire(keys, peers, out))
    }

    pub(super) fn fetch_failed(&mut self, fetch: FetchId) -> Vec<Sent> {
        self.step(|s, out| s.on_fetch_failed(fetch, out))
    }

    pub(super) fn done(&mut self, name: &str, outcome: CallOutcome) -> Vec<Sent> {
        self.step(|s, out| s.on_job_done(key(name), outcome, out))
    }

    /// The shell measured `rss` bytes of process memory.
    pub(super) fn memory(&mut self, rss: u64) -> Vec<Sent> {
        self.step(|s, out| {
            s.on_memory_sample(rss, out);
        })
    }

    pub(super) fn release(&mut self, names: &[&str]) -> Vec<Sent> {
        let keys = names.iter().map(|name| key(name)).collect();
        self.step(|s, out| s.on_release(keys, out))
    }

    /// Runs a task with no inputs to memory with a value of about `n` bytes.
    pub(super) fn hold(&mut self, name: &str, n: usize) {
        self.compute(vec![TaskBuilder::new(name)]);
        self.done(name, value(n));
    }
}

/// A job's value: a vector of `n` bytes.
pub(super) fn value(n: usize) -> CallOutcome {
    CallOutcome::Value(Arc::new(vec![1u8; n]))
}

/// The keys of the jobs in `sent`.
pub(super) fn runs(sent: &[Sent]) -> Vec<TaskKey> {
    sent.iter()
        .filter_map(|sent| match sent {
            Sent::Run(key, _) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// The fetch orders in `sent`.
pub(super) fn fetches(sent: &[Sent]) -> Vec<FetchOrder> {
    sent.iter()
        .filter_map(|sent| match sent {
            Sent::Fetch(order) => Some(order.clone()),
            _ => None,
        })
        .collect()
}

/// The reports in `sent`.
pub(super) fn reports(sent: &[Sent]) -> Vec<TaskEvent> {
    sent.iter()
        .filter_map(|sent| match sent {
            Sent::Report(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn keys(names: &[&str]) -> Vec<TaskKey> {
    names.iter().map(|name| key(name)).collect()
}

/// "`name` is held here, `nbytes` big", as a fetched copy is reported.
pub(super) fn replica(name: &str, nbytes: u64) -> TaskEvent {
    TaskEvent::Copied {
        key: key(name),
        nbytes,
    }
}

pub(super) fn missing(name: &str, dependency: &str, holder: WorkerId) -> TaskEvent {
    TaskEvent::MissingDependency {
        key: key(name),
        dependency: key(dependency),
        holder,
    }
}
