//! An embedded cluster on this machine: a center on a thread of this process and workers as
//! child processes of this same executable (`<exe> worker ADDR --no-nanny …`).
//!
//! No process outlives the cluster: workers are stopped when it is dropped, the kernel sends
//! them SIGTERM if this process dies (and they exit by themselves if the center goes away).
//! A worker child that runs the user's `main` again and reaches `Executor::local()` serves as
//! the worker instead of starting another cluster.
//!
//! Each local cluster makes a random token of its own and gives it to its workers by
//! environment (not argv), so other users of the machine cannot join or steer it.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use tracing::{info, warn};

use crate::actors::center::{self, CenterConfig};
use crate::actors::executor::Executor;
use crate::actors::remote::ConnectOptions;
use crate::actors::worker::config::{default_nthreads, total_memory};
use crate::messages::{Token, TOKEN_ENV};

/// Set in the environment of worker processes started by a local cluster.
pub const LOCAL_WORKER_ENV: &str = "TASKFORCE_LOCAL_WORKER";

/// How long a local cluster waits for its workers to register.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of a [`LocalCluster`].
#[derive(Clone, Debug)]
pub struct LocalClusterBuilder {
    workers: usize,
    threads_per_worker: u32,
    memory_limit: u64,
    program: Option<std::path::PathBuf>,
    log_level: String,
    dashboard: bool,
    route: Option<WorkerRoute>,
}

/// How workers reach the center: the address they dial, given the center's.
#[derive(Clone)]
struct WorkerRoute(std::sync::Arc<dyn Fn(SocketAddr) -> SocketAddr + Send + Sync>);

impl std::fmt::Debug for WorkerRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerRoute(..)")
    }
}

impl Default for LocalClusterBuilder {
    fn default() -> Self {
        let cores = default_nthreads().max(1) as usize;
        LocalClusterBuilder {
            workers: cores.min(4),
            threads_per_worker: 1,
            memory_limit: total_memory() / cores.clamp(1, 4) as u64,
            program: None,
            log_level: "warn".into(),
            dashboard: true,
            route: None,
        }
    }
}

impl LocalClusterBuilder {
    /// Number of worker processes (default: cores, at most 4).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Task threads per worker (default 1).
    pub fn threads_per_worker(mut self, n: u32) -> Self {
        self.threads_per_worker = n.max(1);
        self
    }

    /// Memory limit per worker in bytes (default: total memory / workers).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Log level of the worker processes (default `warn`; `RUST_LOG` overrides it).
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = level.into();
        self
    }

    /// Whether the center serves a dashboard on a free port of 127.0.0.1 (default true).
    pub fn dashboard(mut self, serve: bool) -> Self {
        self.dashboard = serve;
        self
    }

    /// The executable to start workers from (default: this one).
    pub fn program(mut self, program: impl Into<std::path::PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Workers dial `route(center)` instead of the center's address: a proxy in front of it,
    /// such as [`crate::testing::LatencyProxy`], to give them a slower network than
    /// loopback. Executors still connect to the center directly.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use taskforce::testing::{LatencyProxy, LinkShape};
    /// let proxy = std::sync::Arc::new(LatencyProxy::bind(LinkShape::delay(Duration::from_millis(1)))?);
    /// let route = proxy.clone();
    /// let cluster = taskforce::LocalCluster::builder()
    ///     .worker_route(move |center| {
    ///         route.forward_to(center);
    ///         route.addr()
    ///     })
    ///     .start()?; // each worker sees a 2 ms round trip to its center
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn worker_route(
        mut self,
        route: impl Fn(SocketAddr) -> SocketAddr + Send + Sync + 'static,
    ) -> Self {
        self.route = Some(WorkerRoute(std::sync::Arc::new(route)));
        self
    }

    /// Starts the center and the workers and waits until every worker has registered.
    ///
    /// Like `Executor::local`, this works on any thread, a tokio runtime's included (it
    /// blocks that thread while the cluster starts); in async code prefer
    /// [`LocalClusterBuilder::start_async`].
    pub fn start(self) -> crate::Result<LocalCluster> {
        serve_if_local_worker();
        crate::actors::executor::permit_blocking(|| self.start_here())
    }

    /// [`LocalClusterBuilder::start`] without blocking the calling task (the cluster starts
    /// on a thread of its own). In a worker process of a local cluster (which re-runs this
    /// program) it serves as that worker and never returns.
    pub async fn start_async(self) -> crate::Result<LocalCluster> {
        serve_if_local_worker();
        crate::actors::executor::on_own_thread("taskforce-local", move || self.start()).await
    }

    fn start_here(self) -> crate::Result<LocalCluster> {
        let program = match self.program.clone() {
            Some(program) => program,
            None => std::env::current_exe()?,
        };
        let token = Token::generate();
        let (center_thread, addr, system, dashboard) =
            start_center_thread(token.clone(), self.dashboard)?;
        let mut cluster = LocalCluster {
            addr,
            token,
            dashboard,
            system: Some(system),
            center_thread: Some(center_thread),
            workers: Vec::new(),
        };
        cluster.workers = self.spawn_workers_from_center_thread(&cluster, program)?;
        let executor = cluster.executor()?;
        executor.wait_for_workers(self.workers, STARTUP_TIMEOUT)?;
        info!(workers = self.workers, "Local cluster ready at {addr}");
        Ok(cluster)
    }

    /// Starts the worker processes from the center's thread: the kernel's parent-death
    /// signal follows the thread that forked, and that thread lives exactly as long as the
    /// cluster (the caller's may not: a pool thread that retires would take the workers).
    fn spawn_workers_from_center_thread(
        &self,
        cluster: &LocalCluster,
        program: std::path::PathBuf,
    ) -> crate::Result<Vec<std::process::Child>> {
        let system = cluster.system.as_ref().expect("a running center");
        let (spawned, children) = std::sync::mpsc::channel();
        let builder = self.clone();
        let center = match &self.route {
            Some(WorkerRoute(route)) => route(cluster.addr),
            None => cluster.addr,
        };
        let token = cluster.token.clone();
        system.arbiter().spawn_fn(move || {
            let started = (0..builder.workers)
                .map(|index| builder.spawn_worker(&program, center, &token, index))
                .collect::<crate::Result<Vec<_>>>();
            let _ = spawned.send(started);
        });
        children.recv().map_err(|_| crate::Error::ConnectionLost {
            reason: "the local center's thread stopped while starting workers".into(),
        })?
    }

    fn spawn_worker(
        &self,
        program: &std::path::Path,
        center: SocketAddr,
        token: &Token,
        index: usize,
    ) -> crate::Result<std::process::Child> {
        let mut command = std::process::Command::new(program);
        command
            .arg("worker")
            .arg(center.to_string())
            .args(["--host", "127.0.0.1", "--death-timeout", "10s"])
            .arg(format!("--nthreads={}", self.threads_per_worker))
            .arg(format!("--memory-limit={}", self.memory_limit))
            .arg(format!("--name=local-{index}"))
            .arg(format!("--log-level={}", self.log_level))
            .env(LOCAL_WORKER_ENV, "1")
            .env(TOKEN_ENV, token.expose())
            .env(
                crate::actors::nanny::PARENT_PID_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null());
        command.spawn().map_err(|source| crate::Error::Spawn {
            program: program.display().to_string(),
            source,
        })
    }
}

/// A center and worker processes on this machine, stopped when dropped.
pub struct LocalCluster {
    addr: SocketAddr,
    /// Made for this cluster; its workers get it by environment.
    token: Token,
    dashboard: Option<String>,
    system: Option<actix::System>,
    center_thread: Option<std::thread::JoinHandle<()>>,
    workers: Vec<std::process::Child>,
}

impl LocalCluster {
    /// Settings for a new local cluster.
    pub fn builder() -> LocalClusterBuilder {
        LocalClusterBuilder::default()
    }

    /// The center's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dashboard's URL (served on 127.0.0.1, a free port), with `/metrics` beside it.
    pub fn dashboard_link(&self) -> Option<&str> {
        self.dashboard.as_deref()
    }

    /// Process ids of the worker processes (their nannies).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(std::process::Child::id).collect()
    }

    /// The token this cluster made for itself: a program that connects to it from elsewhere
    /// needs it (`TASKFORCE_TOKEN`).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// A new executor connected to this cluster.
    pub fn executor(&self) -> crate::Result<Executor> {
        // The embedded center lives and dies with this process: nothing to reconnect to.
        let options = ConnectOptions {
            give_up_after: Some(crate::actors::executor::CONNECT_TIMEOUT),
            reconnect_for: None,
            ..ConnectOptions::default()
        }
        .with_token(self.token.clone());
        Executor::connect_with(&self.addr.to_string(), options)
    }
}

impl Drop for LocalCluster {
    /// Stops the workers (SIGTERM, then SIGKILL after 5 s) and the center. Inside an async
    /// runtime this must not hold the runtime's thread for seconds: the stop finishes on a
    /// thread of its own, and the drop returns at once (should the process exit first, the
    /// kernel still stops the workers: their parent-death signal).
    fn drop(&mut self) {
        let stop = Stop {
            workers: std::mem::take(&mut self.workers),
            system: self.system.take(),
            center_thread: self.center_thread.take(),
        };
        if !crate::actors::executor::in_runtime() {
            return stop.run();
        }
        let spawned = std::thread::Builder::new()
            .name("taskforce-local-stop".into())
            .spawn(move || stop.run());
        if let Err(error) = spawned {
            warn!(%error, "Could not stop the local cluster in the background; its workers stop when this process exits");
        }
    }
}

/// What stopping a local cluster must wait for.
struct Stop {
    workers: Vec<std::process::Child>,
    system: Option<actix::System>,
    center_thread: Option<std::thread::JoinHandle<()>>,
}

impl Stop {
    fn run(mut self) {
        for child in &self.workers {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        for child in &mut self.workers {
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if matches!(child.try_wait(), Ok(None)) {
                warn!(pid = child.id(), "local worker ignored SIGTERM; killing it");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if let Some(system) = self.system.take() {
            system.stop();
        }
        if let Some(thread) = self.center_thread.take() {
            let _ = thread.join();
        }
    }
}

type CenterThread = (
    std::thread::JoinHandle<()>,
    SocketAddr,
    actix::System,
    Option<String>,
);

fn start_center_thread(token: Token, dashboard: bool) -> crate::Result<CenterThread> {
    let (started, startup) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("taskforce-center".into())
        .spawn(move || {
            let system = actix::System::new();
            let config = CenterConfig {
                host: Ipv4Addr::LOCALHOST.into(),
                port: 0,
                dashboard: dashboard.then(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
                token: Some(token),
                // Only this process holds the generated token: its owner may restart.
                allow_restart: true,
                ..CenterConfig::default()
            };
            let handle = system.block_on(center::start(config));
            let reply = match &handle {
                Ok(h) => Ok((h.addr, actix::System::current(), h.dashboard_link())),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            let _ = started.send(reply);
            if handle.is_ok() {
                let _ = system.run();
            }
            drop(handle); // the dashboard serves as long as the center runs
        })?;
    match startup.recv() {
        Ok(Ok((addr, system, dashboard))) => Ok((thread, addr, system, dashboard)),
        Ok(Err(e)) => Err(crate::Error::Bind(e)),
        Err(_) => Err(crate::Error::ConnectionLost {
            reason: "the local center's thread stopped while starting".into(),
        }),
    }
}

/// In a process started as a local cluster's worker: serve as that worker and exit. Does
/// nothing anywhere else. Called by `Executor::local()` and `LocalCluster::start`, so a
/// program that re-runs its own `main` in its workers needs no dispatch of its own.
pub fn serve_if_local_worker() {
    if std::env::var_os(LOCAL_WORKER_ENV).is_some()
        && std::env::args().nth(1).as_deref() == Some("worker")
    {
        let code = match crate::cli::main() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("taskforce worker: {e}");
                1
            }
        };
        std::process::exit(code);
    }
}
