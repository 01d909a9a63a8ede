//! Tasks that submit tasks (issue 13, dask's `worker_client`/`secede`/`rejoin`), against real
//! local clusters of single-thread workers whose processes re-run this test binary (so they
//! carry the `#[remote]` functions here) and share the cluster's token.
//!
//! Each waiting task would hold its worker's only thread if it did not secede, so every
//! test here deadlocks (and fails on its timeout) without seceding.
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

mod support;

use support::{check, PATIENCE};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use taskforce::{remote, Error, LocalCluster};

/// fib(n), computed by submitting fib(n-1) and fib(n-2) from inside the task.
#[remote]
fn fib(n: u64) -> taskforce::Result<u64> {
    if n < 2 {
        return Ok(n);
    }
    let executor = taskforce::worker_executor()?;
    let a = executor.submit(fib, (n - 1,))?;
    let b = executor.submit(fib, (n - 2,))?;
    Ok(a.result()? + b.result()?)
}

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// Maps `inc` over `0..n` from inside a task and sums the gathered results.
#[remote]
fn sum_of_incs(n: i64) -> taskforce::Result<i64> {
    let executor = taskforce::worker_executor()?;
    let futures = executor.map(inc, 0..n)?;
    Ok(executor.gather(&futures)?.into_iter().sum())
}

/// Submits `inc(x)` from inside the task and waits for it.
#[remote]
fn inc_from_a_task(x: i64) -> taskforce::Result<i64> {
    let executor = taskforce::worker_executor()?;
    executor.submit(inc, (x,))?.result()
}

#[remote]
fn explodes(x: i64) -> i64 {
    panic!("inner boom at {x}");
}

/// Submits `explodes` and passes its error on with `?`.
#[remote]
fn calls_explodes(x: i64) -> taskforce::Result<i64> {
    let executor = taskforce::worker_executor()?;
    executor.submit(explodes, (x,))?.result()
}

/// Writes `dir/started`, secedes explicitly, then waits (up to the test's patience) for
/// `dir/marker`, which another task on the same single-thread worker writes; rejoins; says
/// whether it came.
#[remote]
fn waits_for_marker(dir: String) -> taskforce::Result<bool> {
    let dir = Path::new(&dir);
    std::fs::write(dir.join("started"), b"")?;
    taskforce::secede()?;
    taskforce::secede()?; // twice is once
    let seen = appears(&dir.join("marker"));
    taskforce::rejoin()?;
    taskforce::rejoin()?; // without a secede, nothing
    Ok(seen)
}

/// Whether `path` exists within the test's patience (checked every 10 ms).
fn appears(path: &Path) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while !path.exists() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[remote]
fn writes_marker(marker: String) -> bool {
    std::fs::write(&marker, b"here").is_ok()
}

/// Reports what `worker_executor()` says when called where it cannot work.
#[remote]
fn worker_executor_error_here(_x: i64) -> String {
    match taskforce::worker_executor() {
        Ok(_) => "an executor".into(),
        Err(e) => e.to_string(),
    }
}

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
}

/// The recursive Fibonacci on two single-thread workers: every fib(n > 1) waits on two
/// tasks it submitted, so all but the leaves wait at once.
fn fibonacci_from_inside_tasks() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    executor.wait_for_workers(2, PATIENCE)?;
    let f = executor.submit(fib, (12,))?;
    check(f.result_timeout(PATIENCE * 2)? == 144, "fib(12) is 144")?;
    // Once more, with every key computed already or forgotten: still right.
    let g = executor.submit(fib, (15,))?;
    check(g.result_timeout(PATIENCE * 2)? == 610, "fib(15) is 610")
}

/// A task maps over 50 values on the cluster and gathers them, on one single-thread worker
/// (the map's tasks can only run while the task that waits for them has seceded).
fn task_submits_a_map_and_gathers_it() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let total = executor.submit(sum_of_incs, (50,))?;
    check(
        total.result_timeout(PATIENCE * 2)? == (1..=50).sum::<i64>(),
        "the sum of inc over 0..50",
    )?;
    // The worker still serves plain tasks after its tasks seceded and rejoined.
    check(executor.submit(inc, (41,))?.result()? == 42, "still serves")
}

/// More waiting tasks than the scheduler sends a single-thread worker at once (16): each
/// seceded task tells the scheduler, which stops counting it, so the inner tasks still go
/// to the worker instead of queueing behind the tasks that wait for them.
fn more_waiting_tasks_than_the_worker_takes_at_once() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let outer = executor.map(inc_from_a_task, 0..40)?;
    let values = executor.gather_timeout(&outer, PATIENCE * 2)?;
    check(
        values == (1..=40).collect::<Vec<i64>>(),
        "inc of 0..40, in order",
    )
}

/// A panic in an inner task reaches the outer caller as the outer task's `Failed`, naming
/// the inner function and its message.
fn inner_error_reaches_the_outer_caller() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let outer = executor.submit(calls_explodes, (7,))?;
    match outer.result_timeout(PATIENCE * 2) {
        Err(Error::Failed {
            function, message, ..
        }) => {
            check(function.contains("calls_explodes"), &function)?;
            check(message.contains("explodes"), &message)?;
            check(message.contains("panicked"), &message)?;
            check(message.contains("inner boom at 7"), &message)?;
        }
        other => return Err(format!("expected the outer task Failed, got {other:?}").into()),
    }
    check(executor.submit(fib, (5,))?.result()? == 5, "still serves")
}

/// `secede()` by hand: a task that waits for another task's side effect on the same
/// single-thread worker sees it, because the other task ran on its slot meanwhile.
fn explicit_secede_lets_the_next_task_run() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let dir = scratch_dir("secede");
    let waiting = executor.submit(waits_for_marker, (dir.to_string_lossy().into_owned(),))?;
    // The writer goes in only once the waiting task holds the thread (or has seceded).
    check(appears(&dir.join("started")), "the waiting task started")?;
    let marker = dir.join("marker").to_string_lossy().into_owned();
    let writer = executor.submit(writes_marker, (marker,))?;
    check(writer.result_timeout(PATIENCE * 2)?, "the writer ran")?;
    let seen = waiting.result_timeout(PATIENCE * 2)?;
    let _ = std::fs::remove_dir_all(&dir);
    check(seen, "the waiting task saw the marker while seceded")
}

/// Outside a task, `worker_executor`, `secede` and `rejoin` say where they work; inside a
/// task of the local threaded scheduler too (no cluster to reach there).
fn outside_a_task_the_calls_say_so() -> Result<(), Failed> {
    for (call, result) in [
        ("worker_executor", taskforce::worker_executor().map(drop)),
        ("secede", taskforce::secede()),
        ("rejoin", taskforce::rejoin()),
    ] {
        match result {
            Err(Error::NotInTask { call: named }) => check(named == call, named)?,
            other => return Err(format!("{call}: expected NotInTask, got {other:?}").into()),
        }
    }
    let message = taskforce::worker_executor().unwrap_err().to_string();
    check(
        message.contains("only inside a task running on a worker"),
        &message,
    )?;
    let delayed = taskforce::delayed(worker_executor_error_here, (1,));
    let threaded: String = delayed.compute(&taskforce::threaded::Threaded::default())?;
    check(
        threaded.contains("`worker_executor()` works only inside a task"),
        &threaded,
    )
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskforce-nested-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn main() {
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test("fibonacci_from_inside_tasks", fibonacci_from_inside_tasks),
        Trial::test(
            "task_submits_a_map_and_gathers_it",
            task_submits_a_map_and_gathers_it,
        ),
        Trial::test(
            "more_waiting_tasks_than_the_worker_takes_at_once",
            more_waiting_tasks_than_the_worker_takes_at_once,
        ),
        Trial::test(
            "inner_error_reaches_the_outer_caller",
            inner_error_reaches_the_outer_caller,
        ),
        Trial::test(
            "explicit_secede_lets_the_next_task_run",
            explicit_secede_lets_the_next_task_run,
        ),
        Trial::test(
            "outside_a_task_the_calls_say_so",
            outside_a_task_the_calls_say_so,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
