//! Cost per task of the scheduler core, through its public state-machine API only: a client
//! submits a graph, the scheduler assigns each ready task to a worker, every task finishes,
//! and the client releases what it wanted, so every record is forgotten again.
//!
//! Three shapes: a wide map (independent tasks), a chain (each task needs the previous) and
//! a binary reduction tree. Throughput counts four transitions per task — submitted
//! (released → waiting), assigned (→ processing), finished (→ memory), released
//! (→ released/forgotten) — so criterion reports transitions per second. Building the
//! `NewTask`s is setup and not timed; everything the scheduler does with them is.
//!
//! Keys look like dask's (`"inc-<16 hex digits>-<i>"`), since hashing and comparing them is
//! part of the cost being measured.
//!
//! Measured 2026-12-02 on a shared 2-core machine (load ~10): about 1.0 M transitions/s for
//! the map, 0.9–1.1 M for the chain, 0.45–0.55 M for the tree. `perf` on the tree: ~30% of
//! the time in key-indexed map lookups (hashing plus `memcmp` of key strings), ~16% in the
//! allocator. Interning keys to dense ids would win at most that 30%, minus one intern
//! lookup per key arriving from the wire, and touch every file of the core: not done.

use std::collections::VecDeque;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use taskforce::ids::{ClientId, TaskKey, WorkerId};
use taskforce::scheduler::{
    ComputeTask, FunctionId, NewTask, Outbox, SchedulerConfig, SchedulerState, TaskFailure,
};

/// Transitions each task goes through in one round (see the module comment).
const TRANSITIONS_PER_TASK: u64 = 4;
const CLIENT: ClientId = ClientId(1);
const WORKERS: u32 = 8;
const THREADS: u32 = 4;

/// Remembers the compute orders, so the driver can finish them; drops everything else.
#[derive(Default)]
struct Assigned(VecDeque<(WorkerId, TaskKey)>);

impl Outbox for Assigned {
    fn compute(&mut self, worker: WorkerId, task: ComputeTask) {
        self.0.push_back((worker, task.key));
    }
    fn release_data(&mut self, _: WorkerId, _: Vec<TaskKey>) {}
    fn key_in_memory(&mut self, _: ClientId, _: TaskKey) {}
    fn key_erred(&mut self, _: ClientId, key: TaskKey, failure: TaskFailure) {
        panic!("{key} erred in the bench: {failure}");
    }
    fn key_lost(&mut self, _: ClientId, key: TaskKey, reason: String) {
        panic!("{key} lost in the bench: {reason}");
    }
    fn key_recomputing(&mut self, _: ClientId, _: TaskKey) {}
    // Every task assigned is finished in order, so a steal is never answered: the task
    // finishes on its first worker.
    fn steal(&mut self, _: WorkerId, _: TaskKey, _: u64) {}
}

fn function() -> FunctionId {
    FunctionId::new("inc", 0x5eed)
}

fn key(i: usize) -> TaskKey {
    TaskKey::new(format!("inc-{:016x}-{i}", 0x9e37_79b9_7f4a_7c15_u64))
}

fn task(i: usize, deps: Vec<TaskKey>) -> NewTask {
    NewTask {
        key: key(i),
        function: function(),
        spec: vec![0u8; 16].into(),
        deps,
        order: i as i64,
        restrictions: None,
    }
}

/// A graph to submit and the keys the client wants from it.
struct Graph {
    tasks: Vec<NewTask>,
    wanted: Vec<TaskKey>,
}

fn wide_map(n: usize) -> Graph {
    let tasks: Vec<NewTask> = (0..n).map(|i| task(i, Vec::new())).collect();
    let wanted = tasks.iter().map(|t| t.key.clone()).collect();
    Graph { tasks, wanted }
}

fn chain(n: usize) -> Graph {
    let tasks = (0..n)
        .map(|i| task(i, if i == 0 { vec![] } else { vec![key(i - 1)] }))
        .collect();
    Graph {
        tasks,
        wanted: vec![key(n - 1)],
    }
}

/// A binary reduction over `leaves` leaves (a power of two): `2 * leaves - 1` tasks.
fn tree(leaves: usize) -> Graph {
    let mut tasks: Vec<NewTask> = (0..leaves).map(|i| task(i, Vec::new())).collect();
    let mut level: Vec<usize> = (0..leaves).collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len() / 2);
        for pair in level.chunks(2) {
            let i = tasks.len();
            tasks.push(task(i, pair.iter().map(|&d| key(d)).collect()));
            next.push(i);
        }
        level = next;
    }
    let root = key(tasks.len() - 1);
    Graph {
        tasks,
        wanted: vec![root],
    }
}

/// Builds a graph of a given size.
type Shape = fn(usize) -> Graph;

/// A scheduler with the bench's workers, all able to run the function.
fn cluster() -> SchedulerState {
    let mut state = SchedulerState::new(SchedulerConfig::default());
    let mut out = Assigned::default();
    for id in 1..=WORKERS {
        state.on_worker_added(WorkerId(id), THREADS, vec![function()], &mut out);
    }
    state
}

/// One round: submit, finish every assigned task (in assignment order) until nothing is
/// left to run, then release what was wanted. Leaves the scheduler empty.
fn run_round(state: &mut SchedulerState, graph: Graph) {
    let mut out = Assigned::default();
    let wanted = graph.wanted.clone();
    state.on_update_graph(CLIENT, graph.tasks, graph.wanted, &mut out);
    while let Some((worker, key)) = out.0.pop_front() {
        state
            .on_task_finished(worker, key, 8, &mut out)
            .expect("the worker was asked to run it");
    }
    state.on_client_releases(CLIENT, wanted, &mut out);
    assert_eq!(state.task_count(), 0, "every record is forgotten");
}

fn shapes(c: &mut Criterion) {
    let mut group = c.benchmark_group("scheduler");
    let shapes: [(&str, usize, Shape); 3] = [
        ("wide_map", 10_000, wide_map),
        ("chain", 10_000, chain),
        ("tree", 8_192, tree),
    ];
    for (name, size, build) in shapes {
        let tasks = build(size).tasks.len() as u64;
        group.throughput(Throughput::Elements(tasks * TRANSITIONS_PER_TASK));
        group.bench_with_input(BenchmarkId::new(name, tasks), &size, |b, &size| {
            let mut state = cluster();
            b.iter_batched(
                || build(size),
                |graph| run_round(&mut state, graph),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(20);
    targets = shapes
}
criterion_main!(benches);
