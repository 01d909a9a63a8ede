//! Scheduling overhead through the whole stack on a local cluster of 2 single-thread workers
//! (as dask's `bench_overhead.py`): submit→result roundtrip latency, and the throughput of
//! independent trivial tasks (map, then gather every result), and a chain of dependent tasks.
//!
//! `cargo run --release --example bench_overhead [-- --tasks 50000 --roundtrips 300]
//! [--no-dashboard]]` (the center feeds its dashboard unless `--no-dashboard`).

use std::time::{Duration, Instant};

use taskforce::{remote, LocalCluster};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let tasks = arg("--tasks", 50_000);
    let roundtrips = arg("--roundtrips", 300);
    let dashboard = !std::env::args().any(|a| a == "--no-dashboard");
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .dashboard(dashboard)
        .start()?;
    if let Some(link) = cluster.dashboard_link() {
        println!("dashboard: {link}");
    }
    let executor = cluster.executor()?;

    for i in 0..50 {
        executor.submit_impure(inc, (i,))?.result()?;
    }
    let mut latencies = Vec::with_capacity(roundtrips);
    for i in 0..roundtrips {
        let started = Instant::now();
        executor.submit_impure(inc, (i as i64,))?.result()?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let median = percentile(&latencies, 0.5);
    let p99 = percentile(&latencies, 0.99);
    println!(
        "{{\"bench\": \"roundtrip\", \"system\": \"taskforce\", \"n\": {roundtrips}, \"median_us\": {:.1}, \"p99_us\": {:.1}}}",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );

    for round in 0..3 {
        let started = Instant::now();
        let futures = executor.map_impure(inc, 0..tasks as i64)?;
        let values = executor.gather(&futures)?;
        let elapsed = started.elapsed();
        let ok = values.iter().enumerate().all(|(i, v)| *v == i as i64 + 1);
        drop(futures);
        println!(
            "{{\"bench\": \"independent_tasks\", \"system\": \"taskforce\", \"round\": {round}, \"n\": {tasks}, \"seconds\": {:.3}, \"tasks_per_s\": {:.0}, \"all_correct\": {ok}}}",
            elapsed.as_secs_f64(),
            tasks as f64 / elapsed.as_secs_f64()
        );
    }
    let chain = arg("--chain", 2000);
    for round in 0..3 {
        let started = Instant::now();
        let mut x = executor.submit_impure(inc, (0,))?;
        for _ in 1..chain {
            x = executor.submit_impure(inc, (&x,))?;
        }
        let value = x.result()?;
        let elapsed = started.elapsed();
        println!(
            "{{\"bench\": \"chain\", \"system\": \"taskforce\", \"round\": {round}, \"n\": {chain}, \"seconds\": {:.3}, \"us_per_task\": {:.1}, \"correct\": {}}}",
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e6 / chain as f64,
            value == chain as i64
        );
    }
    Ok(())
}
