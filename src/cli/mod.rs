//! The command line: `taskforce center`, `taskforce worker ADDR` and `taskforce status ADDR`.
//!
//! A user's own binary that defines remote functions serves the same subcommands by calling
//! [`main`]. This is the only module (with `src/main.rs`) that parses arguments.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::actors::center::{self, CenterConfig};
use crate::actors::nanny::{self, NannyConfig};
use crate::actors::remote::stream::split_scheme;
use crate::actors::remote::{LinkBounds, Tls, TlsFiles};
use crate::actors::worker::{self, WorkerConfig};
use crate::messages::Token;
use crate::resources::Resources;
use crate::worker_core::MemoryPolicy;

mod values;

pub use values::MemoryLimit;
use values::{
    parse_fraction, parse_heartbeat_timeout, parse_idle_timeout, parse_memory_limit,
    parse_nthreads, parse_resources, parse_token, parse_token_file,
};

/// A distributed task runtime: a center coordinates workers that run tasks.
#[derive(Debug, Parser)]
#[command(name = "taskforce", version, about, long_about = None)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace); `RUST_LOG` overrides it.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles a process can take.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the center (membership, data locations, and the scheduler).
    Center(CenterArgs),
    /// Run a worker that registers with the center at ADDR (under a nanny by default).
    Worker(WorkerArgs),
    /// Print the live supervision tree of the cluster whose center is at ADDR: the center,
    /// workers under their nannies, each with restart counts and the last exit reason.
    Status(StatusArgs),
}

/// Flags of `taskforce status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The center's address, HOST:PORT (the token, if the cluster has one, comes from
    /// TASKFORCE_TOKEN).
    pub center: String,
}

/// Flags of `taskforce center`.
#[derive(Debug, Args)]
pub struct CenterArgs {
    /// Interface to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Name used in logs and handshakes.
    #[arg(long, default_value = "center")]
    pub name: String,
    /// Remove a worker silent for longer than this (e.g. 30s, 2m).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub worker_ttl: Duration,
    /// Port of the dashboard and of Prometheus metrics at /metrics (0 turns it off; a port in
    /// use falls back to a free one, logged).
    #[arg(long, default_value_t = 8788)]
    pub dashboard_port: u16,
    /// The cluster's shared secret: only peers that prove it are admitted (also read from
    /// TASKFORCE_TOKEN; prefer the variable, since other users can read argv).
    #[arg(long, env = "TASKFORCE_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<Token>,
    /// A file holding the cluster's token (surrounding whitespace dropped; it must not be
    /// readable by other users); used when --token is not given.
    #[arg(long, env = "TASKFORCE_TOKEN_FILE", value_name = "PATH", value_parser = parse_token_file)]
    pub token_file: Option<Token>,
    /// TLS for every link.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Close a connection that sends nothing, not even a keepalive (live peers send one every
    /// second), for this long; at least 30s.
    #[arg(long, default_value = "5m", value_parser = parse_idle_timeout)]
    pub idle_timeout: Duration,
    /// How many workers may die while running a task before it fails with an error naming
    /// each death (it fails on the next one).
    #[arg(long, default_value_t = 3)]
    pub allowed_failures: u32,
    /// Let clients restart the cluster (`Executor::restart`), which cancels every client's
    /// work; without it a restart is refused with the reason.
    #[arg(long)]
    pub allow_restart: bool,
}

/// Flags of `taskforce worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The center's address, HOST:PORT.
    pub center: String,
    /// Interface to listen on for peers.
    #[arg(long, default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Port to listen on for peers (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Threads that run tasks [default: number of cores].
    #[arg(long, value_parser = parse_nthreads)]
    pub nthreads: Option<u32>,
    /// Memory limit, e.g. 4GiB or 500MB; "auto" is the machine's total memory. With a limit
    /// given, values spill to disk past --memory-target and tasks pause past --memory-pause.
    #[arg(long, default_value = "auto", value_parser = parse_memory_limit)]
    pub memory_limit: MemoryLimit,
    /// Fraction of --memory-limit past which stored values spill to disk, least recently
    /// used first.
    #[arg(long, default_value_t = 0.6, value_parser = parse_fraction)]
    pub memory_target: f64,
    /// Fraction of --memory-limit past which the worker takes no new tasks (it keeps serving
    /// data and finishing what runs).
    #[arg(long, default_value_t = 0.8, value_parser = parse_fraction)]
    pub memory_pause: f64,
    /// Fraction of --memory-limit past which the nanny kills the worker process and starts a
    /// fresh one; the task it was running fails naming the memory (no effect with
    /// --no-nanny).
    #[arg(long, default_value_t = nanny::memory_watch::DEFAULT_TERMINATE_FRACTION, value_parser = parse_fraction)]
    pub memory_terminate: f64,
    /// Name used in logs [default: the worker's address].
    #[arg(long)]
    pub name: Option<String>,
    /// Abstract resources this worker offers to tasks, e.g. "GPU=2,MEM=10e9": a task
    /// submitted with `.resources([("GPU", 1.0)])` runs only where one GPU is free.
    #[arg(long, default_value = "", value_parser = parse_resources)]
    pub resources: Resources,
    /// Run the worker in this process, without a nanny to restart it.
    #[arg(long)]
    pub no_nanny: bool,
    /// Exit if the center stays unreachable this long (e.g. 60s) [default: wait forever].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub death_timeout: Option<Duration>,
    /// Close a connection peers or executors opened to this worker when it sends nothing,
    /// not even a keepalive (live peers send one every second), for this long; at least 30s.
    #[arg(long, default_value = "5m", value_parser = parse_idle_timeout)]
    pub idle_timeout: Duration,
    /// Declare the center, or a peer this worker fetches from, lost when nothing comes from
    /// it, not even a keepalive (live ends send one every second), for this long (at least
    /// 5s): then the worker reconnects (within --death-timeout) or fetches elsewhere, as when
    /// the connection closes. The nanny watches its center link with the same deadline.
    #[arg(long, env = "TASKFORCE_HEARTBEAT_TIMEOUT", default_value = "30s", value_parser = parse_heartbeat_timeout)]
    pub heartbeat_timeout: Duration,
    /// The address to advertise to the center, peers and executors, `HOST` or `HOST:PORT`,
    /// when the one this worker finds is not reachable from the other hosts (NAT, a
    /// container, a forwarded port) [default: --host if it names one interface, else this
    /// host's address on the route to the center, or on the default route when the center is
    /// on loopback].
    #[arg(long, value_name = "ADDRESS")]
    pub contact_address: Option<worker::config::ContactAddress>,
    /// Nanny: give up after this many restarts within --restart-window.
    #[arg(long, default_value_t = 5)]
    pub max_restarts: u32,
    /// Nanny: the window of the restart budget.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub restart_window: Duration,
    /// The cluster's shared secret: only peers that prove it are admitted (also read from
    /// TASKFORCE_TOKEN; prefer the variable, since other users can read argv).
    #[arg(long, env = "TASKFORCE_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<Token>,
    /// A file holding the cluster's token (surrounding whitespace dropped; it must not be
    /// readable by other users); used when --token is not given.
    #[arg(long, env = "TASKFORCE_TOKEN_FILE", value_name = "PATH", value_parser = parse_token_file)]
    pub token_file: Option<Token>,
    /// TLS for every link.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// TLS flags of `center` and `worker`: a certificate and its key turn TLS on for every link
/// of the process; a CA makes both sides of each link check the other's certificate.
#[derive(Clone, Debug, Default, Args)]
pub struct TlsArgs {
    /// PEM certificate (chain) this process presents; with --tls-key, every link of this
    /// process uses TLS.
    #[arg(long, env = "TASKFORCE_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TASKFORCE_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificate of the CA that signs the cluster's certificates: peers must present a
    /// certificate it signed (mutual TLS).
    #[arg(long, env = "TASKFORCE_TLS_CA", value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
}

impl TlsArgs {
    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            ca: self.tls_ca.clone(),
        }
    }

    /// The TLS settings these flags name; with none, TLS only if `center` is a `tls://`
    /// address (encrypting, checking no certificate).
    pub fn load(&self, center: Option<&str>) -> crate::Result<Option<Tls>> {
        let files = self.files();
        if files.is_set() {
            let tls = Tls::load(&files).map_err(|e| crate::Error::TlsSetup(Box::new(e)))?;
            return Ok(Some(tls));
        }
        Ok(center
            .is_some_and(|addr| split_scheme(addr).1)
            .then(Tls::encrypt_only))
    }

    /// The flags as a nanny passes them on to its worker.
    fn child_args(&self) -> Vec<String> {
        let flags = [
            ("--tls-cert", &self.tls_cert),
            ("--tls-key", &self.tls_key),
            ("--tls-ca", &self.tls_ca),
        ];
        flags
            .into_iter()
            .filter_map(|(flag, path)| Some(format!("{flag}={}", path.as_ref()?.display())))
            .collect()
    }
}

impl CenterArgs {
    /// The center configuration these flags describe.
    pub fn config(&self) -> CenterConfig {
        CenterConfig {
            host: self.host,
            port: self.port,
            name: self.name.clone(),
            worker_ttl: self.worker_ttl,
            dashboard: (self.dashboard_port != 0)
                .then(|| std::net::SocketAddr::new(self.host, self.dashboard_port)),
            token: self.token.clone().or_else(|| self.token_file.clone()),
            allow_restart: self.allow_restart,
            scheduler: crate::scheduler::SchedulerConfig {
                allowed_failures: self.allowed_failures,
                ..Default::default()
            },
            bounds: LinkBounds {
                idle_timeout: self.idle_timeout,
                ..LinkBounds::default()
            },
            ..CenterConfig::default()
        }
    }
}

impl WorkerArgs {
    /// The worker configuration these flags describe.
    pub fn config(&self) -> WorkerConfig {
        let mut config = WorkerConfig::new(&self.center);
        config.host = self.host;
        config.port = self.port;
        config.name.clone_from(&self.name);
        config.resources = self.resources.clone();
        if let Some(n) = self.nthreads {
            config.nthreads = n;
        }
        if let MemoryLimit::Bytes(bytes) = self.memory_limit {
            config.memory_limit = bytes;
            config.memory = Some(MemoryPolicy {
                limit: bytes,
                target: self.memory_target,
                pause: self.memory_pause,
            });
        }
        config.death_timeout = self.death_timeout;
        config.contact_address = self.contact_address;
        config.bounds.idle_timeout = self.idle_timeout;
        config.connect.bounds.idle_timeout = self.heartbeat_timeout;
        config.connect.token = self.token.clone().or_else(|| self.token_file.clone());
        config
    }

    /// Refuses, before any process starts, a host that is not this machine's or a port in
    /// use (a nanny would otherwise restart a worker that can never listen).
    fn check_listen(&self) -> crate::Result<()> {
        std::net::TcpListener::bind((self.host, self.port))
            .map(drop)
            .map_err(|e| crate::Error::listening(self.host, self.port, e))
    }

    /// The flags a nanny passes on to its worker process.
    fn child_args(&self, log_level: &str) -> Vec<String> {
        let mut args = vec![
            format!("--host={}", self.host),
            format!("--port={}", self.port),
            format!("--log-level={log_level}"),
        ];
        if let Some(n) = self.nthreads {
            args.push(format!("--nthreads={n}"));
        }
        if let MemoryLimit::Bytes(bytes) = self.memory_limit {
            args.push(format!("--memory-limit={bytes}"));
        }
        args.extend(self.tls.child_args());
        args.push(format!(
            "--idle-timeout={}",
            humantime::format_duration(self.idle_timeout)
        ));
        args.push(format!(
            "--heartbeat-timeout={}",
            humantime::format_duration(self.heartbeat_timeout)
        ));
        if let Some(contact) = &self.contact_address {
            args.push(format!("--contact-address={contact}"));
        }
        args.push(format!("--memory-target={}", self.memory_target));
        args.push(format!("--memory-pause={}", self.memory_pause));
        if !self.resources.is_empty() {
            args.push(format!("--resources={}", self.resources));
        }
        if let Some(name) = &self.name {
            args.push(format!("--name={name}"));
        }
        if let Some(timeout) = self.death_timeout {
            args.push(format!(
                "--death-timeout={}",
                humantime::format_duration(timeout)
            ));
        }
        args
    }

    /// The nanny configuration these flags describe.
    pub fn nanny_config(&self, log_level: &str) -> std::io::Result<NannyConfig> {
        let mut config = NannyConfig::new(&self.center, self.child_args(log_level))?;
        config.max_restarts = self.max_restarts;
        config.restart_window = self.restart_window;
        config.connect.token = self.token.clone().or_else(|| self.token_file.clone());
        config.connect.bounds.idle_timeout = self.heartbeat_timeout;
        if let Some(name) = &self.name {
            config.name = format!("{name}-nanny");
        }
        if let MemoryLimit::Bytes(limit) = self.memory_limit {
            config.memory = Some(nanny::MemoryWatch {
                limit,
                terminate: self.memory_terminate,
            });
        }
        Ok(config)
    }
}

/// Sends logs to stderr, filtered by `RUST_LOG` if set, else by `level`.
pub fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Runs the command line in `std::env::args()`: `center`, `worker ADDR` or `status ADDR`.
///
/// A process that ends with a failure (a refused worker, a nanny out of restarts) exits with
/// status 1 after logging why.
///
/// An error that stops the process before it runs (a port in use, a bad host) is printed as
/// one line, `error: …`, and the process exits with status 1.
///
/// Works inside an async runtime too (a `#[tokio::main]` program serving as its own worker):
/// the role then runs its own actix system on a dedicated thread, which this call joins.
pub fn main() -> crate::Result<()> {
    crate::actors::executor::outside_runtime("taskforce-role", main_here)
}

fn main_here() -> crate::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> crate::Result<i32> {
    match cli.command {
        Command::Center(args) => {
            let mut config = args.config();
            config.tls = args.tls.load(None)?;
            let system = actix::System::new();
            system
                .block_on(center::serve(config))
                .map_err(|e| match e {
                    crate::Error::Bind(source) => {
                        crate::Error::listening(args.host, args.port, source)
                    }
                    other => other,
                })?;
            Ok(0)
        }
        Command::Worker(args) => {
            args.check_listen()?;
            let tls = args.tls.load(Some(&args.center))?;
            match args.no_nanny {
                true => {
                    let mut config = args.config();
                    config.connect.tls = tls;
                    worker::serve(config)
                }
                false => {
                    let mut config = args.nanny_config(&cli.log_level)?;
                    config.connect.tls = tls;
                    nanny::serve(config)
                }
            }
        }
        Command::Status(args) => {
            let executor = crate::Executor::connect(&args.center)?;
            let cluster = executor.cluster_info()?;
            print!("{}", crate::messages::tree::render(&cluster.tree));
            println!(
                "workers: {}, tasks: {}",
                cluster.workers.len(),
                cluster.tasks
            );
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fractions_are_checked_and_passed_to_the_config() {
        let cli = Cli::try_parse_from([
            "taskforce",
            "worker",
            "127.0.0.1:1",
            "--memory-limit",
            "300MiB",
            "--memory-pause",
            "0.9",
        ])
        .expect("valid flags");
        let Command::Worker(args) = cli.command else {
            panic!("a worker command")
        };
        let policy = args.config().memory.expect("a limit was given");
        assert_eq!(
            (policy.limit, policy.target, policy.pause),
            (300 << 20, 0.6, 0.9)
        );
        assert!(
            Cli::try_parse_from(["taskforce", "worker", "a:1", "--memory-pause", "0"]).is_err()
        );
    }

    #[test]
    fn idle_timeouts_guard_the_listener_and_heartbeat_timeouts_the_links_a_worker_opens() {
        let cli = Cli::try_parse_from([
            "taskforce",
            "worker",
            "a:1",
            "--idle-timeout",
            "2m",
            "--heartbeat-timeout",
            "7s",
            "--contact-address",
            "[::1]:9000",
        ])
        .expect("valid flags");
        let Command::Worker(args) = cli.command else {
            panic!("a worker command")
        };
        let config = args.config();
        assert_eq!(config.bounds.idle_timeout, Duration::from_secs(120));
        assert_eq!(config.connect.bounds.idle_timeout, Duration::from_secs(7));
        let nanny = args.nanny_config("info").expect("nanny config");
        assert_eq!(nanny.connect.bounds.idle_timeout, Duration::from_secs(7));
        let child = args.child_args("info");
        for flag in [
            "--idle-timeout=2m",
            "--heartbeat-timeout=7s",
            "--contact-address=[::1]:9000",
        ] {
            assert!(child.contains(&flag.to_string()), "{flag} in {child:?}");
        }
        let short = Cli::try_parse_from(["taskforce", "center", "--idle-timeout", "10s"]);
        let words = short.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(words.contains("an idle timeout under 30s"), "{words}");
        let short = Cli::try_parse_from(["taskforce", "worker", "a:1", "--heartbeat-timeout=1s"]);
        let words = short.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(words.contains("give at least 5s"), "{words}");
    }

    #[test]
    fn a_worker_waits_30_seconds_for_a_silent_center_by_default() {
        let cli = Cli::try_parse_from(["taskforce", "worker", "a:1"]).expect("valid flags");
        let Command::Worker(args) = cli.command else {
            panic!("a worker command")
        };
        assert_eq!(
            args.config().connect.bounds.idle_timeout,
            crate::actors::remote::idle::DEFAULT_HEARTBEAT_TIMEOUT
        );
    }
}
