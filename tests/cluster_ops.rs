//! `replicate`, `rebalance` and `retire_workers` on a real cluster started from the command
//! line with this test binary as center and workers: a retired worker's values are gathered
//! after it and its nanny have stopped (not computed again), a replicated value survives
//! the kill -9 of the worker that computed it, a rebalance evens out two workers, and the
//! refusals say why.
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

use std::time::Duration;

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use support::{check, Proc, PATIENCE};
use taskforce::{remote, Error, Executor, Future, SubmitOptions};

/// `n` bytes, each `seed`, with the process id of the worker that made them.
#[remote]
fn block(seed: u8, n: u64) -> (u32, Vec<u8>) {
    (std::process::id(), vec![seed; n as usize])
}

/// A center of this binary on an ephemeral port; `extra` flags after the defaults.
fn center(extra: &[&str]) -> (Proc, String) {
    support::program_center(&std::env::current_exe().expect("test binary"), extra)
}

/// A one-thread worker of this binary named `name`, registered; `extra` flags added.
fn worker(center: &str, name: &str, extra: &[&str]) -> Proc {
    let exe = std::env::current_exe().expect("test binary");
    let mut args = vec!["--nthreads", "1"];
    args.extend_from_slice(extra);
    support::program_worker(&exe, center, name, &args)
}

/// A block: the maker's process id and the bytes.
type Block = (u32, Vec<u8>);

/// `count` blocks of `n` bytes computed on the worker named `on` (strictly).
fn blocks_on(
    executor: &Executor,
    on: &str,
    count: u8,
    n: u64,
) -> Result<Vec<Future<Block>>, Failed> {
    let mut futures = Vec::new();
    for seed in 0..count {
        let options = SubmitOptions::new().impure().workers([on]);
        futures.push(executor.submit_with(block, (seed, n), options)?);
    }
    taskforce::wait(&futures)?;
    Ok(futures)
}

/// Keys in memory on the worker named `name`, as the scheduler counts them.
fn keys_on(executor: &Executor, name: &str) -> Result<u64, Failed> {
    let info = executor.cluster_info()?;
    Ok(info
        .workers
        .iter()
        .find(|w| w.name == name)
        .map_or(0, |w| w.keys_in_memory))
}

fn a_retired_workers_values_are_gathered_after_it_stopped() -> Result<(), Failed> {
    let (_center, addr) = center(&["--allow-restart"]);
    let mut leaving = worker(&addr, "leaving", &[]);
    let mut bare = worker(&addr, "bare", &["--no-nanny"]);
    let _staying = worker(&addr, "staying", &[]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(3, PATIENCE)?;
    let futures = blocks_on(&executor, "leaving", 12, 100_000)?;
    let maker = futures[0].result()?.0;
    check(
        keys_on(&executor, "leaving")? == 12,
        "12 keys on the leaving worker",
    )?;
    let on_bare = blocks_on(&executor, "bare", 2, 1_000)?;

    // One by name, one by address; the second has no nanny and is asked to shut down.
    let bare_addr = (executor.cluster_info()?.workers.iter())
        .find(|w| w.name == "bare")
        .map(|w| w.addr.to_string())
        .ok_or("bare is connected")?;
    let report = executor.retire_workers(&["leaving", bare_addr.as_str()])?;
    check(
        report.retired == ["leaving", "bare"],
        &format!("retired: {report:?}"),
    )?;
    check(report.copies == 14, &format!("14 copies: {report:?}"))?;
    check(bare.wait_exit(PATIENCE).is_some(), "the bare worker exited")?;
    check(
        executor.gather(&on_bare)?.len() == 2,
        "the bare worker's values",
    )?;
    check(report.failed_count == 0, &format!("no failure: {report:?}"))?;
    // The nanny stops with its worker: no restart.
    let code = leaving.wait_exit(PATIENCE);
    check(code.is_some(), "the retired worker's nanny exited")?;
    check(
        leaving.count("Started worker process") == 1,
        "the nanny started its worker once, not again after the retire",
    )?;
    let info = executor.cluster_info()?;
    check(info.workers.len() == 1, "one worker left")?;
    check(info.last_worker_death.is_none(), "a retire is not a death")?;
    let values = executor.gather(&futures)?;
    for (seed, (pid, bytes)) in values.iter().enumerate() {
        check(
            *pid == maker,
            "made by the retired worker, not computed again",
        )?;
        check(
            bytes.len() == 100_000 && bytes.iter().all(|b| *b == seed as u8),
            "the value intact",
        )?;
    }
    Ok(())
}

fn a_replicated_value_survives_the_kill_of_its_maker() -> Result<(), Failed> {
    let (_center, addr) = center(&["--allow-restart"]);
    let maker = worker(&addr, "maker", &["--no-nanny"]);
    let _other = worker(&addr, "other", &[]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(2, PATIENCE)?;
    let futures = blocks_on(&executor, "maker", 3, 50_000)?;
    let report = executor.replicate(&futures, 2)?;
    check(report.copies == 3, &format!("3 copies: {report:?}"))?;
    check(
        keys_on(&executor, "other")? == 3,
        "the other worker holds the copies",
    )?;
    // Asking again changes nothing: two holders each already.
    check(
        executor.replicate(&futures, 2)?.copies == 0,
        "nothing more to copy",
    )?;

    maker.signal(nix::sys::signal::Signal::SIGKILL);
    let deadline = std::time::Instant::now() + PATIENCE;
    while executor.cluster_info()?.workers.len() != 1 {
        check(std::time::Instant::now() < deadline, "the kill is noticed")?;
        std::thread::sleep(Duration::from_millis(50));
    }
    // Restricted to the dead maker, a recomputation could never run: the values come from
    // the copies or not at all.
    for future in &futures {
        let (pid, bytes) = future.result_timeout(PATIENCE)?;
        check(pid == maker.pid(), "the maker's value, copied")?;
        check(bytes.len() == 50_000, "whole")?;
    }
    Ok(())
}

fn rebalance_evens_out_two_workers() -> Result<(), Failed> {
    let (_center, addr) = center(&[]);
    let _full = worker(&addr, "full", &[]);
    let _empty = worker(&addr, "empty", &[]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(2, PATIENCE)?;
    let futures = blocks_on(&executor, "full", 16, 200_000)?;
    check(keys_on(&executor, "empty")? == 0, "all on one worker")?;
    let report = executor.rebalance()?;
    let (full, empty) = (keys_on(&executor, "full")?, keys_on(&executor, "empty")?);
    check(
        report.copies >= 7 && report.dropped == report.copies,
        &format!("moves made and old copies dropped: {report:?}"),
    )?;
    check(
        full + empty == 16 && full.abs_diff(empty) <= 2,
        &format!("even: full {full}, empty {empty}"),
    )?;
    let values = executor.gather(&futures)?;
    check(values.len() == 16, "every value gathered after the moves")?;
    Ok(())
}

fn retiring_is_refused_with_the_reason() -> Result<(), Failed> {
    let (_strict_center, strict) = center(&[]);
    let _w = worker(&strict, "w", &[]);
    let executor = Executor::connect(&strict)?;
    executor.wait_for_workers(1, PATIENCE)?;
    match executor.retire_workers(&["w"]) {
        Err(Error::Refused { reason, .. }) if reason.contains("--allow-restart") => {}
        other => return Err(format!("refused for --allow-restart, got {other:?}").into()),
    }

    let (_center, addr) = center(&["--allow-restart"]);
    let _a = worker(&addr, "a", &[]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(1, PATIENCE)?;
    match executor.retire_workers(&["nobody"]) {
        Err(Error::Refused { reason, .. })
            if reason.contains("nobody") && reason.contains("a at") => {}
        other => {
            return Err(format!("an unknown name refused, naming the workers: {other:?}").into())
        }
    }
    match executor.retire_workers(&["a"]) {
        Err(Error::Refused { reason, .. }) if reason.contains("would leave none") => {}
        other => return Err(format!("retiring the last worker refused: {other:?}").into()),
    }
    check(
        executor.cluster_info()?.workers.len() == 1,
        "nothing was done",
    )?;
    let again = executor.submit(block, (1, 10))?;
    check(
        again.result_timeout(PATIENCE)?.1.len() == 10,
        "the worker still works",
    )?;
    Ok(())
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "a_retired_workers_values_are_gathered_after_it_stopped",
            a_retired_workers_values_are_gathered_after_it_stopped,
        ),
        Trial::test(
            "a_replicated_value_survives_the_kill_of_its_maker",
            a_replicated_value_survives_the_kill_of_its_maker,
        ),
        Trial::test(
            "rebalance_evens_out_two_workers",
            rebalance_evens_out_two_workers,
        ),
        Trial::test(
            "retiring_is_refused_with_the_reason",
            retiring_is_refused_with_the_reason,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
