//! Failures a user can diagnose, against a cluster started from the command line with this
//! test binary as center and workers (so the workers carry the functions below): a task
//! past its worker's memory limit fails naming the memory, and the cluster keeps serving.
//!
//! A custom test main (libtest-mimic) lets the same binary serve as a worker.

use std::time::{Duration, Instant};

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use support::{program_cluster, started_at, Proc};
use taskforce::center::CenterConfig;
use taskforce::messages::FrameLimits;
use taskforce::remote::ConnectOptions;
use taskforce::worker::WorkerConfig;
use taskforce::{remote, Executor, SubmitOptions};

const MIB: usize = 1 << 20;

/// Allocates `mib` MiB in 64 MiB blocks, touching every page, and keeps all of it until
/// the end; returns the bytes held.
#[remote]
fn alloc_mib(mib: usize) -> usize {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib / 64 {
        blocks.push(vec![1_u8; 64 * MIB]);
    }
    blocks.iter().map(Vec::len).sum()
}

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// Attempts of `flaky` so far in this worker process, per `failures` argument.
static ATTEMPTS: std::sync::Mutex<Vec<(u32, u32)>> = std::sync::Mutex::new(Vec::new());

/// Fails its first `failures` calls in this process (an `Err`, or a panic for odd
/// attempts), then returns how many attempts it took.
#[remote]
fn flaky(failures: u32) -> Result<u32, String> {
    let mut attempts = ATTEMPTS.lock().unwrap_or_else(|e| e.into_inner());
    let attempt = match attempts.iter_mut().find(|(of, _)| *of == failures) {
        Some((_, n)) => {
            *n += 1;
            *n
        }
        None => {
            attempts.push((failures, 1));
            1
        }
    };
    drop(attempts);
    match attempt {
        n if n > failures => Ok(n),
        n if n % 2 == 1 => panic!("flaky panic at attempt {n}"),
        n => Err(format!("flaky error at attempt {n}")),
    }
}

/// The length of a byte vector (its argument is big enough to be scattered first).
#[remote]
fn len_of(bytes: Vec<u8>) -> usize {
    bytes.len()
}

/// `mib` MiB of sevens, made on the worker.
#[remote]
fn sevens_mib(mib: usize) -> Vec<u8> {
    vec![7; mib << 20]
}

/// The lengths of three byte vectors together.
#[remote]
fn total_len(a: Vec<u8>, b: Vec<u8>, c: Vec<u8>) -> usize {
    a.len() + b.len() + c.len()
}

/// Frame limits far under the defaults, so values "larger than a frame" stay small here.
fn small_limits() -> FrameLimits {
    FrameLimits {
        max_header: 2 << 20,
        max_frames: 64,
        max_frame: 1 << 20,
        max_message: 16 << 20,
    }
}

/// A center and one worker in this process (on a thread of their own), every link held to
/// `limits`; returns the center's address.
fn in_process_cluster(limits: FrameLimits) -> Result<String, Failed> {
    in_process_cluster_of(limits, 1)
}

/// A center and `workers` single-thread workers in this process, all with `limits`.
fn in_process_cluster_of(limits: FrameLimits, workers: usize) -> Result<String, Failed> {
    let (started, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix::System::new();
        let running = system.block_on(async move {
            let center = taskforce::center::start(CenterConfig {
                host: [127, 0, 0, 1].into(),
                port: 0,
                limits,
                ..CenterConfig::default()
            })
            .await?;
            let mut started = Vec::new();
            for _ in 0..workers {
                let mut config = WorkerConfig::new(center.addr.to_string());
                config.host = [127, 0, 0, 1].into();
                config.nthreads = 1;
                config.limits = limits;
                config.connect.limits = limits;
                started.push(taskforce::worker::start(config).await?);
            }
            Ok::<_, Failed>((center, started))
        });
        let _ = started.send(
            running
                .as_ref()
                .map(|(center, _)| center.addr.to_string())
                .map_err(|e| format!("{e:?}")),
        );
        if running.is_ok() {
            system.run().expect("the cluster's system");
        }
    });
    Ok(addr.recv()??)
}

/// With frames of at most 1 MiB and messages of at most 16 MiB: a 5 MiB value scatters in
/// pieces and gathers back whole; three 7 MiB values scatter and gather in several messages; a 3 MiB plain argument is scattered first, not put in the
/// task's 2 MiB-limited header; a 20 MiB value scattered, one made on the worker and a task
/// of three 900 KiB arguments each fail their own call naming the size and the limit, and the same connection serves the
/// next calls.
/// With frames of at most 1 MiB: two 5 MiB values scattered over two workers, and a task
/// reading both: one of them moves worker to worker in pieces, and arrives whole.
fn a_value_larger_than_a_frame_moves_worker_to_worker() -> Result<(), Failed> {
    let limits = small_limits();
    let addr = in_process_cluster_of(limits, 2)?;
    let options = ConnectOptions {
        limits,
        give_up_after: Some(support::PATIENCE),
        ..ConnectOptions::default()
    };
    let executor = Executor::connect_with(&addr, options)?;
    executor.wait_for_workers(2, support::PATIENCE)?;
    let values: Vec<Vec<u8>> = (1..=2_u8).map(|n| vec![n; 5 << 20]).collect();
    let placed = executor.scatter(values)?;
    let total = executor.submit(total_len, (&placed[0], &placed[1], Vec::<u8>::new()))?;
    check(
        total.result()? == 10 << 20,
        "both 5 MiB values reach the task whole",
    )?;
    let deadline = Instant::now() + support::PATIENCE;
    loop {
        let info = executor.cluster_info()?;
        let moved: u64 = info.workers.iter().map(|w| w.peer_bytes_in).sum();
        if moved >= 5 << 20 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("workers report {moved} bytes from peers, not 5 MiB").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn values_larger_than_a_frame_travel_and_too_large_ones_fail_alone() -> Result<(), Failed> {
    let limits = small_limits();
    let addr = in_process_cluster(limits)?;
    let options = ConnectOptions {
        limits,
        give_up_after: Some(support::PATIENCE),
        ..ConnectOptions::default()
    };
    let executor = Executor::connect_with(&addr, options)?;
    executor.wait_for_workers(1, support::PATIENCE)?;
    let five: Vec<u8> = (0..5 << 20).map(|i: u32| (i % 251) as u8).collect();
    let scattered = executor.scatter_one(five.clone())?;
    check(
        executor.gather(&[scattered])? == vec![five.clone()],
        "5 MiB back whole",
    )?;
    let three: Vec<u8> = five[..3 << 20].to_vec();
    let counted = executor.submit(len_of, (three,))?;
    check(
        counted.result()? == 3 << 20,
        "a 3 MiB argument reaches the task",
    )?;
    let twenty = vec![7_u8; 20 << 20];
    let message = match executor.scatter_one(twenty) {
        Err(e @ taskforce::Error::MessageTooLarge { .. }) => e.to_string(),
        Err(other) => return Err(format!("expected MessageTooLarge, got {other:?}").into()),
        Ok(_) => return Err("a 20 MiB value passed a 16 MiB limit".into()),
    };
    eprintln!("the user sees: {message}");
    let expected = format!(
        "a data request to {} was not sent: message of 2097",
        executor.cluster_info()?.workers[0].addr
    );
    check(
        message.starts_with(&expected)
            && message.ends_with(" bytes is over the limit of 16777216 bytes"),
        &message,
    )?;
    let sevens: Vec<Vec<u8>> = (0..3_u8).map(|n| vec![n; 7 << 20]).collect();
    let placed = executor.scatter(sevens.clone())?;
    check(
        executor.gather(&placed)? == sevens,
        "21 MiB of values to one worker go and come back in several messages",
    )?;
    let part = vec![5_u8; 900 << 10];
    let message = match executor.submit(total_len, (part.clone(), part.clone(), part)) {
        Err(e @ taskforce::Error::MessageTooLarge { .. }) => e.to_string(),
        Err(other) => return Err(format!("expected MessageTooLarge, got {other:?}").into()),
        Ok(future) => return Err(format!("a 2.7 MiB header was sent: {future:?}").into()),
    };
    eprintln!("the user sees: {message}");
    check(
        message.starts_with("task total_len-")
            && message.contains(" was not sent: header of 276")
            && message.ends_with(" bytes is over the limit of 2097152 bytes"),
        &message,
    )?;
    let many = executor.map(len_of, (0..40_usize).map(|n| vec![n as u8; 100 << 10]))?;
    let lens = executor.gather(&many)?;
    check(
        lens == vec![100 << 10; 40],
        "4 MB of small arguments go in several messages",
    )?;
    let made = executor.submit(sevens_mib, (20,))?;
    let message = match made.result() {
        Err(e @ taskforce::Error::MessageTooLarge { .. }) => e.to_string(),
        Err(other) => return Err(format!("expected MessageTooLarge, got {other:?}").into()),
        Ok(_) => return Err("a 20 MiB value came through a 16 MiB limit".into()),
    };
    eprintln!("the user sees: {message}");
    check(
        message.starts_with(&format!("the value of {} from ", made.key()))
            && message.ends_with(
                " was not sent: message of 20971520 bytes is over the limit of 16777216 bytes",
            ),
        &message,
    )?;
    let after = executor.submit(len_of, (vec![1_u8; 10],))?;
    check(after.result()? == 10, "the connection still serves")?;
    let small = executor.scatter_one(vec![3_u8; 100])?;
    check(
        executor.gather(&[small])? == vec![vec![3_u8; 100]],
        "scatter still works",
    )?;
    Ok(())
}

fn check(condition: bool, message: &str) -> Result<(), Failed> {
    match condition {
        true => Ok(()),
        false => Err(message.into()),
    }
}

/// The spill directories of live or dead worker processes `pids`.
fn spill_dirs_of(pids: &[u32]) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            pids.iter()
                .any(|pid| name.starts_with(&format!("taskforce-spill-{pid}-")))
        })
        .collect()
}

/// A worker with `--memory-limit 500MiB` runs a task that touches 4 GiB: its nanny kills it
/// past 95% and starts a fresh one; with one allowed failure the task runs once more
/// elsewhere (the fresh worker) and then fails naming both memory kills; the next task runs
/// and no spill directory is left behind.
fn a_task_past_the_memory_limit_fails_naming_it() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let center_args = [
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dashboard-port",
        "0",
        "--allowed-failures",
        "1",
    ];
    let center = Proc::start_program(&exe, "center", &center_args);
    let addr = started_at(&center.wait_for("Start center at "));
    let worker_args = [
        "worker",
        &addr,
        "--host",
        "127.0.0.1",
        "--nthreads",
        "1",
        "--memory-limit",
        "500MiB",
    ];
    let nanny = Proc::start_program(&exe, "nanny", &worker_args);
    nanny.wait_for("Registered with center at");
    let executor = Executor::connect(&addr)?;
    let started = Instant::now();
    let hog = executor.submit(alloc_mib, (4096,))?;
    let message = match hog.result() {
        Err(e) => e.to_string(),
        Ok(bytes) => return Err(format!("expected a memory error, got {bytes} bytes").into()),
    };
    eprintln!("the user sees, after {:.1?}: {message}", started.elapsed());
    let head = format!("task {} was running on 2 workers that died: ", hog.key());
    check(message.starts_with(&head), &message)?;
    let deaths: Vec<&str> = message[head.len()..].split(", ").collect();
    check(deaths.len() == 2, &message)?;
    for death in deaths {
        let (_worker, cause) = death.split_once(' ').unwrap_or_default();
        let rss_mib: u64 = cause
            .strip_prefix("exceeded its memory limit of 500 MiB (RSS ")
            .and_then(|rest| rest.strip_suffix(" MiB)"))
            .and_then(|mib| mib.parse().ok())
            .ok_or_else(|| format!("not a memory death: {death}"))?;
        check(rss_mib >= 475, &format!("killed under 95%: {death}"))?;
    }
    let killed = nanny.wait_for("exceeded its memory limit of 500 MiB");
    check(killed.contains("killing it"), &killed)?;
    nanny.wait_for_nth("Registered with center at", 3, support::PATIENCE);
    let next = executor.submit(inc, (41,))?;
    check(
        next.result()? == 42,
        "the next task runs on the fresh worker",
    )?;
    let pids: Vec<u32> = (1..=2)
        .map(|n| nanny.wait_for_nth("Started worker process", n, support::PATIENCE))
        .map(|line| support::field(&line, "pid").parse().expect("a pid"))
        .collect();
    let deadline = Instant::now() + support::PATIENCE;
    while !spill_dirs_of(&pids).is_empty() {
        check(
            Instant::now() < deadline,
            &format!("left behind: {:?}", spill_dirs_of(&pids)),
        )?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `retries(3)` runs a function that fails three times to its fourth attempt; one that
/// fails more comes back saying how many attempts failed; without retries the first failure
/// is the error, as before.
fn retries_rerun_a_flaky_function_on_the_worker() -> Result<(), Failed> {
    let exe = std::env::current_exe()?;
    let (_center, addr, _workers) = program_cluster(&exe, &["w1"], "1");
    let executor = Executor::connect(&addr)?;
    let three = SubmitOptions::new().retries(3);
    let fourth = executor.submit_with(flaky, (3,), three.clone())?;
    check(fourth.result()? == 4, "the fourth attempt succeeds")?;
    let hopeless = executor.submit_with(flaky, (10,), three)?;
    let message = match hopeless.result() {
        Err(e) => e.to_string(),
        Ok(n) => return Err(format!("expected a failure, got {n}").into()),
    };
    eprintln!("the user sees: {message}");
    check(
        message.ends_with("failed after 4 attempts: flaky error at attempt 4"),
        &message,
    )?;
    let once = executor.submit(flaky, (1,))?;
    let message = once
        .result()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    check(message.ends_with(": flaky panic at attempt 1"), &message)?;
    check(!message.contains("attempts"), &message)?;
    let mapped = executor.map_with(flaky, [5_u32, 6], SubmitOptions::new().retries(6))?;
    check(
        executor.gather(&mapped)? == vec![6, 7],
        "map_with retries each call",
    )?;
    Ok(())
}

/// An executor pointed at a port nobody listens on logs each retry with the address and the
/// OS error, and gives up after its connect timeout (not a backoff step early) with an error
/// naming both. Runs in a child process (`connect-nowhere ADDR`) to read its log.
fn executor_gives_up_on_an_unreachable_center_naming_it() -> Result<(), Failed> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let exe = std::env::current_exe()?;
    let mut child = Proc::start_program(&exe, "executor", &["connect-nowhere", &addr]);
    let retry = child.wait_for("unreachable: ");
    let os_error = "i/o error: Connection refused (os error 111)";
    check(
        retry.contains(&format!(
            "Center at {addr} unreachable: {os_error}; retrying"
        )),
        &retry,
    )?;
    let gave_up = child.wait_for("connect failed after ");
    check(
        gave_up.contains(&format!(": center at {addr} unreachable for 2.")),
        &gave_up,
    )?;
    check(
        gave_up.ends_with(&format!(" s, giving up: {os_error}")),
        &gave_up,
    )?;
    let waited: f64 = gave_up
        .split("connect failed after ")
        .nth(1)
        .and_then(|rest| rest.split(" s:").next())
        .and_then(|secs| secs.parse().ok())
        .ok_or_else(|| format!("no time in {gave_up:?}"))?;
    // Not before the timeout (the old loop gave up a backoff step early, at 1.5 s), and
    // not a whole backoff step (2 s) after it, however slow a loaded machine is.
    check(
        (2.0..3.5).contains(&waited),
        &format!("gave up after {waited} s, not 2 s"),
    )?;
    check(child.count("retrying") >= 4, "each retry is logged")?;
    check(child.wait_exit(support::PATIENCE) == Some(0), "child exits")?;
    Ok(())
}

/// The child of `executor_gives_up_on_an_unreachable_center_naming_it`.
fn connect_nowhere(addr: &str) {
    taskforce::cli::init_logging("warn");
    let options = ConnectOptions {
        give_up_after: Some(Duration::from_secs(2)),
        ..ConnectOptions::default()
    };
    let started = Instant::now();
    match Executor::connect_with(addr, options) {
        Ok(_) => eprintln!("connected to nothing?"),
        Err(e) => eprintln!(
            "connect failed after {:.2} s: {e}",
            started.elapsed().as_secs_f64()
        ),
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("connect-nowhere") {
        let addr = std::env::args().nth(2).expect("an address");
        return connect_nowhere(&addr);
    }
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "a_task_past_the_memory_limit_fails_naming_it",
            a_task_past_the_memory_limit_fails_naming_it,
        ),
        Trial::test(
            "retries_rerun_a_flaky_function_on_the_worker",
            retries_rerun_a_flaky_function_on_the_worker,
        ),
        Trial::test(
            "values_larger_than_a_frame_travel_and_too_large_ones_fail_alone",
            values_larger_than_a_frame_travel_and_too_large_ones_fail_alone,
        ),
        Trial::test(
            "a_value_larger_than_a_frame_moves_worker_to_worker",
            a_value_larger_than_a_frame_moves_worker_to_worker,
        ),
        Trial::test(
            "executor_gives_up_on_an_unreachable_center_naming_it",
            executor_gives_up_on_an_unreachable_center_naming_it,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
