//! Recovery from a lost worker, as dask's `bench_failure.py`: 200 tasks that each sleep
//! 50 ms (returning `2 * i`) fanned in by one sum (39,800), on a fresh local cluster of 2
//! single-thread workers per run; once 100 of the 200 are done, one worker process is
//! killed with SIGKILL (its nanny stays and starts a new one). Timed from the map to the
//! sum's result; the cluster start is not timed. Runs without a failure first (the
//! baseline; the ideal is 200 × 50 ms / 2 = 5 s), then with one.
//!
//! Prints one JSON line per variant (`bench`, `system`, `median_s`, `runs_s`, `failure`,
//! `all_correct`).
//!
//! `cargo run --release --example bench_failure [-- --runs 3 --tasks 200]`

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use taskforce::remote;

mod support;
use support::arg;

/// Longest a run may take before the bench gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[remote]
fn sleep_task(i: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(50));
    i * 2
}

#[remote]
fn sum_all(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// Children of `pid` (the worker under a nanny), from `/proc/*/stat`.
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

/// One run on a fresh cluster: seconds from the map to the sum, and whether the sum was right.
fn one_run(tasks: i64, with_failure: bool) -> taskforce::Result<(f64, bool)> {
    let cluster = support::two_single_thread_workers()
        .dashboard(false)
        .start()?;
    let executor = cluster.executor()?;
    let victim = cluster.worker_pids().first().copied();
    let started = Instant::now();
    let futures = executor.map_impure(sleep_task, 0..tasks)?;
    let total = executor.submit(sum_all, (&futures,))?;
    let mut killed = !with_failure;
    while !total.done() {
        assert!(
            started.elapsed() < RUN_TIMEOUT,
            "a run took over {RUN_TIMEOUT:?}"
        );
        if !killed && futures.iter().filter(|f| f.done()).count() as i64 >= tasks / 2 {
            for worker in victim.map(children).unwrap_or_default() {
                eprintln!("killing worker pid {worker} at {:?}", started.elapsed());
                // A pid that exited meanwhile only makes this kill fail: nothing to undo.
                let _ = kill(Pid::from_raw(worker as i32), Signal::SIGKILL);
            }
            killed = true;
        }
        // Polling, not synchronisation: the result is read below whatever this loop sees.
        std::thread::sleep(Duration::from_millis(2));
    }
    let value = total.result()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((seconds, value == (0..tasks).map(|i| 2 * i).sum::<i64>()))
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let runs = arg("--runs", 3).max(1);
    let tasks = arg("--tasks", 200) as i64;
    for (failure, kill) in [("none", false), ("sigkill_1_worker_at_50pct", true)] {
        let mut seconds = Vec::new();
        let mut all_correct = true;
        for run in 0..runs {
            let (s, correct) = one_run(tasks, kill)?;
            eprintln!(
                "worker_failure_recovery failure={failure} run {run}: {s:.3} s, correct {correct}"
            );
            seconds.push(s);
            all_correct &= correct;
        }
        let runs_s: Vec<String> = seconds.iter().map(|s| format!("{s:.4}")).collect();
        seconds.sort_by(f64::total_cmp);
        println!(
            "{{\"bench\": \"worker_failure_recovery\", \"system\": \"taskforce\", \"failure\": \"{failure}\", \"n\": {tasks}, \"median_s\": {:.4}, \"runs_s\": [{}], \"ideal_s\": {:.3}, \"all_correct\": {all_correct}}}",
            seconds[seconds.len() / 2],
            runs_s.join(", "),
            tasks as f64 * 0.05 / 2.0
        );
    }
    Ok(())
}
