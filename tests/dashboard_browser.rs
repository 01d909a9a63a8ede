//! The dashboard of a real local cluster, loaded in headless Chromium while a graph runs:
//! the page lists the workers, its counts rise, and the task stream fills. Saves a screenshot
//! to `target/dashboard.png`.
//!
//! Needs Chromium (`apt-get install chromium`; `.ci/run` installs it). Without it the test
//! says so and passes, unless `TASKFORCE_REQUIRE_BROWSER=1` (as in CI) makes that a failure.

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
        let ready =
            dom.matches("data-worker=").count() >= 2 && spans(&dom) > 0 && finished(&dom) > 0;
        if ready || Instant::now() > deadline {
            break dom;
        }
    };
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
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
    if !dom.contains("data-node=") {
        return Err(format!("no supervision tree: {dom}").into());
    }
    if !dom.contains("data-function=\"dashboard_browser::slow_inc\"") {
        return Err(format!("no progress bar for slow_inc: {dom}").into());
    }
    eprintln!("dashboard screenshot: {}", screenshot.display());
    Ok(())
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
    let trials = vec![Trial::test(
        "dashboard_shows_a_running_cluster",
        dashboard_shows_a_running_cluster,
    )];
    libtest_mimic::run(&args, trials).exit();
}
