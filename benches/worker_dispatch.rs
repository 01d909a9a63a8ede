//! Cost per task of the worker core (`taskforce::worker_core`, the pure state machine the
//! worker actor feeds), through its public API only: the scheduler's compute order is
//! accepted, the task's arguments are resolved from memory and its job handed out, the job
//! runs (a trivial function, through `Call::run` and its panic boundary, on this thread),
//! its outcome is kept and reported (a small value rides inline with the report), and the
//! scheduler's release forgets it.
//!
//! Two shapes: independent tasks arriving 64 per compute order (a wide map), and a chain
//! where each task reads the previous one's value from this worker's memory and arrives
//! alone (the scheduler sends it only when its input is done). What is not here: the hand-off
//! between the actor thread and the task threads and the sockets, which the profile
//! names as the larger cost (2.5–4.2 µs of worker CPU per task); `examples/bench_overhead.rs`
//! measures them through the whole stack.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use taskforce::function::registry::Invoke;
use taskforce::function::{ArgReader, ArgSpec, CallError, TaskBody, Value};
use taskforce::ids::{FunctionId, TaskKey, WorkerId};
use taskforce::messages::center_link::TaskEvent;
use taskforce::scheduler::{ComputeTask, Priority};
use taskforce::worker_core::{WorkerCommand, WorkerState};

const ME: WorkerId = WorkerId(1);
/// Tasks per compute order in the wide map, as the scheduler batches them per event.
const BATCH: usize = 64;

fn function() -> FunctionId {
    FunctionId::new("one", 7)
}

fn one(_: &ArgReader<'_>) -> Result<Arc<dyn Value>, CallError> {
    Ok(Arc::new(1_i64))
}

/// The functions "linked" into the bench's worker: only `one`.
fn functions(name: &str) -> Option<(Invoke, u64)> {
    (name == "one").then_some((one as Invoke, 7))
}

fn key(i: usize) -> TaskKey {
    TaskKey::new(format!("one-{:016x}-{i}", 0x9e37_79b9_7f4a_7c15_u64))
}

/// A compute order for task `i`, reading `input` (held on this worker) if given.
fn task(i: usize, input: Option<TaskKey>) -> ComputeTask {
    let args = input.iter().cloned().map(ArgSpec::Key).collect();
    let body = TaskBody {
        function: function(),
        args,
        retries: 0,
    };
    ComputeTask {
        key: key(i),
        function: function(),
        spec: body.to_spec().expect("encode a task body"),
        deps: input.map(|k| (k, vec![ME])).into_iter().collect(),
        priority: Priority {
            generation: 1,
            order: i as i64,
        },
    }
}

fn worker() -> WorkerState {
    let mut state = WorkerState::new(functions);
    state.on_registered(ME);
    state
}

/// Runs every job the core handed out and feeds the outcomes back; returns the keys that
/// finished.
fn run_jobs(state: &mut WorkerState, commands: &mut Vec<WorkerCommand>) -> usize {
    let mut finished = 0;
    while !commands.is_empty() {
        for command in std::mem::take(commands) {
            match command {
                WorkerCommand::Run(job) => {
                    let outcome = job.call.run();
                    state.on_job_done(job.key, outcome, commands);
                }
                WorkerCommand::Report(TaskEvent::Finished { .. }) => finished += 1,
                other => panic!("unexpected in the bench: {other:?}"),
            }
        }
    }
    finished
}

fn wide_map(state: &mut WorkerState, tasks: Vec<Vec<ComputeTask>>) {
    let mut commands = Vec::new();
    let mut keys = Vec::new();
    for batch in tasks {
        keys.extend(batch.iter().map(|t| t.key.clone()));
        state.on_compute(batch, Vec::new(), &mut commands);
        run_jobs(state, &mut commands);
    }
    state.on_release(keys, &mut commands);
    assert_eq!(state.stored_keys(), 0, "every value is released");
}

fn chain(state: &mut WorkerState, tasks: Vec<ComputeTask>) {
    let mut commands = Vec::new();
    let mut previous: Option<TaskKey> = None;
    for t in tasks {
        let key = t.key.clone();
        state.on_compute(vec![t], Vec::new(), &mut commands);
        assert_eq!(run_jobs(state, &mut commands), 1, "{key} finished");
        if let Some(done) = previous.replace(key) {
            state.on_release(vec![done], &mut commands);
        }
    }
    state.on_release(previous.into_iter().collect(), &mut commands);
    assert_eq!(state.stored_keys(), 0, "every value is released");
}

fn shapes(c: &mut Criterion) {
    let mut group = c.benchmark_group("worker_dispatch");
    let n = 64 * BATCH;
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("wide_map", n), |b| {
        let mut state = worker();
        b.iter_batched(
            || {
                let tasks: Vec<ComputeTask> = (0..n).map(|i| task(i, None)).collect();
                tasks.chunks(BATCH).map(<[ComputeTask]>::to_vec).collect()
            },
            |tasks| wide_map(&mut state, tasks),
            BatchSize::LargeInput,
        );
    });
    group.bench_function(BenchmarkId::new("chain", n), |b| {
        let mut state = worker();
        b.iter_batched(
            || {
                (0..n)
                    .map(|i| task(i, i.checked_sub(1).map(key)))
                    .collect::<Vec<_>>()
            },
            |tasks| chain(&mut state, tasks),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(20);
    targets = shapes
}
criterion_main!(benches);
