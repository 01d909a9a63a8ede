//! The seed document's array workloads (as dask's `bench_seed_arrays.py`), on a local cluster
//! of 2 single-thread workers: the sum of 1000 random arrays of 1e6 numbers with futures
//! (holding or dropping the arrays), as a task graph on the cluster, on local threads, as a
//! plain loop, and the binary tree reduction of 16 arrays.
//!
//! `cargo run --release --example bench_seed_arrays [-- --arrays 1000 --runs 3]`

use std::time::Instant;

use taskforce::graph::{key, task, Graph};
use taskforce::threaded::Threaded;
use taskforce::{remote, Executor, Runner};

mod support;
use support::arg;

const LEN: usize = 1_000_000;

#[remote]
fn random_array(seed: u64, len: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1_u64 << 53) as f64
        })
        .collect()
}

#[remote]
fn array_sum(x: &[f64]) -> f64 {
    x.iter().sum()
}

#[remote]
fn add_arrays(x: &[f64], y: &[f64]) -> Vec<f64> {
    x.iter().zip(y).map(|(a, b)| a + b).collect()
}

#[remote]
fn sum_floats(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

fn futures_sum(executor: &Executor, n: u64, hold: bool) -> taskforce::Result<f64> {
    let arrays = executor.map_impure(random_array.bind((LEN,)), 0..n)?;
    let sums = executor.map(array_sum, &arrays)?;
    let total = executor.submit(sum_floats, (&sums,))?;
    if !hold {
        drop((arrays, sums));
        return total.result();
    }
    let value = total.result()?;
    drop((arrays, sums));
    Ok(value)
}

fn seed_graph(n: u64) -> Graph {
    let mut dsk = Graph::new();
    for i in 0..n {
        dsk.insert(key!("x", i), task!(random_array, i, LEN));
        dsk.insert(key!("sum", i), task!(array_sum, key!("x", i)));
    }
    dsk.insert(
        "total",
        task!(
            sum_floats,
            (0..n).map(|i| key!("sum", i)).collect::<Vec<_>>()
        ),
    );
    dsk
}

fn tree_reduction(executor: &Executor) -> taskforce::Result<f64> {
    let mut layer = executor.map_impure(random_array.bind((LEN,)), 0..16_u64)?;
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|pair| executor.submit(add_arrays, (&pair[0], &pair[1])))
            .collect::<taskforce::Result<Vec<_>>>()?;
    }
    executor.submit(array_sum, (&layer[0],))?.result()
}

fn report(bench: &str, variant: &str, mut seconds: Vec<f64>, value: f64) {
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let runs: Vec<String> = seconds.iter().map(|s| format!("{s:.3}")).collect();
    println!(
        "{{\"bench\": \"{bench}\", \"system\": \"taskforce\", \"variant\": \"{variant}\", \"median_s\": {median:.3}, \"runs\": [{}], \"value\": {value:.1}}}",
        runs.join(", ")
    );
}

fn timed(
    runs: usize,
    mut run: impl FnMut() -> taskforce::Result<f64>,
) -> taskforce::Result<(Vec<f64>, f64)> {
    let mut seconds = Vec::new();
    let mut value = 0.0;
    for _ in 0..runs {
        let started = Instant::now();
        value = run()?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    Ok((seconds, value))
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let n = arg("--arrays", 1000) as u64;
    let runs = arg("--runs", 3);
    let cluster = support::two_single_thread_workers().start()?;
    let executor = cluster.executor()?;
    for (variant, hold) in [("hold", true), ("del", false)] {
        let (seconds, value) = timed(runs, || futures_sum(&executor, n, hold))?;
        report("seed_array_sum_futures", variant, seconds, value);
    }
    let dsk = seed_graph(n);
    let (seconds, value) = timed(runs, || executor.get(&dsk, "total"))?;
    report("seed_array_sum_graph", "cluster", seconds, value);
    let threads = Threaded::new(2);
    let (seconds, value) = timed(runs, || Runner::get(&threads, &dsk, "total"))?;
    report("seed_array_sum_graph", "threads", seconds, value);
    let (seconds, value) = timed(runs, || {
        Ok((0..n).map(|i| array_sum(&random_array(i, LEN))).sum())
    })?;
    report("seed_array_sum_graph", "plain loop", seconds, value);
    let (seconds, value) = timed(5, || tree_reduction(&executor))?;
    report("seed_tree_reduction", "cluster", seconds, value);
    Ok(())
}
