//! Accepting tasks: `on_compute` decodes each task, answers at once for a value already held,
//! keeps a run already under way, and either starts the task or waits for its inputs; and
//! `start`, which resolves a ready task's arguments from memory and hands it to the threads.
//!
//! Pure: no I/O, no actors.

use std::net::SocketAddr;
use std::sync::Arc;

use super::outbox::{Job, WorkerOutbox};
use super::state::{Prepared, TaskRecord, TaskState, WorkerState};
use crate::function::{ArgSlot, ArgSpec, Call, Stored, TaskBody};
use crate::ids::{Map, Set, TaskKey, WorkerId};
use crate::messages::center_link::TaskEvent;
use crate::scheduler::{ComputeTask, Priority, TaskFailure};

impl WorkerState {
    /// The scheduler asks this worker to run `tasks`; `peers` are the addresses of the
    /// holders they name.
    pub fn on_compute(
        &mut self,
        tasks: Vec<ComputeTask>,
        peers: Vec<(WorkerId, SocketAddr)>,
        out: &mut dyn WorkerOutbox,
    ) {
        self.peer_addrs.extend(peers);
        for task in tasks {
            self.accept(task, out);
        }
    }

    fn accept(&mut self, task: ComputeTask, out: &mut dyn WorkerOutbox) {
        let key = task.key.clone();
        if let Some(nbytes) = self.store.nbytes_of(&key) {
            let inline = None;
            return out.report(TaskEvent::Finished {
                key,
                nbytes,
                inline,
            });
        }
        if let Some(record) = self.tasks.get_mut(&key) {
            // Asked again while waiting or running here: keep what is under way. A run the
            // scheduler released meanwhile is wanted again, so its outcome is kept.
            if let TaskState::Running { released, .. } = &mut record.state {
                *released = false;
            }
            return;
        }
        let prepared = match self.prepare(&task) {
            Ok(prepared) => prepared,
            Err(failure) => {
                let failure = failure.into();
                return out.report(TaskEvent::Erred { key, failure });
            }
        };
        let missing: Set<TaskKey> = prepared
            .args
            .iter()
            .flat_map(ArgSpec::keys)
            .filter(|dep| !self.store.contains(dep))
            .cloned()
            .collect();
        if missing.is_empty() {
            return self.start(key, task.priority, prepared, out);
        }
        let holders: Map<TaskKey, Vec<WorkerId>> = task.deps.into_iter().collect();
        self.wait_for_inputs(key, task.priority, prepared, missing, &holders, out);
    }

    /// Decodes the task and finds its function, or says why it can't run here.
    fn prepare(&self, task: &ComputeTask) -> Result<Prepared, TaskFailure> {
        let failed = |message: String| TaskFailure::Failed {
            function: task.function.clone(),
            key: task.key.clone(),
            worker: self.id,
            message,
        };
        let body = TaskBody::from_spec(&task.spec)
            .map_err(|e| failed(format!("undecodable task: {e}")))?;
        let Some((invoke, signature)) = (self.lookup)(&body.function.name) else {
            return Err(TaskFailure::UnknownFunction {
                key: task.key.clone(),
                function: body.function,
            });
        };
        if signature != body.function.signature {
            return Err(failed(format!(
                "signature mismatch: this worker's {} has signature {signature:016x}, the task \
                 expects {:016x}; rebuild the worker and the executor from the same code",
                body.function.name, body.function.signature
            )));
        }
        Ok(Prepared {
            function: body.function,
            invoke,
            args: body.args,
            retries: body.retries,
        })
    }

    /// Builds the call of a task whose inputs are all here and hands it to the threads.
    pub(super) fn start(
        &mut self,
        key: TaskKey,
        priority: Priority,
        prepared: Prepared,
        out: &mut dyn WorkerOutbox,
    ) {
        let Prepared {
            function,
            invoke,
            args: specs,
            retries,
        } = prepared;
        let mut args = Vec::with_capacity(specs.len());
        for spec in specs {
            match self.resolve(spec, out) {
                Ok(slot) => args.push(slot),
                Err(dependency) => {
                    // An input arrived and was released before the task could start.
                    let holder = self.id;
                    return out.report(TaskEvent::MissingDependency {
                        key,
                        dependency,
                        holder,
                    });
                }
            }
        }
        let name = function.name.clone();
        let state = TaskState::Running {
            function,
            released: false,
        };
        self.tasks
            .insert(key.clone(), TaskRecord { priority, state });
        let job = Job {
            key,
            function: name,
            priority,
            call: Call {
                invoke,
                args,
                retries,
            },
        };
        self.run_or_hold(job, out);
        // Inputs read back from disk came into memory.
        self.relieve_memory(out);
    }

    /// Turns an argument into what the function reads; `Err` names an input not held here.
    fn resolve(&mut self, spec: ArgSpec, out: &mut dyn WorkerOutbox) -> Result<ArgSlot, TaskKey> {
        let mut held = |key: TaskKey| self.value_for_task(&key, out).ok_or(key);
        Ok(match spec {
            ArgSpec::Value(value) => ArgSlot::One(Stored::Encoded(Arc::new(value))),
            ArgSpec::Key(key) => ArgSlot::One(held(key)?),
            ArgSpec::Keys(keys) => {
                ArgSlot::List(keys.into_iter().map(held).collect::<Result<_, _>>()?)
            }
        })
    }
}
