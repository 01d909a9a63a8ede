//! The executor calls a dask user reaches for (issue 13), against a real local cluster whose
//! worker processes re-run this test binary (so they carry the `#[remote]` functions here).
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use taskforce::{remote, Error, LocalCluster};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[remote]
fn panics_at_length(len: usize) -> i64 {
    panic!("{}", "x".repeat(len));
}

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
}

fn check(condition: bool, what: &str) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(what.into())
    }
}

/// A cancelled future says so (status, `cancelled()`, Debug), and a task submitted on it
/// fails at once with `Cancelled` naming it, not with an unknown dependency.
fn cancelled_future_has_its_status_and_refuses_dependents() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let slow = executor.submit(sleep_ms, (5_000,))?;
    check(!slow.cancelled(), "not cancelled before cancel")?;
    executor.cancel(std::slice::from_ref(&slow))?;
    check(slow.cancelled(), "cancelled() after cancel")?;
    check(slow.status() == "cancelled", slow.status())?;
    let debug = format!("{slow:?}");
    check(
        debug.starts_with("<Future: status: cancelled, type: u64, key: sleep_ms-"),
        &debug,
    )?;
    match executor.submit(sleep_ms, (&slow,)) {
        Err(Error::Cancelled { key, reason: None }) => check(&key == slow.key(), "names it")?,
        other => return Err(format!("expected Cancelled, got {other:?}").into()),
    }
    match slow.result() {
        Err(Error::Cancelled { reason: None, .. }) => {}
        other => return Err(format!("expected Cancelled, got {other:?}").into()),
    }
    check(executor.submit(inc, (1,))?.result()? == 2, "still serves")
}

/// Debug names the result type, the status and the key, as dask's repr does.
fn future_debug_names_its_type() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let a = executor.submit(inc, (1,))?;
    a.result()?;
    let debug = format!("{a:?}");
    check(
        debug.starts_with("<Future: status: finished, type: i64, key: inc-"),
        &debug,
    )
}

/// Too few workers: the error counts those that came, of how many, after how long.
fn wait_for_workers_says_how_many_of_how_many() -> Result<(), Failed> {
    let cluster = cluster(3);
    let executor = cluster.executor()?;
    let missing = executor.wait_for_workers(10, Duration::from_millis(300));
    match missing {
        Err(error @ Error::WorkersMissing { arrived: 3, .. }) => {
            let message = error.to_string();
            check(
                message.starts_with("only 3 of 10 workers arrived after "),
                &message,
            )
        }
        other => Err(format!("expected WorkersMissing with 3, got {other:?}").into()),
    }
}

/// A 100,000-character panic comes back whole in the error's field, shortened in `Display`.
fn long_panic_message_is_shortened_in_display() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let error = match executor.submit(panics_at_length, (100_000,))?.result() {
        Err(error) => error,
        Ok(value) => return Err(format!("expected a panic, got {value}").into()),
    };
    let shown = error.to_string();
    check(shown.len() < 1_500, &format!("{} bytes shown", shown.len()))?;
    check(shown.contains("more bytes cut"), &shown)?;
    match error {
        Error::Panicked { message, .. } => {
            check(message == "x".repeat(100_000), "the whole message is kept")
        }
        other => Err(format!("expected Panicked, got {other:?}").into()),
    }
}

fn main() {
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "cancelled_future_has_its_status_and_refuses_dependents",
            cancelled_future_has_its_status_and_refuses_dependents,
        ),
        Trial::test("future_debug_names_its_type", future_debug_names_its_type),
        Trial::test(
            "wait_for_workers_says_how_many_of_how_many",
            wait_for_workers_says_how_many_of_how_many,
        ),
        Trial::test(
            "long_panic_message_is_shortened_in_display",
            long_panic_message_is_shortened_in_display,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
