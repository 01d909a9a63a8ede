//! The latency proxy (`taskforce::testing::LatencyProxy`) over real TCP on 127.0.0.1: delay
//! in each direction, order kept under jitter, cut and heal without a reset, a cut link
//! holding a fast sender back, and a cluster whose worker reaches its center through the
//! proxy (its in-flight window widens past the fixed one, and every answer is right).
//!
//! A custom test main (libtest-mimic) lets the same binary serve as the local cluster's
//! worker.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use support::check;
use taskforce::testing::{LatencyProxy, LinkShape};
use taskforce::{remote, LocalCluster};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// Generous: the machine is shared by parallel builds.
const PATIENCE: Duration = Duration::from_secs(30);

/// An echo server on a free port: sends back whatever each connection sends.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let addr = listener.local_addr().expect("echo addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reading = stream;
                let mut writing = reading.try_clone().expect("clone echo stream");
                let _ = std::io::copy(&mut reading, &mut writing);
            });
        }
    });
    addr
}

fn connect(proxy: &LatencyProxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.addr()).expect("connect to the proxy");
    stream.set_nodelay(true).expect("nodelay");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
}

/// Sends `message` and reads its echo.
fn echo(stream: &mut TcpStream, message: &[u8]) -> Result<Vec<u8>, Failed> {
    stream.write_all(message)?;
    let mut back = vec![0u8; message.len()];
    stream.read_exact(&mut back)?;
    Ok(back)
}

/// Whether nothing arrives on `stream` within `quiet` (then the patient timeout is restored).
fn stays_silent(stream: &mut TcpStream, quiet: Duration) -> Result<bool, Failed> {
    stream.set_read_timeout(Some(quiet))?;
    let mut byte = [0u8; 1];
    let silent = match stream.read(&mut byte) {
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        Ok(_) => false,
    };
    stream.set_read_timeout(Some(PATIENCE))?;
    Ok(silent)
}

fn delay_is_added_each_way() -> Result<(), Failed> {
    let one_way = Duration::from_millis(25);
    let proxy = LatencyProxy::start(echo_server(), LinkShape::delay(one_way))?;
    check(proxy.shape().one_way_delay == one_way, "the shape as set")?;
    let mut stream = connect(&proxy);
    for round in 0..5u8 {
        let started = Instant::now();
        let back = echo(&mut stream, &[round; 100])?;
        let took = started.elapsed();
        check(back == [round; 100], "the echo of what was sent")?;
        check(
            took >= 2 * one_way,
            &format!("a round trip of at least 2 x {one_way:?}, took {took:?}"),
        )?;
    }
    check(proxy.open_connections() == 1, "one connection forwarded")?;
    Ok(())
}

fn order_is_kept_under_jitter() -> Result<(), Failed> {
    let shape = LinkShape::delay(Duration::from_micros(500)).with_jitter(Duration::from_millis(3));
    let proxy = LatencyProxy::start(echo_server(), shape)?;
    let mut stream = connect(&proxy);
    const COUNT: u32 = 20_000;
    let mut reading = stream.try_clone()?;
    let reader = std::thread::spawn(move || -> Result<(), String> {
        let mut bytes = vec![0u8; COUNT as usize * 4];
        reading.read_exact(&mut bytes).map_err(|e| e.to_string())?;
        for (expected, word) in bytes.chunks_exact(4).enumerate() {
            let got = u32::from_le_bytes(word.try_into().expect("4 bytes"));
            if got != expected as u32 {
                return Err(format!("word {expected} came back as {got}"));
            }
        }
        Ok(())
    });
    // Many small writes, paced so the proxy reads them as separate chunks, each with its
    // own draw of jitter.
    for batch in (0..COUNT).collect::<Vec<_>>().chunks(100) {
        let bytes: Vec<u8> = batch.iter().flat_map(|n| n.to_le_bytes()).collect();
        stream.write_all(&bytes)?;
        std::thread::sleep(Duration::from_micros(200));
    }
    reader.join().map_err(|_| "reader panicked")??;
    Ok(())
}

fn cut_holds_traffic_and_heal_delivers_it() -> Result<(), Failed> {
    let proxy = LatencyProxy::start(echo_server(), LinkShape::default())?;
    let mut stream = connect(&proxy);
    check(
        echo(&mut stream, b"before")? == b"before",
        "echo before the cut",
    )?;
    proxy.cut();
    check(proxy.is_cut(), "the link is cut")?;
    stream.write_all(b"during the cut")?;
    check(
        stays_silent(&mut stream, Duration::from_millis(300))?,
        "nothing comes back while cut",
    )?;
    proxy.heal();
    let mut back = vec![0u8; 14];
    stream.read_exact(&mut back)?;
    check(
        back == b"during the cut",
        "what was sent during the cut, after the heal",
    )?;
    check(
        echo(&mut stream, b"after")? == b"after",
        "the same connection works on",
    )?;
    Ok(())
}

fn clients_during_a_cut_wait_for_the_heal() -> Result<(), Failed> {
    let proxy = LatencyProxy::start(echo_server(), LinkShape::default())?;
    proxy.cut();
    let mut stream = connect(&proxy);
    stream.write_all(b"hello")?;
    check(
        stays_silent(&mut stream, Duration::from_millis(300))?,
        "a new client is not connected onward while cut",
    )?;
    proxy.heal();
    let mut back = [0u8; 5];
    stream.read_exact(&mut back)?;
    check(&back == b"hello", "its bytes go through after the heal")?;
    Ok(())
}

fn a_cut_link_holds_back_a_fast_sender() -> Result<(), Failed> {
    let proxy = LatencyProxy::start(echo_server(), LinkShape::default())?;
    let mut stream = connect(&proxy);
    proxy.cut();
    stream.set_write_timeout(Some(Duration::from_secs(3)))?;
    let chunk = vec![7u8; 1 << 20];
    let mut written = 0usize;
    let blocked = loop {
        match stream.write(&chunk) {
            Ok(n) => written += n,
            Err(e) => break matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
        if written >= 512 << 20 {
            break false;
        }
    };
    check(
        blocked,
        &format!("the sender blocks once buffers fill (it wrote {written} bytes)"),
    )?;
    check(
        written < 128 << 20,
        &format!("at most the bounded buffers were taken: {written} bytes"),
    )?;
    Ok(())
}

fn connections_close_with_the_proxy() -> Result<(), Failed> {
    let proxy = LatencyProxy::start(echo_server(), LinkShape::default())?;
    let mut stream = connect(&proxy);
    check(echo(&mut stream, b"x")? == b"x", "echo")?;
    drop(proxy);
    let mut byte = [0u8; 1];
    let closed = match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    };
    check(closed, "the client's connection ends when the proxy stops")?;
    Ok(())
}

/// A worker behind a 10 ms round trip: once its round trip and task time are measured its
/// window goes past the fixed one (16 tasks for 1 thread), and every result is right.
fn window_widens_over_a_slow_link() -> Result<(), Failed> {
    let proxy = Arc::new(LatencyProxy::bind(LinkShape::delay(
        Duration::from_millis(5),
    ))?);
    let route = proxy.clone();
    let cluster = LocalCluster::builder()
        .workers(1)
        .threads_per_worker(1)
        .dashboard(false)
        .worker_route(move |center| {
            route.forward_to(center);
            route.addr()
        })
        .start()?;
    let executor = cluster.executor()?;
    check(
        proxy.open_connections() >= 1,
        "the worker came through the proxy",
    )?;
    let fixed = taskforce::scheduler::SchedulerConfig::default().saturation(1) as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut widest = 0u64;
    let mut round = 0i64;
    while widest <= fixed && Instant::now() < deadline {
        let futures = executor.map_impure(inc, round * 20_000..(round + 1) * 20_000)?;
        while widest <= fixed && !futures.iter().all(|f| f.done()) && Instant::now() < deadline {
            let info = executor.cluster_info()?;
            widest = widest.max(info.workers.iter().map(|w| w.processing).max().unwrap_or(0));
        }
        let values = executor.gather(&futures)?;
        let start = round * 20_000;
        check(
            values
                .iter()
                .enumerate()
                .all(|(i, v)| *v == start + i as i64 + 1),
            "every result right",
        )?;
        round += 1;
    }
    check(
        widest > fixed,
        &format!("a worker had more than {fixed} tasks in flight (the most seen: {widest})"),
    )?;
    Ok(())
}

fn main() {
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test("delay_is_added_each_way", delay_is_added_each_way),
        Trial::test("order_is_kept_under_jitter", order_is_kept_under_jitter),
        Trial::test(
            "cut_holds_traffic_and_heal_delivers_it",
            cut_holds_traffic_and_heal_delivers_it,
        ),
        Trial::test(
            "clients_during_a_cut_wait_for_the_heal",
            clients_during_a_cut_wait_for_the_heal,
        ),
        Trial::test(
            "a_cut_link_holds_back_a_fast_sender",
            a_cut_link_holds_back_a_fast_sender,
        ),
        Trial::test(
            "connections_close_with_the_proxy",
            connections_close_with_the_proxy,
        ),
        Trial::test(
            "window_widens_over_a_slow_link",
            window_widens_over_a_slow_link,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
