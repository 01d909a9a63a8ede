//! The engine of the threaded scheduler: a coordinator on the calling thread hands ready tasks
//! to a pool of task threads, lowest priority first and never more than there are threads,
//! and drops each value as soon as the last task reading it has finished.
//!
//! After a failure it starts only tasks ordered before the failed one, so the error reported
//! is the first failure in priority order whatever the timing. Jobs run through the same
//! task boundary as a worker's ([`Call::run`]) so panics are caught exactly as on a cluster.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::RunStats;
use crate::function::registry::Invoke;
use crate::function::{lookup, ArgSlot, ArgSpec, Call, CallOutcome, Stored, Value};
use crate::graph::{GraphIndex, GraphTask};
use crate::ids::{TaskKey, WorkerId};
use crate::scheduler::TaskFailure;
use crate::{Error, Result};

/// Stands for this process where a failure names the worker a task ran on.
const LOCAL_WORKER: WorkerId = WorkerId(0);

/// A validated, ordered graph with its functions resolved.
pub(super) struct Plan<'i, 'g> {
    index: &'i GraphIndex<'g>,
    priority: Vec<u32>,
    invoke: Vec<Invoke>,
    is_output: Vec<bool>,
    /// The outputs as asked (repeats included).
    outputs: Vec<u32>,
}

impl<'i, 'g> Plan<'i, 'g> {
    /// Resolves every task's function in this binary's registry (an unknown one is an error,
    /// the one of the smallest key if several).
    pub(super) fn new(
        index: &'i GraphIndex<'g>,
        priority: Vec<u32>,
        outputs: &[u32],
    ) -> Result<Self> {
        let invoke = (index.keys.iter().zip(&index.tasks))
            .map(|(key, task)| resolve(key, task))
            .collect::<Result<Vec<Invoke>>>()
            .map_err(|_| first_unresolved(index))?;
        let mut is_output = vec![false; index.len()];
        for &at in outputs {
            is_output[at as usize] = true;
        }
        Ok(Plan {
            index,
            priority,
            invoke,
            is_output,
            outputs: outputs.to_vec(),
        })
    }

    fn key(&self, task: u32) -> &'g TaskKey {
        self.index.keys[task as usize]
    }

    fn task(&self, task: u32) -> &'g GraphTask {
        self.index.tasks[task as usize]
    }

    /// The error a caller gets when `task` failed first: its own failure if it is an output,
    /// else a dependency failure of the first output that needs it.
    fn error_for(&self, task: u32, failure: TaskFailure) -> Error {
        if self.is_output[task as usize] {
            return failure.into();
        }
        let output = self
            .outputs
            .iter()
            .copied()
            .find(|&output| self.depends_on(output, task))
            .expect("every task of a culled graph is needed by an output");
        failure.for_dependent(self.key(output).clone()).into()
    }

    /// Whether `from` needs `target`, directly or not.
    fn depends_on(&self, from: u32, target: u32) -> bool {
        let mut seen = vec![false; self.index.len()];
        let mut to_visit = vec![from];
        while let Some(task) = to_visit.pop() {
            if task == target {
                return true;
            }
            if !std::mem::replace(&mut seen[task as usize], true) {
                to_visit.extend(&self.index.deps[task as usize]);
            }
        }
        false
    }
}

/// The error of the unresolved function of the task with the smallest key.
fn first_unresolved(index: &GraphIndex<'_>) -> Error {
    (index.keys.iter().zip(&index.tasks))
        .filter_map(|(key, task)| resolve(key, task).err().map(|error| (*key, error)))
        .min_by_key(|(key, _)| *key)
        .map(|(_, error)| error)
        .expect("some function did not resolve")
}

/// The function of `task` in this binary, checked against the signature the graph expects.
fn resolve(key: &TaskKey, task: &GraphTask) -> Result<Invoke> {
    let function = task.function();
    match lookup(&function.name) {
        Some((registration, signature)) if signature == function.signature => {
            Ok(registration.invoke)
        }
        Some((_, signature)) => Err(Error::SignatureMismatch {
            function: function.name.to_string(),
            ours: function.signature,
            theirs: vec![signature],
        }),
        None => Err(TaskFailure::UnknownFunction {
            key: key.clone(),
            function: function.clone(),
        }
        .into()),
    }
}

/// Runs the plan on `nthreads` task threads and returns the outputs' values.
pub(super) fn run(plan: &Plan<'_, '_>, nthreads: usize) -> Result<(Vec<Arc<dyn Value>>, RunStats)> {
    let (jobs, job_queue) = crossbeam_channel::unbounded::<(u32, Call)>();
    let (done, finished) = crossbeam_channel::unbounded::<(u32, CallOutcome)>();
    std::thread::scope(move |scope| {
        let spawned = (0..nthreads).try_for_each(|number| {
            let (job_queue, done) = (job_queue.clone(), done.clone());
            std::thread::Builder::new()
                .name(format!("taskforce-threaded-{number}"))
                .spawn_scoped(scope, move || {
                    for (task, job) in job_queue {
                        if done.send((task, job.run())).is_err() {
                            break;
                        }
                    }
                })
                .map(drop)
        });
        drop((job_queue, done));
        let mut state = RunState::new(plan);
        if spawned.is_ok() {
            state.drive(nthreads, &jobs, &finished);
        }
        drop(jobs); // the task threads stop once the queue is closed and empty
        spawned?;
        state.finish()
    })
}

/// What the coordinator knows while the plan runs.
struct RunState<'p, 'i, 'g> {
    plan: &'p Plan<'i, 'g>,
    /// Per task: dependencies not finished yet.
    waiting: Vec<u32>,
    /// Per task: dependents not finished yet (its value is dropped at zero).
    readers_left: Vec<u32>,
    values: Vec<Option<Arc<dyn Value>>>,
    nbytes: Vec<u64>,
    ready: BinaryHeap<Reverse<(u32, u32)>>,
    in_flight: usize,
    /// The first failure in priority order so far: (priority, task, failure).
    failure: Option<(u32, u32, TaskFailure)>,
    held: usize,
    held_bytes: u64,
    stats: RunStats,
}

impl<'p, 'i, 'g> RunState<'p, 'i, 'g> {
    fn new(plan: &'p Plan<'i, 'g>) -> Self {
        let index = plan.index;
        let waiting: Vec<u32> = index.deps.iter().map(|deps| deps.len() as u32).collect();
        let ready = (0..index.len() as u32)
            .filter(|&task| waiting[task as usize] == 0)
            .map(|task| Reverse((plan.priority[task as usize], task)))
            .collect();
        RunState {
            plan,
            waiting,
            readers_left: index.dependents.iter().map(|d| d.len() as u32).collect(),
            values: vec![None; index.len()],
            nbytes: vec![0; index.len()],
            ready,
            in_flight: 0,
            failure: None,
            held: 0,
            held_bytes: 0,
            stats: RunStats::default(),
        }
    }

    /// Keeps `nthreads` tasks running until nothing more can start.
    fn drive(
        &mut self,
        nthreads: usize,
        jobs: &Sender<(u32, Call)>,
        finished: &Receiver<(u32, CallOutcome)>,
    ) {
        loop {
            while self.in_flight < nthreads {
                let Some(task) = self.next_ready() else { break };
                let job = self.job(task);
                jobs.send((task, job))
                    .expect("task threads live until the run ends");
                self.in_flight += 1;
            }
            if self.in_flight == 0 {
                return;
            }
            let (task, outcome) = finished
                .recv()
                .expect("task threads live until the run ends");
            self.in_flight -= 1;
            self.on_finished(task, outcome);
        }
    }

    /// The ready task with the lowest priority, unless it comes after a failure.
    fn next_ready(&mut self) -> Option<u32> {
        let Reverse((priority, task)) = *self.ready.peek()?;
        if matches!(&self.failure, Some((failed, _, _)) if priority > *failed) {
            return None;
        }
        self.ready.pop();
        Some(task)
    }

    fn job(&self, task: u32) -> Call {
        let args = self.plan.task(task).args().iter().map(|arg| self.slot(arg));
        Call {
            invoke: self.plan.invoke[task as usize],
            args: args.collect(),
            retries: 0,
        }
    }

    fn slot(&self, arg: &ArgSpec) -> ArgSlot {
        match arg {
            ArgSpec::Value(encoded) => ArgSlot::One(Stored::Encoded(Arc::new(encoded.clone()))),
            ArgSpec::Key(key) => ArgSlot::One(self.stored(key)),
            ArgSpec::Keys(keys) => ArgSlot::List(keys.iter().map(|key| self.stored(key)).collect()),
        }
    }

    fn stored(&self, key: &TaskKey) -> Stored {
        let at = self
            .plan
            .index
            .get(key)
            .expect("a validated graph has its dependencies");
        let value = self.values[at as usize].clone();
        Stored::Object(value.expect("a task starts after its dependencies finished"))
    }

    fn on_finished(&mut self, task: u32, outcome: CallOutcome) {
        let plan = self.plan;
        self.stats.tasks_run += 1;
        for &dep in &plan.index.deps[task as usize] {
            self.readers_left[dep as usize] -= 1;
            if self.readers_left[dep as usize] == 0 && !plan.is_output[dep as usize] {
                self.release(dep);
            }
        }
        let (function, key) = (plan.task(task).function().clone(), plan.key(task).clone());
        let worker = LOCAL_WORKER;
        match outcome {
            CallOutcome::Value(value) => self.hold(task, value),
            CallOutcome::Failed(error) => {
                let message = error.to_string();
                self.fail(
                    task,
                    TaskFailure::Failed {
                        function,
                        key,
                        worker,
                        message,
                    },
                );
            }
            CallOutcome::Panicked(message) => {
                self.fail(
                    task,
                    TaskFailure::Panicked {
                        function,
                        key,
                        worker,
                        message,
                    },
                );
            }
        }
    }

    fn hold(&mut self, task: u32, value: Arc<dyn Value>) {
        let nbytes = value.nbytes();
        self.values[task as usize] = Some(value);
        self.nbytes[task as usize] = nbytes;
        self.held += 1;
        self.held_bytes += nbytes;
        self.stats.peak_values = self.stats.peak_values.max(self.held);
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.held_bytes);
        for &dependent in &self.plan.index.dependents[task as usize] {
            self.waiting[dependent as usize] -= 1;
            if self.waiting[dependent as usize] == 0 {
                let priority = self.plan.priority[dependent as usize];
                self.ready.push(Reverse((priority, dependent)));
            }
        }
    }

    fn release(&mut self, task: u32) {
        if self.values[task as usize].take().is_some() {
            self.held -= 1;
            self.held_bytes -= self.nbytes[task as usize];
        }
    }

    fn fail(&mut self, task: u32, failure: TaskFailure) {
        let priority = self.plan.priority[task as usize];
        if !matches!(&self.failure, Some((first, _, _)) if *first < priority) {
            self.failure = Some((priority, task, failure));
        }
    }

    /// The outputs' values in the order asked, or the error of the first failure.
    fn finish(self) -> Result<(Vec<Arc<dyn Value>>, RunStats)> {
        if let Some((_, task, failure)) = self.failure {
            return Err(self.plan.error_for(task, failure));
        }
        let values = self.plan.outputs.iter().map(|&output| {
            let value = self.values[output as usize].clone();
            value.expect("with no failure every output ran")
        });
        Ok((values.collect(), self.stats))
    }
}
