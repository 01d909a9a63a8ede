//! The dashboard of a real local cluster: loaded in headless Chromium while a graph runs (the
//! page lists the workers, its counts rise, the task stream fills a row per worker thread and
//! marks transfers), with a screenshot saved to `target/tmp/dashboard.png`; and its
//! `/metrics`, parsed as Prometheus text, agreeing with `cluster_info()`.
//!
//! The browser trial needs Chromium (`apt-get install chromium`; `.ci/run` installs it).
//! Without it that trial says so and passes, unless `TASKFORCE_REQUIRE_BROWSER=1` (as in CI)
//! makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use taskforce::{remote, Executor, LocalCluster};

#[remote]
fn slow_inc(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(2));
    x + 1
}

#[remote]
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[remote]
fn fails_on_seven(x: i64) -> Result<i64, String> {
    if x % 100 == 7 {
        Err(format!("{x} ends in 07"))
    } else {
        Ok(x)
    }
}

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.exists())
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        "--virtual-time-budget=4000",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Keeps a stream of small graphs running until `stop` is set.
fn keep_busy(executor: Executor, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut round = 0_i64;
        while !stop.load(Ordering::Relaxed) {
            let xs = executor
                .map(slow_inc, (0..200).map(|i| i + round * 1000))
                .expect("map");
            let sum = executor.submit(total, (&xs,)).expect("submit");
            sum.result().expect("sum");
            let checked = executor
                .map(fails_on_seven, (0..20).map(|i| i + round * 100))
                .expect("map");
            let failed = checked.iter().filter(|f| f.result().is_err()).count();
            assert_eq!(failed, 1, "one of each twenty ends in 07");
            round += 1;
        }
    })
}

fn dashboard_shows_a_running_cluster() -> Result<(), Failed> {
    let Some(browser) = chromium() else {
        if std::env::var_os("TASKFORCE_REQUIRE_BROWSER").is_some() {
            return Err(
                "Chromium is required (TASKFORCE_REQUIRE_BROWSER is set) but not installed".into(),
            );
        }
        eprintln!(
            "SKIPPED dashboard_shows_a_running_cluster: no Chromium (apt-get install chromium)"
        );
        return Ok(());
    };
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let link = cluster
        .dashboard_link()
        .ok_or("the local cluster serves no dashboard")?
        .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let busy = keep_busy(cluster.executor()?, stop.clone());
    let profile = tempdir("profile");
    let deadline = Instant::now() + Duration::from_secs(90);
    let page = if link.contains('?') {
        format!("{link}&poll")
    } else {
        format!("{link}?poll")
    };
    refuses_without_the_token(&browser, &link)?;
    let dom = loop {
        let output = run_bounded(headless(&browser, &profile).arg("--dump-dom").arg(&page))?;
        let dom = String::from_utf8_lossy(&output.stdout).into_owned();
        let ready = dom.matches("data-worker=").count() >= 2
            && number_after(&dom, "data-drawn=\"") > 0
            && number_after(&dom, "data-transfers=\"") > 0
            && finished(&dom) > 0;
        if ready || Instant::now() > deadline {
            break dom;
        }
    };
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut shot = headless(&browser, &profile);
    shot.arg(format!("--screenshot={}", screenshot.display()))
        .arg(&page);
    run_bounded(&mut shot)?;
    stop.store(true, Ordering::Relaxed);
    busy.join().map_err(|_| "the workload thread panicked")?;
    let workers = dom.matches("data-worker=").count();
    if workers < 2 || spans(&dom) == 0 || finished(&dom) == 0 {
        return Err(format!(
            "the page never showed the cluster at work ({workers} workers): {dom}"
        )
        .into());
    }
    // Two workers of one thread: a row for each thread and a lane of transfers each.
    if number_after(&dom, "data-rows=\"") != 4 || number_after(&dom, "data-transfers=\"") == 0 {
        return Err(format!("the task stream lacks its rows or transfers: {dom}").into());
    }
    if !dom.contains("data-cpu=") {
        return Err(format!("no CPU column: {dom}").into());
    }
    if !screenshot.exists() {
        return Err("Chromium saved no screenshot".into());
    }
    if !dom.contains("data-node=") {
        return Err(format!("no supervision tree: {dom}").into());
    }
    if !dom.contains("data-function=\"dashboard_browser::slow_inc\"") {
        return Err(format!("no progress bar for slow_inc: {dom}").into());
    }
    eprintln!("dashboard screenshot: {}", screenshot.display());
    Ok(())
}

/// `/metrics` of a cluster at rest, parsed as Prometheus text, agrees with `cluster_info()`:
/// workers, bytes held and received, tasks held, tasks finished, and the messages counted.
fn metrics_agree_with_cluster_info() -> Result<(), Failed> {
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .start()?;
    let link = cluster
        .dashboard_link()
        .ok_or("the local cluster serves no dashboard")?
        .to_string();
    let executor = cluster.executor()?;
    let xs = executor.map(slow_inc, 0..100_i64)?;
    let sum = executor.submit(total, (&xs,))?;
    if sum.result()? != (1..=100).sum::<i64>() {
        return Err("wrong sum".into());
    }
    let checked = executor.map(fails_on_seven, 0..20_i64)?;
    let failed = checked.iter().filter(|f| f.result().is_err()).count();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut calls = 0_f64;
    loop {
        let info = executor.cluster_info()?;
        calls += 1.0;
        let metrics = scrape(&link, cluster.token().expose())?;
        let workers: f64 = info.workers.len() as f64;
        let stored: u64 = info.workers.iter().map(|w| w.stored_bytes).sum();
        let received: u64 = info.workers.iter().map(|w| w.peer_bytes_in).sum();
        let held = ["waiting", "processing", "memory", "erred"]
            .map(|state| metrics.value("taskforce_tasks", Some(("state", state))))
            .iter()
            .sum::<f64>();
        let checks = [
            ("workers", metrics.value("taskforce_workers", None), workers),
            (
                "stored bytes",
                metrics.value("taskforce_stored_bytes", None),
                stored as f64,
            ),
            (
                "received bytes",
                metrics.value("taskforce_transferred_bytes", None),
                received as f64,
            ),
            ("tasks held", held, info.tasks as f64),
            (
                "failed",
                metrics.value("taskforce_tasks", Some(("state", "erred"))),
                failed as f64,
            ),
        ];
        let at_least = [
            (
                "finished",
                metrics.value("taskforce_tasks_finished_total", None),
                120.0,
            ),
            (
                "graphs",
                metrics.value("taskforce_messages_total", Some(("kind", "update_graph"))),
                3.0,
            ),
            (
                "cluster_info calls",
                metrics.value("taskforce_messages_total", Some(("kind", "cluster_info"))),
                calls,
            ),
            (
                "task reports",
                metrics.value("taskforce_messages_total", Some(("kind", "task_events"))),
                1.0,
            ),
            (
                "compute orders",
                metrics.value("taskforce_messages_total", Some(("kind", "compute"))),
                1.0,
            ),
            (
                "compute durations",
                metrics.value(
                    "taskforce_work_duration_seconds_count",
                    Some(("kind", "compute")),
                ),
                120.0,
            ),
        ];
        let wrong: Vec<String> = (checks.iter())
            .filter(|(_, got, want)| got != want)
            .chain(at_least.iter().filter(|(_, got, want)| got < want))
            .map(|(what, got, want)| format!("{what}: /metrics {got}, cluster_info {want}"))
            .collect();
        if wrong.is_empty() && failed == 1 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "/metrics never agreed with cluster_info: {wrong:?} (failed {failed})"
            )
            .into());
        }
        // Heartbeats (1 s apart) bring both views the same figures; look again.
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A parsed `/metrics` scrape.
struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    /// The value of `name` (with the label `label`, if given); NaN if absent.
    fn value(&self, name: &str, label: Option<(&str, &str)>) -> f64 {
        let found = self.0.samples.iter().find(|s| {
            s.metric == name
                && match label {
                    Some((k, v)) => s.labels.get(k) == Some(v),
                    None => true,
                }
        });
        match found.map(|s| &s.value) {
            Some(
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v),
            ) => *v,
            _ => f64::NAN,
        }
    }
}

/// GETs `/metrics` of the dashboard at `link`, showing `token`.
fn scrape(link: &str, token: &str) -> Result<Scrape, Failed> {
    use std::io::{Read, Write};
    let authority = link
        .trim_start_matches("http://")
        .split('/')
        .next()
        .ok_or("no address in the link")?;
    let mut stream = std::net::TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("/metrics answered {head}").into());
    }
    let lines = body.lines().map(|line| Ok(line.to_string()));
    Ok(Scrape(prometheus_parse::Scrape::parse(lines)?))
}

/// The cluster has a token (a local cluster makes one): a browser without it, in a profile of
/// its own (no cookie), gets the login form, not the dashboard.
fn refuses_without_the_token(browser: &Path, link: &str) -> Result<(), Failed> {
    let (bare, _) = link
        .split_once("?token=")
        .ok_or_else(|| format!("the link carries no token: {link}"))?;
    let profile = tempdir("profile-without-token");
    let output = run_bounded(headless(browser, &profile).arg("--dump-dom").arg(bare))?;
    let dom = String::from_utf8_lossy(&output.stdout);
    let _ = std::fs::remove_dir_all(&profile);
    if !dom.contains("name=\"token\"") || dom.contains("data-worker=") {
        return Err(format!("without the token the page was not the login form: {dom}").into());
    }
    Ok(())
}

/// Runs a browser command, killing it if it has not finished within a minute.
fn run_bounded(command: &mut Command) -> Result<std::process::Output, Failed> {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut std::io::BufReader::new(stdout), &mut out).map(|_| out)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the browser did not finish within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = reader.join().map_err(|_| "reader panicked")??;
    Ok(std::process::Output {
        status,
        stdout,
        stderr: Vec::new(),
    })
}

/// The number after `data-spans="` on the task stream's canvas.
fn spans(dom: &str) -> u64 {
    number_after(dom, "data-spans=\"")
}

/// The number before " finished" in the summary line.
fn finished(dom: &str) -> u64 {
    let Some(end) = dom.find(" finished") else {
        return 0;
    };
    let digits: String = dom[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

fn number_after(text: &str, marker: &str) -> u64 {
    let Some(at) = text.find(marker) else {
        return 0;
    };
    let digits: String = text[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn main() {
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test(
            "dashboard_shows_a_running_cluster",
            dashboard_shows_a_running_cluster,
        ),
        Trial::test(
            "metrics_agree_with_cluster_info",
            metrics_agree_with_cluster_info,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}
