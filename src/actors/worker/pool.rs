//! The worker's task threads: run the highest-priority queued task (lowest `Priority`, as the
//! scheduler ordered the graph, so a branch finishes before the next starts), run each through the
//! task boundary (`crate::function::boundary`), and hand the outcome back to the worker actor.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use actix::prelude::*;

use crate::function::CallOutcome;
use crate::ids::TaskKey;
pub use crate::worker_core::Job;

/// A finished task, sent back to the worker actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobDone {
    /// The task.
    pub key: TaskKey,
    /// How it ended.
    pub outcome: CallOutcome,
}

/// A queued job, ordered so the heap pops the lowest priority, then the earliest arrival.
struct Queued {
    job: Job,
    arrival: u64,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.job.priority, other.arrival).cmp(&(self.job.priority, self.arrival))
    }
}

#[derive(Default)]
struct Queue {
    heap: Mutex<(BinaryHeap<Queued>, u64)>,
    ready: Condvar,
    /// Jobs the threads finished, and the nanoseconds they took (running counts, for the
    /// center's pings: the scheduler sizes this worker's window from them).
    done: AtomicU64,
    busy_nanos: AtomicU64,
}

/// A fixed set of threads running jobs by priority.
pub struct TaskPool {
    queue: Arc<Queue>,
}

impl TaskPool {
    /// Starts `nthreads` threads that report to `done`.
    pub fn start(nthreads: u32, done: Recipient<JobDone>) -> std::io::Result<Self> {
        let queue = Arc::new(Queue::default());
        for index in 0..nthreads.max(1) {
            let queue = queue.clone();
            let done = done.clone();
            std::thread::Builder::new()
                .name(format!("taskforce-task-{index}"))
                .spawn(move || loop {
                    let job = queue.next();
                    let key = job.key.clone();
                    let started = Instant::now();
                    let outcome = job.call.run();
                    let nanos = started.elapsed().as_nanos() as u64;
                    queue.busy_nanos.fetch_add(nanos, AtomicOrdering::Relaxed);
                    queue.done.fetch_add(1, AtomicOrdering::Relaxed);
                    done.do_send(JobDone { key, outcome });
                })?;
        }
        Ok(TaskPool { queue })
    }

    /// Jobs finished since the pool started, and the nanoseconds the threads spent on them.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.queue.done.load(AtomicOrdering::Relaxed),
            self.queue.busy_nanos.load(AtomicOrdering::Relaxed),
        )
    }

    /// Queues a job.
    pub fn submit(&self, job: Job) {
        let mut guard = self.queue.heap.lock().expect("task queue lock");
        let (heap, arrivals) = &mut *guard;
        *arrivals += 1;
        heap.push(Queued {
            job,
            arrival: *arrivals,
        });
        drop(guard);
        self.queue.ready.notify_one();
    }
}

impl TaskPool {
    /// Takes `key`'s job out of the queue if no thread has started it; returns whether it
    /// did. Linear in the queue, which the scheduler keeps about as long as the threads
    /// (its saturation limit) plus the tasks with inputs held here.
    pub fn withdraw(&self, key: &TaskKey) -> bool {
        let mut guard = self.queue.heap.lock().expect("task queue lock");
        let before = guard.0.len();
        guard.0.retain(|queued| &queued.job.key != key);
        guard.0.len() != before
    }
}

impl Queue {
    fn next(&self) -> Job {
        let mut guard = self.heap.lock().expect("task queue lock");
        loop {
            if let Some(queued) = guard.0.pop() {
                return queued.job;
            }
            guard = self.ready.wait(guard).expect("task queue lock");
        }
    }
}
