//! How much memory the client holds to scatter and gather one large value: makes a value of
//! `GIB` GiB (1 by default) of f64s, scatters it to a local cluster's worker, gathers it
//! back, and prints the client's peak resident memory over each step (`VmHWM`, reset before
//! each step through `/proc/self/clear_refs`), in copies of the value.
//!
//! ```text
//! cargo run --release --example scatter_rss [GIB]
//! ```

use std::time::Instant;

use taskforce::{Executor, LocalCluster};

const GIB: u64 = 1 << 30;

/// A `VmRSS`/`VmHWM`-style line of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Starts a new peak: the kernel sets `VmHWM` back to the current RSS.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / GIB as f64
}

fn main() -> taskforce::Result<()> {
    let size_gib: f64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(1.0);
    let executor = Executor::local_with(LocalCluster::builder().workers(1))?;
    let len = (size_gib * GIB as f64 / 8.0) as usize;
    let value: Vec<f64> = (0..len).map(|i| i as f64).collect();
    let nbytes = (len * 8) as u64;
    let before = status_bytes("VmRSS:");
    println!(
        "value: {:.2} GiB; client RSS holding it: {:.2} GiB",
        gib(nbytes),
        gib(before)
    );

    reset_peak();
    let started = Instant::now();
    let future = executor.scatter_one(value)?;
    let scattered = started.elapsed();
    let scatter_peak = status_bytes("VmHWM:");
    let after_scatter = status_bytes("VmRSS:");
    println!(
        "scatter: {scattered:.2?}; peak RSS {:.2} GiB = {:.2} copies over the RSS before without the value; RSS after {:.2} GiB",
        gib(scatter_peak),
        (scatter_peak as f64 - (before - nbytes) as f64) / nbytes as f64,
        gib(after_scatter),
    );

    reset_peak();
    let started = Instant::now();
    let back: Vec<Vec<f64>> = executor.gather(std::slice::from_ref(&future))?;
    let gathered = started.elapsed();
    let gather_peak = status_bytes("VmHWM:");
    println!(
        "gather: {gathered:.2?}; peak RSS {:.2} GiB = {:.2} copies over the RSS before it",
        gib(gather_peak),
        (gather_peak as f64 - after_scatter as f64) / nbytes as f64,
    );
    let right = back[0].len() == len && back[0].iter().enumerate().all(|(i, x)| *x == i as f64);
    println!("gathered value right: {right}");
    assert!(right, "the gathered value differs");
    Ok(())
}
