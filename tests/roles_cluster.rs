//! Roles and ownership on a cluster of processes, tried as a stranger or a misbehaving
//! insider would: a stranger announcing a 1 GiB frame before authenticating, a worker
//! claiming a live worker's address, a worker forging reports about tasks it was never given,
//! and a client restarting a cluster that does not allow it. This test binary serves as
//! center and workers (so they carry its `#[remote]` functions), on 127.0.0.1; a custom main
//! (libtest-mimic) lets it serve those roles.

mod support;

use support::check;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use support::{started_at, Proc, PATIENCE};
use taskforce::function::EncodedValue;
use taskforce::ids::{TaskKey, WorkerId};
use taskforce::messages::center_link::{TaskEvent, WorkerToCenter};
use taskforce::messages::{codec, Envelope, Hello, Packet, Role, Tag, Token, TOKEN_ENV};
use taskforce::remote::connect::connect_once;
use taskforce::remote::ConnectOptions;
use taskforce::{remote, Executor};

const TOKEN: &str = "roles and ownership";

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn slow_inc(x: i64, millis: u64) -> i64 {
    std::thread::sleep(Duration::from_millis(millis));
    x + 1
}

fn exe() -> std::path::PathBuf {
    std::env::current_exe().expect("test binary")
}

/// A center of this binary on 127.0.0.1 holding `TOKEN`, with `extra` flags.
fn center(extra: &[&str]) -> (Proc, String) {
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
    let center = Proc::start_with_env(&exe(), "center", &args, &[(TOKEN_ENV, TOKEN)]);
    let addr = started_at(&center.wait_for("Start center at"));
    (center, addr)
}

/// A worker of this binary (no nanny) registered with `center`; its peer address.
fn worker(name: &str, center: &str) -> (Proc, String) {
    let args = [
        "worker",
        center,
        "--host",
        "127.0.0.1",
        "--nthreads",
        "1",
        "--no-nanny",
        "--name",
        name,
    ];
    let worker = Proc::start_with_env(&exe(), name, &args, &[(TOKEN_ENV, TOKEN)]);
    let addr = started_at(&worker.wait_for("Start worker at"));
    worker.wait_for("Registered with center at");
    (worker, addr)
}

fn executor(addr: &str) -> Result<Executor, Failed> {
    let options = ConnectOptions {
        give_up_after: Some(PATIENCE),
        ..ConnectOptions::default()
    }
    .with_token(Token::new(TOKEN).expect("a token"));
    Ok(Executor::connect_with(addr, options)?)
}

fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Connects without the token, sends a preamble and `prefix`, then streams zeros until the
/// server closes (at most 64 MiB). Returns the bytes it took and how long it took to close.
fn stranger_streams(addr: &str, prefix: &[u8]) -> (usize, Duration) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_write_timeout(Some(PATIENCE))
        .expect("write timeout");
    let mut wire = b"TFRC".to_vec();
    wire.extend_from_slice(&taskforce::messages::PROTOCOL_VERSION.to_le_bytes());
    wire.extend_from_slice(prefix);
    let started = Instant::now();
    let mut sent = 0;
    if stream.write_all(&wire).is_ok() {
        let chunk = vec![0_u8; 1 << 20];
        while sent < 64 << 20 {
            match stream.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
    }
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
    (sent, started.elapsed())
}

fn a_stranger_announcing_a_gib_frame_leaves_the_center_flat() -> Result<(), Failed> {
    let (center, addr) = center(&[]);
    let pid = center.pid();
    let (rss_before, peak_before) = (memory_kib(pid, "VmRSS:"), memory_kib(pid, "VmHWM:"));
    let gib = 1_u32 << 30;
    let mut header = gib.to_le_bytes().to_vec();
    header.extend_from_slice(&0_u32.to_le_bytes());
    let mut frame = vec![16, 0, 0, 0, 1, 0, 0, 0];
    frame.extend_from_slice(&u64::from(gib).to_le_bytes());
    let (header_took, header_cut) = stranger_streams(&addr, &header);
    let (frame_took, frame_cut) = stranger_streams(&addr, &frame);
    center.wait_for("header of 1073741824 bytes is over the limit of 65536 bytes");
    center.wait_for("1 data frames announced, over the limit of 0");
    let (rss_after, peak_after) = (memory_kib(pid, "VmRSS:"), memory_kib(pid, "VmHWM:"));
    eprintln!(
        "FIGURE 1 GiB stranger frames: center RSS {rss_before} KiB -> {rss_after} KiB, peak \
         {peak_before} KiB -> {peak_after} KiB; 1 GiB header cut after {header_took} bytes \
         streamed in {header_cut:?}, 1 GiB data frame after {frame_took} bytes in {frame_cut:?}"
    );
    check(
        peak_after < peak_before + 8 * 1024,
        "the center's peak RSS grew less than 8 MiB",
    )?;
    let (_worker, _) = worker("w1", &addr);
    let executor = executor(&addr)?;
    check(
        executor.submit(inc, (41,))?.result()? == 42,
        "the center still serves",
    )
}

fn hello(name: &str, listen_addr: SocketAddr) -> Hello {
    Hello {
        role: Role::Worker,
        name: name.into(),
        listen_addr: Some(listen_addr),
        nthreads: 1,
        memory_limit: 0,
        pid: std::process::id(),
        functions: Vec::new(),
        resources: Default::default(),
    }
}

fn options() -> ConnectOptions {
    ConnectOptions {
        give_up_after: Some(PATIENCE),
        ..ConnectOptions::default()
    }
    .with_token(Token::new(TOKEN).expect("a token"))
}

fn a_worker_claiming_a_live_workers_address_is_refused() -> Result<(), Failed> {
    let (center, addr) = center(&[]);
    let (_w1, w1_addr) = worker("w1", &addr);
    let claimed: SocketAddr = w1_addr.parse()?;
    let system = actix::System::new();
    let refused = system.block_on(connect_once(&addr, &hello("impostor", claimed), &options()));
    let words = match refused {
        Ok(_) => return Err("the impostor was admitted".into()),
        Err(e) => e.to_string(),
    };
    eprintln!("impostor at {claimed}: {words}");
    check(
        words.contains("cannot take over another's address") && words.contains("(w1)"),
        &format!("the refusal names the taken address: {words}"),
    )?;
    center.wait_for("Refusing worker registration");
    let executor = executor(&addr)?;
    let workers = executor.cluster_info()?.workers;
    check(
        workers.len() == 1 && workers[0].name == "w1",
        &format!("w1 stays the only worker: {workers:?}"),
    )?;
    check(
        executor.submit(inc, (1,))?.result()? == 2,
        "w1 still computes",
    )
}

/// The blocking socket under a plain (not TLS) connection.
fn plain_std(stream: taskforce::remote::LinkStream) -> Result<TcpStream, Failed> {
    let taskforce::remote::LinkStream::Plain(stream) = stream else {
        return Err("a plain connection".into());
    };
    Ok(stream.into_std()?)
}

/// Registers as a worker with no functions (so it is given nothing) at a port of its own.
fn forger(center: &str) -> Result<(TcpStream, TcpListener), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let system = actix::System::new();
    let hello = hello("forger", listener.local_addr()?);
    let connected = system.block_on(connect_once(center, &hello, &options()))?;
    let stream = plain_std(connected.stream)?;
    stream.set_nonblocking(false)?;
    Ok((stream, listener))
}

fn forged_value() -> EncodedValue {
    EncodedValue {
        type_name: Arc::from(std::any::type_name::<i64>()),
        bytes: codec::encode(&666_i64).expect("encodes").into(),
        raw: false,
    }
}

fn send_events(stream: &mut TcpStream, events: Vec<TaskEvent>) -> Result<(), Failed> {
    let packet = Packet {
        tag: Tag::Tell,
        body: WorkerToCenter::TaskEvents(events),
    };
    let mut wire = Vec::new();
    Envelope::new(codec::encode(&packet)?).put_all(&mut wire);
    stream.write_all(&wire)?;
    Ok(())
}

fn forged_reports_are_ignored() -> Result<(), Failed> {
    let (center, addr) = center(&[]);
    let (_w1, _) = worker("w1", &addr);
    let executor = executor(&addr)?;
    let held = executor.submit(inc, (1,))?;
    check(held.result()? == 2, "inc(1) == 2")?;
    let running = executor.submit(slow_inc, (7, 1500_u64))?;
    let (mut stream, _listener) = forger(&addr)?;
    center.wait_for_nth("Register worker at", 2, PATIENCE);
    let w1 = executor.cluster_info()?.workers[0].id;
    let finished = |key: &TaskKey| TaskEvent::Finished {
        key: key.clone(),
        nbytes: 8,
        inline: Some(forged_value()),
    };
    let events = vec![
        finished(running.key()),
        finished(held.key()),
        TaskEvent::MissingDependency {
            key: "never-given".into(),
            dependency: held.key().clone(),
            holder: w1,
        },
    ];
    send_events(&mut stream, events)?;
    center.wait_for_nth("Ignored a worker's report", 3, PATIENCE);
    check(
        running.result()? == 8,
        "the real result, not the forged 666",
    )?;
    let again = executor.submit(inc, (&held,))?;
    check(again.result()? == 3, "w1 kept its copy of inc(1)")?;
    let workers = executor.cluster_info()?.workers;
    let holds = |id: WorkerId| {
        workers
            .iter()
            .find(|w| w.id == id)
            .map(|w| w.keys_in_memory)
    };
    let forger_id = workers.iter().find(|w| w.name == "forger").map(|w| w.id);
    let held_by: Vec<_> = workers
        .iter()
        .map(|w| (&w.name, w.keys_in_memory))
        .collect();
    eprintln!("keys in memory after the forgery: {held_by:?}");
    check(
        forger_id.and_then(holds) == Some(0),
        "the forger holds nothing",
    )?;
    check(holds(w1) >= Some(3), "w1 holds all three results")
}

/// An insider on w1's peer port (the token, the peer role) tries to overwrite a computed
/// value with a scatter of its own under the same key: w1 keeps the computed one.
fn a_peer_cannot_overwrite_a_workers_value() -> Result<(), Failed> {
    use taskforce::messages::peer_link::{split_value, PeerToWorker};
    let (_center, addr) = center(&[]);
    let (_w1, w1_addr) = worker("w1", &addr);
    let executor = executor(&addr)?;
    let held = executor.submit(inc, (1,))?;
    check(held.result()? == 2, "inc(1) == 2")?;
    let mut peer = hello("insider", "127.0.0.1:9".parse()?);
    peer.role = Role::Peer;
    let system = actix::System::new();
    let connected = system.block_on(connect_once(&w1_addr, &peer, &options()))?;
    let mut stream = plain_std(connected.stream)?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let (meta, bytes) = split_value(forged_value());
    let packet = Packet {
        tag: Tag::Ask(1),
        body: PeerToWorker::PutData(vec![(held.key().clone(), meta)]),
    };
    let mut envelope = Envelope::new(codec::encode(&packet)?);
    envelope.frames = vec![bytes];
    let mut wire = Vec::new();
    envelope.put_all(&mut wire);
    stream.write_all(&wire)?;
    let mut answer = [0_u8; 8];
    stream.read_exact(&mut answer)?;
    check(
        executor.submit(inc, (&held,))?.result()? == 3,
        "inc(inc(1)) == 3 on w1's own value, not 667",
    )
}

fn restart_is_refused_unless_the_cluster_allows_it() -> Result<(), Failed> {
    let (center, addr) = center(&[]);
    let (_w1, _) = worker("w1", &addr);
    let executor = executor(&addr)?;
    let kept = executor.submit(inc, (1,))?;
    check(kept.result()? == 2, "inc(1) == 2")?;
    let before = executor.cluster_info()?.workers;
    let refused = executor.restart();
    let words = refused.as_ref().err().map(|e| e.to_string());
    eprintln!("restart without --allow-restart: {words:?}");
    check(
        matches!(&refused, Err(taskforce::Error::Refused { operation, .. }) if operation == "restart"),
        "a Refused error naming the restart",
    )?;
    check(
        words.is_some_and(|w| w.contains("--allow-restart")),
        "the error says how to allow it",
    )?;
    center.wait_for("Refusing restart");
    check(
        executor.submit(inc, (&kept,))?.result()? == 3,
        "the futures survive",
    )?;
    let after = executor.cluster_info()?.workers;
    check(
        before
            .iter()
            .map(|w| (w.id, w.pid))
            .eq(after.iter().map(|w| (w.id, w.pid))),
        "the same worker process serves",
    )
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "a_stranger_announcing_a_gib_frame_leaves_the_center_flat",
            a_stranger_announcing_a_gib_frame_leaves_the_center_flat,
        ),
        Trial::test(
            "a_worker_claiming_a_live_workers_address_is_refused",
            a_worker_claiming_a_live_workers_address_is_refused,
        ),
        Trial::test("forged_reports_are_ignored", forged_reports_are_ignored),
        Trial::test(
            "a_peer_cannot_overwrite_a_workers_value",
            a_peer_cannot_overwrite_a_workers_value,
        ),
        Trial::test(
            "restart_is_refused_unless_the_cluster_allows_it",
            restart_is_refused_unless_the_cluster_allows_it,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
