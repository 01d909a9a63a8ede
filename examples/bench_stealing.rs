//! Work stealing on a local cluster of 2 single-thread workers, beside
//! `benches/compare/bench_stealing.py` (dask's side), two workloads:
//!
//! - `uneven`: 200 tasks where every tenth sleeps 200 ms and the rest 5 ms, submitted in
//!   order with no inputs. The ideal makespan is the total work over the two threads
//!   (2.45 s): a worker left with a queue of long tasks while the other idles shows as the
//!   makespan over it.
//! - `locality`: one value made on one worker, then 40 tasks of 50 ms reading it: every one
//!   goes to the worker holding the value; without stealing the other idles (ideal 1 s).
//!
//! Each task returns its worker's process id and how long it slept, so the bench reports
//! how busy each worker was: both, when stealing works. Timed from the first submit to the
//! last result; a fresh cluster per run, its start not timed.
//!
//! Prints one JSON line per workload (`bench`, `system`, `median_s`, `runs_s`, `ideal_s`,
//! `over_ideal`, `busy_s` per worker of the median run, `tasks_per_worker`).
//!
//! `cargo run --release --example bench_stealing [-- --runs 3]`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use taskforce::{remote, Executor};

mod support;
use support::arg;

#[remote]
fn sleep_for(i: u32, millis: u64) -> (u32, u64) {
    let _ = i;
    std::thread::sleep(Duration::from_millis(millis));
    (std::process::id(), millis)
}

#[remote]
fn payload(bytes: usize) -> Vec<u8> {
    vec![7; bytes]
}

#[remote]
fn read_then_sleep(data: Vec<u8>, i: u32, millis: u64) -> (u32, u64) {
    let _ = (data.len(), i);
    std::thread::sleep(Duration::from_millis(millis));
    (std::process::id(), millis)
}

/// What one run measured: seconds, and per worker pid its tasks and milliseconds slept.
struct Run {
    seconds: f64,
    per_worker: BTreeMap<u32, (usize, u64)>,
}

fn tally(results: Vec<(u32, u64)>, seconds: f64) -> Run {
    let mut per_worker: BTreeMap<u32, (usize, u64)> = BTreeMap::new();
    for (pid, millis) in results {
        let entry = per_worker.entry(pid).or_default();
        entry.0 += 1;
        entry.1 += millis;
    }
    Run {
        seconds,
        per_worker,
    }
}

fn uneven(executor: &Executor) -> taskforce::Result<Run> {
    let started = Instant::now();
    let futures = (0..200u32)
        .map(|i| {
            let millis = if i % 10 == 0 { 200 } else { 5 };
            executor.submit_impure(sleep_for, (i, millis))
        })
        .collect::<taskforce::Result<Vec<_>>>()?;
    let results = executor.gather(&futures)?;
    Ok(tally(results, started.elapsed().as_secs_f64()))
}

fn locality(executor: &Executor) -> taskforce::Result<Run> {
    let data = executor.submit(payload, (1 << 10,))?;
    data.result()?;
    let started = Instant::now();
    let futures = (0..40u32)
        .map(|i| executor.submit_impure(read_then_sleep, (&data, i, 50)))
        .collect::<taskforce::Result<Vec<_>>>()?;
    let results = executor.gather(&futures)?;
    Ok(tally(results, started.elapsed().as_secs_f64()))
}

/// Threads in the cluster: 2 workers of 1.
const THREADS: f64 = 2.0;

/// A workload: submits its tasks on a cluster and tallies what ran where.
type Workload = fn(&Executor) -> taskforce::Result<Run>;

fn one_run(workload: Workload) -> taskforce::Result<Run> {
    let cluster = support::two_single_thread_workers()
        .dashboard(false)
        .start()?;
    let executor = cluster.executor()?;
    workload(&executor)
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let runs = arg("--runs", 3).max(1);
    // Ideal makespans: the work over the threads, in seconds.
    let uneven_ideal = (20.0 * 0.2 + 180.0 * 0.005) / THREADS;
    let locality_ideal = 40.0 * 0.05 / THREADS;
    let workloads: [(&str, Workload, f64); 2] = [
        ("stealing_uneven", uneven, uneven_ideal),
        ("stealing_locality", locality, locality_ideal),
    ];
    for (bench, workload, ideal_s) in workloads {
        let mut measured = Vec::new();
        for run in 0..runs {
            let result = one_run(workload)?;
            let busy: Vec<String> = result
                .per_worker
                .values()
                .map(|(tasks, millis)| format!("{tasks} tasks, {millis} ms"))
                .collect();
            eprintln!(
                "{bench} run {run}: {:.3} s ({:.3}× the ideal); per worker: {}",
                result.seconds,
                result.seconds / ideal_s,
                busy.join("; ")
            );
            measured.push(result);
        }
        let runs_s: Vec<String> = measured
            .iter()
            .map(|r| format!("{:.4}", r.seconds))
            .collect();
        measured.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let median = &measured[measured.len() / 2];
        let busy_s: Vec<String> = median
            .per_worker
            .values()
            .map(|(_, millis)| format!("{:.3}", *millis as f64 / 1000.0))
            .collect();
        let tasks: Vec<String> = median
            .per_worker
            .values()
            .map(|(tasks, _)| tasks.to_string())
            .collect();
        println!(
            "{{\"bench\": \"{bench}\", \"system\": \"taskforce\", \"median_s\": {:.4}, \"runs_s\": [{}], \"ideal_s\": {ideal_s:.3}, \"over_ideal\": {:.3}, \"busy_s\": [{}], \"tasks_per_worker\": [{}]}}",
            median.seconds,
            runs_s.join(", "),
            median.seconds / ideal_s,
            busy_s.join(", "),
            tasks.join(", ")
        );
    }
    Ok(())
}
