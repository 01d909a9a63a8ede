//! The worker's task threads: run the highest-priority queued task (lowest `Priority`, as the
//! scheduler ordered the graph, so a branch finishes before the next starts), run each through the
//! task boundary (`crate::function::boundary`), and hand the outcome back to the worker actor.
//!
//! `nthreads` is a number of *slots*, not of threads: a task runs while its thread holds a
//! slot. A task that waits on the cluster (see `in_task.rs`) *secedes*: it gives its slot
//! back, so a queued task starts on another thread (spawned here when none is idle), and
//! it *rejoins* when its wait ends, taking a slot again before the next queued task does.
//! So at most `nthreads` tasks compute at once, however many wait.
//!
//! Knows nothing of what a task computes; `in_task.rs` decides when a task secedes.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use actix::prelude::*;
use tracing::warn;

use super::actor::LOG_TARGET;
use super::in_task::{self, TaskCluster};
use super::memory_gate::MemoryGate;
use crate::function::CallOutcome;
use crate::ids::TaskKey;
pub use crate::worker_core::Job;

/// The most task threads a worker keeps on top of `nthreads` for the tasks that seceded.
/// At this bound a seceded task's slot still goes to the next queued task, but only once a
/// thread is free (a task ends, or an idle thread is there): the queue waits, and if every
/// seceded task waits for work queued behind it here, they wait until the scheduler sends
/// that work elsewhere or they time out. A warning says so once per worker. 256 threads
/// reserve 512 MiB of address space for their stacks, most of it never touched.
pub const MAX_SECEDED_THREADS: u32 = 256;

/// A finished task, sent back to the worker actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobDone {
    /// The task.
    pub key: TaskKey,
    /// How it ended.
    pub outcome: CallOutcome,
    /// Bytes of the value it made, as counted by the memory gate (0 without one).
    pub gated_bytes: u64,
    /// Its function's name.
    pub function: std::sync::Arc<str>,
    /// The task thread that ran it (numbered from 0 as threads start; the first `nthreads`
    /// are the worker's own, later ones stood in for seceded tasks).
    pub thread: u32,
    /// When the thread started it.
    pub started: std::time::Instant,
    /// When it returned.
    pub stopped: std::time::Instant,
}

/// A running task seceded (the first time in its run), sent to the worker actor, which tells
/// the scheduler so the task stops counting against the worker's saturation.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TaskSeceded {
    /// The task.
    pub key: TaskKey,
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

/// The queue and the slot count, under one lock (a std `Mutex`: held only for a few
/// counter updates and a heap push/pop, never across a task or a wait on the cluster).
struct Slots {
    heap: BinaryHeap<Queued>,
    arrivals: u64,
    /// Tasks that may compute at once.
    nthreads: u32,
    /// Threads holding a slot (running a task that has not seceded).
    running: u32,
    /// Seceded threads waiting for a slot to rejoin; they go before queued jobs.
    rejoining: u32,
    /// Threads waiting for a job (spawned ones count from their spawn).
    idle: u32,
    /// Every task thread alive.
    threads: u32,
    /// Threads blocked on `changed` (for a job or to rejoin): a change wakes them only when
    /// there are some, as a `Condvar` notify is a futex syscall even with no one waiting.
    waiting: u32,
    /// Whether the thread bound was reported already.
    bound_reported: bool,
}

impl Slots {
    fn free_for_jobs(&self) -> bool {
        self.running + self.rejoining < self.nthreads
    }
}

/// What every task thread of one worker shares.
pub(crate) struct PoolShared {
    slots: Mutex<Slots>,
    /// Signalled when a job is queued or a slot is given back (waiters recheck).
    changed: Condvar,
    done: Recipient<JobDone>,
    seceded: Recipient<TaskSeceded>,
    /// The cluster the worker belongs to, for `worker_executor()` in its tasks.
    pub(crate) cluster: Arc<TaskCluster>,
    /// Holds threads back before a job while memory is short (with a memory limit only).
    gate: Option<Arc<MemoryGate>>,
    /// Threads started so far: the next one's number.
    threads_started: std::sync::atomic::AtomicU32,
    /// Jobs the threads finished, and the nanoseconds they took (running counts, for the
    /// center's pings: the scheduler sizes this worker's window from them).
    tasks_done: AtomicU64,
    busy_nanos: AtomicU64,
}

/// A set of task threads running jobs by priority, `nthreads` at a time.
pub struct TaskPool {
    shared: Arc<PoolShared>,
}

impl TaskPool {
    /// Starts `nthreads` threads that report to `worker`; their tasks reach `cluster`.
    /// With a `gate` (a memory limit), a thread waits at it before taking each job.
    pub fn start<W>(
        nthreads: u32,
        worker: Addr<W>,
        cluster: TaskCluster,
        gate: Option<Arc<MemoryGate>>,
    ) -> std::io::Result<Self>
    where
        W: Actor + Handler<JobDone> + Handler<TaskSeceded>,
        W::Context: actix::dev::ToEnvelope<W, JobDone> + actix::dev::ToEnvelope<W, TaskSeceded>,
    {
        let nthreads = nthreads.max(1);
        let shared = Arc::new(PoolShared {
            slots: Mutex::new(Slots {
                heap: BinaryHeap::new(),
                arrivals: 0,
                nthreads,
                running: 0,
                rejoining: 0,
                idle: nthreads,
                threads: nthreads,
                waiting: 0,
                bound_reported: false,
            }),
            changed: Condvar::new(),
            done: worker.clone().recipient(),
            seceded: worker.recipient(),
            cluster: Arc::new(cluster),
            gate,
            threads_started: std::sync::atomic::AtomicU32::new(0),
            tasks_done: AtomicU64::new(0),
            busy_nanos: AtomicU64::new(0),
        });
        for _ in 0..nthreads {
            shared.spawn_thread()?;
        }
        Ok(TaskPool { shared })
    }

    /// Jobs finished since the pool started, and the nanoseconds the threads spent on them.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.shared.tasks_done.load(AtomicOrdering::Relaxed),
            self.shared.busy_nanos.load(AtomicOrdering::Relaxed),
        )
    }

    /// Queues a job.
    pub fn submit(&self, job: Job) {
        let mut slots = self.shared.lock();
        slots.arrivals += 1;
        let arrival = slots.arrivals;
        slots.heap.push(Queued { job, arrival });
        self.shared.spawn_if_needed(&mut slots);
        self.shared.notify_waiting(slots);
    }

    /// Takes `key`'s job out of the queue if no thread has started it; returns whether it
    /// did. Linear in the queue, which the scheduler keeps about as long as the threads
    /// (its saturation limit) plus the tasks with inputs held here.
    pub fn withdraw(&self, key: &TaskKey) -> bool {
        let mut slots = self.shared.lock();
        let before = slots.heap.len();
        slots.heap.retain(|queued| &queued.job.key != key);
        slots.heap.len() != before
    }
}

impl PoolShared {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().expect("task queue lock")
    }

    /// Releases the lock and wakes the threads waiting on a change, if any wait.
    fn notify_waiting(&self, slots: MutexGuard<'_, Slots>) {
        let anyone = slots.waiting > 0;
        drop(slots);
        if anyone {
            self.changed.notify_all();
        }
    }

    /// Waits for the next change, counted in `waiting` meanwhile.
    fn wait_for_change<'a>(&self, mut slots: MutexGuard<'a, Slots>) -> MutexGuard<'a, Slots> {
        slots.waiting += 1;
        let mut slots = self.changed.wait(slots).expect("task queue lock");
        slots.waiting -= 1;
        slots
    }

    fn spawn_thread(self: &Arc<Self>) -> std::io::Result<()> {
        let pool = self.clone();
        let thread = self
            .threads_started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::thread::Builder::new()
            .name(format!("taskforce-task-{thread}"))
            .spawn(move || pool.serve(thread))?;
        Ok(())
    }

    /// A queued job can take a free slot but no thread is idle to run it: spawn one, up to
    /// [`MAX_SECEDED_THREADS`] more than `nthreads`.
    fn spawn_if_needed(self: &Arc<Self>, slots: &mut Slots) {
        if slots.heap.is_empty() || !slots.free_for_jobs() || slots.idle > 0 {
            return;
        }
        if slots.threads >= slots.nthreads + MAX_SECEDED_THREADS {
            if !slots.bound_reported {
                slots.bound_reported = true;
                warn!(target: LOG_TARGET, threads = slots.threads, queued = slots.heap.len(),
                    "every task thread is busy or waiting on the cluster: queued tasks wait for one");
            }
            return;
        }
        match self.spawn_thread() {
            Ok(()) => {
                slots.threads += 1;
                slots.idle += 1;
            }
            Err(e) => warn!(target: LOG_TARGET, "could not start a task thread: {e}"),
        }
    }

    /// A task thread's life: take a job when a slot is free, run it, report it; leave when
    /// enough threads are idle already.
    fn serve(self: Arc<Self>, thread: u32) {
        in_task::enter_task_thread(self.clone());
        loop {
            if let Some(gate) = &self.gate {
                gate.wait_open();
            }
            let job = self.next_job();
            let (key, function) = (job.key.clone(), job.function.clone());
            let started = std::time::Instant::now();
            let (outcome, seceded) = in_task::run_task(&key, || job.call.run());
            let stopped = std::time::Instant::now();
            let nanos = stopped.duration_since(started).as_nanos() as u64;
            self.busy_nanos.fetch_add(nanos, AtomicOrdering::Relaxed);
            self.tasks_done.fetch_add(1, AtomicOrdering::Relaxed);
            let gated_bytes = match (&self.gate, &outcome) {
                (Some(gate), CallOutcome::Value(value)) => {
                    let nbytes = value.nbytes();
                    gate.handed_back(nbytes);
                    nbytes
                }
                _ => 0,
            };
            self.done.do_send(JobDone {
                key,
                outcome,
                gated_bytes,
                function,
                thread,
                started,
                stopped,
            });
            if !self.after_job(!seceded) {
                return;
            }
        }
    }

    /// Waits for a job and a free slot (seceded tasks rejoining go first), takes both.
    fn next_job(&self) -> Job {
        let mut slots = self.lock();
        loop {
            if slots.free_for_jobs() {
                if let Some(queued) = slots.heap.pop() {
                    slots.idle -= 1;
                    slots.running += 1;
                    return queued.job;
                }
            }
            slots = self.wait_for_change(slots);
        }
    }

    /// A job ended (its thread holding a slot or not); returns whether the thread stays.
    /// Threads beyond `nthreads` idle ones end: a burst of seceded tasks leaves no more
    /// threads behind than the worker started with.
    fn after_job(&self, held_slot: bool) -> bool {
        let mut slots = self.lock();
        if held_slot {
            slots.running -= 1;
        }
        let stays = slots.idle < slots.nthreads;
        if stays {
            slots.idle += 1;
        } else {
            slots.threads -= 1;
        }
        self.notify_waiting(slots);
        stays
    }

    /// Tells the worker that its running task `key` seceded.
    pub(crate) fn report_seceded(&self, key: TaskKey) {
        self.seceded.do_send(TaskSeceded { key });
    }

    /// The running task on this thread gives its slot back (see the module docs).
    pub(crate) fn secede(self: &Arc<Self>) {
        let mut slots = self.lock();
        slots.running -= 1;
        self.spawn_if_needed(&mut slots);
        self.notify_waiting(slots);
    }

    /// A seceded task takes a slot again, waiting (before any queued job) until one is free.
    pub(crate) fn rejoin(&self) {
        let mut slots = self.lock();
        slots.rejoining += 1;
        while slots.running >= slots.nthreads {
            slots = self.wait_for_change(slots);
        }
        slots.rejoining -= 1;
        slots.running += 1;
    }
}
