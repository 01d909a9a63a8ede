//! The stock `taskforce` binary carries the array kernels: a center and two workers started
//! from the CLI compute an array expression written as API.md §5 shows it.

mod support;

use support::{start_center, start_worker, PATIENCE};
use taskforce::collections::Array;
use taskforce::Executor;

#[test]
fn center_and_two_cli_workers_compute_the_seed_sum() {
    let (center, addr) = start_center(&[]);
    let _workers = [
        start_worker("w1", &addr, &[]),
        start_worker("w2", &addr, &[]),
    ];
    center.wait_for_nth("Register worker at", 2, PATIENCE);
    let executor = Executor::connect(&addr).expect("executor connects");
    let x = Array::random(&[20_000_000], &[1_000_000]);
    let total: f64 = x.sum().compute(&executor).expect("the seed sum computes");
    assert!((total - 1e7).abs() < 1e4, "{total}");
    let m = Array::random_seeded(&[1_000, 1_000], &[250, 250], 1)
        .mean()
        .compute(&executor)
        .expect("the mean computes");
    assert!((m - 0.5).abs() < 0.01, "{m}");
}
