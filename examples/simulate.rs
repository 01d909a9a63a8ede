//! A deterministic simulation of the scheduler at scale: the pure scheduler core
//! (`taskforce::scheduler`, through the same public state-machine API as
//! `benches/scheduler.rs`) drives 1,000 simulated workers through 1,000,000 tasks in mixed
//! shapes, with simulated run times and transfer costs, on an event queue in simulated time.
//!
//! Shapes, all submitted at simulated time 0 as separate graphs of one client: a wide map
//! (40% of the tasks; the client wants every result), binary tree reductions of 1,024
//! leaves (25%; it wants each root), chains of 1,000 (25%; it wants each end), and
//! all-to-all shuffles of 50 inputs into 50 outputs, each output needing every input (10%;
//! it wants the outputs). When every wanted key of a graph is in memory, the client releases
//! them, as a client that gathered its results, so the scheduler ends empty.
//!
//! Every task's run time (0.2–2 ms) and result size (1 KiB–1 MiB) come from a seeded hash of
//! its index. A worker runs the tasks it is given in arrival order on its threads; a task
//! starts once a thread is free and every input held elsewhere has arrived (50 µs plus its
//! bytes at 1 GB/s). A task the scheduler asks back (work stealing) is given back at once if
//! it is still in its worker's queue. Nothing here reads the clock but the report of the scheduler's own
//! wall time, so the same seed gives the same schedule: the hash of every (time, worker,
//! task) assignment is printed, and a test checks that two runs agree.
//!
//! Reports, as one JSON line: transitions per second of wall time spent inside the
//! scheduler's calls (four per task, as `benches/scheduler.rs` counts them: submitted,
//! assigned, finished, released), the scheduler's bytes per task (live heap right after
//! every graph is submitted, and at its peak, over the heap before the graphs were built;
//! counted by a counting allocator, so the keys and specs the scheduler keeps are in it),
//! and the simulated makespan against two lower bounds: total work over total threads, and
//! the critical path.
//!
//! Measured 2026-12-02 on the shared 2-core machine, default config, 1,000 workers. Before
//! the fixes of that afternoon (load 4.4): 999,734 tasks, 3.0 M edges, 153,000 transitions/s
//! inside the scheduler, 957 bytes per task after submission and 1,020 at the peak; 232,000/s
//! at 100,000 tasks and 261,000/s at 9,047 (26,000/s had been measured at load 8–20: the
//! figure is wall time, so a loaded machine's preemption counts in it). What grew with the
//! number of tasks was memory, not an algorithm: one `Arc<str>` per dependency edge, a
//! separate copy of every wanted and finished key, and 224-byte slots in a task table
//! sized to 2^21 (page faults and cache misses). After (load 4.2–4.4): 300,000–304,000/s at
//! 1 M tasks, 580 bytes per task after submission and 600 at the peak; 443,000–460,000/s at
//! 100,000; 562,000–622,000/s at 9,047; same schedule hashes, makespan 1.41× the bound (the
//! critical path, 1,132 ms; total work over threads 549 ms). The target is
//! 2,000,000/s: what remains is hashing and comparing string keys (a dozen table lookups
//! per finished task, most of them cache misses at 1 M tasks) and malloc, which dense task
//! ids would remove.
//!
//! `cargo run --release --example simulate [-- --tasks 1000000 --workers 1000 --threads 2
//! --seed 1 --no-stealing]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use taskforce::ids::{ClientId, FunctionId, TaskKey, WorkerId};
use taskforce::scheduler::{
    ComputeTask, NewTask, Outbox, SchedulerConfig, SchedulerState, TaskFailure,
};
use xxhash_rust::xxh3::Xxh3;

mod support;
use support::arg;

/// Counts live heap bytes and their peak, so the scheduler's memory per task is measured
/// without reading the process's resident size (which the allocator's caching blurs).
struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                + (new_size - layout.size());
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CLIENT: ClientId = ClientId(1);
/// Transitions each task goes through, counted as `benches/scheduler.rs` counts them.
const TRANSITIONS_PER_TASK: u64 = 4;
/// Simulated time is in nanoseconds.
const NS_PER_MS: u64 = 1_000_000;
/// The fixed cost of fetching one input from another worker.
const TRANSFER_LATENCY_NS: u64 = 50_000;
/// Bytes per nanosecond moved between workers (1 GB/s).
const BYTES_PER_NS: u64 = 1;

/// What one simulation is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Tasks in all (the shapes take their shares of it).
    pub tasks: usize,
    /// Simulated workers.
    pub workers: u32,
    /// Threads per simulated worker.
    pub threads: u32,
    /// Seeds the run times, sizes and (so) the schedule.
    pub seed: u64,
    /// Whether the scheduler steals (`--no-stealing` turns it off, to compare).
    pub stealing: bool,
}

/// What one simulation measured.
#[derive(Clone, Debug)]
pub struct SimReport {
    /// Tasks simulated.
    pub tasks: usize,
    /// Dependency edges among them.
    pub edges: usize,
    /// Hash of every assignment (simulated time, worker, task) in order.
    pub schedule_hash: u64,
    /// Wall time spent inside the scheduler's calls.
    pub scheduler_wall: Duration,
    /// Wall time of the whole simulation, graph building included.
    pub total_wall: Duration,
    /// Live heap right after every graph was submitted, over the heap before they were built.
    pub bytes_after_submit: usize,
    /// Peak live heap during the run, over the same base.
    pub bytes_peak: usize,
    /// Simulated time when the last task finished (ns).
    pub makespan_ns: u64,
    /// Sum of every task's run time (ns).
    pub total_work_ns: u64,
    /// The longest path of run times through the graph (ns), transfers not counted.
    pub critical_path_ns: u64,
    /// Tasks the scheduler still knew at the end (0 when everything was released).
    pub left_in_scheduler: usize,
    /// Tasks given back to the scheduler after a steal request.
    pub given_back: u64,
}

/// SplitMix64: a seeded hash of a task's index, so each task's draw is independent of the
/// order in which the simulation asks for it.
fn mix(seed: u64, index: u64, salt: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(salt.wrapping_mul(0xd1b5_4a32_d192_ed03));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One simulated task: what the scheduler is given and what the simulation knows of it.
struct SimTask {
    deps: Vec<u32>,
    run_ns: u64,
    nbytes: u64,
    graph: u32,
}

/// One submitted graph: its tasks' range and the keys the client wants from it.
struct SimGraph {
    tasks: std::ops::Range<u32>,
    wanted: Vec<u32>,
    waiting_for: usize,
}

/// Every task of every shape, indexed densely in submission order (inputs first).
struct Workload {
    tasks: Vec<SimTask>,
    graphs: Vec<SimGraph>,
}

impl Workload {
    fn build(config: &SimConfig) -> Workload {
        let mut w = Workload {
            tasks: Vec::with_capacity(config.tasks),
            graphs: Vec::new(),
        };
        let n = config.tasks;
        w.graph(config, |w, c| {
            (0..n * 4 / 10).map(|_| w.task(c, vec![])).collect()
        });
        let tree_size = 2 * 1024 - 1;
        for _ in 0..(n / 4 / tree_size).max(1) {
            w.graph(config, |w, c| vec![w.tree(c, 1024)]);
        }
        for _ in 0..(n / 4 / 1000).max(1) {
            w.graph(config, |w, c| {
                let mut last = w.task(c, vec![]);
                for _ in 1..1000 {
                    last = w.task(c, vec![last]);
                }
                vec![last]
            });
        }
        for _ in 0..(n / 10 / 100).max(1) {
            w.graph(config, |w, c| {
                let inputs: Vec<u32> = (0..50).map(|_| w.task(c, vec![])).collect();
                (0..50).map(|_| w.task(c, inputs.clone())).collect()
            });
        }
        w
    }

    /// Adds one graph made by `make`, which returns the wanted tasks.
    fn graph(&mut self, config: &SimConfig, make: impl FnOnce(&mut Self, &SimConfig) -> Vec<u32>) {
        let id = self.graphs.len() as u32;
        let first = self.tasks.len() as u32;
        let wanted = make(self, config);
        for task in &mut self.tasks[first as usize..] {
            task.graph = id;
        }
        let waiting_for = wanted.len();
        self.graphs.push(SimGraph {
            tasks: first..self.tasks.len() as u32,
            wanted,
            waiting_for,
        });
    }

    fn task(&mut self, config: &SimConfig, deps: Vec<u32>) -> u32 {
        let index = self.tasks.len() as u64;
        self.tasks.push(SimTask {
            deps,
            run_ns: 200_000 + mix(config.seed, index, 1) % (1_800_000),
            nbytes: 1024 + mix(config.seed, index, 2) % (1 << 20),
            graph: 0,
        });
        index as u32
    }

    /// A binary reduction over `leaves` leaves; returns the root.
    fn tree(&mut self, config: &SimConfig, leaves: usize) -> u32 {
        let mut level: Vec<u32> = (0..leaves).map(|_| self.task(config, vec![])).collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| self.task(config, pair.to_vec()))
                .collect();
        }
        level[0]
    }

    fn edges(&self) -> usize {
        self.tasks.iter().map(|t| t.deps.len()).sum()
    }

    /// The longest chain of run times (inputs always have lower indices).
    fn critical_path_ns(&self) -> u64 {
        let mut finish = vec![0u64; self.tasks.len()];
        for (i, task) in self.tasks.iter().enumerate() {
            let ready = task
                .deps
                .iter()
                .map(|&d| finish[d as usize])
                .max()
                .unwrap_or(0);
            finish[i] = ready + task.run_ns;
        }
        finish.into_iter().max().unwrap_or(0)
    }
}

fn function() -> FunctionId {
    FunctionId::new("simulated", 0x5eed)
}

/// Keys look like dask's, as in `benches/scheduler.rs`: hashing them is part of the cost.
fn key(i: u32) -> TaskKey {
    TaskKey::new(format!("sim-{:016x}-{i}", 0x9e37_79b9_7f4a_7c15_u64))
}

fn index_of(key: &TaskKey) -> u32 {
    let digits = key.as_str().rsplit('-').next().unwrap_or("");
    digits.parse().expect("a simulation key ends in its index")
}

/// What the scheduler said during one call, for the simulation to act on afterwards.
#[derive(Default)]
struct Said {
    computes: Vec<(WorkerId, u32)>,
    in_memory: Vec<u32>,
    steals: Vec<(WorkerId, u32, u64)>,
}

impl Outbox for Said {
    fn compute(&mut self, worker: WorkerId, task: ComputeTask) {
        self.computes.push((worker, index_of(&task.key)));
    }
    fn release_data(&mut self, _: WorkerId, _: Vec<TaskKey>) {}
    fn key_in_memory(&mut self, _: ClientId, key: TaskKey) {
        self.in_memory.push(index_of(&key));
    }
    fn key_erred(&mut self, _: ClientId, key: TaskKey, failure: TaskFailure) {
        panic!("{key} erred in the simulation: {failure}");
    }
    fn key_lost(&mut self, _: ClientId, key: TaskKey, reason: String) {
        panic!("{key} lost in the simulation: {reason}");
    }
    fn key_recomputing(&mut self, _: ClientId, key: TaskKey) {
        panic!("{key} recomputed in the simulation: no worker is lost");
    }
    fn steal(&mut self, worker: WorkerId, key: TaskKey, steal: u64) {
        self.steals.push((worker, index_of(&key), steal));
    }
}

/// One simulated worker: free threads and the tasks given to it, in arrival order, each
/// with the time its inputs are all here.
struct SimWorker {
    free_threads: u32,
    queue: VecDeque<(u32, u64)>,
}

/// The simulation's state besides the scheduler.
struct Sim<'a> {
    work: &'a mut Workload,
    workers: Vec<SimWorker>,
    /// Where each finished task's value lives (0: nowhere yet).
    holder: Vec<u32>,
    /// Finish events: (time, task, worker), earliest first.
    events: BinaryHeap<Reverse<(u64, u32, u32)>>,
    hash: Xxh3,
    scheduler_wall: Duration,
    makespan_ns: u64,
    given_back: u64,
    /// Steal requests not answered yet, and whether they are being answered.
    steal_requests: VecDeque<(WorkerId, u32, u64)>,
    answering: bool,
}

impl Sim<'_> {
    /// Times one scheduler call, then acts on what it said.
    fn call(
        &mut self,
        state: &mut SchedulerState,
        now: u64,
        event: impl FnOnce(&mut SchedulerState, &mut Said),
    ) {
        let mut said = Said::default();
        let started = Instant::now();
        event(state, &mut said);
        self.scheduler_wall += started.elapsed();
        self.act(state, now, said);
    }

    /// Performs what the scheduler said: assignments, and a client's release once every
    /// result of one of its graphs is in memory. Not generic, so `call` does not recurse
    /// into a new instance of itself.
    fn act(&mut self, state: &mut SchedulerState, now: u64, said: Said) {
        for (worker, task) in said.computes {
            self.assign(now, worker, task);
        }
        self.steal_requests.extend(said.steals);
        for task in said.in_memory {
            let graph = self.work.tasks[task as usize].graph as usize;
            let graph = &mut self.work.graphs[graph];
            graph.waiting_for -= 1;
            if graph.waiting_for == 0 {
                // The client gathered every result of this graph: it lets go of them.
                let keys: Vec<TaskKey> = graph.wanted.iter().map(|&t| key(t)).collect();
                self.call(state, now, |s, out| s.on_client_releases(CLIENT, keys, out));
            }
        }
        self.answer_steals(state, now);
    }

    /// Answers the steal requests said so far, at once: a task still in its victim's queue
    /// is given back. Only the outermost call drains (a loop, not a recursion: answers make
    /// the scheduler say more, which would nest one call per request).
    fn answer_steals(&mut self, state: &mut SchedulerState, now: u64) {
        if self.answering {
            return;
        }
        self.answering = true;
        while let Some((victim, task, steal)) = self.steal_requests.pop_front() {
            let queue = &mut self.workers[victim.0 as usize - 1].queue;
            let queued = queue.iter().position(|&(queued, _)| queued == task);
            if let Some(at) = queued {
                queue.remove(at);
                self.given_back += 1;
            }
            self.call(state, now, |s, out| {
                s.on_steal_answer(victim, key(task), steal, queued.is_some(), out)
                    .expect("the victim processes the task it answers for");
            });
        }
        self.answering = false;
    }

    fn assign(&mut self, now: u64, worker: WorkerId, task: u32) {
        self.hash.update(&now.to_le_bytes());
        self.hash.update(&worker.0.to_le_bytes());
        self.hash.update(&task.to_le_bytes());
        let fetch_ns: u64 = (self.work.tasks[task as usize].deps.iter())
            .filter(|&&d| self.holder[d as usize] != worker.0)
            .map(|&d| TRANSFER_LATENCY_NS + self.work.tasks[d as usize].nbytes / BYTES_PER_NS)
            .sum();
        let w = &mut self.workers[worker.0 as usize - 1];
        w.queue.push_back((task, now + fetch_ns));
        self.start_ready(now, worker.0);
    }

    fn start_ready(&mut self, now: u64, worker: u32) {
        let w = &mut self.workers[worker as usize - 1];
        while w.free_threads > 0 {
            let Some((task, inputs_here)) = w.queue.pop_front() else {
                break;
            };
            w.free_threads -= 1;
            let finish = now.max(inputs_here) + self.work.tasks[task as usize].run_ns;
            self.events.push(Reverse((finish, task, worker)));
        }
    }
}

/// Runs one simulation to the end.
pub fn simulate(config: SimConfig) -> SimReport {
    let started = Instant::now();
    let mut work = Workload::build(&config);
    let (edges, critical_path_ns) = (work.edges(), work.critical_path_ns());
    let total_work_ns = work.tasks.iter().map(|t| t.run_ns).sum();

    let mut state = SchedulerState::new(SchedulerConfig {
        work_stealing: config.stealing,
        ..SchedulerConfig::default()
    });
    let mut sim = Sim {
        workers: (0..config.workers)
            .map(|_| SimWorker {
                free_threads: config.threads,
                queue: VecDeque::new(),
            })
            .collect(),
        holder: vec![0; work.tasks.len()],
        events: BinaryHeap::new(),
        hash: Xxh3::with_seed(config.seed),
        scheduler_wall: Duration::ZERO,
        makespan_ns: 0,
        given_back: 0,
        steal_requests: VecDeque::new(),
        answering: false,
        work: &mut work,
    };
    for id in 1..=config.workers {
        let threads = config.threads;
        sim.call(&mut state, 0, |s, out| {
            s.on_worker_added(WorkerId(id), threads, vec![function()], out)
        });
    }
    let before_graphs = LIVE.load(Ordering::Relaxed);
    PEAK.store(before_graphs, Ordering::Relaxed);
    for g in 0..sim.work.graphs.len() {
        let graph = &sim.work.graphs[g];
        let tasks: Vec<NewTask> = graph
            .tasks
            .clone()
            .map(|i| NewTask {
                key: key(i),
                function: function(),
                spec: vec![0u8; 16].into(),
                deps: sim.work.tasks[i as usize]
                    .deps
                    .iter()
                    .map(|&d| key(d))
                    .collect(),
                order: i64::from(i),
                restrictions: None,
            })
            .collect();
        let wanted: Vec<TaskKey> = graph.wanted.iter().map(|&t| key(t)).collect();
        sim.call(&mut state, 0, |s, out| {
            s.on_update_graph(CLIENT, tasks, wanted, out)
        });
    }
    let bytes_after_submit = LIVE.load(Ordering::Relaxed).saturating_sub(before_graphs);

    while let Some(Reverse((now, task, worker))) = sim.events.pop() {
        sim.makespan_ns = now;
        sim.holder[task as usize] = worker;
        sim.workers[worker as usize - 1].free_threads += 1;
        let (nbytes, finished) = (sim.work.tasks[task as usize].nbytes, key(task));
        sim.call(&mut state, now, |s, out| {
            s.on_task_finished(WorkerId(worker), finished, nbytes, out)
                .expect("the scheduler asked this worker to run it");
        });
        sim.start_ready(now, worker);
    }
    let bytes_peak = PEAK.load(Ordering::Relaxed).saturating_sub(before_graphs);
    SimReport {
        tasks: sim.work.tasks.len(),
        edges,
        schedule_hash: sim.hash.digest(),
        scheduler_wall: sim.scheduler_wall,
        total_wall: started.elapsed(),
        bytes_after_submit,
        bytes_peak,
        makespan_ns: sim.makespan_ns,
        total_work_ns,
        critical_path_ns,
        left_in_scheduler: state.task_count(),
        given_back: sim.given_back,
    }
}

fn main() {
    let config = SimConfig {
        tasks: arg("--tasks", 1_000_000) as usize,
        workers: arg("--workers", 1_000) as u32,
        threads: arg("--threads", 2) as u32,
        seed: arg("--seed", 1),
        stealing: !std::env::args().any(|a| a == "--no-stealing"),
    };
    let r = simulate(config);
    assert_eq!(r.left_in_scheduler, 0, "every task was released");
    let transitions = r.tasks as u64 * TRANSITIONS_PER_TASK;
    let ideal_ns = r.total_work_ns / u64::from(config.workers * config.threads);
    let bound_ns = ideal_ns.max(r.critical_path_ns);
    let ms = |ns: u64| ns as f64 / NS_PER_MS as f64;
    println!(
        "{{\"bench\": \"scheduler_simulation\", \"system\": \"taskforce\", \"tasks\": {}, \"edges\": {}, \"workers\": {}, \"threads_per_worker\": {}, \"seed\": {}, \"schedule_hash\": \"{:016x}\", \"median_s\": {:.3}, \"scheduler_wall_s\": {:.3}, \"total_wall_s\": {:.3}, \"transitions_per_s\": {:.0}, \"scheduler_bytes_per_task_after_submit\": {:.0}, \"scheduler_bytes_per_task_peak\": {:.0}, \"makespan_ms\": {:.1}, \"ideal_ms\": {:.1}, \"critical_path_ms\": {:.1}, \"makespan_over_bound\": {:.3}, \"tasks_given_back\": {}}}",
        r.tasks,
        r.edges,
        config.workers,
        config.threads,
        config.seed,
        r.schedule_hash,
        r.scheduler_wall.as_secs_f64(),
        r.scheduler_wall.as_secs_f64(),
        r.total_wall.as_secs_f64(),
        transitions as f64 / r.scheduler_wall.as_secs_f64(),
        r.bytes_after_submit as f64 / r.tasks as f64,
        r.bytes_peak as f64 / r.tasks as f64,
        ms(r.makespan_ns),
        ms(ideal_ns),
        ms(r.critical_path_ns),
        r.makespan_ns as f64 / bound_ns as f64,
        r.given_back,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> SimConfig {
        SimConfig {
            tasks: 20_000,
            workers: 20,
            threads: 2,
            seed,
            stealing: true,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let (a, b) = (simulate(small(7)), simulate(small(7)));
        assert_eq!(a.schedule_hash, b.schedule_hash);
        assert_eq!(a.makespan_ns, b.makespan_ns);
        assert_eq!(a.tasks, b.tasks);
    }

    #[test]
    fn every_task_runs_and_is_released() {
        let r = simulate(small(3));
        assert_eq!(r.left_in_scheduler, 0);
        assert!(
            r.makespan_ns >= r.critical_path_ns,
            "no schedule beats the critical path"
        );
        assert!(
            r.makespan_ns >= r.total_work_ns / 40,
            "no schedule beats total work over 40 threads"
        );
    }

    #[test]
    fn another_seed_gives_another_schedule() {
        assert_ne!(
            simulate(small(1)).schedule_hash,
            simulate(small(2)).schedule_hash
        );
    }
}
