//! A cluster over TLS, with certificates made at test time (rcgen, into a temp dir the test
//! removes): mutual TLS with a token runs a map across two workers (so values travel worker
//! to worker over TLS); a client without a certificate, with one from another CA, a plain
//! client on the TLS port, and a TLS client on a plain port are each refused with words
//! that name the cause, and the cluster keeps serving. This test binary serves as center and
//! workers (a custom main, libtest-mimic), so they carry its `#[remote]` functions.

mod support;

use support::check;

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, KeyPair};
use support::{started_at, Proc, PATIENCE};
use taskforce::messages::{Token, TOKEN_ENV};
use taskforce::remote::tls::{TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV};
use taskforce::remote::{ConnectOptions, Tls, TlsFiles};
use taskforce::{remote, Executor};

const TOKEN: &str = "tls test token";

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn sum_all(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// A temp dir of PEM files, removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and its key, to sign node certificates with.
struct Authority {
    cert: Certificate,
    key: KeyPair,
}

fn authority(name: &str) -> Result<Authority, Failed> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(Authority { cert, key })
}

impl Pki {
    /// `ca.pem`, and `NAME.pem` / `NAME.key` for each node name, signed by `ca`; plus
    /// `rogue-ca.pem` and a `rogue` node signed by it.
    fn new(nodes: &[&str]) -> Result<Pki, Failed> {
        let dir = std::env::temp_dir().join(format!("taskforce-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let pki = Pki { dir };
        let ca = authority("taskforce test CA")?;
        let rogue = authority("someone else's CA")?;
        std::fs::write(pki.path("ca.pem"), ca.cert.pem())?;
        std::fs::write(pki.path("rogue-ca.pem"), rogue.cert.pem())?;
        for name in nodes {
            pki.node(name, &ca)?;
        }
        pki.node("rogue", &rogue)?;
        Ok(pki)
    }

    fn node(&self, name: &str, ca: &Authority) -> Result<(), Failed> {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let params = CertificateParams::new(names).map_err(|e| e.to_string())?;
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params
            .signed_by(&key, &ca.cert, &ca.key)
            .map_err(|e| e.to_string())?;
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem())?;
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem())?;
        Ok(())
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The TLS flags of node `name`, trusting `ca_file`.
    fn flags(&self, name: &str, ca_file: &str) -> Vec<String> {
        vec![
            format!("--tls-cert={}", self.path(&format!("{name}.pem")).display()),
            format!("--tls-key={}", self.path(&format!("{name}.key")).display()),
            format!("--tls-ca={}", self.path(ca_file).display()),
        ]
    }

    /// Client options with the token and TLS from these files (any may be absent).
    fn client(&self, node: Option<&str>, ca_file: Option<&str>) -> Result<ConnectOptions, Failed> {
        let file = |name: String| Some(self.path(&name));
        let files = TlsFiles {
            cert: node.and_then(|n| file(format!("{n}.pem"))),
            key: node.and_then(|n| file(format!("{n}.key"))),
            ca: ca_file.and_then(|c| file(c.to_string())),
        };
        Ok(options(Some(Tls::load(&files)?)))
    }
}

fn options(tls: Option<Tls>) -> ConnectOptions {
    ConnectOptions {
        give_up_after: Some(PATIENCE),
        tls,
        ..ConnectOptions::default()
    }
    .with_token(Token::new(TOKEN).expect("a token"))
}

fn exe() -> PathBuf {
    std::env::current_exe().expect("test binary")
}

fn start(name: &str, args: &[&str], flags: &[String]) -> Proc {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(flags.iter().map(String::as_str));
    Proc::start_with_env(&exe(), name, &all, &[(TOKEN_ENV, TOKEN)])
}

/// A center of this binary on 127.0.0.1 with `flags`; the address it prints.
fn center(flags: &[String]) -> (Proc, String) {
    let args = [
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dashboard-port",
        "0",
    ];
    let center = start("center", &args, flags);
    let addr = started_at(&center.wait_for("Start center at"));
    (center, addr)
}

fn worker(name: &str, center: &str, extra: &[&str], flags: &[String]) -> Proc {
    let mut args = vec!["worker", center, "--host", "127.0.0.1", "--nthreads", "1"];
    args.extend_from_slice(extra);
    start(name, &args, flags)
}

/// Futures, a map over two workers and a sum over its futures (values move between them).
fn run_work(executor: &Executor) -> Result<(), Failed> {
    let one = executor.submit(inc, (1,))?;
    let two = executor.submit(inc, (&one,))?;
    check(two.result()? == 3, "inc(inc(1)) == 3")?;
    let xs = executor.map(inc, 0..100_i64)?;
    let total = executor.submit(sum_all, (&xs,))?;
    check(total.result()? == 5050, "sum of inc over 0..100 == 5050")
}

/// Connects with `options` and expects a refusal whose words contain `expected`.
fn refused(addr: &str, options: ConnectOptions, expected: &str) -> Result<(), Failed> {
    match Executor::connect_with(addr, options) {
        Ok(_) => Err(format!("a client expected to fail with {expected:?} connected").into()),
        Err(e) => {
            let words = e.to_string();
            eprintln!("refused: {words}");
            check(
                words.contains(expected),
                &format!("{words:?} names {expected:?}"),
            )
        }
    }
}

fn mutual_tls_cluster_runs_a_map() -> Result<(), Failed> {
    let pki = Pki::new(&["center", "w1", "w2", "client"])?;
    let (center, addr) = center(&pki.flags("center", "ca.pem"));
    let _nanny = worker("w1", &addr, &[], &pki.flags("w1", "ca.pem"));
    let _plain = worker("w2", &addr, &["--no-nanny"], &pki.flags("w2", "ca.pem"));
    center.wait_for_nth("Register worker at", 2, PATIENCE);
    let executor = Executor::connect_with(&addr, pki.client(Some("client"), Some("ca.pem"))?)?;
    run_work(&executor)?;
    check(
        executor.cluster_info()?.workers.len() == 2,
        "both workers serve",
    )?;
    // Executor::connect reads the token and the TLS files from the environment (the tests
    // of this binary run one at a time, so setting variables here races with nothing).
    let vars = [
        (TOKEN_ENV, TOKEN.to_string()),
        (TLS_CERT_ENV, path_text(&pki, "client.pem")),
        (TLS_KEY_ENV, path_text(&pki, "client.key")),
        (TLS_CA_ENV, path_text(&pki, "ca.pem")),
    ];
    for (name, value) in &vars {
        std::env::set_var(name, value);
    }
    let from_env = Executor::connect(&addr);
    for (name, _) in &vars {
        std::env::remove_var(name);
    }
    check(
        from_env?.submit(inc, (41,))?.result()? == 42,
        "inc(41) over TLS from env",
    )
}

fn clients_without_a_trusted_certificate_are_refused() -> Result<(), Failed> {
    let pki = Pki::new(&["center", "w1", "client"])?;
    let (center, addr) = center(&pki.flags("center", "ca.pem"));
    let _worker = worker("w1", &addr, &["--no-nanny"], &pki.flags("w1", "ca.pem"));
    center.wait_for("Register worker at");
    refused(
        &addr,
        pki.client(None, Some("ca.pem"))?,
        "the server requires a client certificate",
    )?;
    center.wait_for("the client presented no certificate");
    refused(
        &addr,
        pki.client(Some("rogue"), Some("ca.pem"))?,
        "the server refused our certificate",
    )?;
    center.wait_for("the client's certificate is not signed by our CA");
    refused(
        &addr,
        pki.client(Some("client"), Some("rogue-ca.pem"))?,
        "the server's certificate is not signed by our CA",
    )?;
    let executor = Executor::connect_with(&addr, pki.client(Some("client"), Some("ca.pem"))?)?;
    run_work(&executor)
}

fn plain_and_tls_clients_on_the_wrong_port_are_told() -> Result<(), Failed> {
    let pki = Pki::new(&["center", "client"])?;
    let (tls_center, tls_addr) = center(&pki.flags("center", "ca.pem"));
    check(
        tls_addr.starts_with("tls://"),
        "a TLS center prints a tls:// address",
    )?;
    let bare = tls_addr.trim_start_matches("tls://");
    refused(bare, options(None), "this port requires TLS")?;
    tls_center.wait_for("a client without TLS connected to this TLS port");
    let (plain_center, plain_addr) = center(&[]);
    let client = pki.client(Some("client"), Some("ca.pem"))?;
    refused(&plain_addr, client, "the server does not speak TLS")?;
    plain_center.wait_for("a TLS client connected to this port, which has no TLS");
    let scheme = format!("tls://{plain_addr}");
    refused(&scheme, options(None), "the server does not speak TLS")?;
    let both = Executor::connect_with(&tls_addr, pki.client(Some("client"), Some("ca.pem"))?)?;
    check(both.cluster_info().is_ok(), "the TLS center serves on")?;
    let plain = Executor::connect_with(&plain_addr, options(None))?;
    check(plain.cluster_info().is_ok(), "the plain center serves on")
}

/// The loaded settings say which files are wrong.
fn bad_files_are_named() -> Result<(), Failed> {
    let pki = Pki::new(&["node"])?;
    let missing = TlsFiles {
        cert: Some(pki.path("nowhere.pem")),
        key: Some(pki.path("node.key")),
        ca: None,
    };
    let words = Tls::load(&missing).err().map(|e| e.to_string());
    eprintln!("missing certificate: {words:?}");
    check(
        words.is_some_and(|w| w.contains("certificate") && w.contains("nowhere.pem")),
        "a missing certificate file is named",
    )?;
    let unpaired = TlsFiles {
        cert: Some(pki.path("node.pem")),
        ..TlsFiles::default()
    };
    check(Tls::load(&unpaired).is_err(), "a certificate needs its key")?;
    let key_as_ca = TlsFiles {
        ca: Some(pki.path("node.key")),
        ..TlsFiles::default()
    };
    let words = Tls::load(&key_as_ca).err().map(|e| e.to_string());
    check(
        words.is_some_and(|w| {
            w.contains("CA certificate") && w.contains(&path_text(&pki, "node.key"))
        }),
        "a key given as CA is named",
    )
}

fn path_text(pki: &Pki, file: &str) -> String {
    Path::new(&pki.path(file)).display().to_string()
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let mut args = Arguments::from_args();
    // The tests share one temp dir of certificates per process.
    args.test_threads = Some(1);
    let tests = vec![
        Trial::test(
            "mutual_tls_cluster_runs_a_map",
            mutual_tls_cluster_runs_a_map,
        ),
        Trial::test(
            "clients_without_a_trusted_certificate_are_refused",
            clients_without_a_trusted_certificate_are_refused,
        ),
        Trial::test(
            "plain_and_tls_clients_on_the_wrong_port_are_told",
            plain_and_tls_clients_on_the_wrong_port_are_told,
        ),
        Trial::test("bad_files_are_named", bad_files_are_named),
    ];
    libtest_mimic::run(&args, tests).exit();
}
