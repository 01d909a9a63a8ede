//! Array benchmarks on a local cluster of 2 single-thread workers: the seed sum
//! `Array::random(&[1e9], &[1e6]).sum()` beside a bare two-thread rayon loop over the same
//! generator, the 10000×10000 array of ones in 100×100 chunks summed end to end (graph
//! building included), the build time of a 1,000,000-chunk graph, and the workers' peak
//! memory for the seed sum and `(&x - &x.mean_axis(1)).sum()` over 10000×10000 in
//! 1000×1000 blocks under a memory limit.
//!
//! `cargo run --release --example bench_array [-- --runs 3 --memory-limit 1GiB --only big_graph
//! --chunks 1000 --side 10000]` (`--chunks`: chunks of 1e6 in the seed sum; `--side`: the big
//! graph's array is side×side in 100×100 chunks)
//! (`--only` one of `graph_build`, `seed_sum`, `big_graph`, `memory`; all by default)

use std::time::Instant;

use rand_core::RngCore;
use rayon::prelude::*;
use taskforce::collections::array::{block_rng, unit_f64};
use taskforce::collections::Array;
use taskforce::{Executor, LocalCluster};

mod support;
use support::arg;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

fn report(bench: &str, variant: &str, seconds: Vec<f64>, extra: &str) {
    let runs: Vec<String> = seconds.iter().map(|s| format!("{s:.3}")).collect();
    println!(
        "{{\"bench\": \"{bench}\", \"system\": \"taskforce\", \"variant\": \"{variant}\", \"median_s\": {:.3}, \"runs\": [{}]{extra}}}",
        median(seconds.clone()),
        runs.join(", ")
    );
}

/// Peak resident memory of a process (VmHWM), in MiB.
fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn rayon_seed_sum(seed: u64, chunks: u64, len: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool");
    pool.install(|| {
        (0..chunks)
            .into_par_iter()
            .map(|i| {
                let mut rng = block_rng(seed, i);
                (0..len).map(|_| unit_f64(rng.next_u64())).sum::<f64>()
            })
            .sum()
    })
}

fn seed_sums(executor: &Executor, runs: usize, chunks: usize) -> taskforce::Result<()> {
    let chunk = 1_000_000;
    let n = chunks * chunk;
    let mut cluster_s = Vec::new();
    let mut value = 0.0;
    for _ in 0..runs {
        let started = Instant::now();
        // A fresh seed each run, as dask's: equal keys would let the cluster reuse results.
        value = Array::random(&[n], &[chunk]).sum().compute(executor)?;
        cluster_s.push(started.elapsed().as_secs_f64());
    }
    report(
        "seed_array_sum_array",
        "cluster",
        cluster_s,
        &format!(", \"value\": {value:.1}"),
    );
    let threads = taskforce::threaded::Threaded::new(2);
    let started = Instant::now();
    let on_threads = Array::random(&[n], &[chunk]).sum().compute(&threads)?;
    let threads_s = vec![started.elapsed().as_secs_f64()];
    report(
        "seed_array_sum_array",
        "threaded 2",
        threads_s,
        &format!(", \"value\": {on_threads:.1}"),
    );
    let mut rayon_s = Vec::new();
    let mut bare = 0.0;
    for _ in 0..runs {
        let started = Instant::now();
        bare = rayon_seed_sum(7, (n / chunk) as u64, chunk);
        rayon_s.push(started.elapsed().as_secs_f64());
    }
    report(
        "seed_array_sum_array",
        "rayon 2 threads",
        rayon_s,
        &format!(", \"value\": {bare:.1}"),
    );
    Ok(())
}

fn big_graph(executor: &Executor, runs: usize, side: usize) -> taskforce::Result<()> {
    let mut seconds = Vec::new();
    let mut tasks = 0;
    for run in 0..runs {
        let started = Instant::now();
        // dask's `da.ones(...).sum()`; another value each run so no run reuses another's keys.
        let fill = 1.0 + run as f64;
        let total = Array::full(&[side, side], &[100, 100], fill).sum();
        tasks = total.graph().len();
        let value = total.compute(executor)?;
        assert_eq!(value, (side * side) as f64 * fill);
        seconds.push(started.elapsed().as_secs_f64());
    }
    let rate = tasks as f64 / median(seconds.clone());
    let dask_equivalent = 13_361.0 / median(seconds.clone());
    let extra = format!(
        ", \"side\": {side}, \"tasks\": {tasks}, \"tasks_per_s\": {rate:.0}, \"dask_13361_tasks_per_s\": {dask_equivalent:.0}"
    );
    report("big_graph_sum", "cluster", seconds, &extra);
    Ok(())
}

fn graph_build() {
    let started = Instant::now();
    let total = Array::random_seeded(&[1_000_000], &[1], 1).sum();
    let graph = total.graph();
    let seconds = started.elapsed().as_secs_f64();
    let extra = format!(", \"tasks\": {}", graph.len());
    report("graph_build_1m_chunks", "build", vec![seconds], &extra);
}

/// Children of `pid` (the worker under each nanny), from `/proc/*/stat`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let after_name = stat.rsplit(')').next().unwrap_or("");
            after_name.split_whitespace().nth(1) == Some(pid.to_string().as_str())
        })
        .collect()
}

/// Peak memory of each worker process (the child of each nanny), in MiB.
fn peaks(cluster: &LocalCluster) -> String {
    let peaks: Vec<String> = cluster
        .worker_pids()
        .iter()
        .flat_map(|&nanny| children(nanny))
        .map(|p| format!("{:.0}", peak_mib(p)))
        .collect();
    peaks.join(", ")
}

/// Builds the expression a memory measurement computes.
type Workload = fn() -> taskforce::collections::array::Scalar<f64>;

/// Each workload on a fresh cluster whose workers have `limit`, so each peak is its own.
fn memory(limit: &str) -> taskforce::Result<()> {
    let bytes = parse_size::parse_size(limit).expect("a memory limit like 1GiB");
    let workloads: [(&str, Workload); 2] = [
        ("seed sum 1e9 in 1e6", || {
            Array::random_seeded(&[1_000_000_000], &[1_000_000], 3).sum()
        }),
        (
            "(x - x.mean_axis(1)).sum(), 10000x10000 in 1000x1000",
            || {
                let x = Array::random_seeded(&[10_000, 10_000], &[1_000, 1_000], 4);
                (&x - &x.mean_axis(1)).sum()
            },
        ),
    ];
    for (workload, build) in workloads {
        let cluster = support::two_single_thread_workers()
            .memory_limit(bytes)
            .start()?;
        let executor = cluster.executor()?;
        let started = Instant::now();
        let value = build().compute(&executor)?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{{\"bench\": \"memory\", \"workload\": \"{workload}\", \"limit\": \"{limit}\", \"seconds\": {seconds:.2}, \"value\": {value:.3}, \"worker_peak_mib\": [{}]}}",
            peaks(&cluster)
        );
    }
    Ok(())
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let runs: usize = arg("--runs", 3);
    let only = arg("--only", "all".to_string());
    let wanted = |bench: &str| only == "all" || only == bench;
    if wanted("graph_build") {
        graph_build();
    }
    if wanted("seed_sum") || wanted("big_graph") {
        let cluster = support::two_single_thread_workers().start()?;
        let executor = cluster.executor()?;
        if wanted("seed_sum") {
            let chunks = arg("--chunks", 1000);
            seed_sums(&executor, runs, chunks)?;
        }
        if wanted("big_graph") {
            let side = arg("--side", 10000);
            big_graph(&executor, runs, side)?;
        }
    }
    if wanted("memory") {
        memory(&arg("--memory-limit", "1GiB".to_string()))?;
    }
    Ok(())
}
