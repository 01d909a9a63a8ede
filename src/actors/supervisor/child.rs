//! A supervised child as the shell sees it: how to start it ([`ChildSpec`]), the running
//! task it became ([`RunningChild`]), and the helpers that run an actix actor so that its
//! panic becomes an exit reason instead of a silently closed mailbox.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use tokio::task::{AbortHandle, JoinHandle};

use crate::function::boundary::panic_message;
use crate::supervision::{ChildInfo, ExitReason, RestartType};

/// Asks a child actor to stop gracefully; its handler usually calls `ctx.stop()`.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct StopChild;

/// Where a child may record why it is stopping (read when its task ends).
#[derive(Clone, Debug, Default)]
pub struct ExitSlot(Arc<Mutex<Option<ExitReason>>>);

impl ExitSlot {
    /// Records the reason the child is about to stop with.
    pub fn set(&self, reason: ExitReason) {
        *self.0.lock().expect("exit slot lock") = Some(reason);
    }

    /// Whether a reason was recorded (the child is on its way out).
    pub fn is_set(&self) -> bool {
        self.0.lock().expect("exit slot lock").is_some()
    }

    fn take(&self) -> Option<ExitReason> {
        self.0.lock().expect("exit slot lock").take()
    }
}

/// The latest address of a supervised actor: restarted actors get a new `Addr`, and holders
/// of a `ChildRef` always reach the current one.
pub struct ChildRef<A: Actor>(Arc<Mutex<Option<Addr<A>>>>);

impl<A: Actor> std::fmt::Debug for ChildRef<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let started = self.0.lock().expect("child ref lock").is_some();
        f.debug_struct("ChildRef")
            .field("started", &started)
            .finish()
    }
}

impl<A: Actor> Clone for ChildRef<A> {
    fn clone(&self) -> Self {
        ChildRef(self.0.clone())
    }
}

impl<A: Actor> Default for ChildRef<A> {
    fn default() -> Self {
        ChildRef(Arc::new(Mutex::new(None)))
    }
}

impl<A: Actor> ChildRef<A> {
    /// The current address, once the child has started.
    pub fn get(&self) -> Option<Addr<A>> {
        self.0.lock().expect("child ref lock").clone()
    }

    pub(crate) fn set(&self, addr: Addr<A>) {
        *self.0.lock().expect("child ref lock") = Some(addr);
    }
}

/// A started child: the task that ends when it exits, and how to ask it to stop.
pub struct RunningChild {
    pub(super) join: JoinHandle<ExitReason>,
    pub(super) abort: AbortHandle,
    pub(super) stop: Option<Box<dyn FnOnce()>>,
}

impl RunningChild {
    /// A child running as `join`; with no graceful stop, stopping it aborts the task.
    pub fn new(join: JoinHandle<ExitReason>) -> Self {
        let abort = join.abort_handle();
        RunningChild {
            join,
            abort,
            stop: None,
        }
    }

    /// Waits for the child to exit and says why (`Shutdown` if its task was aborted).
    pub async fn exited(self) -> ExitReason {
        self.join.await.unwrap_or(ExitReason::Shutdown)
    }

    /// How to ask it to stop before its shutdown timeout forces it.
    pub fn with_stop(mut self, stop: impl FnOnce() + 'static) -> Self {
        self.stop = Some(Box::new(stop));
        self
    }
}

type StartFn = Box<dyn FnMut() -> Result<RunningChild, String>>;

/// How to start a child, again and again: its name, restart type, shutdown timeout and a
/// start function run on the supervisor's thread.
pub struct ChildSpec {
    pub(super) info: ChildInfo,
    pub(super) shutdown_timeout: Duration,
    pub(super) start: StartFn,
}

impl ChildSpec {
    /// A child started by `start`, which returns the running child or why it could not
    /// start (a failed start counts as an abnormal exit).
    pub fn new(
        id: impl Into<String>,
        restart: RestartType,
        start: impl FnMut() -> Result<RunningChild, String> + 'static,
    ) -> Self {
        ChildSpec {
            info: ChildInfo::new(id, restart),
            shutdown_timeout: Duration::from_secs(5),
            start: Box::new(start),
        }
    }

    /// An actix actor made afresh by `make` at each (re)start, published through `child`.
    /// Stopping it sends [`StopChild`], then aborts it after the shutdown timeout.
    pub fn actor<A, F>(
        id: impl Into<String>,
        restart: RestartType,
        child: ChildRef<A>,
        mut make: F,
    ) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<StopChild>,
        F: FnMut(ExitSlot) -> A + 'static,
    {
        ChildSpec::new(id, restart, move || {
            let exit = ExitSlot::default();
            let (addr, running) = spawn_actor(make(exit.clone()), exit);
            child.set(addr.clone());
            Ok(running.with_stop(move || addr.do_send(StopChild)))
        })
    }

    /// How long a child asked to stop may take before it is aborted (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }
}

/// Runs `actor` on the current arbiter as its own task: the task ends with the reason in
/// `exit` (or `Normal`) when the actor stops, and with `Panicked` when a handler panics.
pub fn spawn_actor<A>(actor: A, exit: ExitSlot) -> (Addr<A>, RunningChild)
where
    A: Actor<Context = Context<A>>,
{
    spawn_in_context(Context::new(), actor, exit)
}

/// Like [`spawn_actor`], in a context prepared beforehand (streams added, address handed
/// out before the actor existed).
pub fn spawn_in_context<A>(context: Context<A>, actor: A, exit: ExitSlot) -> (Addr<A>, RunningChild)
where
    A: Actor<Context = Context<A>>,
{
    let addr = context.address();
    let run = context.into_future(actor);
    let task = actix_rt::spawn(run);
    let abort = task.abort_handle();
    let join = actix_rt::spawn(async move {
        match task.await {
            Ok(()) => exit.take().unwrap_or(ExitReason::Normal),
            Err(error) if error.is_panic() => {
                ExitReason::Panicked(panic_message(error.into_panic().as_ref()))
            }
            Err(_) => ExitReason::Shutdown,
        }
    });
    let running = RunningChild {
        join,
        abort,
        stop: None,
    };
    (addr, running)
}
