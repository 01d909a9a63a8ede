//! The seed sum as API.md §5 writes it, against a running cluster:
//!
//! ```text
//! taskforce center --port 8786 &
//! taskforce worker 127.0.0.1:8786 --nthreads 1 &
//! taskforce worker 127.0.0.1:8786 --nthreads 1 &
//! cargo run --release --example array_seed_sum -- 127.0.0.1:8786
//! ```

use std::time::Instant;

use taskforce::collections::Array;
use taskforce::Executor;

fn main() -> taskforce::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8786".into());
    let executor = Executor::connect(&addr)?;
    let started = Instant::now();
    let x = Array::random(&[1_000_000 * 1000], &[1_000_000]); // lazy, 1000 chunks
    let total: f64 = x.sum().compute(&executor)?; // tree reduction on the cluster
    println!(
        "sum of 1e9 random numbers: {total:.1} ({:.2?})",
        started.elapsed()
    );
    let started = Instant::now();
    let m = Array::random(&[10_000, 10_000], &[1_000, 1_000])
        .mean()
        .compute(&executor)?;
    println!("mean of 10000x10000: {m:.6} ({:.2?})", started.elapsed());
    Ok(())
}
