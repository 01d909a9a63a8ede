//! The worker's task threads: run a remote function on resolved arguments, catch a panic at
//! the task boundary, and hand the outcome back to the worker actor.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use actix::prelude::*;

use crate::function::registry::Invoke;
use crate::function::{ArgReader, ArgSlot, CallError, Value};
use crate::ids::TaskKey;

/// One task for a thread.
pub struct Job {
    /// The task.
    pub key: TaskKey,
    /// The function.
    pub invoke: Invoke,
    /// Its resolved arguments.
    pub args: Vec<ArgSlot>,
}

/// How a task ended.
#[derive(Debug)]
pub enum JobOutcome {
    /// It returned a value.
    Value(Arc<dyn Value>),
    /// It returned `Err` or could not read its arguments.
    Failed(CallError),
    /// It panicked; the panic's message.
    Panicked(String),
}

/// A finished task, sent back to the worker actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobDone {
    /// The task.
    pub key: TaskKey,
    /// How it ended.
    pub outcome: JobOutcome,
}

/// A fixed set of threads running jobs in arrival order.
pub struct TaskPool {
    jobs: crossbeam_channel::Sender<Job>,
}

impl TaskPool {
    /// Starts `nthreads` threads that report to `done`.
    pub fn start(nthreads: u32, done: Recipient<JobDone>) -> std::io::Result<Self> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for index in 0..nthreads.max(1) {
            let queue = queue.clone();
            let done = done.clone();
            std::thread::Builder::new()
                .name(format!("taskforce-task-{index}"))
                .spawn(move || {
                    for job in queue {
                        let key = job.key.clone();
                        done.do_send(JobDone {
                            key,
                            outcome: run(job),
                        });
                    }
                })?;
        }
        Ok(TaskPool { jobs })
    }

    /// Queues a job.
    pub fn submit(&self, job: Job) {
        self.jobs
            .send(job)
            .expect("task threads live as long as the pool");
    }
}

/// Runs one job, turning a panic into an outcome.
pub fn run(job: Job) -> JobOutcome {
    let Job { invoke, args, .. } = job;
    match catch_unwind(AssertUnwindSafe(|| invoke(&ArgReader::new(&args)))) {
        Ok(Ok(value)) => JobOutcome::Value(value),
        Ok(Err(error)) => JobOutcome::Failed(error),
        Err(payload) => JobOutcome::Panicked(panic_message(payload.as_ref())),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
