//! The nanny's actix shell: starts the worker process, watches it, restarts it within the
//! budget, forwards termination, and reports each event to the center.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Instant;

use actix::prelude::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::{error, info, warn};

use super::memory_watch::{rss_of, SAMPLE_EVERY};
use super::{NannyConfig, RestartBudget, RestartDecision, PARENT_PID_ENV};
use crate::actors::remote::{connect_with_backoff, Connected, Remote, Session, SessionEvent};
use crate::actors::worker::spill;
use crate::messages::nanny_link::{
    CenterToNanny, DeathCause, GaveUpMsg, NannyToCenter, WorkerExitedMsg, WorkerStartedMsg,
};
use crate::messages::{Hello, Role};

/// Logs of this actor appear under the role's name.
const LOG_TARGET: &str = "taskforce::nanny";

type CenterLink = Remote<NannyToCenter, CenterToNanny>;

/// The nanny actor.
pub struct Nanny {
    config: NannyConfig,
    budget: RestartBudget,
    child_pid: Option<u32>,
    center: Option<CenterLink>,
    restarts: u32,
    restart_requested: bool,
    stopping: bool,
    /// Set when the nanny killed the child for its memory: the cause to report for it, as
    /// its exit status only says SIGKILL.
    memory_kill: Option<DeathCause>,
}

/// Stop the worker process (SIGTERM, then SIGKILL after the kill timeout) and the nanny.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopNanny(pub String);

impl Nanny {
    /// A nanny that has not started its worker yet.
    pub fn new(config: NannyConfig) -> Self {
        Nanny {
            budget: RestartBudget::new(config.max_restarts, config.restart_window, config.backoff),
            config,
            child_pid: None,
            center: None,
            restarts: 0,
            restart_requested: false,
            stopping: false,
            memory_kill: None,
        }
    }

    fn report(&self, message: NannyToCenter) {
        if let Some(center) = &self.center {
            center.tell(message);
        }
    }

    fn spawn_worker(&mut self, ctx: &mut Context<Self>) {
        let mut command = tokio::process::Command::new(&self.config.program);
        command
            .arg("worker")
            .arg(&self.config.center)
            .args(&self.config.worker_args)
            .arg("--no-nanny")
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // The token goes by environment, never argv (which other users can read).
        if let Some(token) = &self.config.connect.token {
            command.env(crate::messages::TOKEN_ENV, token.expose());
        }
        // A panic injected by a test hits the first worker process only, so that the
        // fresh one shows the recovery instead of failing the same way.
        if self.restarts > 0 {
            command.env_remove(crate::actors::test_panic::TEST_PANIC_ENV);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                error!(target: LOG_TARGET, "Could not start worker process {}: {e}", self.config.program.display());
                return System::current().stop_with_code(1);
            }
        };
        let pid = child.id().unwrap_or(0);
        self.child_pid = Some(pid);
        info!(target: LOG_TARGET, pid, restarts = self.restarts, "Started worker process");
        self.report(NannyToCenter::WorkerStarted(WorkerStartedMsg {
            pid,
            restarts: self.restarts,
        }));
        let exited = async move { child.wait().await };
        ctx.spawn(
            exited
                .into_actor(self)
                .map(move |status, nanny, ctx| nanny.on_worker_exited(pid, status, ctx)),
        );
    }

    fn on_worker_exited(
        &mut self,
        pid: u32,
        status: std::io::Result<ExitStatus>,
        ctx: &mut Context<Self>,
    ) {
        self.child_pid = None;
        let cause = self.memory_kill.take().unwrap_or_else(|| cause_of(status));
        for dir in spill::remove_left_behind(pid) {
            info!(target: LOG_TARGET, pid, dir = %dir.display(), "Removed the dead worker's spill directory");
        }
        if self.stopping {
            info!(target: LOG_TARGET, pid, "Worker process {cause}; nanny closing");
            return System::current().stop();
        }
        let requested = std::mem::take(&mut self.restart_requested);
        let decision = if requested {
            RestartDecision::RestartAfter(std::time::Duration::ZERO)
        } else {
            self.budget.on_worker_died(Instant::now())
        };
        self.report(NannyToCenter::WorkerExited(WorkerExitedMsg {
            pid,
            cause: cause.clone(),
            restarting: decision != RestartDecision::GiveUp,
        }));
        let RestartDecision::RestartAfter(delay) = decision else {
            return self.give_up(pid, cause);
        };
        self.restarts += 1;
        if requested {
            info!(target: LOG_TARGET, pid, "Worker process {cause} as asked; starting a fresh one");
            return self.spawn_worker(ctx);
        }
        warn!(target: LOG_TARGET, pid, restarts_in_window = self.budget.used(), max = self.config.max_restarts,
            backoff = ?delay, "Worker process {cause}; restarting"
        );
        // A stop asked while waiting finds no child and closes the system, so the delayed
        // start never runs after it.
        ctx.run_later(delay, |nanny, ctx| {
            if !nanny.stopping {
                nanny.spawn_worker(ctx);
            }
        });
    }

    fn give_up(&mut self, pid: u32, last_cause: DeathCause) {
        let gave_up = GaveUpMsg {
            last_cause,
            restarts: self.budget.used(),
            window_ms: u64::try_from(self.budget.window().as_millis()).unwrap_or(u64::MAX),
        };
        error!(target: LOG_TARGET, pid, "Nanny giving up: {gave_up}");
        self.report(NannyToCenter::GaveUp(gave_up));
        System::current().stop_with_code(1);
    }

    /// One sample of the child's memory; past the terminate fraction of its limit the child
    /// is killed at once (SIGKILL: a process past its limit may not get to handle SIGTERM).
    fn check_memory(&mut self) {
        let (Some(watch), Some(pid)) = (self.config.memory, self.child_pid) else {
            return;
        };
        if self.memory_kill.is_some() || self.stopping {
            return;
        }
        let Some(cause) = rss_of(pid).and_then(|rss| watch.check(rss)) else {
            return;
        };
        warn!(target: LOG_TARGET, pid, threshold = watch.threshold(), "Worker process {cause}; killing it");
        self.memory_kill = Some(cause);
        self.signal_worker(Signal::SIGKILL);
    }

    fn signal_worker(&self, signal: Signal) {
        if let Some(pid) = self.child_pid {
            if let Err(e) = kill(Pid::from_raw(pid as i32), signal) {
                warn!(target: LOG_TARGET, pid, "could not send {signal} to worker process: {e}");
            }
        }
    }

    fn connect_center(&mut self, ctx: &mut Context<Self>) {
        let center = self.config.center.clone();
        let options = self.config.connect.clone();
        let hello = Hello {
            role: Role::Nanny,
            name: self.config.name.clone(),
            listen_addr: None,
            nthreads: 0,
            memory_limit: 0,
            pid: std::process::id(),
            functions: Vec::new(),
            resources: Default::default(),
        };
        let attempt = async move { connect_with_backoff(&center, &hello, &options).await };
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(|result, nanny, ctx| match result {
                    Ok(connected) => nanny.on_center_connected(connected, ctx),
                    Err(e) => warn!(target: LOG_TARGET, "Nanny cannot report to the center: {e}"),
                }),
        );
    }

    fn on_center_connected(&mut self, connected: Connected, ctx: &mut Context<Self>) {
        let limits = self.config.connect.session_options();
        let (id, session) =
            Session::start(connected.stream, ctx.address().recipient(), limits, None);
        let link = Remote::new(id, session);
        if let Some(pid) = self.child_pid {
            link.tell(NannyToCenter::WorkerStarted(WorkerStartedMsg {
                pid,
                restarts: self.restarts,
            }));
        }
        self.center = Some(link);
    }
}

/// How a worker process ended, from what waiting for it returned.
fn cause_of(status: std::io::Result<ExitStatus>) -> DeathCause {
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            return DeathCause::ConnectionClosed {
                reason: format!("its nanny could not wait for it: {e}"),
            }
        }
    };
    match (status.code(), status.signal()) {
        (Some(code), _) => DeathCause::Exited { code },
        (None, Some(number)) => DeathCause::Signal {
            number,
            name: Signal::try_from(number)
                .map(|signal| signal.as_str().to_string())
                .unwrap_or_else(|_| format!("number {number}")),
        },
        // An exit status from `wait` is either a code or a signal; stopped processes are
        // not reported by it.
        (None, None) => DeathCause::Exited { code: -1 },
    }
}

impl Actor for Nanny {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.spawn_worker(ctx);
        self.connect_center(ctx);
        if self.config.memory.is_some() {
            ctx.run_interval(SAMPLE_EVERY, |nanny, _| nanny.check_memory());
        }
    }
}

impl Handler<crate::actors::supervisor::StopChild> for Nanny {
    type Result = ();

    fn handle(&mut self, _: crate::actors::supervisor::StopChild, ctx: &mut Context<Self>) {
        self.handle(StopNanny("its supervisor stops it".into()), ctx);
    }
}

impl Handler<StopNanny> for Nanny {
    type Result = ();

    fn handle(&mut self, StopNanny(reason): StopNanny, ctx: &mut Context<Self>) {
        info!(target: LOG_TARGET, "Nanny closing ({reason}); stopping worker process");
        self.stopping = true;
        if self.child_pid.is_none() {
            return System::current().stop();
        }
        self.signal_worker(Signal::SIGTERM);
        ctx.run_later(self.config.kill_timeout, |nanny, _| {
            warn!(target: LOG_TARGET, "Worker process ignored SIGTERM; killing it");
            nanny.signal_worker(Signal::SIGKILL);
        });
    }
}

impl Handler<SessionEvent<CenterToNanny>> for Nanny {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<CenterToNanny>, ctx: &mut Context<Self>) {
        match event {
            SessionEvent::Received { incoming, .. } => match incoming.body {
                CenterToNanny::RestartWorker => {
                    info!(target: LOG_TARGET, "Center asks for a fresh worker process");
                    self.restart_requested = true;
                    self.signal_worker(Signal::SIGTERM);
                }
                CenterToNanny::Retire => {
                    let reason = "the center retired its worker; not starting another";
                    self.handle(StopNanny(reason.into()), ctx);
                }
            },
            SessionEvent::Closed { reason, .. } => {
                self.center = None;
                if !self.stopping {
                    warn!(target: LOG_TARGET, "Nanny lost the center ({reason}); reconnecting");
                    self.connect_center(ctx);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_is_named_and_an_exit_code_kept() {
        // Raw wait statuses: the signal number in the low bits, an exit code shifted by 8.
        let aborted = cause_of(Ok(ExitStatus::from_raw(6)));
        assert_eq!(aborted.to_string(), "killed by signal SIGABRT");
        let killed = cause_of(Ok(ExitStatus::from_raw(9)));
        assert_eq!(killed.to_string(), "killed by signal SIGKILL");
        let exited = cause_of(Ok(ExitStatus::from_raw(3 << 8)));
        assert_eq!(exited, DeathCause::Exited { code: 3 });
    }
}
