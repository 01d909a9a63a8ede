//! Networks worse than loopback, with this test binary as center, workers, executor and
//! latency proxy:
//!
//! - a silent peer (SIGSTOP: its sockets stay open, nothing answers) holds a copy of a task's
//!   input: the worker fetching it gives up at its heartbeat deadline (5 s here, not the
//!   300 s data timeout), and the task runs with the input from the other holder. The
//!   center's worker ttl is far past the test, so what moves the task on is the fetch
//!   failing, not the center giving up on the silent worker;
//! - a silent peer holds the only copy: the fetch fails at the deadline, and the value is
//!   computed again on a worker that answers (not on the silent one, idle and first in line,
//!   where it would wait for the ttl);
//! - across hosts (network namespaces, tests/support/netns.rs): trivial tasks through a
//!   latency proxy adding 1 ms each way between each worker and the center (a 2 ms round
//!   trip); the answers are right, and the rate is printed (not asserted: speed targets live
//!   in `examples/bench_latency.rs`). Skipped, with the reason printed, where namespaces are
//!   unavailable (not root).

use std::time::{Duration, Instant};

#[path = "support/netns.rs"]
mod netns;
mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use netns::Hosts;
use nix::sys::signal::Signal;
use support::{check, started_at, Proc, PATIENCE};
use taskforce::testing::{LatencyProxy, LinkShape};
use taskforce::{remote, Executor, SubmitOptions};

/// The heartbeat deadline of the worker that fetches from the silent peer.
const DEADLINE: &str = "5s";

/// How long the task on the silent peer's input may take: its heartbeat deadline plus a
/// loaded machine's slack, far from the 300 s data timeout.
const FAILOVER_PATIENCE: Duration = Duration::from_secs(120);

/// Trivial tasks in the throughput run across hosts.
const TASKS: i64 = 2_000;

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// The numbers `0..len`.
#[remote]
fn numbers(len: u64) -> Vec<u64> {
    (0..len).collect()
}

#[remote]
fn sum_values(values: Vec<u64>) -> u64 {
    values.iter().sum()
}

fn this_binary() -> std::path::PathBuf {
    std::env::current_exe().expect("the test binary's path")
}

// ---- roles this binary plays in other processes ----

/// `proxy TARGET ONE_WAY_US`: a latency proxy on this host's 127.0.0.1 to TARGET; runs until
/// killed.
fn run_proxy(target: &str, one_way_us: &str) {
    let target = target.parse().expect("a target address");
    let delay = Duration::from_micros(one_way_us.parse().expect("a delay in microseconds"));
    let proxy = LatencyProxy::start(target, LinkShape::delay(delay)).expect("the proxy starts");
    eprintln!("PROXY at {} to {target}", proxy.addr());
    loop {
        std::thread::park();
    }
}

/// `throughput CENTER`: trivial tasks once both workers are in; prints the rate and
/// `RESULT ok` if every answer is right.
fn run_throughput(center: &str) {
    let outcome = Executor::connect(center).and_then(|executor| {
        executor.wait_for_workers(2, PATIENCE)?;
        let warm: Vec<i64> = executor.gather(&executor.map_impure(inc, 0..100_i64)?)?;
        let started = Instant::now();
        let xs = executor.map_impure(inc, 0..TASKS)?;
        let back: Vec<i64> = executor.gather(&xs)?;
        let took = started.elapsed();
        eprintln!(
            "RATE {TASKS} trivial tasks in {took:.2?}: {:.0} tasks/s across hosts, 1 ms each \
             way between the center and each worker",
            TASKS as f64 / took.as_secs_f64()
        );
        Ok(warm.len() == 100 && back == (1..=TASKS).collect::<Vec<i64>>())
    });
    match outcome {
        Ok(true) => eprintln!("RESULT ok"),
        Ok(false) => eprintln!("RESULT wrong"),
        Err(e) => eprintln!("RESULT error: {e}"),
    }
}

// ---- the tests ----

/// A worker of this binary on 127.0.0.1 named `name`, registered; returns it and its address.
fn named_worker(center: &str, name: &str, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["worker", center, "--host", "127.0.0.1", "--name", name];
    args.extend_from_slice(&["--nthreads", "1", "--no-nanny"]);
    args.extend_from_slice(extra);
    let worker = Proc::start_program(&this_binary(), name, &args);
    let addr = started_at(&worker.wait_for("Start worker at "));
    worker.wait_for("Registered with center at");
    (worker, addr)
}

/// A center on 127.0.0.1 whose worker ttl is far past the test, so a stopped worker stays
/// in the cluster and only a failed fetch can move its work on; returns it and its address.
fn center_keeping_silent_workers() -> (Proc, String) {
    support::program_center(&this_binary(), &["--worker-ttl", "1h"])
}

/// `b`'s fetch from `a` failed at `b`'s deadline (a silent peer, not an error), and the
/// center never gave up on `a`.
fn failed_over_from_a(center: &Proc, b: &Proc, a_addr: &str) -> Result<(), Failed> {
    let failed = b.wait_for("fetch failed");
    check(
        failed.contains(a_addr) && (failed.contains("silent") || failed.contains("within 5s")),
        &format!("b's fetch from a failed at the deadline: {failed}"),
    )?;
    check(
        center.count("Lost worker at") == 0,
        "the center still counted a as alive: the fetch failed over, not the center",
    )
}

fn a_fetch_from_a_silent_peer_fails_over_to_another_holder() -> Result<(), Failed> {
    let (center, addr) = center_keeping_silent_workers();
    // `a` first, so it has the lower id: `b` tries the holders in id order, `a` first.
    let (a, a_addr) = named_worker(&addr, "a", &[]);
    let (_c, _) = named_worker(&addr, "c", &[]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(2, PATIENCE)?;
    // Two equal values scattered over two workers: one key, a copy on each.
    let values: Vec<u64> = (0..2_000).collect();
    let copies = executor.scatter(vec![values.clone(), values])?;
    let shared = copies[0].clone();
    check(copies[1].key() == shared.key(), "equal values share a key")?;
    let cluster = executor.cluster_info()?;
    let view = |name: &str| cluster.workers.iter().find(|w| w.name == name).cloned();
    let (Some(a_view), Some(c_view)) = (view("a"), view("c")) else {
        return Err(format!("workers a and c in {:?}", cluster.workers).into());
    };
    check(a_view.id < c_view.id, "a has the lower id")?;
    check(
        a_view.keys_in_memory == 1 && c_view.keys_in_memory == 1,
        &format!("a copy on each: {a_view:?} {c_view:?}"),
    )?;

    let (b, _) = named_worker(&addr, "b", &["--heartbeat-timeout", DEADLINE]);
    let on_a = SubmitOptions::new().workers(["a"]);
    let on_b = SubmitOptions::new().workers(["b"]);
    // `b` fetches from `a` once while `a` answers, so the link between them is open and
    // goes silent, rather than refusing to open.
    let from_a = executor.submit_with(numbers, (10_u64,), on_a)?;
    let warm = executor.submit_with(sum_values, (&from_a,), on_b.clone())?;
    check(warm.result()? == 45, "b fetched from a while a answered")?;

    a.signal(Signal::SIGSTOP);
    let stopped = Instant::now();
    let total = executor.submit_with(sum_values, (&shared,), on_b)?;
    // Loose: the deadline plus a loaded machine, far from the 300 s data timeout (and from
    // the center's ttl, which would otherwise end the wait).
    let answer = total.result_timeout(FAILOVER_PATIENCE);
    let took = stopped.elapsed();
    a.signal(Signal::SIGCONT);
    eprintln!("the answer came {took:.2?} after a stopped (b's deadline {DEADLINE})");
    check(answer? == 1_999_000, "the right sum, from c's copy")?;
    failed_over_from_a(&center, &b, &a_addr)
}

fn a_value_only_a_silent_peer_holds_is_recomputed_elsewhere() -> Result<(), Failed> {
    let (center, addr) = center_keeping_silent_workers();
    // `a` first: the idle worker with the lowest id, where the value is computed, and where
    // its recomputation would go (to wait for the ttl) were `a` not held off.
    let (a, a_addr) = named_worker(&addr, "a", &[]);
    let (_c, _) = named_worker(&addr, "c", &[]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(2, PATIENCE)?;
    let only_on_a = executor.submit(numbers, (2_000_u64,))?;
    taskforce::wait(std::slice::from_ref(&only_on_a))?;
    let cluster = executor.cluster_info()?;
    let held: Vec<(String, u64)> = cluster
        .workers
        .iter()
        .map(|w| (w.name.clone(), w.keys_in_memory))
        .collect();
    check(
        held.contains(&("a".to_string(), 1)) && held.contains(&("c".to_string(), 0)),
        &format!("the value is on a alone: {held:?}"),
    )?;

    // `b` has never reached `a`: its connection attempt is what meets the silence.
    let (b, _) = named_worker(&addr, "b", &["--heartbeat-timeout", DEADLINE]);
    a.signal(Signal::SIGSTOP);
    let stopped = Instant::now();
    let on_b = SubmitOptions::new().workers(["b"]);
    let total = executor.submit_with(sum_values, (&only_on_a,), on_b)?;
    let answer = total.result_timeout(FAILOVER_PATIENCE);
    let took = stopped.elapsed();
    a.signal(Signal::SIGCONT);
    eprintln!("the answer came {took:.2?} after a stopped (b's deadline {DEADLINE})");
    check(
        answer? == 1_999_000,
        "the right sum, from the value computed again",
    )?;
    failed_over_from_a(&center, &b, &a_addr)
}

fn trivial_tasks_across_hosts_through_a_latency_proxy() -> Result<(), Failed> {
    let test = "trivial_tasks_across_hosts_through_a_latency_proxy";
    let hosts = match Hosts::new(&["center", "w1", "w2", "exec"]) {
        Ok(hosts) => hosts,
        Err(reason) => {
            eprintln!("{test}: skipped, no network namespaces here: {reason}");
            return Ok(());
        }
    };
    let program = this_binary();
    let args = ["center", "--port", "0", "--dashboard-port", "0"];
    let center = hosts.start("center", &program, "center", &args, &[]);
    let addr = started_at(&center.wait_for("Start center at "));
    // Declared in this order so the workers stop before their proxies (drops run backwards).
    let mut proxies = Vec::new();
    let mut workers = Vec::new();
    for host in ["w1", "w2"] {
        // The proxy on the worker's host: the worker reaches the center through it.
        let args = ["proxy", addr.as_str(), "1000"];
        let proxy = hosts.start(host, &program, &format!("proxy-{host}"), &args, &[]);
        let via = started_at(&proxy.wait_for("PROXY at "));
        let args = ["worker", via.as_str(), "--nthreads", "2", "--no-nanny"];
        let worker = hosts.start(host, &program, host, &args, &[]);
        worker.wait_for("Registered with center at");
        proxies.push(proxy);
        workers.push(worker);
    }
    // Each reaches the center over its loopback (the proxy), and still advertises its
    // address on the bridge, which the executor's host reaches.
    center.wait_for("Register worker at 10.77.0.2:");
    center.wait_for("Register worker at 10.77.0.3:");
    let args = ["throughput", addr.as_str()];
    let executor = hosts.start("exec", &program, "exec", &args, &[]);
    let result = executor.wait_for_nth("RESULT", 1, Duration::from_secs(120));
    check(result.contains("RESULT ok"), &result)?;
    eprintln!("{test}: {}", executor.wait_for("RATE"));
    check(
        center.count("Worker advertises the loopback address") == 0,
        "workers behind a loopback proxy advertise addresses the others reach",
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("proxy") => {
            let target = args.next().expect("a target");
            let delay = args.next().expect("a one-way delay in microseconds");
            return run_proxy(&target, &delay);
        }
        Some("throughput") => {
            taskforce::cli::init_logging("info");
            let center = args.next().expect("a center address");
            return run_throughput(&center);
        }
        _ => {}
    }
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "a_fetch_from_a_silent_peer_fails_over_to_another_holder",
            a_fetch_from_a_silent_peer_fails_over_to_another_holder,
        ),
        Trial::test(
            "a_value_only_a_silent_peer_holds_is_recomputed_elsewhere",
            a_value_only_a_silent_peer_holds_is_recomputed_elsewhere,
        ),
        Trial::test(
            "trivial_tasks_across_hosts_through_a_latency_proxy",
            trivial_tasks_across_hosts_through_a_latency_proxy,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
