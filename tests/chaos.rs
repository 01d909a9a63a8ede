//! Chaos on a real cluster (the built binary's roles, served by this test binary, under
//! nannies): workers killed with SIGKILL every 2 s through a 5,000-task graph with
//! dependencies, and a worker frozen with SIGSTOP past `--worker-ttl` then resumed. The
//! answer is right either way, and the frozen worker comes back as a new member.
//!
//! Victims are chosen by a seeded generator and the kills are capped below the allowed
//! failures, so no task can err with `KilledWorker`: the outcome is deterministic.

use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use taskforce::{remote, Executor, Future};

mod support;
use support::{started_at, Proc};

/// Leaves of the tree.
const LEAVES: u64 = 2_500;
/// At most this many kills, below `--allowed-failures`.
const MAX_KILLS: usize = 12;

/// `x + 1`, slowly enough that the graph outlives several kills.
#[remote]
fn slow_inc(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(15));
    x + 1
}

/// `a + b`.
#[remote]
fn slow_add(a: u64, b: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(3));
    a + b
}

/// The sum of `xs`.
#[remote]
fn sum_all(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

fn start_center(program: &std::path::Path, extra: &[&str]) -> (Proc, String) {
    let mut args = vec![
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dashboard-port",
        "0",
    ];
    args.extend_from_slice(extra);
    let center = Proc::start_program(program, "center", &args);
    let addr = started_at(&center.wait_for("Start center at "));
    (center, addr)
}

fn start_workers(program: &std::path::Path, center: &str, names: &[&str]) -> Vec<Proc> {
    names
        .iter()
        .map(|name| {
            let args = [
                "worker",
                center,
                "--host",
                "127.0.0.1",
                "--nthreads",
                "2",
                "--name",
                name,
                "--max-restarts",
                "100",
            ];
            let worker = Proc::start_program(program, name, &args);
            worker.wait_for("Registered with center at");
            worker
        })
        .collect()
}

/// A pairwise tree of `slow_add` over `slow_inc(0..LEAVES)`: 2 × LEAVES − 1 tasks.
fn tree(executor: &Executor) -> taskforce::Result<Future<u64>> {
    let mut level: Vec<Future<u64>> = (0..LEAVES)
        .map(|x| executor.submit(slow_inc, (x,)))
        .collect::<taskforce::Result<_>>()?;
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [a, b] => executor.submit(slow_add, (a, b))?,
                [a] => a.clone(),
                _ => unreachable!("chunks of two"),
            });
        }
        level = next;
    }
    Ok(level.pop().expect("a root"))
}

/// A small seeded generator (splitmix64), so the victims are the same on every run.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn killing_a_random_worker_every_two_seconds_through_a_graph_gives_the_right_answer(
) -> Result<(), Failed> {
    let program = std::env::current_exe()?;
    let (_center, addr) = start_center(&program, &["--allowed-failures", "20"]);
    let _workers = start_workers(&program, &addr, &["w1", "w2", "w3"]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(3, Duration::from_secs(60))?;
    let started = Instant::now();
    let root = tree(&executor)?;
    let mut dice = Dice(0x5eed_cafe);
    let mut kills = 0;
    let mut next_kill = Instant::now() + Duration::from_secs(2);
    while !root.done() && kills < MAX_KILLS {
        if Instant::now() < next_kill {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let workers = executor.cluster_info()?.workers;
        if !workers.is_empty() {
            let victim = &workers[dice.below(workers.len())];
            eprintln!("chaos: SIGKILL {} (pid {})", victim.name, victim.pid);
            let _ = kill(Pid::from_raw(victim.pid as i32), Signal::SIGKILL);
            kills += 1;
        }
        next_kill += Duration::from_secs(2);
    }
    let total = root.result()?;
    assert_eq!(total, LEAVES * (LEAVES + 1) / 2);
    assert!(
        kills >= 2,
        "the graph outlived at least two kills ({kills})"
    );
    eprintln!(
        "chaos: {} tasks, {kills} workers killed, right answer after {:.1?}",
        2 * LEAVES - 1,
        started.elapsed()
    );
    Ok(())
}

fn a_worker_frozen_past_the_ttl_rejoins_and_the_answer_is_right() -> Result<(), Failed> {
    let program = std::env::current_exe()?;
    let (center, addr) = start_center(&program, &["--worker-ttl", "4s"]);
    let workers = start_workers(&program, &addr, &["w1", "w2"]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(2, Duration::from_secs(60))?;
    let frozen = executor
        .cluster_info()?
        .workers
        .into_iter()
        .find(|w| w.name == "w1")
        .ok_or("w1 is registered")?;
    let items: Vec<Future<u64>> = executor.map(slow_inc, 0..600)?;
    let total = executor.submit(sum_all, (&items,))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while items.iter().filter(|f| f.done()).count() < 100 {
        assert!(Instant::now() < deadline, "100 tasks done in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = Pid::from_raw(frozen.pid as i32);
    kill(pid, Signal::SIGSTOP)?;
    center.wait_for("Lost worker at");
    kill(pid, Signal::SIGCONT)?;
    workers[0].wait_for("Lost connection to center");
    workers[0].wait_for_nth("Registered with center at", 2, support::PATIENCE);
    assert_eq!(total.result()?, (1..=600).sum::<u64>());
    assert_eq!(executor.gather(&items)?, (1..=600).collect::<Vec<u64>>());
    let rejoined = executor.wait_for_workers(2, Duration::from_secs(60))?;
    let w1: Vec<_> = rejoined.workers.iter().filter(|w| w.name == "w1").collect();
    assert_eq!(w1.len(), 1, "w1 is a member once");
    assert_eq!(w1[0].pid, frozen.pid, "the same process came back");
    assert_ne!(w1[0].id, frozen.id, "as a new member");
    Ok(())
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "killing_a_random_worker_every_two_seconds_through_a_graph_gives_the_right_answer",
            killing_a_random_worker_every_two_seconds_through_a_graph_gives_the_right_answer,
        ),
        Trial::test(
            "a_worker_frozen_past_the_ttl_rejoins_and_the_answer_is_right",
            a_worker_frozen_past_the_ttl_rejoins_and_the_answer_is_right,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
