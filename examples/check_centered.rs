//! Checks `&x - &x.mean_axis(1)` on a 10000×10000 random array in 1000×1000 blocks against
//! ndarray's `&x - &x.mean_axis(Axis(1))` at full size, on a local cluster of 2 single-thread
//! workers. Every element must agree to 1e-9 relative to the magnitude of the subtraction's
//! terms (`|x|` and `|mean|`, as numpy's `allclose` with `rtol = 1e-9`, `atol = 0` would
//! against a difference of two numbers). Exits non-zero on a mismatch.
//!
//! `cargo run --release --example check_centered [-- --size 10000 --block 1000]`

use std::time::Instant;

use ndarray::Axis;
use taskforce::collections::Array;
use taskforce::LocalCluster;

mod support;
use support::arg;

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let size: usize = arg("--size", 10000);
    let block: usize = arg("--block", 1000);
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let executor = cluster.executor()?;
    let started = Instant::now();
    let x = Array::random_seeded(&[size, size], &[block, block], 11);
    let centered = (&x - &x.mean_axis(1)).compute(&executor)?;
    let computed_s = started.elapsed().as_secs_f64();
    let plain = x.compute(&executor)?;
    let mean = plain.mean_axis(Axis(1)).expect("a non-empty axis");
    // ndarray broadcasts as numpy does: the means (one per row) line up with the last axis,
    // so element (i, j) is x[i, j] - mean[j], the same in both.
    let expected = &plain - &mean;
    assert_eq!(centered.shape(), expected.shape());
    let (mut worst, mut worst_at_scale) = (0.0_f64, 0.0_f64);
    ndarray::Zip::from(&centered)
        .and(&expected)
        .and(&plain)
        .and_broadcast(&mean)
        .for_each(|&got, &want, &xv, &m| {
            let scale = xv.abs().max(m.abs());
            worst = worst.max((got - want).abs());
            worst_at_scale = worst_at_scale.max((got - want).abs() / scale);
        });
    println!(
        "{{\"check\": \"x - x.mean_axis(1)\", \"shape\": [{size}, {size}], \"blocks\": [{block}, {block}], \"compute_s\": {computed_s:.2}, \"max_abs_diff\": {worst:.3e}, \"max_rel_diff\": {worst_at_scale:.3e}}}"
    );
    if worst_at_scale > 1e-9 {
        eprintln!("mismatch: {worst_at_scale:e} relative exceeds 1e-9");
        std::process::exit(1);
    }
    Ok(())
}
