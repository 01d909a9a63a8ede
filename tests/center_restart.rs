//! A center killed with SIGKILL mid-map and restarted on the same port: the same executor
//! gets every right answer, and no key it had seen finished runs again. Each task appends a
//! line to a file named after its argument, so executions are counted outside the cluster.
//!
//! A custom test main (libtest-mimic) lets this binary serve as center, nanny and worker.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use nix::sys::signal::Signal;
use taskforce::{remote, Executor};

mod support;
use support::{started_at, Proc};

/// Where tasks record their runs (set for the worker processes).
const RUNS_DIR_ENV: &str = "TASKFORCE_TEST_RUNS_DIR";
/// Tasks in the map.
const TASKS: u64 = 2_000;

/// `x * x`, recording the run in `$TASKFORCE_TEST_RUNS_DIR/x` (a line per run).
#[remote]
fn counted_square(x: u64) -> u64 {
    use std::io::Write;
    let dir = std::env::var(RUNS_DIR_ENV).expect("runs dir");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(&dir).join(x.to_string()))
        .expect("runs file");
    file.write_all(b"1\n").expect("record a run");
    std::thread::sleep(Duration::from_millis(4));
    x * x
}

/// A fresh directory for run records, removed on drop.
struct RunsDir(PathBuf);

impl RunsDir {
    fn new(name: &str) -> std::io::Result<RunsDir> {
        let dir = std::env::temp_dir().join(format!("taskforce-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(RunsDir(dir))
    }
}

impl Drop for RunsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How many times each argument ran.
fn runs(dir: &Path) -> Vec<usize> {
    (0..TASKS)
        .map(|x| {
            std::fs::read_to_string(dir.join(x.to_string()))
                .map(|s| s.lines().count())
                .unwrap_or(0)
        })
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Result<(), Failed> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {timeout:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn start_center(program: &Path, port: &str) -> (Proc, String) {
    let args = [
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--dashboard-port",
        "0",
    ];
    let center = Proc::start_program(program, "center", &args);
    let addr = started_at(&center.wait_for("Start center at "));
    (center, addr)
}

fn start_worker(program: &Path, name: &str, center: &str, runs: &Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "worker",
        center,
        "--host",
        "127.0.0.1",
        "--nthreads",
        "2",
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    let env = [(RUNS_DIR_ENV, runs.to_str().expect("utf-8 path"))];
    let worker = Proc::start_with_env(program, name, &args, &env);
    worker.wait_for("Registered with center at");
    worker
}

fn a_killed_center_restarts_and_the_executor_gets_every_answer_without_recomputing(
) -> Result<(), Failed> {
    let program = std::env::current_exe()?;
    let runs_dir = RunsDir::new("center-restart")?;
    let runs_dir = &runs_dir.0;
    let (center, addr) = start_center(&program, "0");
    let port = addr.rsplit(':').next().expect("a port").to_string();
    let workers: Vec<Proc> = ["w1", "w2"]
        .iter()
        .map(|name| start_worker(&program, name, &addr, runs_dir, &[]))
        .collect();
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(2, Duration::from_secs(60))?;
    let futures = executor.map(counted_square, 0..TASKS)?;
    wait_until(
        "a quarter of the map done",
        Duration::from_secs(120),
        || futures.iter().filter(|f| f.done()).count() as u64 >= TASKS / 4,
    )?;
    center.signal(Signal::SIGKILL);
    let seen_finished: Vec<u64> = (0..TASKS).filter(|x| futures[*x as usize].done()).collect();
    drop(center);
    for worker in &workers {
        worker.wait_for("Lost connection to center");
    }
    let (center, _) = start_center(&program, &port);
    center.wait_for("Recovery ended");
    let started = Instant::now();
    let values = executor.gather(&futures)?;
    let expected: Vec<u64> = (0..TASKS).map(|x| x * x).collect();
    assert!(values == expected, "wrong answers after the restart");
    let runs = runs(runs_dir);
    let again: Vec<u64> = seen_finished
        .iter()
        .copied()
        .filter(|x| runs[*x as usize] != 1)
        .collect();
    assert!(again.is_empty(), "finished keys ran again: {again:?}");
    assert!(runs.iter().all(|n| *n >= 1), "every task ran");
    let total: usize = runs.iter().sum();
    eprintln!(
        "center restart: {} of {TASKS} seen finished before the kill; {total} runs in all; \
         the rest gathered {:.1?} after the recovery ended",
        seen_finished.len(),
        started.elapsed()
    );
    let offered: usize = workers
        .iter()
        .map(|w| w.count("Offering the values kept"))
        .sum();
    assert_eq!(
        offered, 2,
        "each worker offered its values to the new center"
    );
    Ok(())
}

/// No center comes back: pending futures fail once the executor stops trying, saying so.
fn an_executor_gives_up_on_a_center_that_does_not_come_back() -> Result<(), Failed> {
    let program = std::env::current_exe()?;
    let runs_dir = RunsDir::new("center-gone")?;
    let (center, addr) = start_center(&program, "0");
    let _worker = start_worker(&program, "w1", &addr, &runs_dir.0, &[]);
    let options = taskforce::remote::ConnectOptions {
        reconnect_for: Some(Duration::from_secs(2)),
        ..Default::default()
    };
    let executor = Executor::connect_with(&addr, options)?;
    executor.wait_for_workers(1, Duration::from_secs(60))?;
    let pending = executor.map(counted_square, 0..TASKS)?;
    center.signal(Signal::SIGKILL);
    drop(center);
    let lost = pending.last().expect("a future").result();
    let message = match lost {
        Err(taskforce::Error::ConnectionLost { reason }) => reason,
        other => return Err(format!("expected ConnectionLost, got {other:?}").into()),
    };
    assert!(
        message.contains("could not reconnect within 2s"),
        "the reason says the executor gave up: {message}"
    );
    Ok(())
}

/// The center and the only holder of a scattered value die together: the value cannot come
/// back and its future says why; a computed key that lived there is computed again.
fn what_died_with_the_center_is_recomputed_or_reported_lost() -> Result<(), Failed> {
    let program = std::env::current_exe()?;
    let runs_dir = RunsDir::new("center-and-holder")?;
    let (center, addr) = start_center(&program, "0");
    let alone = start_worker(&program, "w1", &addr, &runs_dir.0, &["--no-nanny"]);
    let executor = Executor::connect(&addr)?;
    executor.wait_for_workers(1, Duration::from_secs(60))?;
    let scattered = executor.scatter_one(41_u64)?;
    let computed = executor.submit(counted_square, (7,))?;
    assert_eq!(computed.result()?, 49);
    let _survivor = start_worker(&program, "w2", &addr, &runs_dir.0, &[]);
    alone.signal(Signal::SIGKILL);
    center.signal(Signal::SIGKILL);
    drop((alone, center));
    let port = addr.rsplit(':').next().expect("a port").to_string();
    let (_center, _) = start_center(&program, &port);
    match scattered.result() {
        Err(taskforce::Error::Cancelled {
            reason: Some(reason),
            ..
        }) => assert_eq!(reason, taskforce::scheduler::LOST_WITH_CENTER),
        other => {
            return Err(format!("expected the key lost with the center, got {other:?}").into())
        }
    }
    // Its small value came inline, so the future answers at once; the cluster, which lost
    // it, computes it again from the re-submitted lineage all the same.
    assert_eq!(computed.result()?, 49);
    wait_until("7 runs again", Duration::from_secs(60), || {
        runs(&runs_dir.0)[7] == 2
    })?;
    Ok(())
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "a_killed_center_restarts_and_the_executor_gets_every_answer_without_recomputing",
            a_killed_center_restarts_and_the_executor_gets_every_answer_without_recomputing,
        ),
        Trial::test(
            "an_executor_gives_up_on_a_center_that_does_not_come_back",
            an_executor_gives_up_on_a_center_that_does_not_come_back,
        ),
        Trial::test(
            "what_died_with_the_center_is_recomputed_or_reported_lost",
            what_died_with_the_center_is_recomputed_or_reported_lost,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
