//! The nanny: a parent process that runs a worker as its child, restarts it when it dies
//! (within a restart budget), forwards termination, and reports to the center.
//!
//! `taskforce worker ADDR` runs [`serve`]; the child is the same executable started as
//! `worker ADDR … --no-nanny`.
//!
//! # The nanny process's supervision tree
//!
//! ```text
//! nanny             restarts nothing: the actor's exit ends the process (code 1)
//! └── nanny         permanent   the worker process, its restart budget, the center link
//!                               (its session is its temporary child)
//! ```
//!
//! The worker process is the nanny's child in the operating system's sense: the nanny
//! restarts it within its budget, and it dies with the nanny.

pub mod actor;
mod budget;
pub mod memory_watch;

use std::time::Duration;

use tracing::{error, warn};

pub use actor::Nanny;
pub use budget::{Backoff, RestartBudget, RestartDecision};
pub use memory_watch::MemoryWatch;

use crate::actors::remote::ConnectOptions;

/// Environment variable by which a worker (or nanny) learns the pid of the process that
/// started it, so it can exit when that process dies.
pub const PARENT_PID_ENV: &str = "TASKFORCE_PARENT_PID";

/// How a nanny runs.
#[derive(Clone, Debug)]
pub struct NannyConfig {
    /// The center's address, `HOST:PORT`.
    pub center: String,
    /// Program to start as the worker (default: this executable).
    pub program: std::path::PathBuf,
    /// Arguments after `worker ADDR` for the child (its flags; `--no-nanny` is added).
    pub worker_args: Vec<String>,
    /// Name for logs.
    pub name: String,
    /// More than this many restarts within `restart_window` and the nanny gives up (default 5).
    pub max_restarts: u32,
    /// The window of the restart budget (default 60 s).
    pub restart_window: Duration,
    /// The wait before each restart within the window (default 100 ms, doubling, at most
    /// 5 s). A restart the center asks for is not delayed.
    pub backoff: Backoff,
    /// Time a worker gets to exit after SIGTERM before SIGKILL (default 10 s).
    pub kill_timeout: Duration,
    /// How to reach the center for reports.
    pub connect: ConnectOptions,
    /// The worker's memory limit, enforced by killing it past a fraction (default: none,
    /// the worker runs unwatched).
    pub memory: Option<MemoryWatch>,
}

impl NannyConfig {
    /// A nanny for a worker of `center`, started from this executable with `worker_args`.
    pub fn new(center: impl Into<String>, worker_args: Vec<String>) -> std::io::Result<Self> {
        Ok(NannyConfig {
            center: center.into(),
            program: std::env::current_exe()?,
            worker_args,
            name: format!("nanny-{}", std::process::id()),
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
            backoff: Backoff::default(),
            kill_timeout: Duration::from_secs(10),
            connect: ConnectOptions::default(),
            memory: None,
        })
    }
}

/// Runs a nanny until it is told to stop or its budget is spent. Returns the exit code.
///
/// The tree: a root that restarts nothing (intensity 0) over the nanny actor, whose state
/// (the worker process it watches, its restart budget) cannot be rebuilt in place. If the
/// actor exits, the process exits with code 1 and the reason logged; its worker process,
/// tied to the nanny's life, gets SIGTERM.
pub fn serve(config: NannyConfig) -> crate::Result<i32> {
    use crate::actors::supervisor::{ChildRef, ChildSpec, Supervisor};
    use crate::supervision::RestartType;
    die_with_parent();
    let system = actix::System::new();
    let stop = system.block_on(async { crate::signals::termination() })?;
    system.block_on(async move {
        let nanny = ChildRef::<Nanny>::default();
        let mut config = Some(config);
        let spec = ChildSpec::actor("nanny", RestartType::Permanent, nanny.clone(), move |_| {
            Nanny::new(config.take().expect("the root restarts nothing"))
        });
        let (_root, running) = Supervisor::builder("nanny")
            .intensity(0, Duration::from_secs(1))
            .child(spec)
            .build()
            .start_root();
        actix_rt::spawn(async move {
            let reason = running.exited().await;
            if reason.is_abnormal() {
                error!(target: crate::actors::LOG_NANNY, "Nanny gave up: {reason}; exiting");
                actix::System::current().stop_with_code(1);
            }
        });
        actix_rt::spawn(async move {
            let signal = stop.await;
            if let Some(nanny) = nanny.get() {
                nanny.do_send(actor::StopNanny(signal.to_string()));
            }
        });
    });
    Ok(system.run_with_code()?)
}

/// In a process started by a nanny or a local cluster: ask the kernel to send SIGTERM when
/// that parent dies, so no worker outlives it. Does nothing for a process started directly.
pub fn die_with_parent() {
    let Some(nanny_pid) = std::env::var(PARENT_PID_ENV)
        .ok()
        .and_then(|pid| pid.parse::<i32>().ok())
    else {
        return;
    };
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM) {
        warn!(target: crate::actors::LOG_NANNY, "could not tie this process's life to its parent's: {e}");
    }
    if nix::unistd::getppid().as_raw() != nanny_pid {
        warn!(target: crate::actors::LOG_NANNY, "the parent process (pid {nanny_pid}) is already gone; exiting");
        std::process::exit(1);
    }
}
