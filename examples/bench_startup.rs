//! Cluster startup, as dask's `bench_startup.py`: the wall time from nothing to a local
//! cluster of 2 single-thread worker processes that have all registered (`LocalCluster`'s
//! `start()` returns only then), then the first submit→result on it, then the close. One
//! warm-up and `--runs` timed runs, each a brand new cluster with fresh worker processes.
//!
//! Prints one JSON line (`bench`, `system`, `median_s`, `runs_s`, and the medians of the
//! first task and the close).
//!
//! `cargo run --release --example bench_startup [-- --runs 5]`

use std::time::Instant;

use taskforce::remote;

mod support;
use support::arg;

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

/// Seconds to start, to run the first task, and to close one fresh cluster.
fn one_cluster() -> taskforce::Result<(f64, f64, f64)> {
    let started = Instant::now();
    let cluster = support::two_single_thread_workers()
        .dashboard(false)
        .start()?;
    let ready = started.elapsed().as_secs_f64();
    let executor = cluster.executor()?;
    let first = Instant::now();
    assert_eq!(executor.submit_impure(inc, (1,))?.result()?, 2);
    let first_task = first.elapsed().as_secs_f64();
    let closing = Instant::now();
    drop(executor);
    drop(cluster);
    Ok((ready, first_task, closing.elapsed().as_secs_f64()))
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let runs = arg("--runs", 5).max(1);
    let (mut ready, mut first, mut close) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..=runs {
        let (r, f, c) = one_cluster()?;
        eprintln!("cluster_startup run {run}: ready {r:.3} s, first task {f:.4} s, close {c:.3} s");
        if run > 0 {
            ready.push(r);
            first.push(f);
            close.push(c);
        }
    }
    let runs_s: Vec<String> = ready.iter().map(|s| format!("{s:.4}")).collect();
    println!(
        "{{\"bench\": \"cluster_startup\", \"system\": \"taskforce\", \"median_s\": {:.6}, \"runs_s\": [{}], \"first_task_s_median\": {:.6}, \"close_s_median\": {:.6}}}",
        median(ready),
        runs_s.join(", "),
        median(first),
        median(close)
    );
    Ok(())
}
