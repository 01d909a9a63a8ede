//! Helpers for tests that run the real `taskforce` binary: start processes, read their logs,
//! wait for lines with timeouts, and never leave a process behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A generous limit for anything a healthy cluster does in well under a second.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The binary under test.
pub fn taskforce_bin() -> &'static str {
    env!("CARGO_BIN_EXE_taskforce")
}

#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

/// A child process whose stderr is collected line by line. Killed (with its group) on drop.
pub struct Proc {
    name: String,
    child: Child,
    log: Arc<Log>,
}

impl Proc {
    /// Starts `taskforce ARGS` with logs at info level and no colour.
    pub fn start(name: &str, args: &[&str]) -> Proc {
        Self::start_program(std::path::Path::new(taskforce_bin()), name, args)
    }

    /// Starts `PROGRAM ARGS` (a binary that serves the taskforce CLI) the same way.
    pub fn start_program(program: &std::path::Path, name: &str, args: &[&str]) -> Proc {
        Self::start_with_env(program, name, args, &[])
    }

    /// Like [`Proc::start_program`], with variables added to the environment.
    pub fn start_with_env(
        program: &std::path::Path,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Proc {
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start taskforce");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Log::default());
        let sink = log.clone();
        let tag = name.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                sink.lines
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(line);
                sink.grew.notify_all();
            }
        });
        Proc {
            name: name.into(),
            child,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `count` log lines contain `needle`; returns the last of them.
    pub fn wait_for_nth(&self, needle: &str, count: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut lines = self.log.lines.lock().unwrap();
        loop {
            let matching: Vec<&String> = lines.iter().filter(|l| l.contains(needle)).collect();
            if matching.len() >= count {
                return matching[count - 1].clone();
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "{}: no {count}× {needle:?} within {timeout:?}; log:\n{}",
                self.name,
                lines.join("\n")
            );
            lines = self.log.grew.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_for_nth(needle, 1, PATIENCE)
    }

    /// How many log lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        let lines = self.log.lines.lock().unwrap();
        lines.iter().filter(|l| l.contains(needle)).count()
    }

    /// Sends a signal.
    pub fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
    }

    /// Waits for the process to exit; returns its exit code (None if killed by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Extracts `key=value` from a log line (tracing's field format).
pub fn field(line: &str, key: &str) -> String {
    let start = line
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        + key.len()
        + 1;
    line[start..].split_whitespace().next().unwrap().to_string()
}

/// The address after "Start center at " / "Start worker at ".
pub fn started_at(line: &str) -> String {
    let after = line.split(" at ").nth(1).expect("an address after ' at '");
    after
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Starts a center on an ephemeral port of 127.0.0.1; returns it and its address.
pub fn start_center(extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["center", "--host", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let center = Proc::start("center", &args);
    let addr = started_at(&center.wait_for("Start center at"));
    (center, addr)
}

/// Starts a worker of `center` on 127.0.0.1 with `extra` flags.
pub fn start_worker(name: &str, center: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["worker", center, "--host", "127.0.0.1", "--nthreads", "1"];
    args.extend_from_slice(extra);
    Proc::start(name, &args)
}

/// A center of `program` (a test binary that serves `center`) on an ephemeral port of
/// 127.0.0.1, its dashboard on another, with `extra` flags; returns it and its address.
pub fn program_center(program: &std::path::Path, extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["center", "--host", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(&["--dashboard-port", "0"]);
    args.extend_from_slice(extra);
    let center = Proc::start_program(program, "center", &args);
    let addr = started_at(&center.wait_for("Start center at "));
    (center, addr)
}

/// A worker of `program` named `name` on 127.0.0.1, with `extra` flags, registered with
/// `center`.
pub fn program_worker(program: &std::path::Path, center: &str, name: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["worker", center, "--host", "127.0.0.1", "--name", name];
    args.extend_from_slice(extra);
    let worker = Proc::start_program(program, name, &args);
    worker.wait_for("Registered with center at");
    worker
}

/// A center and named workers of `program` (a test binary that serves `center` and
/// `worker`) on 127.0.0.1 ephemeral ports, each worker registered: (center, its address,
/// workers).
pub fn program_cluster(
    program: &std::path::Path,
    workers: &[&str],
    nthreads: &str,
) -> (Proc, String, Vec<Proc>) {
    let args = [
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dashboard-port",
        "0",
        "--allow-restart",
    ];
    let center = Proc::start_program(program, "center", &args);
    let addr = started_at(&center.wait_for("Start center at "));
    let workers = workers
        .iter()
        .map(|name| {
            let args = [
                "worker",
                &addr,
                "--host",
                "127.0.0.1",
                "--nthreads",
                nthreads,
            ];
            let worker = Proc::start_program(program, name, &args);
            worker.wait_for("Registered with center at");
            worker
        })
        .collect();
    (center, addr, workers)
}

/// In a test binary that is also the cluster's program: serves the role its arguments name
/// (`center …` or `worker …`, as `taskforce::cli` parses them) and returns `true`; returns
/// `false` when run as the test harness.
pub fn serve_role_if_asked() -> bool {
    if !matches!(
        std::env::args().nth(1).as_deref(),
        Some("center" | "worker")
    ) {
        return false;
    }
    taskforce::cli::main().expect("taskforce role");
    true
}

/// `Ok` if `condition` holds, else a failure saying `what` was expected.
pub fn check(condition: bool, what: &str) -> Result<(), libtest_mimic::Failed> {
    if condition {
        Ok(())
    } else {
        Err(what.into())
    }
}
