//! The runtime's own supervision trees, tested with panics injected on purpose
//! (`TASKFORCE_TEST_PANIC`, test-only) into the center's scheduler, a worker's peer
//! service and the center's sessions with workers: each time the cluster recovers and
//! finishes a 1,000-task map with the right answer.
//!
//! Processes re-run this test binary (so they carry its `#[remote]` functions); a custom
//! test main (libtest-mimic) lets it serve as a center or a worker.

use std::time::Instant;

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use support::{started_at, Proc, PATIENCE};
use taskforce::{remote, Executor};

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

/// A center and two workers (each under its nanny) of this binary, with `center_env` and
/// `worker_env` added to their environments.
struct Cluster {
    center: Proc,
    addr: String,
    workers: Vec<Proc>,
}

fn cluster(center_env: &[(&str, &str)], worker_env: &[(&str, &str)]) -> Cluster {
    let exe = std::env::current_exe().expect("test binary");
    let args = ["center", "--host", "127.0.0.1", "--port", "0"];
    let center = Proc::start_with_env(&exe, "center", &args, center_env);
    let addr = started_at(&center.wait_for("Start center at "));
    let workers = ["w1", "w2"]
        .iter()
        .map(|name| {
            let args = ["worker", &addr, "--host", "127.0.0.1", "--nthreads", "2"];
            let worker = Proc::start_with_env(&exe, name, &args, worker_env);
            worker.wait_for("Registered with center at");
            worker
        })
        .collect();
    Cluster {
        center,
        addr,
        workers,
    }
}

/// `inc` over 0..1000, summed on the cluster: 500,500 when every task ran right.
fn map_sum(executor: &Executor) -> taskforce::Result<i64> {
    let xs = executor.map(inc, 0..1000_i64)?;
    executor.submit(sum_all, (&xs,))?.result()
}

/// The same map, reduced pairwise so values move between workers many times.
fn map_tree_sum(executor: &Executor) -> taskforce::Result<i64> {
    let mut layer = executor.map(inc, 0..1000_i64)?;
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => executor.submit(add, (a, b)),
                [a] => Ok(a.clone()),
                _ => unreachable!("chunks of two"),
            })
            .collect::<taskforce::Result<Vec<_>>>()?;
    }
    layer[0].result()
}

fn check(condition: bool, what: &str) -> Result<(), Failed> {
    match condition {
        true => Ok(()),
        false => Err(what.into()),
    }
}

/// A panic in the center's session with a worker closes only that connection: the center
/// hears of it (the worker leaves, its tasks go elsewhere), the worker registers again,
/// and the map finishes.
fn session_panic_closes_only_its_connection() -> Result<(), Failed> {
    let env = [("TASKFORCE_TEST_PANIC", "session/WorkerToCenter:after=40")];
    let cluster = cluster(&env, &[]);
    let executor = Executor::connect(&cluster.addr)?;
    let during = map_sum(&executor)?;
    check(
        during == 500_500,
        &format!("the map during the panic gave {during}"),
    )?;
    cluster
        .center
        .wait_for("session panicked: injected test panic at session/WorkerToCenter");
    cluster.center.wait_for_nth("Register worker", 3, PATIENCE);
    let after = map_sum(&executor)?;
    check(
        after == 500_500,
        &format!("the map after the panic gave {after}"),
    )?;
    Ok(())
}

/// A panic in a worker's peer service restarts that service alone: no worker process
/// restarts, no worker registers again, and every map gives the right answer.
fn peer_service_panic_restarts_only_the_service() -> Result<(), Failed> {
    let env = [("TASKFORCE_TEST_PANIC", "peer-service:after=1")];
    let cluster = cluster(&[], &env);
    let executor = Executor::connect(&cluster.addr)?;
    let deadline = Instant::now() + PATIENCE;
    let restarted = |c: &Cluster| {
        c.workers
            .iter()
            .any(|w| w.count("injected test panic at peer-service") > 0)
    };
    while !restarted(&cluster) {
        check(
            Instant::now() < deadline,
            "no value ever moved between workers",
        )?;
        let total = map_tree_sum(&executor)?;
        check(total == 500_500, &format!("a tree sum gave {total}"))?;
    }
    let total = map_tree_sum(&executor)?;
    check(
        total == 500_500,
        &format!("the tree sum after the panic gave {total}"),
    )?;
    check(
        cluster.center.count("Register worker") == 2,
        "a worker registered again: its process restarted instead of its peer service",
    )?;
    Ok(())
}

/// A panic in the scheduler restarts the center's tree in place (one for all): the port
/// stays bound, workers register again, and an executor that connects then finishes the
/// map. The executor connected during the panic either finished first or got an error
/// that says the connection was lost (never a hang); re-submitting its work after a
/// center restart is the executor's reconnect path, not this tree's.
fn scheduler_panic_restarts_the_center_tree() -> Result<(), Failed> {
    let env = [("TASKFORCE_TEST_PANIC", "scheduler:after=20")];
    let cluster = cluster(&env, &[]);
    let during = Executor::connect(&cluster.addr)?;
    match map_sum(&during) {
        Ok(total) => check(total == 500_500, &format!("the map gave {total}"))?,
        Err(e) => eprintln!("the executor connected during the panic: {e}"),
    }
    cluster.center.wait_for("injected test panic at scheduler");
    cluster.center.wait_for_nth("Register worker", 4, PATIENCE);
    let after = Executor::connect(&cluster.addr)?;
    let total = map_sum(&after)?;
    check(
        total == 500_500,
        &format!("the map after the restart gave {total}"),
    )?;
    check(
        cluster.center.count("Nanny reports its worker process") == 0,
        "a worker process died",
    )?;
    Ok(())
}

fn main() {
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some("center" | "worker")
    ) {
        taskforce::cli::main().expect("taskforce role");
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "session_panic_closes_only_its_connection",
            session_panic_closes_only_its_connection,
        ),
        Trial::test(
            "peer_service_panic_restarts_only_the_service",
            peer_service_panic_restarts_only_the_service,
        ),
        Trial::test(
            "scheduler_panic_restarts_the_center_tree",
            scheduler_panic_restarts_the_center_tree,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
