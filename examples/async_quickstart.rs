//! taskforce in an async program: `#[taskforce::main]` serves the cluster roles first (the
//! embedded cluster's workers re-run this same program), then runs `main` in a tokio
//! runtime, where the executor is used with the async twins (`local_with_async`,
//! `gather_async`, `as_completed_stream`, `scatter_async`, `get_async`, `compute_async`,
//! `cluster_info_async`), futures are awaited, and the executor is closed without blocking.
//!
//! `cargo run --example async_quickstart`

use std::time::Duration;

use futures_util::StreamExt;
use taskforce::graph::{task, Graph};
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

    // Graphs and lazy values: `get_async`, and `compute_async`, which takes the executor
    // (or local threads).
    let mut graph = Graph::new();
    graph.insert("a", task!(square, 4_i64));
    let sixteen: i64 = executor.get_async(&graph, "a").await?;
    assert_eq!(sixteen, 16);
    let lazy = taskforce::delayed(add, (&taskforce::delayed(square, (3,)), 1));
    assert_eq!(lazy.compute_async(executor).await?, 10);

    let cluster = executor.cluster_info_async().await?;
    println!("{} workers answered", cluster.workers.len());
    Ok(())
}

#[allow(dead_code)] // the tests include this file for `run` alone
#[taskforce::main]
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
