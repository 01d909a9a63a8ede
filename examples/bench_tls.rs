//! What TLS costs: the submit→result roundtrip of a trivial task, and scattering and gathering
//! a 100 MB value, on a cluster of this binary (a center and 2 single-thread workers on
//! 127.0.0.1) with a token, first in plain TCP, then with mutual TLS (certificates made at
//! start in a temp dir, removed at the end).
//!
//! `cargo run --release --example bench_tls [-- --roundtrips 300 --mb 100 --rounds 3]`

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use taskforce::messages::{Token, TOKEN_ENV};
use taskforce::remote::{ConnectOptions, Tls, TlsFiles};
use taskforce::{remote, Executor};

mod support;
use support::arg;

const TOKEN: &str = "bench token";

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// Writes a CA and one node certificate (for every process) into `dir`.
fn make_pki(dir: &Path) -> Result<TlsFiles, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;
    let node_key = KeyPair::generate()?;
    let node = CertificateParams::new(vec!["127.0.0.1".to_string()])?
        .signed_by(&node_key, &ca, &ca_key)?;
    let files = TlsFiles {
        cert: Some(dir.join("node.pem")),
        key: Some(dir.join("node.key")),
        ca: Some(dir.join("ca.pem")),
    };
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    std::fs::write(dir.join("node.pem"), node.pem())?;
    std::fs::write(dir.join("node.key"), node_key.serialize_pem())?;
    Ok(files)
}

fn tls_flags(files: Option<&TlsFiles>) -> Vec<String> {
    let Some(files) = files else {
        return Vec::new();
    };
    let path = |p: &Option<PathBuf>| p.as_ref().expect("all files").display().to_string();
    vec![
        format!("--tls-cert={}", path(&files.cert)),
        format!("--tls-key={}", path(&files.key)),
        format!("--tls-ca={}", path(&files.ca)),
    ]
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Processes killed on drop.
struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(args: &[String]) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(args)
        .env(TOKEN_ENV, TOKEN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
}

fn start_cluster(files: Option<&TlsFiles>) -> std::io::Result<(Cluster, String)> {
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let mut center = vec!["center", "--host", "127.0.0.1", "--port", &port];
    center.extend(["--dashboard-port", "0"]);
    let mut args: Vec<String> = center.into_iter().map(String::from).collect();
    args.extend(tls_flags(files));
    let mut cluster = Cluster(vec![spawn(&args)?]);
    for _ in 0..2 {
        let mut args: Vec<String> = ["worker", &addr, "--host", "127.0.0.1", "--nthreads", "1"]
            .into_iter()
            .map(String::from)
            .collect();
        args.push("--no-nanny".into());
        args.extend(tls_flags(files));
        cluster.0.push(spawn(&args)?);
    }
    Ok((cluster, addr))
}

fn connect(addr: &str, files: Option<&TlsFiles>) -> taskforce::Result<Executor> {
    let tls = files
        .map(Tls::load)
        .transpose()
        .map_err(|e| taskforce::Error::TlsSetup(Box::new(e)))?;
    let options = ConnectOptions {
        give_up_after: Some(Duration::from_secs(60)),
        tls,
        ..ConnectOptions::default()
    }
    .with_token(Token::new(TOKEN).expect("a token"));
    let executor = Executor::connect_with(addr, options)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while executor.cluster_info()?.workers.len() < 2 {
        if Instant::now() > deadline {
            return Err(taskforce::Error::NoWorkers);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(executor)
}

/// Median and 90th percentile of `n` submit→result roundtrips.
fn roundtrips(executor: &Executor, n: usize) -> taskforce::Result<(Duration, Duration)> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n as i64 {
        let started = Instant::now();
        let value = executor.submit(inc, (i,))?.result()?;
        times.push(started.elapsed());
        assert_eq!(value, i + 1);
    }
    times.sort();
    Ok((times[n / 2], times[n * 9 / 10]))
}

/// Best times of scattering a `mb` MB value and gathering it back, over `rounds`.
fn transfer(
    executor: &Executor,
    mb: usize,
    rounds: usize,
) -> taskforce::Result<(Duration, Duration)> {
    let (mut scatter, mut gather) = (Duration::MAX, Duration::MAX);
    for round in 0..rounds {
        let value = vec![round as u8; mb * 1_000_000];
        let started = Instant::now();
        let future = executor.scatter_one(value)?;
        taskforce::wait(std::slice::from_ref(&future))?;
        scatter = scatter.min(started.elapsed());
        let started = Instant::now();
        let back: Vec<Vec<u8>> = executor.gather(std::slice::from_ref(&future))?;
        gather = gather.min(started.elapsed());
        assert_eq!(back[0].len(), mb * 1_000_000);
    }
    Ok((scatter, gather))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some("center" | "worker")
    ) {
        taskforce::cli::main()?;
        return Ok(());
    }
    let (n, mb, rounds) = (
        arg("--roundtrips", 300),
        arg("--mb", 100),
        arg("--rounds", 3),
    );
    let dir = std::env::temp_dir().join(format!("taskforce-bench-tls-{}", std::process::id()));
    let files = make_pki(&dir)?;
    for (name, files) in [("plain+token", None), ("mTLS+token", Some(&files))] {
        let (_cluster, addr) = start_cluster(files)?;
        let executor = connect(&addr, files)?;
        roundtrips(&executor, 20)?;
        let (median, p90) = roundtrips(&executor, n)?;
        let (scatter, gather) = transfer(&executor, mb, rounds)?;
        println!(
            "{name:12} roundtrip median {median:>9.1?} p90 {p90:>9.1?} | {mb} MB scatter \
             {scatter:>8.1?} ({:.0} MB/s), gather {gather:>8.1?} ({:.0} MB/s)",
            mb as f64 / scatter.as_secs_f64(),
            mb as f64 / gather.as_secs_f64()
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
