//! The executor calls a dask user reaches for (issue 13), against a real local cluster whose
//! worker processes re-run this test binary (so they carry the `#[remote]` functions here).
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

mod support;

use support::check;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

#[remote]
fn panics_at_three(x: i64) -> i64 {
    if x == 3 {
        panic!("boom at {x}");
    }
    x
}

#[remote]
fn mark_then_sleep(i: u64, dir: String) -> u64 {
    std::fs::write(Path::new(&dir).join(i.to_string()), b"").expect("write a marker");
    std::thread::sleep(Duration::from_millis(100));
    i
}

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
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

/// Waits (polling, at most 60 s) until `condition` holds.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        check(Instant::now() < deadline, &format!("timed out: {what}"))?;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn kill_worker(pid: u32) -> Result<(), Failed> {
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)?;
    Ok(())
}

/// Scattered data lost with the one worker that held it is forgotten by the scheduler at
/// once, while its future (still held) reports the loss.
fn scattered_key_lost_with_its_worker_is_forgotten_at_once() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let x = executor.scatter_one(41_i64)?;
    check(executor.cluster_info()?.tasks == 1, "x is known")?;
    let info = executor.cluster_info()?;
    let holder = (info.workers.iter())
        .find(|w| w.keys_in_memory > 0)
        .ok_or("no worker holds x")?;
    kill_worker(holder.pid)?;
    eventually("x reports the loss", || x.status() == "lost")?;
    match x.result() {
        Err(Error::Cancelled {
            reason: Some(reason),
            ..
        }) => check(reason.contains("was lost with worker"), &reason)?,
        other => return Err(format!("expected a lost key, got {other:?}").into()),
    }
    eventually("the scheduler forgets x", || {
        executor.cluster_info().is_ok_and(|info| info.tasks == 0)
    })?;
    check(x.status() == "lost", "the future still says so")
}

fn markers(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Released tasks queued on a worker (not started) leave its queue: a task submitted next
/// does not wait for them. Before the fix, with one thread, 25 of them ran first (2.5 s).
fn released_queued_tasks_leave_the_workers_queue() -> Result<(), Failed> {
    let dir: PathBuf = std::env::temp_dir().join(format!("tf-release-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let outcome = (|| {
        let cluster = cluster(1);
        let executor = cluster.executor()?;
        let dir_arg = dir.to_string_lossy().into_owned();
        let futures = executor.map(mark_then_sleep.bind((dir_arg,)), 0..200_u64)?;
        eventually("a first task starts", || markers(&dir) > 0)?;
        let started = markers(&dir);
        drop(futures);
        check(
            executor.submit(inc, (1,))?.result()? == 2,
            "the new task runs",
        )?;
        let ran_after = markers(&dir) - started;
        eprintln!("{started} started before the release, {ran_after} after");
        check(
            ran_after <= 3,
            &format!("{ran_after} released tasks started after their release"),
        )
    })();
    std::fs::remove_dir_all(&dir)?;
    outcome
}

fn expect_timeout<T: std::fmt::Debug>(
    outcome: taskforce::Result<T>,
    says: &str,
) -> Result<(), Failed> {
    match outcome {
        Err(error @ Error::Timeout { .. }) => {
            let message = error.to_string();
            check(message.contains(says), &message)
        }
        other => Err(format!("expected a timeout, got {other:?}").into()),
    }
}

/// `result`, `gather` and `wait` give up after their timeout; `wait_first` returns when one
/// future is done, with the rest not done.
fn timeouts_and_first_completed() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let slow = executor.submit(sleep_ms, (30_000,))?;
    let limit = Duration::from_millis(200);
    expect_timeout(slow.result_timeout(limit), "1 of 1 futures not done")?;
    let fast = executor.submit(sleep_ms, (10,))?;
    let both = vec![slow.clone(), fast.clone()];
    expect_timeout(taskforce::wait_timeout(&both, limit), "wait timed out")?;
    let waited = taskforce::wait_first(both.clone(), None)?;
    check(
        waited.done.len() == 1 && waited.done[0].key() == fast.key(),
        "fast done",
    )?;
    check(waited.not_done.len() == 1, "slow not done")?;
    expect_timeout(
        executor.gather_timeout(&both, limit),
        "1 of 2 futures not done",
    )?;
    let none = taskforce::wait_first(vec![slow.clone()], Some(limit))?;
    check(
        none.done.is_empty() && none.not_done.len() == 1,
        "none done",
    )?;
    check(
        fast.result_timeout(Duration::from_secs(60))? == 10,
        "fast value",
    )?;
    executor.cancel(std::slice::from_ref(&slow))?;
    Ok(())
}

/// `gather_each` gives each value or its own error; `as_completed` takes more futures while
/// it runs, yields batches, and yields values with their futures.
fn gather_each_and_as_completed_extensions() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let xs = executor.map(panics_at_three, 0..5_i64)?;
    let each = executor.gather_each(&xs);
    let values: Vec<Option<i64>> = each.iter().map(|r| r.as_ref().ok().copied()).collect();
    check(
        values == [Some(0), Some(1), Some(2), None, Some(4)],
        &format!("{values:?}"),
    )?;
    check(
        matches!(each[3], Err(Error::Panicked { .. })),
        "the panic is item 3's",
    )?;

    let mut growing = taskforce::as_completed(vec![executor.submit(inc, (1,))?]);
    let mut seen = Vec::new();
    while let Some(future) = growing.next() {
        let value = future.result()?;
        if value < 5 {
            growing.add(executor.submit(inc, (value,))?);
        }
        seen.push(value);
    }
    check(seen == [2, 3, 4, 5], &format!("{seen:?}"))?;

    let mut batches = taskforce::as_completed(executor.map(inc, 100..110_i64)?);
    let mut counted = 0;
    loop {
        let batch = batches.next_batch();
        if batch.is_empty() {
            break;
        }
        check(batch.iter().all(|f| f.done()), "a batch holds done futures")?;
        counted += batch.len();
    }
    check(
        counted == 10 && batches.remaining() == 0,
        &format!("{counted}"),
    )?;

    let with_results = taskforce::as_completed(executor.map(inc, 0..5_i64)?).with_results();
    let mut total = 0;
    for (future, value) in with_results {
        check(future.done(), "yielded done")?;
        total += value?;
    }
    check(total == 15, &format!("total {total}"))
}

/// Done callbacks run once their future is done (at once if it is), may read its value,
/// and one that panics does not stop the others.
fn done_callbacks_run_once_done() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let done_now = executor.submit(sleep_ms, (1,))?;
    done_now.result()?;
    let slow = executor.submit(sleep_ms, (1_000,))?;
    slow.add_done_callback(|_| panic!("a callback that panics"));
    for future in [&slow, &done_now] {
        let tx = tx.clone();
        future.add_done_callback(move |f| {
            let _ = tx.send((f.status(), f.result().ok()));
        });
    }
    let patience = Duration::from_secs(60);
    let mut got = vec![rx.recv_timeout(patience)?, rx.recv_timeout(patience)?];
    got.sort_by_key(|(_, value)| *value);
    let want = vec![("finished", Some(1)), ("finished", Some(1_000))];
    check(got == want, &format!("{got:?}"))
}

#[remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

/// `to_dot` of delayed calls draws a box per call and an arrow per input; SVG needs `dot`.
fn delayed_calls_draw_their_graph() -> Result<(), Failed> {
    let a = taskforce::delayed(inc, (1,));
    let c = taskforce::delayed(add, (&a, &a));
    let dot = c.to_dot();
    let boxes = dot.matches("[label=").count();
    let arrows = dot.matches(" -> ").count();
    check(boxes == 2 && arrows == 1, &dot)?;
    check(
        dot.contains(&format!("\"{}\" -> \"{}\"", a.key(), c.key())),
        &dot,
    )?;
    match taskforce::graph::render_svg(&dot) {
        Ok(svg) => check(String::from_utf8_lossy(&svg).contains("<svg"), "an svg"),
        Err(error @ taskforce::graph::RenderError::DotMissing(_)) => {
            eprintln!("no SVG on this machine: {error}");
            Ok(())
        }
        Err(other) => Err(format!("dot is installed but failed: {other}").into()),
    }
}

/// A task whose every handle is dropped after `fire_and_forget` still runs (here it waits
/// on a slow input first, so without it the release would come long before it could start),
/// and is forgotten once done.
fn fire_and_forget_runs_to_the_end() -> Result<(), Failed> {
    let dir: PathBuf = std::env::temp_dir().join(format!("tf-forget-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let outcome = (|| {
        let cluster = cluster(1);
        let executor = cluster.executor()?;
        let slow = executor.submit(sleep_ms, (500,))?;
        let dir_arg = dir.to_string_lossy().into_owned();
        let marked = executor.submit(mark_then_sleep, (&slow, dir_arg))?;
        taskforce::fire_and_forget(marked);
        drop(slow);
        eventually("the forgotten task runs", || dir.join("500").exists())?;
        eventually("the cluster forgets it once done", || {
            executor.cluster_info().is_ok_and(|info| info.tasks == 0)
        })
    })();
    std::fs::remove_dir_all(&dir)?;
    outcome
}

#[path = "../examples/seed_pool.rs"]
mod seed_pool;

/// The seeds' Pool walkthrough (`examples/seed_pool.rs`), run here so CI runs it: the total
/// matches the sum of the same arrays made here.
fn seed_pool_walkthrough() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let total = seed_pool::run(&executor, 20, 1_000)?;
    check(total > 0.0, "a total")?;
    let pool = taskforce::Pool::new(executor.clone());
    let again = pool.apply_async(seed_pool::random_array, (3_u64, 1_000_usize))?;
    let local: f64 = again.get()?.iter().sum();
    check(
        pool.apply(seed_pool::array_sum, (&again,))? == local,
        "same sum",
    )?;
    again.delete()?;
    Ok(())
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
        Trial::test(
            "scattered_key_lost_with_its_worker_is_forgotten_at_once",
            scattered_key_lost_with_its_worker_is_forgotten_at_once,
        ),
        Trial::test(
            "released_queued_tasks_leave_the_workers_queue",
            released_queued_tasks_leave_the_workers_queue,
        ),
        Trial::test("timeouts_and_first_completed", timeouts_and_first_completed),
        Trial::test("done_callbacks_run_once_done", done_callbacks_run_once_done),
        Trial::test("seed_pool_walkthrough", seed_pool_walkthrough),
        Trial::test(
            "fire_and_forget_runs_to_the_end",
            fire_and_forget_runs_to_the_end,
        ),
        Trial::test(
            "delayed_calls_draw_their_graph",
            delayed_calls_draw_their_graph,
        ),
        Trial::test(
            "gather_each_and_as_completed_extensions",
            gather_each_and_as_completed_extensions,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
