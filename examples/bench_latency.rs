//! Throughput and roundtrip over a slower network than loopback: a local cluster of 2
//! single-thread workers that reach their center through `taskforce::testing::LatencyProxy`
//! at 0, 0.5 ms and 2 ms round trips (the executor talks to the center directly), all in one
//! run. For each: the network's own round trip through the proxy (a 16-byte echo), the
//! submit→result roundtrip of one trivial task against that floor (executor → center over
//! loopback, center → worker through the proxy), and the throughput of independent trivial
//! tasks (map, then gather) against the zero-delay figure of the same run.
//!
//! `cargo run --release --example bench_latency [-- --tasks 50000 --roundtrips 200
//! --rounds 3 --rtts-us 0,500,2000]`

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use taskforce::testing::{LatencyProxy, LinkShape};
use taskforce::{remote, Executor};

mod support;
use support::{arg, arg_list};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// An echo server on a free port of 127.0.0.1.
fn echo_server() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut reading = stream;
                let Ok(mut writing) = reading.try_clone() else {
                    return;
                };
                let _ = std::io::copy(&mut reading, &mut writing);
            });
        }
    });
    Ok(addr)
}

/// The median round trip of a 16-byte message to `addr` and back.
fn echo_round_trip(addr: SocketAddr, samples: usize) -> std::io::Result<Duration> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let (message, mut back) = ([1u8; 16], [0u8; 16]);
    let mut took = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut back)?;
        took.push(started.elapsed());
    }
    Ok(median(took))
}

struct Figures {
    rtt_us: u64,
    network: Duration,
    loopback: Duration,
    roundtrip: Duration,
    tasks_per_s: f64,
}

fn measure(
    executor: &Executor,
    tasks: usize,
    roundtrips: usize,
    rounds: usize,
) -> taskforce::Result<(Duration, f64)> {
    for i in 0..50 {
        executor.submit_impure(inc, (i,))?.result()?;
    }
    let mut latencies = Vec::with_capacity(roundtrips);
    for i in 0..roundtrips {
        let started = Instant::now();
        executor.submit_impure(inc, (i as i64,))?.result()?;
        latencies.push(started.elapsed());
    }
    let mut best = 0f64;
    for _ in 0..rounds {
        let started = Instant::now();
        let futures = executor.map_impure(inc, 0..tasks as i64)?;
        let values = executor.gather(&futures)?;
        let rate = tasks as f64 / started.elapsed().as_secs_f64();
        assert!(values.iter().enumerate().all(|(i, v)| *v == i as i64 + 1));
        best = best.max(rate);
    }
    Ok((median(latencies), best))
}

fn run_at(
    rtt_us: u64,
    tasks: usize,
    roundtrips: usize,
    rounds: usize,
) -> taskforce::Result<Figures> {
    let shape = LinkShape::delay(Duration::from_micros(rtt_us / 2));
    let echo = echo_server()?;
    let echo_proxy = LatencyProxy::start(echo, shape)?;
    let network = echo_round_trip(echo_proxy.addr(), 200)?;
    let loopback = echo_round_trip(echo, 200)?;
    let proxy = Arc::new(LatencyProxy::bind(shape)?);
    let route = proxy.clone();
    let cluster = support::two_single_thread_workers()
        .dashboard(false)
        .worker_route(move |center| {
            route.forward_to(center);
            route.addr()
        })
        .start()?;
    let executor = cluster.executor()?;
    let (roundtrip, tasks_per_s) = measure(&executor, tasks, roundtrips, rounds)?;
    Ok(Figures {
        rtt_us,
        network,
        loopback,
        roundtrip,
        tasks_per_s,
    })
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let tasks: usize = arg("--tasks", 50_000);
    let roundtrips: usize = arg("--roundtrips", 200);
    let rounds: usize = arg("--rounds", 3);
    let rtts: Vec<u64> = arg_list("--rtts-us", &[0, 500, 2000]);
    let mut zero_delay: Option<f64> = None;
    for rtt_us in rtts {
        let f = run_at(rtt_us, tasks, roundtrips, rounds)?;
        let floor = f.network + f.loopback;
        let base = *zero_delay.get_or_insert(f.tasks_per_s);
        println!(
            "{{\"bench\": \"latency\", \"rtt_us\": {}, \"network_rtt_us\": {:.1}, \"loopback_rtt_us\": {:.1}, \"roundtrip_median_us\": {:.1}, \"roundtrip_vs_network\": {:.2}, \"tasks\": {tasks}, \"tasks_per_s\": {:.0}, \"vs_zero_delay\": {:.2}}}",
            f.rtt_us,
            micros(f.network),
            micros(f.loopback),
            micros(f.roundtrip),
            f.roundtrip.as_secs_f64() / floor.as_secs_f64(),
            f.tasks_per_s,
            f.tasks_per_s / base,
        );
    }
    Ok(())
}
