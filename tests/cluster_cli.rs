//! Multi-process tests of the cluster skeleton: the built `taskforce` binary as center,
//! workers and nannies on 127.0.0.1, with real kills and real garbage on the port.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{field, start_center, start_worker, PATIENCE};

#[test]
fn center_and_two_workers_register() {
    let (center, addr) = start_center(&[]);
    let w1 = start_worker("w1", &addr, &[]);
    let w2 = start_worker("w2", &addr, &["--no-nanny", "--memory-limit", "1GiB"]);
    for worker in [&w1, &w2] {
        worker.wait_for("Start worker at 127.0.0.1:");
        worker.wait_for(&format!("Registered with center at: {addr}"));
    }
    center.wait_for_nth("Register worker at", 2, PATIENCE);
    assert!(center
        .wait_for("memory_limit=1073741824")
        .contains("nthreads=1"));
}

#[test]
fn nanny_restarts_a_killed_worker() {
    let (center, addr) = start_center(&[]);
    let nanny = start_worker("nanny", &addr, &[]);
    let first = field(&nanny.wait_for("Started worker process"), "pid");
    center.wait_for_nth("Register worker at", 1, PATIENCE);

    let killed_at = Instant::now();
    kill(Pid::from_raw(first.parse().unwrap()), Signal::SIGKILL).unwrap();

    nanny.wait_for("Worker process killed by signal SIGKILL; restarting");
    let second = field(
        &nanny.wait_for_nth("Started worker process", 2, PATIENCE),
        "pid",
    );
    assert_ne!(first, second);
    center.wait_for("Lost worker at");
    center.wait_for_nth("Register worker at", 2, PATIENCE);
    eprintln!(
        "new worker registered {:?} after the kill",
        killed_at.elapsed()
    );
    center.wait_for("Nanny reports its worker process killed by signal SIGKILL");
}

#[test]
fn nanny_gives_up_past_its_restart_budget() {
    let (center, addr) = start_center(&[]);
    let mut nanny = start_worker("nanny", &addr, &["--max-restarts", "1"]);
    center.wait_for("Nanny started a worker process");
    for round in 1..=2 {
        let line = nanny.wait_for_nth("Started worker process", round, PATIENCE);
        let pid: i32 = field(&line, "pid").parse().unwrap();
        kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    }
    let gave_up = nanny.wait_for("Nanny giving up");
    assert!(
        gave_up.contains("its worker killed by signal SIGKILL after 1 restarts within 60 s"),
        "{gave_up}"
    );
    assert_eq!(nanny.wait_exit(PATIENCE), Some(1));
    center.wait_for("Nanny gave up: its worker killed by signal SIGKILL after 1 restarts");
}

#[test]
fn sigterm_to_a_nanny_stops_its_worker_cleanly() {
    let (center, addr) = start_center(&[]);
    let mut nanny = start_worker("nanny", &addr, &[]);
    let child: i32 = field(&nanny.wait_for("Started worker process"), "pid")
        .parse()
        .unwrap();
    center.wait_for("Register worker at");
    nanny.signal(Signal::SIGTERM);
    assert_eq!(nanny.wait_exit(PATIENCE), Some(0));
    center.wait_for("Remove worker at");
    assert_eq!(
        center.count("Lost worker at"),
        0,
        "a clean exit is not a loss"
    );
    let deadline = Instant::now() + PATIENCE;
    while kill(Pid::from_raw(child), None).is_ok() {
        assert!(
            Instant::now() < deadline,
            "worker process {child} outlived its nanny"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pseudo_random_bytes(n: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn send_and_close(addr: &str, bytes: &[u8]) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut rest = Vec::new();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = stream.read_to_end(&mut rest);
}

#[test]
fn garbage_and_hostile_frames_leave_the_center_serving() {
    let (center, addr) = start_center(&[]);
    send_and_close(&addr, &pseudo_random_bytes(100_000));
    center.wait_for("not a taskforce peer");

    let mut four_gib_header = b"TFRC".to_vec();
    four_gib_header.extend_from_slice(&taskforce::messages::PROTOCOL_VERSION.to_le_bytes());
    four_gib_header.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    send_and_close(&addr, &four_gib_header);
    center.wait_for("header of 4294967295 bytes is over the limit");

    let mut truncated = b"TFRC".to_vec();
    truncated.extend_from_slice(&taskforce::messages::PROTOCOL_VERSION.to_le_bytes());
    truncated.extend_from_slice(&[40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    send_and_close(&addr, &truncated);

    let worker = start_worker("w1", &addr, &["--no-nanny"]);
    worker.wait_for("Registered with center at");
    center.wait_for("Register worker at");
}

#[test]
fn wrong_protocol_version_is_named_on_both_sides() {
    let (center, addr) = start_center(&[]);
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(b"TFRC\xe7\x03").unwrap();
    let mut theirs = [0_u8; 6];
    stream.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[..4], b"TFRC");
    let version = u16::from_le_bytes([theirs[4], theirs[5]]);
    assert_eq!(version, taskforce::messages::PROTOCOL_VERSION);
    center.wait_for("protocol version mismatch: peer speaks v999");
}

#[test]
fn worker_waits_for_a_late_center_and_rejoins_a_restarted_one() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let worker = start_worker("w1", &addr, &["--no-nanny"]);
    worker.wait_for("Start worker at");
    let port_arg = port.to_string();
    let args = ["center", "--host", "127.0.0.1", "--port", port_arg.as_str()];
    let mut center = support::Proc::start("center-1", &args);
    worker.wait_for_nth("Registered with center at", 1, PATIENCE);

    center.signal(Signal::SIGTERM);
    center.wait_exit(PATIENCE);
    worker.wait_for("Lost connection to center");
    let center = support::Proc::start("center-2", &args);
    worker.wait_for_nth("Registered with center at", 2, PATIENCE);
    center.wait_for("Register worker at");
}

#[test]
fn worker_with_death_timeout_exits_when_no_center_comes() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut worker = start_worker("w1", &addr, &["--no-nanny", "--death-timeout", "1s"]);
    assert_eq!(worker.wait_exit(PATIENCE), Some(1));
    worker.wait_for("unreachable");
}

/// A restart replaces every worker, also one no connected nanny watches (as a worker whose
/// nanny has not connected yet looks to the center, the race behind a flake of
/// `restart_forgets_everything_and_keeps_serving`): that one is told to shut down, and the
/// restart answers only once every old worker has left and the nanny's fresh one joined.
#[test]
fn restart_replaces_workers_no_known_nanny_watches() {
    let (center, addr) = start_center(&["--allow-restart"]);
    let _nanny = start_worker("nanny", &addr, &[]);
    let mut bare = start_worker("bare", &addr, &["--no-nanny"]);
    center.wait_for_nth("Register worker at", 2, PATIENCE);
    center.wait_for("Nanny started a worker process");
    let executor = taskforce::Executor::connect(&addr).expect("executor connects");
    let before: Vec<_> = executor.cluster_info().unwrap().workers;
    assert_eq!(before.len(), 2, "{before:?}");
    executor.restart().expect("restart");
    let after = executor.cluster_info().unwrap().workers;
    assert_eq!(
        after.len(),
        1,
        "only the nanny's worker comes back: {after:?}"
    );
    assert!(
        after
            .iter()
            .all(|w| before.iter().all(|old| old.id != w.id)),
        "fresh workers only: before {before:?}, after {after:?}"
    );
    assert!(bare.wait_exit(PATIENCE).is_some(), "the bare worker exits");
}
