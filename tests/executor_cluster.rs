//! The executor against a real local cluster: a center on a thread and worker processes
//! re-running this test binary (so they carry the `#[remote]` functions defined here).
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

use std::time::{Duration, Instant};

mod support;

use support::check;

use libtest_mimic::{Arguments, Failed, Trial};
use support::{field, program_cluster, started_at, Proc};
use taskforce::{as_completed, remote, wait, Error, Executor, LocalCluster};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[remote]
fn sum_all(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[remote]
fn panics_at_three(x: i64) -> i64 {
    if x == 3 {
        panic!("boom at {x}");
    }
    x
}

#[remote]
fn parse(text: &str) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

#[remote]
fn make_array(seed: u64, len: usize) -> Vec<f64> {
    (0..len)
        .map(|i| ((i as u64 * 31 + seed) % 1000) as f64)
        .collect()
}

#[remote]
fn add_arrays(x: &[f64], y: &[f64]) -> Vec<f64> {
    x.iter().zip(y).map(|(a, b)| a + b).collect()
}

#[remote]
fn sum_f64(x: &[f64]) -> f64 {
    x.iter().sum()
}

#[remote]
fn slow_inc(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(200));
    x + 1
}

#[remote]
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[remote]
fn abort_the_worker(x: i64) -> i64 {
    if x > 0 {
        std::process::abort();
    }
    x
}

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
}

fn futures_as_arguments() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let a = executor.submit(inc, (1,))?;
    let b = executor.submit(inc, (100,))?;
    let c = executor.submit(add, (&a, &b))?;
    assert_eq!(c.result()?, 103);
    assert_eq!(a.result()?, 2);
    let again = executor.submit(inc, (1,))?;
    assert_eq!(again.key(), a.key(), "same call, same key");
    let debug = format!("{c:?}");
    check(
        debug.starts_with("<Future: status: finished, type: i64, key: add-"),
        &debug,
    )
}

fn map_then_sum_and_gather() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let xs = executor.map(inc, 0..1000_i64)?;
    let total = executor.submit(sum_all, (&xs,))?;
    assert_eq!(total.result()?, (1..=1000).sum::<i64>());
    let back = executor.gather(&xs)?;
    assert_eq!(back, (1..=1000).collect::<Vec<i64>>());
    wait(&xs)?;
    assert_eq!(taskforce::progress(&xs)?, 1000);
    let mut seen = 0;
    for future in as_completed(xs) {
        future.result()?;
        seen += 1;
    }
    assert_eq!(seen, 1000);
    Ok(())
}

fn scatter_then_use() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let data = executor.scatter(vec![1_i64, 2, 3])?;
    let incremented = executor.map(inc, data.iter())?;
    assert_eq!(executor.gather(&incremented)?, vec![2, 3, 4]);
    let big = executor.scatter_one(vec![0.5_f64; 100_000])?;
    let sum = executor.submit(sum_f64, (&big,))?;
    assert_eq!(sum.result()?, 50_000.0);
    Ok(())
}

fn tree_reduction_moves_data_between_workers() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let len = 1_000_000;
    let mut layer = executor.map(make_array.bind((len,)), 0..16_u64)?;
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|pair| executor.submit(add_arrays, (&pair[0], &pair[1])))
            .collect::<taskforce::Result<Vec<_>>>()?;
    }
    let sum = executor.submit(sum_f64, (&layer[0],))?.result()?;
    let expected: f64 = (0..16_u64)
        .map(|seed| {
            (0..len)
                .map(|i| ((i as u64 * 31 + seed) % 1000) as f64)
                .sum::<f64>()
        })
        .sum();
    assert_eq!(sum, expected);
    let moved = wait_for_cluster(&executor, |c| {
        c.workers.iter().map(|w| w.peer_bytes_in).sum::<u64>() >= 8_000_000
    })?;
    let bytes: u64 = moved.workers.iter().map(|w| w.peer_bytes_in).sum();
    eprintln!("tree reduction: {bytes} bytes moved worker to worker");
    Ok(())
}

fn panic_errs_only_its_future() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let futures = executor.map(panics_at_three, 0..6_i64)?;
    wait(&futures)?;
    for (i, future) in futures.iter().enumerate() {
        match (i, future.result()) {
            (
                3,
                Err(Error::Panicked {
                    message, function, ..
                }),
            ) => {
                check(message == "boom at 3", &message)?;
                check(function.ends_with("panics_at_three"), &function)?;
            }
            (3, other) => return Err(format!("expected a panic, got {other:?}").into()),
            (i, result) => assert_eq!(result?, i as i64),
        }
    }
    let shown = futures[3].result().unwrap_err().to_string();
    check(
        shown.contains("boom at 3") && shown.contains("panicked"),
        &shown,
    )?;
    let dependent = executor.submit(add, (&futures[3], 1))?;
    match dependent.result() {
        Err(Error::DependencyFailed { root_key, .. }) => {
            check(&root_key == futures[3].key(), "root")?
        }
        other => return Err(format!("expected DependencyFailed, got {other:?}").into()),
    }
    assert_eq!(
        executor.submit(inc, (41,))?.result()?,
        42,
        "workers keep running"
    );
    Ok(())
}

fn err_comes_home_as_failed() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    assert_eq!(executor.submit(parse, ("42",))?.result()?, 42);
    match executor.submit(parse, ("forty-two",))?.result() {
        Err(Error::Failed { message, .. }) => check(message.contains("invalid digit"), &message),
        other => Err(format!("expected Failed, got {other:?}").into()),
    }
}

fn unknown_function_fails_at_submit() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(1)
        .program(env!("CARGO_BIN_EXE_taskforce"))
        .start()?;
    let executor = cluster.executor()?;
    match executor.submit(inc, (1,)) {
        Err(Error::UnknownFunction { function, hint }) => {
            check(function.ends_with("::inc"), &function)?;
            check(hint.contains("worker"), &hint)
        }
        other => Err(format!("expected UnknownFunction, got {other:?}").into()),
    }
}

fn dropped_futures_leave_no_keys() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    {
        let xs = executor.map(inc, 0..200_i64)?;
        let total = executor.submit(sum_all, (&xs,))?;
        let arrays = executor.map(make_array.bind((10_000_usize,)), 0..4_u64)?;
        let sum = executor.submit(add_arrays, (&arrays[0], &arrays[1]))?;
        sum.result()?;
        let scattered = executor.scatter(vec![vec![1.0_f64; 1000], vec![2.0; 1000]])?;
        let across = executor.submit(add_arrays, (&scattered[0], &scattered[1]))?;
        assert_eq!(across.result()?, vec![3.0; 1000], "inputs on two workers");
        total.result()?;
        let info = executor.cluster_info()?;
        check(
            info.workers.iter().map(|w| w.keys_in_memory).sum::<u64>() > 0,
            "keys while held",
        )?;
    }
    wait_for_cluster(&executor, |c| {
        c.tasks == 0
            && c.workers
                .iter()
                .all(|w| w.keys_in_memory == 0 && w.stored_keys == 0)
    })?;
    Ok(())
}

fn cancel_and_impure() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let slow = executor.submit(sleep_ms, (2_000,))?;
    let waiting = executor.submit_impure(sleep_ms, (1,))?;
    let other = executor.submit_impure(sleep_ms, (1,))?;
    check(waiting.key() != other.key(), "impure calls get fresh keys")?;
    executor.cancel(std::slice::from_ref(&slow))?;
    match slow.result() {
        Err(Error::Cancelled { .. }) => {}
        other => return Err(format!("expected Cancelled, got {other:?}").into()),
    }
    assert_eq!(waiting.result()?, 1);
    Ok(())
}

fn futures_can_be_awaited() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let future = executor.submit(inc, (9,))?;
    let value = actix_rt::System::new().block_on(async move { future.await })?;
    assert_eq!(value, 10);
    Ok(())
}

fn restart_forgets_everything_and_keeps_serving() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let before = executor.cluster_info()?;
    let a = executor.submit(inc, (1,))?;
    assert_eq!(a.result()?, 2);
    executor.restart()?;
    match a.result() {
        Err(Error::Cancelled {
            reason: Some(reason),
            ..
        }) => check(reason.contains("restarted"), &reason)?,
        other => return Err(format!("expected a cancelled future, got {other:?}").into()),
    }
    let after = executor.wait_for_workers(2, Duration::from_secs(30))?;
    let old: Vec<_> = before.workers.iter().map(|w| w.id).collect();
    check(
        after.workers.iter().all(|w| !old.contains(&w.id)),
        "fresh workers",
    )?;
    assert_eq!(executor.submit(inc, (2,))?.result()?, 3);
    Ok(())
}

/// A function that aborts its worker process fails after `allowed_failures + 1` (default
/// 3) deaths, and the error names the task and each death as the nannies saw it.
fn aborting_task_names_sigabrt_for_each_death() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let doomed = executor.submit(abort_the_worker, (1,))?;
    let message = match doomed.result() {
        Err(e) => e.to_string(),
        Ok(value) => return Err(format!("expected an error, got {value}").into()),
    };
    eprintln!("the user sees: {message}");
    let head = format!("task {} was running on 4 workers that died: ", doomed.key());
    check(message.starts_with(&head), &message)?;
    check(
        message.matches(" killed by signal SIGABRT").count() == 4,
        &message,
    )?;
    executor.wait_for_workers(2, Duration::from_secs(30))?;
    assert_eq!(executor.submit(inc, (2,))?.result()?, 3);
    Ok(())
}

/// A worker killed with SIGKILL: what it held is recomputed from lineage on the others, and
/// its nanny brings a new worker.
fn lost_worker_data_is_recomputed() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let arrays = executor.map(make_array.bind((1000_usize,)), 0..8_u64)?;
    let sums: Vec<_> = arrays
        .iter()
        .map(|a| executor.submit(sum_f64, (a,)))
        .collect::<taskforce::Result<_>>()?;
    let before: Vec<f64> = executor.gather(&sums)?;
    let info = executor.cluster_info()?;
    let victim = info
        .workers
        .iter()
        .find(|w| w.keys_in_memory > 0)
        .ok_or("no worker holds anything")?;
    let pid = nix::unistd::Pid::from_raw(victim.pid as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)?;
    let victim_id = victim.id;
    wait_for_cluster(&executor, |c| c.workers.iter().all(|w| w.id != victim_id))?;
    let again: Vec<_> = arrays
        .iter()
        .map(|a| executor.submit(sum_f64, (a,)))
        .collect::<taskforce::Result<_>>()?;
    assert_eq!(executor.gather(&again)?, before);
    assert_eq!(executor.gather(&arrays)?.len(), 8);
    wait_for_cluster(&executor, |c| c.workers.len() == 2)?;
    Ok(())
}

/// The center goes away: pending futures fail with `ConnectionLost`, not a hang.
fn losing_the_center_is_connection_lost() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let slow = executor.submit(sleep_ms, (60_000,))?;
    drop(cluster);
    match slow.result() {
        Err(Error::ConnectionLost { .. }) => Ok(()),
        other => Err(format!("expected ConnectionLost, got {other:?}").into()),
    }
}

fn process_alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_until_gone(pids: &[u32]) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|&pid| process_alive(pid)) {
        if Instant::now() > deadline {
            let alive: Vec<_> = pids.iter().filter(|&&p| process_alive(p)).collect();
            return Err(format!("processes still running: {alive:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Every process of a local cluster (nannies and workers) is gone once it is dropped.
fn local_cluster_leaves_no_process_after_drop() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let mut pids = cluster.worker_pids();
    pids.extend(executor.cluster_info()?.workers.iter().map(|w| w.pid));
    check(
        pids.iter().all(|&p| process_alive(p)),
        "all running before the drop",
    )?;
    drop(executor);
    drop(cluster);
    wait_until_gone(&pids)
}

/// A program that panics while its `Executor::local()` runs leaves no process behind.
fn local_cluster_leaves_no_process_after_a_panic() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let output = std::process::Command::new(exe)
        .arg("local-then-panic")
        .stderr(std::process::Stdio::null())
        .output()?;
    check(!output.status.success(), "the parent panicked")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let pids: Vec<u32> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pids "))
        .ok_or("the parent printed no pids")?
        .split(',')
        .filter_map(|p| p.parse().ok())
        .collect();
    check(
        pids.len() == 4,
        &format!("2 nannies and 2 workers: {pids:?}"),
    )?;
    wait_until_gone(&pids)
}

/// Run as a child by the test above: start a local cluster, print its pids, panic.
fn local_then_panic() {
    let executor = Executor::local_with(LocalCluster::builder().workers(2)).expect("local cluster");
    let mut pids: Vec<u32> = executor
        .cluster_info()
        .expect("info")
        .workers
        .iter()
        .map(|w| w.pid)
        .collect();
    pids.extend(executor.local_worker_pids());
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!("pids {}", list.join(","));
    panic!("the user's program panics with a local cluster running");
}

/// Two executors on one cluster share keys: the same call is one task, and one executor
/// dropping its future does not take the value from the other.
fn two_executors_share_keys() -> Result<(), Failed> {
    let cluster = cluster(2);
    let first = cluster.executor()?;
    let second = cluster.executor()?;
    let mine = first.submit(make_array, (7_u64, 1000_usize))?;
    let theirs = second.submit(make_array, (7_u64, 1000_usize))?;
    check(mine.key() == theirs.key(), "the same call is the same key")?;
    let total = second.submit(sum_f64, (&theirs,))?;
    mine.result()?;
    drop(mine);
    drop(first);
    assert_eq!(theirs.result()?.len(), 1000);
    check(total.result()? > 0.0, "sum")?;
    let info = second.cluster_info()?;
    check(
        info.tasks == 2,
        &format!("two tasks tracked: {}", info.tasks),
    )
}

/// Futures passed by value, a call resubmitted while its released run is still going, and a
/// call resubmitted after a cancel all come back with their values.
fn resubmissions_and_futures_by_value() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let a = executor.submit(slow_inc, (200,))?;
    let b = executor.submit(add, (a, 1))?;
    assert_eq!(b.result()?, 202, "a future moved into the call");
    let many = executor.map(inc, executor.map(inc, 0..10_i64)?)?;
    assert_eq!(executor.gather(&many)?, (2..12).collect::<Vec<i64>>());

    let first = executor.submit(sleep_ms, (300,))?;
    let key = first.key().clone();
    drop(first);
    let again = executor.submit(sleep_ms, (300,))?;
    check(again.key() == &key, "the same call")?;
    assert_eq!(
        again.result()?,
        300,
        "resubmitted while the released run was going"
    );

    let cancelled = executor.submit(sleep_ms, (250,))?;
    executor.cancel(std::slice::from_ref(&cancelled))?;
    let revived = executor.submit(sleep_ms, (250,))?;
    assert_eq!(revived.result()?, 250, "resubmitted after a cancel");
    Ok(())
}

fn wait_for_cluster(
    executor: &Executor,
    condition: impl Fn(&taskforce::messages::executor_link::ClusterSnapshot) -> bool,
) -> Result<taskforce::messages::executor_link::ClusterSnapshot, Failed> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = executor.cluster_info()?;
        if condition(&info) {
            return Ok(info);
        }
        if Instant::now() > deadline {
            return Err(format!("cluster never reached the condition: {info:#?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// API.md §2 as a user writes it, against `myprog center` and two `myprog worker` processes
/// started from the command line (this test binary is `myprog`: its `main` hands those
/// subcommands to `taskforce::cli::main()`).
/// `--allowed-failures 0`: the first death fails the task, naming it; a nanny with no
/// restart budget gives up, says why, and the center says so too.
fn command_line_center_with_no_allowed_failures_and_a_nanny_that_gives_up() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let args = [
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dashboard-port",
        "0",
    ];
    let center = Proc::start_program(
        &exe,
        "center",
        &[&args[..], &["--allowed-failures", "0"]].concat(),
    );
    let addr = started_at(&center.wait_for("Start center at "));
    let args = [
        "worker",
        &addr,
        "--host",
        "127.0.0.1",
        "--nthreads",
        "1",
        "--max-restarts",
        "0",
    ];
    let mut nanny = Proc::start_program(&exe, "nanny", &args);
    nanny.wait_for("Registered with center at");
    center.wait_for("Nanny started a worker process");
    let executor = Executor::connect(&addr)?;
    let doomed = executor.submit(abort_the_worker, (1,))?;
    let message = match doomed.result() {
        Err(e) => e.to_string(),
        Ok(value) => return Err(format!("expected an error, got {value}").into()),
    };
    eprintln!("the user sees: {message}");
    let expected = format!(
        "task {} was running on 1 worker that died: w1 killed by signal SIGABRT",
        doomed.key()
    );
    check(message == expected, &message)?;
    let gave_up = nanny.wait_for("Nanny giving up");
    check(
        gave_up.contains("its worker killed by signal SIGABRT after 0 restarts within 60 s"),
        &gave_up,
    )?;
    check(
        nanny.wait_exit(support::PATIENCE) == Some(1),
        "the nanny exits with 1",
    )?;
    center.wait_for("Nanny gave up: its worker killed by signal SIGABRT after 0 restarts");
    let stranded = executor.submit(inc, (7,))?;
    let deadline = Instant::now() + support::PATIENCE;
    let info = loop {
        let info = executor.cluster_info()?;
        if info.tasks_waiting_for_worker == 1 && !info.nannies_gave_up.is_empty() {
            break info;
        }
        check(
            Instant::now() < deadline,
            &format!("no waiting status: {info:?}"),
        )?;
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("cluster_info shows: {info:?}");
    check(info.workers.is_empty(), "no worker left")?;
    let gave_up = &info.nannies_gave_up[0];
    check(
        gave_up.ends_with(": its worker killed by signal SIGABRT after 0 restarts within 60 s"),
        gave_up,
    )?;
    check(
        info.last_worker_death.as_deref() == Some("w1 killed by signal SIGABRT"),
        &format!("{info:?}"),
    )?;
    check(!stranded.done(), "the stranded task waits")?;
    let missing = executor.wait_for_workers(1, Duration::from_millis(300));
    let message = missing.err().map(|e| e.to_string()).unwrap_or_default();
    eprintln!("wait_for_workers says: {message}");
    check(
        message.starts_with("only 0 of 1 workers arrived after "),
        &message,
    )?;
    Ok(())
}

fn api_program_against_command_line_cluster() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (_center, addr, _workers) = program_cluster(&exe, &["w1", "w2"], "1");
    let executor = Executor::connect(&addr)?;
    let a = executor.submit(inc, (1,))?;
    let b = executor.submit(inc, (100,))?;
    let c = executor.submit(add, (&a, &b))?;
    assert_eq!(c.result()?, 103);
    let xs = executor.map(inc, 0..1000)?;
    let total = executor.submit(sum_all, (&xs,))?;
    assert_eq!(total.result()?, 500_500);
    let data = executor.scatter(vec![1_i64, 2, 3])?;
    assert_eq!(executor.gather(&data)?, vec![1, 2, 3]);
    let back: Vec<i64> = executor.gather(&xs)?;
    assert_eq!(back.len(), 1000);
    wait(&xs)?;
    for fut in as_completed(xs) {
        fut.result()?;
    }
    executor.restart()?;
    assert_eq!(executor.submit(inc, (5,))?.result()?, 6);
    Ok(())
}

/// The quickstart's tree reduction on worker processes whose logs are read: every fetch
/// between workers succeeds, so no worker warns (two fetches to one peer used to race to
/// connect, and the loser's link was closed under its request).
fn tree_reduction_fetches_without_warnings() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (_center, addr, workers) = program_cluster(&exe, &["w1", "w2"], "2");
    let executor = Executor::connect(&addr)?;
    for round in 0..3_u64 {
        let mut layer = executor.map(make_array.bind((100_000,)), round * 32..(round + 1) * 32)?;
        while layer.len() > 1 {
            layer = layer
                .chunks(2)
                .map(|pair| executor.submit(add_arrays, (&pair[0], &pair[1])))
                .collect::<taskforce::Result<Vec<_>>>()?;
        }
        let total = executor.submit(sum_f64, (&layer[0],))?.result()?;
        check(total > 0.0, "a sum")?;
    }
    wait_for_cluster(&executor, |c| {
        c.workers.iter().map(|w| w.peer_bytes_in).sum::<u64>() > 0
    })?;
    for worker in &workers {
        let warnings = worker.count("WARN");
        check(
            warnings == 0,
            &format!("{warnings} warnings in a worker's log"),
        )?;
    }
    Ok(())
}

/// The center's log of a lost worker says how many keys went with it, as the scheduler
/// (the one owner of who holds what) counted them.
fn lost_worker_log_counts_the_keys_it_held() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (center, addr, _workers) = program_cluster(&exe, &["w1", "w2"], "1");
    let executor = Executor::connect(&addr)?;
    let xs = executor.map(inc, 0..40)?;
    let _: Vec<i64> = executor.gather(&xs)?;
    let info = executor.cluster_info()?;
    let victim = info
        .workers
        .iter()
        .find(|w| w.keys_in_memory > 0)
        .ok_or("no worker holds anything")?;
    let held = victim.keys_in_memory.to_string();
    let pid = nix::unistd::Pid::from_raw(victim.pid as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)?;
    let line = center.wait_for("Lost worker at");
    check(field(&line, "keys_held") == held, &line)?;
    check(field(&line, "keys_lost") == held, &line)?;
    let back: Vec<i64> = executor.gather(&xs)?;
    check(back == (1..41).collect::<Vec<i64>>(), "recomputed values")?;
    Ok(())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("local-then-panic") {
        local_then_panic();
    }
    if support::serve_role_if_asked() {
        return;
    }
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test("futures_as_arguments", futures_as_arguments),
        Trial::test("map_then_sum_and_gather", map_then_sum_and_gather),
        Trial::test("scatter_then_use", scatter_then_use),
        Trial::test(
            "tree_reduction_moves_data_between_workers",
            tree_reduction_moves_data_between_workers,
        ),
        Trial::test("panic_errs_only_its_future", panic_errs_only_its_future),
        Trial::test("err_comes_home_as_failed", err_comes_home_as_failed),
        Trial::test(
            "unknown_function_fails_at_submit",
            unknown_function_fails_at_submit,
        ),
        Trial::test(
            "dropped_futures_leave_no_keys",
            dropped_futures_leave_no_keys,
        ),
        Trial::test("cancel_and_impure", cancel_and_impure),
        Trial::test("futures_can_be_awaited", futures_can_be_awaited),
        Trial::test(
            "restart_forgets_everything_and_keeps_serving",
            restart_forgets_everything_and_keeps_serving,
        ),
        Trial::test(
            "api_program_against_command_line_cluster",
            api_program_against_command_line_cluster,
        ),
        Trial::test(
            "lost_worker_log_counts_the_keys_it_held",
            lost_worker_log_counts_the_keys_it_held,
        ),
        Trial::test(
            "command_line_center_with_no_allowed_failures_and_a_nanny_that_gives_up",
            command_line_center_with_no_allowed_failures_and_a_nanny_that_gives_up,
        ),
        Trial::test(
            "aborting_task_names_sigabrt_for_each_death",
            aborting_task_names_sigabrt_for_each_death,
        ),
        Trial::test(
            "lost_worker_data_is_recomputed",
            lost_worker_data_is_recomputed,
        ),
        Trial::test(
            "losing_the_center_is_connection_lost",
            losing_the_center_is_connection_lost,
        ),
        Trial::test(
            "local_cluster_leaves_no_process_after_drop",
            local_cluster_leaves_no_process_after_drop,
        ),
        Trial::test(
            "local_cluster_leaves_no_process_after_a_panic",
            local_cluster_leaves_no_process_after_a_panic,
        ),
        Trial::test("two_executors_share_keys", two_executors_share_keys),
        Trial::test(
            "tree_reduction_fetches_without_warnings",
            tree_reduction_fetches_without_warnings,
        ),
        Trial::test(
            "resubmissions_and_futures_by_value",
            resubmissions_and_futures_by_value,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
