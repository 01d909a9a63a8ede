//! The built binary's answers to mistakes a new user makes: a center that is not there, a
//! death timeout, a bad host, a port in use, no threads, an absurd memory limit. Each test
//! asserts the exact words.

mod support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{taskforce_bin, Proc, PATIENCE};

/// Runs `taskforce ARGS` to its end; returns its exit code and stderr.
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(taskforce_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run taskforce");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

/// A port nothing listens on (bound, read, released).
fn closed_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

#[test]
fn worker_logs_each_retry_and_gives_up_at_the_death_timeout() {
    let center = format!("127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let args = [
        "worker",
        center.as_str(),
        "--host",
        "127.0.0.1",
        "--no-nanny",
        "--death-timeout",
        "3s",
    ];
    let mut worker = Proc::start("w1", &args);
    assert_eq!(worker.wait_exit(PATIENCE), Some(1));
    let lived = started.elapsed();
    assert!(lived >= Duration::from_secs(3), "gave up after {lived:?}");
    let retry = worker.wait_for("retrying");
    assert!(retry.contains("WARN"), "{retry}");
    let refused = format!(
        "Center at {center} unreachable: i/o error: Connection refused (os error 111); retrying"
    );
    assert!(retry.contains(&refused), "{retry}");
    assert!(worker.count(&refused) >= 3, "too few retries logged");
    let last = worker.wait_for("closing");
    let reason = format!("Center at {center} unreachable for 3.0s (death timeout 3s); closing: i/o error: Connection refused (os error 111)");
    assert!(last.contains("ERROR") && last.contains(&reason), "{last}");
}

#[test]
fn a_host_not_of_this_machine_is_refused() {
    let (code, stderr) = run_to_exit(&["worker", "127.0.0.1:1", "--host", "10.254.254.254"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr.trim(),
        "error: cannot listen on 10.254.254.254: not an address of this machine \
         (Cannot assign requested address (os error 99))"
    );
}

#[test]
fn a_port_in_use_is_named() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let expected = format!("error: port {port} is already in use");
    let center = ["center", "--host", "127.0.0.1", "--port", port.as_str()];
    let (code, stderr) = run_to_exit(&center);
    assert_eq!((code, stderr.trim()), (Some(1), expected.as_str()));
    let worker = [
        "worker",
        "127.0.0.1:1",
        "--host",
        "127.0.0.1",
        "--port",
        port.as_str(),
    ];
    let (code, stderr) = run_to_exit(&worker);
    assert_eq!((code, stderr.trim()), (Some(1), expected.as_str()));
}

/// The first line of a flag error (clap adds a hint after it).
fn flag_error(args: &[&str]) -> String {
    let (code, stderr) = run_to_exit(args);
    assert_eq!(code, Some(2), "{stderr}");
    stderr.lines().next().unwrap_or_default().to_string()
}

#[test]
fn zero_threads_are_refused() {
    assert_eq!(
        flag_error(&["worker", "127.0.0.1:1", "--nthreads", "0"]),
        "error: invalid value '0' for '--nthreads <NTHREADS>': a worker needs at least 1 \
         thread to run tasks"
    );
}

#[test]
fn absurd_memory_limits_are_refused() {
    assert_eq!(
        flag_error(&["worker", "127.0.0.1:1", "--memory-limit", "0"]),
        "error: invalid value '0' for '--memory-limit <MEMORY_LIMIT>': a memory limit of 0 \
         bytes leaves no room for any value"
    );
    let huge = flag_error(&["worker", "127.0.0.1:1", "--memory-limit", "100PiB"]);
    let expected = "error: invalid value '100PiB' for '--memory-limit <MEMORY_LIMIT>': \
                    100.0 PiB is more than 1000 times this machine's memory (";
    assert!(huge.starts_with(expected), "{huge}");
    assert_eq!(
        flag_error(&["worker", "127.0.0.1:1", "--memory-target", "1.5"]),
        "error: invalid value '1.5' for '--memory-target <MEMORY_TARGET>': expected a \
         fraction above 0 and at most 1, got 1.5"
    );
}

#[test]
fn token_files_and_tls_files_that_cannot_serve_are_named() {
    let dir = std::env::temp_dir().join(format!("taskforce-cli-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("no-token");
    let empty = dir.join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let missing_text = missing.display().to_string();
    let (code, stderr) = run_to_exit(&["center", "--port", "0", "--token-file", &missing_text]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read the token file {missing_text}")),
        "{stderr}"
    );
    let empty_text = empty.display().to_string();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stderr) = run_to_exit(&["center", "--port", "0", "--token-file", &empty_text]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("the token file {empty_text} is empty")),
        "{stderr}"
    );
    let no_cert = dir.join("no-cert.pem").display().to_string();
    let key = dir.join("no-key.pem").display().to_string();
    let args = [
        "center",
        "--port",
        "0",
        "--tls-cert",
        &no_cert,
        "--tls-key",
        &key,
    ];
    let (code, stderr) = run_to_exit(&args);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: TLS setup failed: cannot read the certificate from {no_cert}"
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
