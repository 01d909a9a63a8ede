//! Scheduling overhead through the whole stack on a local cluster of 2 single-thread workers
//! (as dask's `bench_overhead.py`): submit→result roundtrip latency, and the throughput of
//! independent trivial tasks (map, then gather every result), and a chain of dependent tasks.
//!
//! Beside them, in the same run, the floor of a roundtrip: two bare loopback TCP round trips.
//! Warm-ups and waits as dask's script has them: an untimed run of the roundtrip calls, an
//! untimed 2,000-task map before the first throughput size, an untimed 200-link chain, and
//! before each timed run a wait until the center has forgotten every earlier task.
//! Prints one JSON line per workload (`bench`, `system`, `median_s`, `runs_s`, ...), the shape
//! `benches/compare/summarize.py` reads.
//!
//! `cargo run --release --example bench_overhead [-- --tasks 10000,50000 --roundtrips 300
//! --runs 3 --chain 2000] [--no-dashboard]` (the center feeds its dashboard unless
//! `--no-dashboard`).

use std::time::{Duration, Instant};

use taskforce::remote;

mod support;
use support::{arg, arg_list};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// Untimed warm-ups, as dask's script has them.
const THROUGHPUT_WARMUP_TASKS: i64 = 2_000;
const CHAIN_WARMUP_LEN: usize = 200;

/// Blocks until the center tracks no task (the futures of earlier runs released and
/// forgotten), as dask's `wait_idle`; gives up after 60 s with a note on stderr.
fn wait_idle(executor: &taskforce::Executor) -> taskforce::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tasks = executor.cluster_info()?.tasks;
        if tasks == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            eprintln!("wait_idle: {tasks} tasks still on the center after 60 s");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `x = submit(inc, x)` `length` times, then the last result.
fn run_chain(executor: &taskforce::Executor, length: usize) -> taskforce::Result<i64> {
    let mut x = executor.submit_impure(inc, (0,))?;
    for _ in 1..length {
        x = executor.submit_impure(inc, (&x,))?;
    }
    x.result()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One JSON line in the shape of dask's (`bench`, `system`, `median_s`, `runs_s`), with
/// `extra` fields (each starting with `, `) appended.
fn emit(bench: &str, mut seconds: Vec<f64>, extra: &str) {
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let runs: Vec<String> = seconds.iter().map(|s| format!("{s:.6}")).collect();
    println!(
        "{{\"bench\": \"{bench}\", \"system\": \"taskforce\", \"median_s\": {median:.9}, \"runs_s\": [{}]{extra}}}",
        runs.join(", ")
    );
}

/// The physical floor of one submit→result: executor → center → worker → center →
/// executor is two round trips over loopback TCP. Measured here with bare sockets
/// (`TCP_NODELAY`, a 64-byte message, an echo thread), in the same process and run.
fn tcp_floor(samples: usize) -> std::io::Result<Vec<f64>> {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut peer, _) = listener.accept()?;
        peer.set_nodelay(true)?;
        let mut buf = [0u8; 64];
        while peer.read_exact(&mut buf).is_ok() {
            peer.write_all(&buf)?;
        }
        Ok(())
    });
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut buf = [7u8; 64];
    let mut seconds = Vec::with_capacity(samples);
    for i in 0..samples + 50 {
        let started = Instant::now();
        for _ in 0..2 {
            stream.write_all(&buf)?;
            stream.read_exact(&mut buf)?;
        }
        if i >= 50 {
            seconds.push(started.elapsed().as_secs_f64());
        }
    }
    drop(stream);
    echo.join().expect("the echo thread does not panic")?;
    Ok(seconds)
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let sizes: Vec<usize> = arg_list("--tasks", &[10_000, 50_000]);
    let roundtrips = arg("--roundtrips", 300);
    let rounds = arg("--runs", 3);
    let dashboard = !std::env::args().any(|a| a == "--no-dashboard");

    let floor = tcp_floor(roundtrips.max(100))?;
    emit(
        "tcp_floor_two_round_trips",
        floor,
        ", \"unit\": \"s for two loopback TCP round trips of 64 bytes\"",
    );

    let cluster = support::two_single_thread_workers()
        .dashboard(dashboard)
        .start()?;
    if let Some(link) = cluster.dashboard_link() {
        eprintln!("dashboard: {link}");
    }
    let executor = cluster.executor()?;

    for i in 0..roundtrips {
        executor.submit_impure(inc, (i as i64,))?.result()?;
    }
    wait_idle(&executor)?;
    let mut latencies = Vec::with_capacity(roundtrips);
    for i in 0..roundtrips {
        let started = Instant::now();
        executor.submit_impure(inc, (i as i64,))?.result()?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let median = percentile(&latencies, 0.5);
    let p99 = percentile(&latencies, 0.99);
    emit(
        "roundtrip",
        vec![median.as_secs_f64()],
        &format!(
            ", \"n\": {roundtrips}, \"median_us\": {:.1}, \"p99_us\": {:.1}",
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        ),
    );

    if !sizes.is_empty() {
        let futures = executor.map_impure(inc, 0..THROUGHPUT_WARMUP_TASKS)?;
        executor.gather(&futures)?;
    }
    for &tasks in &sizes {
        let mut seconds = Vec::new();
        for _ in 0..rounds {
            wait_idle(&executor)?;
            let started = Instant::now();
            let futures = executor.map_impure(inc, 0..tasks as i64)?;
            let values = executor.gather(&futures)?;
            let elapsed = started.elapsed().as_secs_f64();
            let ok = values.iter().enumerate().all(|(i, v)| *v == i as i64 + 1);
            assert!(ok, "every result of the map is its input plus one");
            drop(futures);
            seconds.push(elapsed);
            eprintln!("independent_tasks n={tasks}: {elapsed:.3} s");
        }
        let mut sorted = seconds.clone();
        sorted.sort_by(f64::total_cmp);
        let rate = tasks as f64 / sorted[sorted.len() / 2];
        emit(
            "independent_tasks",
            seconds,
            &format!(", \"n\": {tasks}, \"tasks_per_s\": {rate:.0}"),
        );
    }
    let chain = arg("--chain", 2000);
    run_chain(&executor, CHAIN_WARMUP_LEN)?;
    let mut seconds = Vec::new();
    for _ in 0..rounds {
        wait_idle(&executor)?;
        let started = Instant::now();
        let value = run_chain(&executor, chain)?;
        assert_eq!(value, chain as i64, "the chain adds one per task");
        seconds.push(started.elapsed().as_secs_f64());
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let per_task = sorted[sorted.len() / 2] * 1e6 / chain as f64;
    emit(
        "chain",
        seconds,
        &format!(", \"n\": {chain}, \"us_per_task\": {per_task:.1}"),
    );
    Ok(())
}
