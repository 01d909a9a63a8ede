//! The executor inside async Rust: this test binary's `main` is `#[taskforce::main]`
//! (current-thread), so the worker processes of its local clusters (which re-run it) serve
//! before any runtime exists. One cluster is used from the current-thread runtime with the
//! async twins (every blocking call there is refused, naming its twin); another from a
//! multi-thread runtime with the blocking calls and the twins. Dropping executors, service
//! handles and local clusters inside either runtime neither blocks nor panics.

use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use taskforce::collections::{Array, Bag};
use taskforce::graph::{key, task, Graph};
use taskforce::{delayed, remote, Error, Executor, LocalCluster, Restart};

#[path = "../examples/async_quickstart.rs"]
mod example;

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const WORKERS: usize = 2;
const STARTUP: Duration = Duration::from_secs(120);
/// Long enough never to pass while a test waits on something that is coming.
const GENEROUS: Duration = Duration::from_secs(60);

#[remote]
fn triple(x: i64) -> i64 {
    3 * x
}

#[remote]
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[remote]
fn odd_fails(x: i64) -> Result<i64, String> {
    match x % 2 {
        0 => Ok(x),
        _ => Err(format!("{x} is odd")),
    }
}

/// A service to call from inside the runtimes.
#[taskforce::service]
#[derive(Default, Serialize, Deserialize)]
pub struct Tally {
    n: u64,
}

#[taskforce::service]
impl Tally {
    /// Adds `by`; the new total.
    pub fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
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

/// Checks that `outcome` is `BlockingInAsync` for `call`, naming `twin` in its message.
fn refused<T: std::fmt::Debug>(outcome: taskforce::Result<T>, call: &str, twin: &str) -> Outcome {
    match outcome {
        Err(Error::BlockingInAsync {
            call: refused_call,
            instead,
        }) if refused_call == call && instead.contains(twin) => {
            let message = Error::BlockingInAsync {
                call: refused_call,
                instead,
            }
            .to_string();
            check(
                message.contains(twin),
                &format!("the message names {twin}: {message}"),
            )
        }
        other => Err(format!("expected `{call}` refused naming `{twin}`, got {other:?}").into()),
    }
}

/// Every blocking call on the current-thread runtime's thread fails at once, naming its twin
/// (none deadlocks, none panics).
async fn blocking_calls_are_refused(executor: &Executor) -> Outcome {
    let futures = executor.map(triple, 0..4)?;
    let limit = GENEROUS;
    refused(executor.gather(&futures), "gather", "gather_async")?;
    refused(futures[0].result(), "Future::result", "future.await")?;
    refused(
        futures[0].result_timeout(limit),
        "result_timeout",
        "result_timeout_async",
    )?;
    refused(
        executor.gather_timeout(&futures, limit),
        "gather_timeout",
        "gather_timeout_async",
    )?;
    let each = executor.gather_each(&futures);
    check(
        each.len() == futures.len(),
        "gather_each gives one item per future",
    )?;
    for item in each {
        refused(item, "gather_each", "gather_each_async")?;
    }
    refused(taskforce::wait(&futures), "wait", "wait_async")?;
    refused(
        taskforce::wait_timeout(&futures, limit),
        "wait_timeout",
        "wait_timeout_async",
    )?;
    refused(
        taskforce::wait_first(futures.clone(), None),
        "wait_first",
        "wait_first_async",
    )?;
    refused(taskforce::progress(&futures), "progress", "progress_async")?;
    refused(executor.cancel(&futures[..1]), "cancel", "cancel_async")?;
    refused(executor.scatter(vec![1_i64]), "scatter", "scatter_async")?;
    refused(executor.restart(), "restart", "restart_async")?;
    refused(
        executor.cluster_info(),
        "cluster_info",
        "cluster_info_async",
    )?;
    refused(
        executor.wait_for_workers(1, limit),
        "wait_for_workers",
        "wait_for_workers_async",
    )?;
    let mut graph = Graph::new();
    graph.insert("t", task!(triple, 2_i64));
    refused(executor.get::<i64, _>(&graph, "t"), "get", "get_async")?;
    refused(
        delayed(triple, (2,)).compute(executor),
        "compute",
        "compute_async",
    )?;
    let ones = Array::<f64>::ones(&[10], &[5]);
    refused(ones.sum().compute(executor), "compute", "compute_async")?;
    let bag = Bag::from_sequence(0..10_i64, 2);
    refused(bag.compute(executor), "compute", "compute_async")?;
    refused(bag.take(1, executor), "compute", "compute_async")?;
    refused(
        executor.spawn_service::<Tally>(Restart::one_for_one()),
        "spawn",
        "spawn_async",
    )?;
    refused(
        executor.service::<Tally>("nobody"),
        "service",
        "service_async",
    )?;

    // The futures were refused, not spoiled: awaited, they give their values.
    check(
        executor.gather_async(&futures).await? == vec![0, 3, 6, 9],
        "the refused futures' values, awaited",
    )
}

/// The graph twins: a graph, a delayed value, an array and a bag computed by awaiting.
async fn graphs_awaited(executor: &Executor) -> Outcome {
    let mut graph = Graph::new();
    graph.insert(key!("x", 1), task!(triple, 1_i64));
    graph.insert(key!("x", 2), task!(triple, key!("x", 1)));
    let nine: i64 = executor.get_async(&graph, key!("x", 2)).await?;
    check(nine == 9, "get_async of one key")?;
    let both: Vec<i64> = executor
        .get_async(&graph, vec![key!("x", 1), key!("x", 2)])
        .await?;
    check(both == vec![3, 9], "get_async of a list of keys")?;

    let lazy = delayed(triple, (&delayed(triple, (2,)),));
    check(
        lazy.compute_async(executor).await? == 18,
        "Delayed::compute_async",
    )?;
    let threaded = taskforce::threaded::Threaded::default();
    check(
        lazy.compute_async(&threaded).await? == 18,
        "Delayed::compute_async on local threads",
    )?;

    let ones = Array::<f64>::ones(&[1_000], &[100]);
    check(
        ones.sum().compute_async(executor).await? == 1_000.0,
        "Scalar::compute_async",
    )?;
    let computed = ones.compute_async(executor).await?;
    check(computed.len() == 1_000, "Array::compute_async")?;

    let bag = Bag::from_sequence(0..100_i64, 4).map(triple);
    let mut elements = bag.compute_async(executor).await?;
    elements.sort_unstable();
    check(
        elements == (0..100).map(|x| 3 * x).collect::<Vec<i64>>(),
        "Bag::compute_async",
    )?;
    check(
        bag.count().compute_async(executor).await? == 100,
        "Item::compute_async",
    )?;
    let first = bag.take_async(3, executor).await?;
    check(first.len() == 3, "Bag::take_async")
}

/// The timed, partial and cancelling twins.
async fn waits_awaited(executor: &Executor) -> Outcome {
    let slow = executor.submit(sleep_ms, (30_000,))?;
    let fast = executor.submit(sleep_ms, (10,))?;
    let both = vec![slow.clone(), fast.clone()];
    let limit = Duration::from_millis(200);

    let waited = taskforce::wait_first_async(both.clone(), None).await;
    check(
        waited.done.len() == 1 && waited.done[0].key() == fast.key(),
        "wait_first_async: the fast one is done",
    )?;
    check(
        waited.not_done.len() == 1,
        "wait_first_async: the slow one is not",
    )?;
    let none = taskforce::wait_first_async(vec![slow.clone()], Some(limit)).await;
    check(
        none.done.is_empty() && none.not_done.len() == 1,
        "wait_first_async with a limit: none done",
    )?;
    let timed_out = |outcome: taskforce::Result<_>, what: &str| match outcome {
        Err(Error::Timeout { source, .. }) => check(
            source.to_string().contains("not done"),
            &format!("{what}: the timeout says how many were not done ({source})"),
        ),
        other => Err(format!("{what}: expected a timeout, got {other:?}").into()),
    };
    timed_out(
        taskforce::wait_timeout_async(&both, limit)
            .await
            .map(|()| 0),
        "wait_timeout_async",
    )?;
    timed_out(
        executor
            .gather_timeout_async(&both, limit)
            .await
            .map(|v| v.len() as u64),
        "gather_timeout_async",
    )?;
    timed_out(
        slow.result_timeout_async(limit).await,
        "result_timeout_async",
    )?;
    check(
        fast.result_timeout_async(GENEROUS).await? == 10,
        "result_timeout_async in time",
    )?;

    executor.cancel_async(std::slice::from_ref(&slow)).await?;
    check(slow.cancelled(), "cancel_async cancels")?;
    check(
        matches!(slow.clone().await, Err(Error::Cancelled { .. })),
        "a cancelled future awaited gives Cancelled",
    )?;

    let mixed = executor.map(odd_fails, 0..6)?;
    let each = executor.gather_each_async(&mixed).await;
    let values: Vec<i64> = each
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    check(values == vec![0, 2, 4], "gather_each_async: the values")?;
    check(
        each.iter().filter(|r| r.is_err()).count() == 3,
        "gather_each_async: each odd one its own error",
    )?;
    check(
        taskforce::progress_async(&mixed).await == 3,
        "progress_async counts those finished without error",
    )
}

/// The service twins: spawn, call, pipeline, stop, and a handle dropped in the runtime.
async fn services_awaited(executor: &Executor) -> Outcome {
    let tally = executor
        .spawn_service_async::<Tally>(Restart::one_for_one())
        .await?;
    check(tally.call_async(Add(2)).await? == 2, "call_async")?;
    let pending = tally.submit(Add(3))?;
    check(pending.await? == 5, "a submitted call awaited")?;
    let named = executor
        .spawn_named_service_async("async-tally", Tally::default(), Restart::one_for_one())
        .await?;
    let found = executor.service_async::<Tally>("async-tally").await?;
    check(
        found.call_async(Add(7)).await? == 7,
        "service_async finds it",
    )?;
    named.stop_async().await?;
    let after_stop = tokio::time::timeout(GENEROUS, named.call_async(Add(1))).await;
    check(
        matches!(after_stop, Ok(Err(Error::Service(_)))),
        &format!("a stopped service refuses calls, got {after_stop:?}"),
    )?;
    if tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::CurrentThread
    {
        refused(tally.call(Add(1)), "ServiceHandle::call", "call_async")?;
        refused(
            tally.submit(Add(1))?.result(),
            "CallFuture::result",
            "call_future.await",
        )?;
        refused(tally.stop(), "ServiceHandle::stop", "stop_async")?;
    }
    drop(tally); // the last handle: the service stops, in the background
    Ok(())
}

/// Whether `pid` is a process (alive, stopped, or a zombie not reaped yet).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits (generously) until none of `pids` is a process any more.
async fn processes_gone(pids: &[u32]) -> Outcome {
    let deadline = std::time::Instant::now() + GENEROUS;
    while pids.iter().any(|pid| exists(*pid)) {
        check(
            std::time::Instant::now() < deadline,
            "the local workers stopped",
        )?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Stops (SIGSTOP) one worker, so a drop that waited for the cluster to stop could only
/// return after killing it, 5 s later. Returns its pid.
fn freeze_one(pids: &[u32]) -> u32 {
    let pid = pids[0];
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGSTOP,
    );
    pid
}

/// Drops the executor inside the runtime: it returns without waiting for its cluster to
/// stop (the frozen worker is still there), and the cluster stops behind it.
async fn drop_inside_runtime(executor: Executor) -> Outcome {
    let pids = executor.local_worker_pids();
    check(!pids.is_empty(), "the cluster's worker pids are known")?;
    let frozen = freeze_one(&pids);
    drop(executor);
    check(
        exists(frozen),
        "drop returned before the cluster stopped (the frozen worker is still there)",
    )?;
    processes_gone(&pids).await
}

/// A `LocalCluster` started and dropped inside the runtime, the same way.
async fn local_cluster_inside_runtime() -> Outcome {
    let cluster = builder().workers(1).start_async().await?;
    let pids = cluster.worker_pids();
    let frozen = freeze_one(&pids);
    drop(cluster);
    check(exists(frozen), "LocalCluster's drop returned at once")?;
    processes_gone(&pids).await
}

async fn current_thread_runtime() -> Outcome {
    check(
        tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::CurrentThread,
        "#[taskforce::main(flavor = \"current_thread\")] built a current-thread runtime",
    )?;
    let executor = Executor::local_with_async(builder()).await?;
    executor.wait_for_workers_async(WORKERS, STARTUP).await?;
    example::run(&executor).await?;
    blocking_calls_are_refused(&executor).await?;
    graphs_awaited(&executor).await?;
    waits_awaited(&executor).await?;
    services_awaited(&executor).await?;

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
    check(
        values.iter().sum::<i64>() == 3 * (0..50).sum::<i64>(),
        "the stream yields every future's value",
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
    drop_inside_runtime(executor).await?;
    local_cluster_inside_runtime().await
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
        delayed(triple, (3,)).compute(&executor)? == 9,
        "blocking compute in a runtime",
    )?;
    let tally = executor.spawn_service::<Tally>(Restart::one_for_one())?;
    check(
        tally.call(Add(4))? == 4,
        "a blocking service call in a runtime",
    )?;

    // The twins' futures are Send: they run as spawned tasks.
    let spawned = executor.clone();
    let gathered = tokio::spawn(async move {
        let futures = spawned.map(triple, 0..10)?;
        taskforce::wait_async(&futures).await?;
        let lazy = delayed(triple, (1,));
        let one = lazy.compute_async(&spawned).await?;
        let sum = Array::<f64>::ones(&[100], &[10])
            .sum()
            .compute_async(&spawned)
            .await?;
        let values = spawned.gather_async(&futures).await?;
        Ok::<_, Error>((values, one, sum))
    })
    .await??;
    check(
        gathered.0.iter().sum::<i64>() == 135,
        "gather_async in a task",
    )?;
    check(
        gathered.1 == 3 && gathered.2 == 100.0,
        "compute_async in a task",
    )?;
    example::run(&executor).await?;
    graphs_awaited(&executor).await?;
    services_awaited(&executor).await?;
    drop(tally);
    drop(futures); // futures keep the executor open

    // A second executor dropped on a runtime thread returns at once, as on current-thread.
    let second = Executor::local_with_async(builder().workers(1)).await?;
    let on_worker = tokio::spawn(drop_inside_runtime(second));
    on_worker.await??;

    let pids = executor.local_worker_pids();
    executor.close_async().await?;
    check(
        pids.iter().all(|pid| !exists(*pid)),
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

/// The local clusters' workers re-run this binary as `<binary> worker ADDR …`: the
/// attribute serves them before the runtime is built.
#[taskforce::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("current_thread_runtime: test\nmulti_thread_runtime: test");
        return;
    }
    let mut passed = report("current_thread_runtime", current_thread_runtime().await);
    let multi = std::thread::spawn(|| {
        taskforce::entry::block_on(
            taskforce::entry::Flavor::MultiThread {
                worker_threads: Some(2),
            },
            multi_thread_runtime(),
        )
    });
    let outcome = multi
        .join()
        .unwrap_or_else(|_| Err("the multi-thread runtime panicked".into()));
    passed &= report("multi_thread_runtime", outcome);
    if !passed {
        std::process::exit(1);
    }
}
