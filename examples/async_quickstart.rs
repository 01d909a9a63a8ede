//! taskforce in a `#[tokio::main]` program: an embedded cluster started and used with the
//! async twins (`local_async`, `gather_async`, `as_completed_stream`, `scatter_async`,
//! `cluster_info_async`), futures awaited, the executor dropped inside the runtime.
//!
//! The cluster's workers re-run this same program; `local_async` makes them serve as workers
//! (the same goes for a first line `taskforce::local::serve_if_local_worker();`, which also
//! works inside the runtime).
//!
//! `cargo run --example async_quickstart`

use std::time::Duration;

use futures_util::StreamExt;
use taskforce::{remote, Executor, LocalCluster};

#[remote]
fn square(x: i64) -> i64 {
    x * x
}

#[remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

/// The walkthrough, on any executor; the tests run it too.
pub async fn run(executor: &Executor) -> taskforce::Result<()> {
    // Submitting never waits on the cluster; awaiting a future brings its value home.
    let seven_squared = executor.submit(square, (7,))?;
    let plus_one = executor.submit(add, (&seven_squared, 1))?;
    assert_eq!(plus_one.await?, 50);

    let squares = executor.map(square, 0..20)?;
    let total: i64 = executor.gather_async(&squares).await?.into_iter().sum();
    assert_eq!(total, (0..20).map(|x| x * x).sum::<i64>());
    println!("sum of squares below 20: {total}");

    let mut finished = taskforce::as_completed_stream(executor.map(square, 0..10)?);
    let mut seen = Vec::new();
    while let Some(future) = finished.next().await {
        seen.push(future.await?);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..10).map(|x| x * x).collect::<Vec<i64>>());

    let scattered = executor.scatter_async(vec![10_i64, 20]).await?;
    let sum = executor.submit(add, (&scattered[0], &scattered[1]))?;
    taskforce::wait_async(std::slice::from_ref(&sum)).await?;
    assert_eq!(sum.await?, 30);

    let cluster = executor.cluster_info_async().await?;
    println!("{} workers answered", cluster.workers.len());
    Ok(())
}

#[allow(dead_code)] // the tests include this file for `run` alone
#[tokio::main]
async fn main() -> taskforce::Result<()> {
    let builder = LocalCluster::builder().workers(2).threads_per_worker(1);
    let executor = Executor::local_with_async(builder).await?;
    executor
        .wait_for_workers_async(2, Duration::from_secs(60))
        .await?;
    run(&executor).await?;
    // Dropping inside the runtime neither blocks nor panics (the cluster stops in the
    // background); at the end of a program, waiting for the cluster to stop is tidier.
    executor.close_async().await
}
