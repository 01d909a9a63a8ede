//! The seed's first walkthrough with its first interface, a `Pool`: make random arrays on
//! the workers (the results are handles, the data stays there), sum each where it lives,
//! then the total of the sums, the only step that moves data between workers.
//!
//! `cargo run --release --example seed_pool` (1000 arrays of 1e6 numbers; the test runs a
//! smaller one).

use taskforce::{remote, Executor, LocalCluster, Pool};

/// A deterministic "random" array: the same seed gives the same numbers on any worker.
#[remote]
pub fn random_array(seed: u64, len: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1_u64 << 53) as f64
        })
        .collect()
}

#[remote]
pub fn array_sum(x: &[f64]) -> f64 {
    x.iter().sum()
}

#[remote]
fn sum_floats(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

/// The walkthrough on `executor`'s cluster with `chunks` arrays of `len` numbers; returns
/// the total.
pub fn run(executor: &Executor, chunks: u64, len: usize) -> taskforce::Result<f64> {
    let pool = Pool::new(executor.clone());
    let arrays = pool.map(random_array.bind((len,)), 0..chunks)?;
    let first = arrays[0].get()?; // one array home, to look at
    println!(
        "{} arrays on the workers; the first has {} numbers",
        arrays.len(),
        first.len()
    );
    let sums = pool.map(array_sum, &arrays)?; // computed where each array lives
    let total = pool.apply(sum_floats, (&sums,))?;
    println!("total of the sums: {total:.3}");
    for array in arrays {
        array.delete()?;
    }
    Ok(total)
}

#[allow(dead_code)] // the tests include this file for `run` alone
fn main() -> taskforce::Result<()> {
    let executor = Executor::local_with(LocalCluster::builder().workers(4))?;
    let started = std::time::Instant::now();
    let total = run(&executor, 1000, 1_000_000)?;
    println!("{total:.3} in {:.2?}", started.elapsed());
    Ok(())
}
