//! A cluster started with a token, attacked as a stranger on the same network would: this
//! test binary serves as center and workers (so they carry its `#[remote]` functions), on
//! 127.0.0.1, with strangers that have no token, a wrong one, an oversized frame, another
//! protocol version, or 2,000 idle sockets. A custom main (libtest-mimic) lets the binary
//! serve those roles.

mod support;

use support::check;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use support::{started_at, Proc, PATIENCE};
use taskforce::messages::{Hello, Role, Token, TOKEN_ENV};
use taskforce::remote::connect::connect_once;
use taskforce::remote::ConnectOptions;
use taskforce::{remote, Executor};

const TOKEN: &str = "correct horse battery staple";

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn sum_all(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

fn exe() -> std::path::PathBuf {
    std::env::current_exe().expect("test binary")
}

/// A center of this binary on 127.0.0.1 holding `TOKEN` (given by environment).
fn token_center() -> (Proc, String) {
    let args = [
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dashboard-port",
        "0",
    ];
    let center = Proc::start_with_env(&exe(), "center", &args, &[(TOKEN_ENV, TOKEN)]);
    let addr = started_at(&center.wait_for("Start center at"));
    (center, addr)
}

fn worker(name: &str, center: &str, extra: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut args = vec!["worker", center, "--host", "127.0.0.1", "--nthreads", "1"];
    args.extend_from_slice(extra);
    Proc::start_with_env(&exe(), name, &args, env)
}

fn options(token: Option<&str>) -> ConnectOptions {
    let options = ConnectOptions {
        give_up_after: Some(PATIENCE),
        ..ConnectOptions::default()
    };
    match token {
        Some(token) => options.with_token(Token::new(token).expect("a token")),
        None => options,
    }
}

/// Futures and a small graph (a map, then a sum over its futures) on the cluster.
fn run_work(executor: &Executor) -> Result<(), Failed> {
    let one = executor.submit(inc, (1,))?;
    let two = executor.submit(inc, (&one,))?;
    check(two.result()? == 3, "inc(inc(1)) == 3")?;
    let xs = executor.map(inc, 0..100_i64)?;
    let total = executor.submit(sum_all, (&xs,))?;
    check(total.result()? == 5050, "sum of inc over 0..100 == 5050")
}

fn refused_executor(addr: &str, token: Option<&str>, expected: &str) -> Result<(), Failed> {
    match Executor::connect_with(addr, options(token)) {
        Ok(_) => Err(format!("an executor with token {token:?} was admitted").into()),
        Err(e) => {
            let words = e.to_string();
            eprintln!("executor with token {token:?}: {words}");
            check(
                words.contains(expected),
                &format!("{words:?} names {expected:?}"),
            )
        }
    }
}

/// A stranger on a peer port: its attempt to open a session (the only way to ask for a key).
fn stranger_on_peer_port(addr: &str, token: Option<&str>) -> Result<String, String> {
    let hello = Hello {
        role: Role::Peer,
        name: "stranger".into(),
        listen_addr: None,
        nthreads: 0,
        memory_limit: 0,
        pid: std::process::id(),
        functions: Vec::new(),
        resources: Default::default(),
    };
    let runtime = actix::System::new();
    runtime
        .block_on(connect_once(addr, &hello, &options(token)))
        .map(|connected| connected.server_name)
        .map_err(|e| e.to_string())
}

fn token_cluster_admits_its_own_and_refuses_strangers() -> Result<(), Failed> {
    let (center, addr) = token_center();
    let _nanny = worker("w-nanny", &addr, &[], &[(TOKEN_ENV, TOKEN)]);
    let flagged = worker("w-flag", &addr, &["--no-nanny", "--token", TOKEN], &[]);
    center.wait_for_nth("Register worker at", 2, PATIENCE);
    center.wait_for("Nanny started a worker process");
    let executor = Executor::connect_with(&addr, options(Some(TOKEN)))?;
    run_work(&executor)?;

    let failures = "authentication failed; connection closed";
    refused_executor(
        &addr,
        None,
        "this cluster requires a token and none was given",
    )?;
    center.wait_for_nth(failures, 1, PATIENCE);
    refused_executor(&addr, Some("guess"), "authentication failed: wrong token")?;
    center.wait_for_nth(failures, 2, PATIENCE);

    let mut stray = worker("w-stray", &addr, &["--no-nanny", "--token", "guess"], &[]);
    stray.wait_for("authentication failed: wrong token");
    check(
        stray.wait_exit(PATIENCE) == Some(1),
        "a refused worker exits 1",
    )?;
    center.wait_for_nth(failures, 3, PATIENCE);
    let stray_nanny = worker("n-stray", &addr, &[], &[]);
    stray_nanny.wait_for("this cluster requires a token and none was given");
    center.wait_for_nth(failures, 4, PATIENCE);

    let peer_port = started_at(&flagged.wait_for("Start worker at"));
    for token in [None, Some("guess")] {
        let refused = stranger_on_peer_port(&peer_port, token);
        eprintln!("stranger on the peer port with {token:?}: {refused:?}");
        let words = refused.err().unwrap_or_default();
        check(words.contains("authentication failed"), "peer refused")?;
    }
    flagged.wait_for_nth(failures, 2, PATIENCE);
    check(
        stranger_on_peer_port(&peer_port, Some(TOKEN)).is_ok(),
        "a peer with the token is admitted",
    )?;

    run_work(&executor)?;
    check(
        executor.cluster_info()?.workers.len() == 2,
        "the two real workers remain",
    )
}

fn rss_kib(pid: u32) -> u64 {
    memory_kib(pid, "VmRSS:")
}

/// Sends `bytes` after a real preamble, and returns how long the server took to close.
fn send_after_preamble(addr: &str, bytes: &[u8]) -> Duration {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut wire = b"TFRC".to_vec();
    wire.extend_from_slice(&taskforce::messages::PROTOCOL_VERSION.to_le_bytes());
    wire.extend_from_slice(bytes);
    let started = Instant::now();
    stream.write_all(&wire).expect("writes");
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
    started.elapsed()
}

fn oversized_frames_before_authentication_are_cut_off() -> Result<(), Failed> {
    let (center, addr) = token_center();
    let before = rss_kib(center.pid());
    // A 2 GiB header, then one 2 GiB data frame after a small header.
    let header = [0, 0, 0, 0x80, 0, 0, 0, 0];
    let mut frame = vec![16, 0, 0, 0, 1, 0, 0, 0];
    frame.extend_from_slice(&(2_u64 << 30).to_le_bytes());
    let header_cut = send_after_preamble(&addr, &header);
    let frame_cut = send_after_preamble(&addr, &frame);
    center.wait_for("header of 2147483648 bytes is over the limit of 65536 bytes");
    center.wait_for("1 data frames announced, over the limit of 0");
    let after = rss_kib(center.pid());
    eprintln!(
        "center RSS {before} KiB -> {after} KiB; closed after {header_cut:?} (2 GiB header) \
         and {frame_cut:?} (2 GiB frame)"
    );
    check(after < before + 8 * 1024, "RSS grew less than 8 MiB")?;
    let executor = Executor::connect_with(&addr, options(Some(TOKEN)))?;
    check(executor.cluster_info().is_ok(), "the center still serves")
}

fn another_protocol_version_is_named_on_the_client() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr: SocketAddr = listener.local_addr()?;
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accepts");
        let _ = stream.write_all(b"TFRC\xe7\x03");
        let mut theirs = [0_u8; 6];
        let _ = stream.read_exact(&mut theirs);
    });
    let refused = Executor::connect_with(&addr.to_string(), options(Some(TOKEN)));
    let words = refused.err().map(|e| e.to_string()).unwrap_or_default();
    eprintln!("client of a v999 server: {words}");
    let _ = server.join();
    check(
        words.contains("protocol version mismatch: peer speaks v999"),
        "the client names the version",
    )
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Raises this process's soft limit of open files to `wanted` (or the hard limit, if lower),
/// so the test can hold its sockets; returns the soft limit now in force.
fn raise_fd_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur
}

fn idle_strangers_do_not_lock_out_real_clients() -> Result<(), Failed> {
    let soft = raise_fd_limit(4096);
    check(
        soft >= 2100,
        &format!("room for 2,000 sockets (soft limit {soft})"),
    )?;
    let (center, addr) = token_center();
    let idle: Vec<TcpStream> = (0..2000)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    check(idle.len() == 2000, "2,000 sockets open")?;
    center.wait_for("connections in their handshake; dropping the oldest");
    let fds = open_fds(center.pid());
    let _worker = worker("w", &addr, &["--no-nanny"], &[(TOKEN_ENV, TOKEN)]);
    center.wait_for("Register worker at");
    let started = Instant::now();
    let executor = Executor::connect_with(&addr, options(Some(TOKEN)))?;
    check(
        executor.submit(inc, (41,))?.result()? == 42,
        "inc(41) == 42",
    )?;
    eprintln!(
        "2,000 idle strangers: center holds {fds} fds; a worker registered and an executor \
         connected and ran a task in {:?}",
        started.elapsed()
    );
    check(fds < 400, "the center holds a bounded number of sockets")
}

#[remote]
fn big(mib: usize) -> Vec<f64> {
    vec![1.0; mib << 17]
}

fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A peer with the token (an insider misbehaving) asks for a 64 MiB value 40 times and never
/// reads: the worker's send-queue bound (512 MiB) closes that session.
fn a_peer_that_asks_and_never_reads_is_cut_off() -> Result<(), Failed> {
    use taskforce::messages::peer_link::PeerToWorker;
    use taskforce::messages::{codec, Envelope, Packet, Tag};
    let (_center, addr) = token_center();
    let worker = worker("w", &addr, &["--no-nanny"], &[(TOKEN_ENV, TOKEN)]);
    let peer_port = started_at(&worker.wait_for("Start worker at"));
    let executor = Executor::connect_with(&addr, options(Some(TOKEN)))?;
    let value = executor.submit(big, (64,))?;
    check(value.result()?.len() == 64 << 17, "a 64 MiB value")?;
    let (rss_before, peak_before) = (
        memory_kib(worker.pid(), "VmRSS:"),
        memory_kib(worker.pid(), "VmHWM:"),
    );
    let hello = Hello {
        role: Role::Peer,
        name: "greedy".into(),
        listen_addr: None,
        nthreads: 0,
        memory_limit: 0,
        pid: std::process::id(),
        functions: Vec::new(),
        resources: Default::default(),
    };
    let system = actix::System::new();
    let connected = system.block_on(connect_once(&peer_port, &hello, &options(Some(TOKEN))))?;
    let remote::LinkStream::Plain(stream) = connected.stream else {
        return Err("a plain connection".into());
    };
    let mut stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    let mut asks = Vec::new();
    for tag in 1..=40 {
        let packet = Packet {
            tag: Tag::Ask(tag),
            body: PeerToWorker::GetData(vec![value.key().clone()]),
        };
        Envelope::new(codec::encode(&packet)?).put_all(&mut asks);
    }
    stream.write_all(&asks)?;
    worker.wait_for("send queue bound reached");
    let (rss_after, peak_after) = (
        memory_kib(worker.pid(), "VmRSS:"),
        memory_kib(worker.pid(), "VmHWM:"),
    );
    eprintln!(
        "40 asks for 64 MiB, never read: worker RSS {rss_before} KiB -> {rss_after} KiB, peak \
         {peak_before} KiB -> {peak_after} KiB (+{} MiB)",
        peak_after.saturating_sub(peak_before) / 1024
    );
    check(
        executor.submit(inc, (1,))?.result()? == 2,
        "the worker serves on",
    )?;
    check(
        peak_after < peak_before + 600 * 1024,
        "peak grew less than the 512 MiB bound plus a value",
    )
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "token_cluster_admits_its_own_and_refuses_strangers",
            token_cluster_admits_its_own_and_refuses_strangers,
        ),
        Trial::test(
            "oversized_frames_before_authentication_are_cut_off",
            oversized_frames_before_authentication_are_cut_off,
        ),
        Trial::test(
            "another_protocol_version_is_named_on_the_client",
            another_protocol_version_is_named_on_the_client,
        ),
        Trial::test(
            "a_peer_that_asks_and_never_reads_is_cut_off",
            a_peer_that_asks_and_never_reads_is_cut_off,
        ),
        Trial::test(
            "idle_strangers_do_not_lock_out_real_clients",
            idle_strangers_do_not_lock_out_real_clients,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
