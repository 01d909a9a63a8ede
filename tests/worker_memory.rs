//! A worker with a memory limit holds three times its limit in values: they spill to disk,
//! its resident memory stays under the limit, and every value gathers back right. A local
//! cluster re-runs this test binary as the worker (so it carries the functions below).
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use taskforce::{remote, LocalCluster};

const MIB: u64 = 1 << 20;
/// The worker's limit.
const LIMIT: u64 = 300 * MIB;
/// Values the worker makes, each `VALUE_LEN` numbers (10 MB).
const VALUES: u64 = 100;
const VALUE_LEN: usize = 1_250_000;

/// A 10 MB array whose every element depends on `seed`, made on the worker.
#[remote]
fn big_array(seed: u64) -> Vec<f64> {
    big_array_local(seed)
}

/// Resident memory of process `pid` in bytes, from /proc.
fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes in the files of `dir` (0 if it is gone).
fn bytes_in(dir: &PathBuf) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Samples the worker's RSS and its spill directory every 20 ms until stopped; keeps peaks.
struct Watch {
    stop: Arc<AtomicBool>,
    peak_rss: Arc<AtomicU64>,
    peak_spilled: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Watch {
    fn start(pid: u32, dir: PathBuf) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_rss = Arc::new(AtomicU64::new(0));
        let peak_spilled = Arc::new(AtomicU64::new(0));
        let (s, r, d) = (stop.clone(), peak_rss.clone(), peak_spilled.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                r.fetch_max(rss_of(pid).unwrap_or(0), Ordering::Relaxed);
                d.fetch_max(bytes_in(&dir), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Watch {
            stop,
            peak_rss,
            peak_spilled,
            thread,
        }
    }

    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        (
            self.peak_rss.load(Ordering::Relaxed),
            self.peak_spilled.load(Ordering::Relaxed),
        )
    }
}

fn three_times_the_limit_spills_and_stays_under_it() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(1)
        .threads_per_worker(1)
        .memory_limit(LIMIT)
        .start()?;
    let executor = cluster.executor()?;
    let pid = executor.cluster_info()?.workers[0].pid;
    let dir = std::env::temp_dir().join(format!("taskforce-spill-{pid}-0"));
    if !dir.is_dir() {
        return Err(format!("no spill directory at {}", dir.display()).into());
    }
    let watch = Watch::start(pid, dir.clone());
    // A worker that never resumes would hang `wait`: fail instead, after a generous time.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(300));
        eprintln!("three_times_the_limit_spills_and_stays_under_it: no end within 300 s");
        std::process::exit(101);
    });
    let started = Instant::now();
    let futures = executor.map(big_array, 0..VALUES)?;
    taskforce::wait(&futures)?;
    let computed = started.elapsed();
    let spilled_after_compute = bytes_in(&dir);
    for (chunk_index, chunk) in futures.chunks(5).enumerate() {
        let values = executor.gather(chunk)?;
        for (offset, value) in values.iter().enumerate() {
            let seed = (chunk_index * 5 + offset) as u64;
            if value.len() != VALUE_LEN || *value != big_array_local(seed) {
                return Err(format!("value {seed} came back wrong").into());
            }
        }
    }
    let (peak_rss, peak_spilled) = watch.finish();
    println!(
        "held {} MiB of values on a {} MiB worker: peak RSS {} MiB, peak on disk {} MiB \
         ({} MiB after compute); compute {computed:.1?}, total {:.1?}",
        VALUES * VALUE_LEN as u64 * 8 / MIB,
        LIMIT / MIB,
        peak_rss / MIB,
        peak_spilled / MIB,
        spilled_after_compute / MIB,
        started.elapsed()
    );
    if peak_rss >= LIMIT {
        return Err(format!("peak RSS {} MiB is not under the limit", peak_rss / MIB).into());
    }
    if spilled_after_compute < 2 * LIMIT {
        return Err(format!("only {} MiB spilled", spilled_after_compute / MIB).into());
    }
    drop(futures);
    drop(executor);
    drop(cluster);
    let deadline = Instant::now() + Duration::from_secs(30);
    while dir.exists() {
        if Instant::now() > deadline {
            return Err(format!("{} left behind", dir.display()).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The same array, made here to check what comes back.
fn big_array_local(seed: u64) -> Vec<f64> {
    (0..VALUE_LEN)
        .map(|i| (seed * 1_000_003 + i as u64) as f64)
        .collect()
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![Trial::test(
        "three_times_the_limit_spills_and_stays_under_it",
        three_times_the_limit_spills_and_stays_under_it,
    )];
    libtest_mimic::run(&args, tests).exit();
}
