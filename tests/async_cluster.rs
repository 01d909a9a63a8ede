//! The executor inside async Rust: this test binary is a `#[tokio::main]` program
//! (current-thread), which also serves as the worker processes of its local clusters from
//! inside that runtime. One cluster is used from the current-thread runtime with the async
//! twins, another from a multi-thread runtime with the blocking calls and the twins.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use taskforce::{remote, Error, Executor, LocalCluster};

#[path = "../examples/async_quickstart.rs"]
mod example;

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const WORKERS: usize = 2;
const STARTUP: Duration = Duration::from_secs(120);

#[remote]
fn triple(x: i64) -> i64 {
    3 * x
}

fn check(condition: bool, what: &str) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(format!("expected: {what}").into())
    }
}

fn builder() -> taskforce::local::LocalClusterBuilder {
    LocalCluster::builder()
        .workers(WORKERS)
        .threads_per_worker(1)
}

/// Blocking calls on the current-thread runtime's thread fail at once, naming their twin.
fn blocking_calls_are_refused(executor: &Executor) -> Outcome {
    let futures = executor.map(triple, 0..4)?;
    let refused = executor.gather(&futures);
    check(
        matches!(
            &refused,
            Err(Error::BlockingInAsync {
                call: "gather",
                instead: "gather_async(..).await"
            })
        ),
        &format!("gather refused naming gather_async, got {refused:?}"),
    )?;
    let message = refused.expect_err("refused").to_string();
    check(
        message.contains("gather_async"),
        "the message names the twin",
    )?;
    check(
        matches!(futures[0].result(), Err(Error::BlockingInAsync { .. })),
        "result() refused",
    )?;
    check(
        matches!(
            executor.cluster_info(),
            Err(Error::BlockingInAsync {
                call: "cluster_info",
                ..
            })
        ),
        "cluster_info() refused",
    )?;
    check(
        matches!(
            taskforce::wait(&futures),
            Err(Error::BlockingInAsync { call: "wait", .. })
        ),
        "wait() refused",
    )
}

/// Waits (generously) until none of `pids` is a live process any more.
async fn processes_gone(pids: &[u32]) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids
        .iter()
        .any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
    {
        check(Instant::now() < deadline, "the local workers stopped")?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Drops the executor inside the runtime: returns at once; the cluster stops behind it.
async fn drop_inside_runtime(executor: Executor) -> Outcome {
    let pids = executor.local_worker_pids();
    check(pids.len() == WORKERS, "the cluster's worker pids are known")?;
    let started = Instant::now();
    drop(executor);
    let took = started.elapsed();
    check(
        took < Duration::from_millis(500),
        &format!("drop returned at once (took {took:?})"),
    )?;
    processes_gone(&pids).await
}

async fn current_thread_runtime() -> Outcome {
    let executor = Executor::local_with_async(builder()).await?;
    executor.wait_for_workers_async(WORKERS, STARTUP).await?;
    example::run(&executor).await?;
    blocking_calls_are_refused(&executor)?;

    // A blocking call stays fine off the runtime's thread.
    let futures = executor.map(triple, 0..5)?;
    let on_pool = executor.clone();
    let gathered = tokio::task::spawn_blocking(move || on_pool.gather(&futures)).await??;
    check(gathered == vec![0, 3, 6, 9, 12], "gather in spawn_blocking")?;

    let stream = taskforce::as_completed_stream(executor.map(triple, 0..50)?);
    let values: Vec<i64> = stream
        .then(|future| async move { future.await.expect("a value") })
        .collect()
        .await;
    check(values.len() == 50, "the stream yields every future")?;
    check(
        values.iter().sum::<i64>() == 3 * (0..50).sum::<i64>(),
        "the stream's values",
    )?;

    executor.restart_async().await?;
    let after = executor.cluster_info_async().await?;
    check(
        after.workers.len() == WORKERS,
        "the workers are back after restart",
    )?;
    check(
        executor.submit(triple, (5,))?.await? == 15,
        "work after restart",
    )?;
    drop_inside_runtime(executor).await
}

async fn multi_thread_runtime() -> Outcome {
    // The blocking calls work on a multi-thread runtime's threads (they hold that thread).
    let executor = Executor::local_with(builder())?;
    executor.wait_for_workers(WORKERS, STARTUP)?;
    let futures = executor.map(triple, 0..10)?;
    check(
        executor.gather(&futures)? == (0..10).map(|x| 3 * x).collect::<Vec<i64>>(),
        "blocking gather in a runtime",
    )?;
    check(futures[3].result()? == 9, "blocking result in a runtime")?;
    check(
        executor.cluster_info()?.workers.len() == WORKERS,
        "cluster_info in a runtime",
    )?;

    // The twins' futures are Send: they run as spawned tasks.
    let spawned = executor.clone();
    let gathered = tokio::spawn(async move {
        let futures = spawned.map(triple, 0..10)?;
        taskforce::wait_async(&futures).await?;
        spawned.gather_async(&futures).await
    })
    .await??;
    check(
        gathered.iter().sum::<i64>() == 135,
        "gather_async in a task",
    )?;
    example::run(&executor).await?;
    drop(futures); // futures keep the executor open
    let pids = executor.local_worker_pids();
    executor.close_async().await?;
    check(
        pids.iter()
            .all(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()),
        "close_async returns once the local workers have stopped",
    )
}

fn report(name: &str, outcome: Outcome) -> bool {
    match outcome {
        Ok(()) => {
            println!("test {name} ... ok");
            true
        }
        Err(error) => {
            println!("test {name} ... FAILED: {error}");
            false
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The local clusters' workers re-run this binary: here, inside the runtime, they serve.
    taskforce::local::serve_if_local_worker();
    if std::env::args().any(|arg| arg == "--list") {
        println!("current_thread_runtime: test\nmulti_thread_runtime: test");
        return;
    }
    let mut passed = report("current_thread_runtime", current_thread_runtime().await);
    let multi = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a multi-thread runtime");
        runtime.block_on(multi_thread_runtime())
    });
    let outcome = multi
        .join()
        .unwrap_or_else(|_| Err("the multi-thread runtime panicked".into()));
    passed &= report("multi_thread_runtime", outcome);
    if !passed {
        std::process::exit(1);
    }
}
