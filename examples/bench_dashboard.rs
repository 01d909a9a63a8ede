//! What watching costs: the throughput of trivial independent tasks on a local cluster of 2
//! single-thread workers with the dashboard off, on with nobody watching, on with its live
//! feed read (what an open page costs the cluster), and on with a browser attached (headless
//! Chromium showing the live page on this same machine, its rendering competing for the
//! cores), in alternating rounds so the machine's noise falls on every mode alike.
//!
//! `cargo run --release --example bench_dashboard [-- --tasks 50000 --rounds 5
//! --browser /usr/bin/chromium]`. Without Chromium the "browser" is a reader of the page's
//! live feed (the same snapshots, pushed at the same rate) and the output says so.
//!
//! Prints one JSON line per measurement and a summary of medians per mode.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use taskforce::remote;

mod support;
use support::{arg, flag};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Off,
    Unwatched,
    /// A reader of the live feed: what an open page costs the cluster when the browser
    /// renders on another machine, as it would for a person watching from a laptop.
    FeedRead,
    Browser,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Off => "dashboard off",
            Mode::Unwatched => "dashboard on, nobody watching",
            Mode::FeedRead => "dashboard on, feed read",
            Mode::Browser => "dashboard on, browser attached",
        }
    }
}

/// Something watching the page until dropped: Chromium, or a reader of the live feed.
enum Watcher {
    Chromium(Child, PathBuf),
    Feed {
        /// Left to end on its own once `stop` is set (its read times out within 5 s).
        _reader: std::thread::JoinHandle<()>,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    },
}

impl Drop for Watcher {
    fn drop(&mut self) {
        match self {
            Watcher::Chromium(child, profile) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(profile);
            }
            Watcher::Feed { stop, .. } => stop.store(true, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

fn watch(link: &str, token: &str, browser: Option<&str>) -> std::io::Result<Watcher> {
    if let Some(browser) = browser {
        let profile = std::env::temp_dir().join(format!("bench-dashboard-{}", std::process::id()));
        let child = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--remote-debugging-port=0",
            ])
            .arg("--window-size=1280,1000")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(link)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        return Ok(Watcher::Chromium(child, profile));
    }
    let authority = link
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = stop.clone();
    let mut stream = std::net::TcpStream::connect(&authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /events HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )?;
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
        }
    });
    Ok(Watcher::Feed {
        _reader: reader,
        stop,
    })
}

/// Live feeds the dashboard at `link` reports (its `taskforce_dashboard_feeds` gauge).
fn feeds_open(link: &str, token: &str) -> f64 {
    use std::io::Read;
    let authority = link
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    let Ok(mut stream) = std::net::TcpStream::connect(authority) else {
        return 0.0;
    };
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let mut body = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut body).is_err() {
        return 0.0;
    }
    body.lines()
        .find_map(|l| l.strip_prefix("taskforce_dashboard_feeds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn measure(mode: Mode, tasks: usize, browser: Option<&str>) -> taskforce::Result<f64> {
    let cluster = support::two_single_thread_workers()
        .dashboard(mode != Mode::Off)
        .start()?;
    let executor = cluster.executor()?;
    let _watcher = match (mode, cluster.dashboard_link()) {
        (Mode::Browser | Mode::FeedRead, Some(link)) => {
            let token = cluster.token().expose();
            let browser = browser.filter(|_| mode == Mode::Browser);
            let watcher = watch(link, token, browser).map_err(taskforce::Error::from)?;
            let deadline = Instant::now() + Duration::from_secs(60);
            while feeds_open(link, token) < 1.0 {
                if Instant::now() > deadline {
                    eprintln!("warning: the watcher never opened the live feed");
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Some(watcher)
        }
        _ => None,
    };
    let warm = executor.map(inc, 0..2_000_i64)?;
    executor.gather(&warm)?;
    drop(warm);
    let started = Instant::now();
    let futures = executor.map(inc, (0..tasks as i64).map(|i| i + 1_000_000))?;
    let values: Vec<i64> = executor.gather(&futures)?;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(values.len(), tasks);
    Ok(tasks as f64 / elapsed)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let tasks: usize = arg("--tasks", 50_000);
    let rounds: usize = arg("--rounds", 5);
    let browser = flag("--browser").or_else(|| {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .map(str::to_string)
    });
    let watcher = browser
        .as_deref()
        .unwrap_or("a reader of the live feed (no Chromium found)");
    println!("# {tasks} tasks per measurement, {rounds} rounds; watcher: {watcher}");
    let modes = [Mode::Off, Mode::Unwatched, Mode::FeedRead, Mode::Browser];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 0..rounds {
        for (at, &mode) in modes.iter().enumerate() {
            let rate = measure(mode, tasks, browser.as_deref())?;
            println!(
                "{{\"bench\": \"dashboard\", \"round\": {round}, \"mode\": \"{}\", \"tasks_per_s\": {rate:.0}}}",
                mode.name()
            );
            results[at].push(rate);
        }
    }
    for (mode, rates) in modes.iter().zip(results) {
        let (lo, hi) = rates
            .iter()
            .fold((f64::MAX, 0.0_f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        println!(
            "{:32} median {:>7.0} tasks/s (range {lo:.0}–{hi:.0})",
            mode.name(),
            median(rates)
        );
    }
    Ok(())
}
