//! The [`Supervisor`] actor: starts its children, watches each one's task, feeds exits to
//! the pure [`SupervisorCore`] and carries out its commands one at a time (a stop completes,
//! or times out and is aborted, before the next command runs).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use tokio::task::AbortHandle;
use tracing::{error, info, warn};

use super::child::{spawn_actor, ChildSpec, ExitSlot, RunningChild};
use super::{Clock, SystemClock};
use crate::supervision::{
    ChildInfo, ChildStatus, Command, ExitReason, Intensity, Strategy, SupervisorCore,
};

const LOG_TARGET: &str = "taskforce::supervisor";

struct Live {
    generation: u64,
    abort: AbortHandle,
    stop: Option<Box<dyn FnOnce()>>,
}

struct Stopping {
    index: usize,
    generation: u64,
    abort: AbortHandle,
}

/// A supervisor: children started in order, restarted by strategy within an intensity,
/// stopped in reverse order; it exits abnormally (escalates) past its intensity.
pub struct Supervisor {
    name: String,
    core: SupervisorCore,
    specs: Vec<ChildSpec>,
    live: Vec<Option<Live>>,
    generations: Vec<u64>,
    queue: VecDeque<Command>,
    stopping: Option<Stopping>,
    shutting_down: bool,
    clock: Arc<dyn Clock>,
    exit: ExitSlot,
    published: Option<ViewCell>,
}

/// A child's task ended.
#[derive(Message)]
#[rtype(result = "()")]
struct ChildExited {
    index: usize,
    generation: u64,
    reason: ExitReason,
}

/// Stops every child in reverse start order, then the supervisor itself.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct ShutdownSupervisor;

/// Asks for the supervisor's children as they stand.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "SupervisorView")]
pub struct ViewSupervisor;

/// A supervisor's children as they stand.
#[derive(Clone, Debug, PartialEq, Eq, MessageResponse)]
pub struct SupervisorView {
    /// The supervisor's name.
    pub name: String,
    /// Why it gave up, if it did.
    pub gave_up: Option<ExitReason>,
    /// Its children in start order.
    pub children: Vec<ChildView>,
}

/// One child of a [`SupervisorView`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildView {
    /// Its name and restart type.
    pub info: ChildInfo,
    /// Where it stands.
    pub status: ChildStatus,
    /// How often it was restarted.
    pub restarts: u32,
    /// Why it last exited.
    pub last_exit: Option<ExitReason>,
}

/// The latest [`SupervisorView`] of a supervisor, which the supervisor keeps up to date
/// itself, so readers (a status report) need no round trip to it. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ViewCell(Arc<Mutex<Option<SupervisorView>>>);

impl ViewCell {
    /// The view as of the supervisor's last change, once it has started.
    pub fn get(&self) -> Option<SupervisorView> {
        self.0.lock().expect("view cell lock").clone()
    }

    fn set(&self, view: SupervisorView) {
        *self.0.lock().expect("view cell lock") = Some(view);
    }
}

/// Builds a [`Supervisor`].
pub struct SupervisorBuilder {
    name: String,
    strategy: Strategy,
    intensity: Intensity,
    children: Vec<ChildSpec>,
    clock: Arc<dyn Clock>,
    published: Option<ViewCell>,
}

impl SupervisorBuilder {
    /// The restart strategy (default one-for-one).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// At most `max_restarts` in `window` (default 3 in 5 s).
    pub fn intensity(mut self, max_restarts: u32, window: Duration) -> Self {
        self.intensity = Intensity::new(max_restarts, window);
        self
    }

    /// Adds a child, started after those added before it.
    pub fn child(mut self, spec: ChildSpec) -> Self {
        self.children.push(spec);
        self
    }

    /// The clock intensity is measured with (tests inject one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps `cell` up to date with the supervisor's view.
    pub fn publish(mut self, cell: ViewCell) -> Self {
        self.published = Some(cell);
        self
    }

    /// The supervisor, ready to start.
    pub fn build(self) -> Supervisor {
        let infos = self.children.iter().map(|spec| spec.info.clone()).collect();
        let count = self.children.len();
        Supervisor {
            name: self.name,
            core: SupervisorCore::new(self.strategy, self.intensity, infos),
            specs: self.children,
            live: (0..count).map(|_| None).collect(),
            generations: vec![0; count],
            queue: VecDeque::new(),
            stopping: None,
            shutting_down: false,
            clock: self.clock,
            exit: ExitSlot::default(),
            published: self.published,
        }
    }
}

impl Supervisor {
    /// A supervisor named `name` (for logs and the tree view).
    pub fn builder(name: impl Into<String>) -> SupervisorBuilder {
        SupervisorBuilder {
            name: name.into(),
            strategy: Strategy::OneForOne,
            intensity: Intensity::default(),
            children: Vec::new(),
            clock: Arc::new(SystemClock),
            published: None,
        }
    }

    /// Starts the supervisor as a root on the current arbiter: its task ends with its exit
    /// reason (`Shutdown` when told to stop, `Failed` when it gave up).
    pub fn start_root(self) -> (Addr<Supervisor>, RunningChild) {
        let exit = self.exit.clone();
        spawn_actor(self, exit)
    }

    fn run_queue(&mut self, ctx: &mut Context<Self>) {
        self.run_commands(ctx);
        if let Some(cell) = &self.published {
            cell.set(self.view());
        }
    }

    fn run_commands(&mut self, ctx: &mut Context<Self>) {
        while self.stopping.is_none() {
            let Some(command) = self.queue.pop_front() else {
                break;
            };
            match command {
                Command::Start(index) => self.start_child(index, ctx),
                Command::Stop(index) => self.stop_child(index, ctx),
                Command::Escalate(reason) => {
                    error!(target: LOG_TARGET, supervisor = %self.name, "Giving up: {reason}");
                    self.exit.set(reason);
                    ctx.stop();
                    return;
                }
            }
        }
        if self.shutting_down && self.stopping.is_none() && self.queue.is_empty() {
            self.exit.set(ExitReason::Shutdown);
            ctx.stop();
        }
    }

    fn start_child(&mut self, index: usize, ctx: &mut Context<Self>) {
        self.generations[index] += 1;
        let generation = self.generations[index];
        let outcome = (self.specs[index].start)();
        let reason = match outcome {
            Ok(running) => return self.watch(index, generation, running, ctx),
            Err(message) => ExitReason::Failed(format!("could not start: {message}")),
        };
        // Reported through the mailbox so the commands already queued run first.
        ctx.notify(ChildExited {
            index,
            generation,
            reason,
        });
    }

    fn watch(
        &mut self,
        index: usize,
        generation: u64,
        running: RunningChild,
        ctx: &mut Context<Self>,
    ) {
        let RunningChild { join, abort, stop } = running;
        self.live[index] = Some(Live {
            generation,
            abort,
            stop,
        });
        let supervisor = ctx.address();
        actix_rt::spawn(async move {
            let reason = join.await.unwrap_or(ExitReason::Shutdown);
            supervisor.do_send(ChildExited {
                index,
                generation,
                reason,
            });
        });
    }

    fn stop_child(&mut self, index: usize, ctx: &mut Context<Self>) {
        let Some(live) = self.live[index].take() else {
            return;
        };
        let Live {
            generation,
            abort,
            stop,
        } = live;
        match stop {
            Some(stop) => stop(),
            None => abort.abort(),
        }
        let timeout = self.specs[index].shutdown_timeout;
        self.stopping = Some(Stopping {
            index,
            generation,
            abort,
        });
        ctx.run_later(timeout, move |supervisor, _| {
            if let Some(stopping) = &supervisor.stopping {
                if (stopping.index, stopping.generation) == (index, generation) {
                    warn!(target: LOG_TARGET, supervisor = %supervisor.name, child = %supervisor.specs[index].info.id,
                        "child did not stop within {timeout:?}; aborting it");
                    stopping.abort.abort();
                }
            }
        });
    }

    fn on_exit(&mut self, index: usize, reason: ExitReason, ctx: &mut Context<Self>) {
        let id = &self.specs[index].info.id;
        if reason.is_abnormal() {
            warn!(target: LOG_TARGET, supervisor = %self.name, child = %id, "child {reason}");
        } else {
            info!(target: LOG_TARGET, supervisor = %self.name, child = %id, "child {reason}");
        }
        let commands = self.core.on_child_exited(index, reason, self.clock.now());
        self.queue.extend(commands);
        self.run_queue(ctx);
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let commands = self.core.start_all();
        self.queue.extend(commands);
        self.run_queue(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        // No child outlives its supervisor, however the supervisor stopped.
        for live in self.live.iter_mut().filter_map(Option::take) {
            live.abort.abort();
        }
    }
}

impl Handler<ChildExited> for Supervisor {
    type Result = ();

    fn handle(&mut self, exited: ChildExited, ctx: &mut Context<Self>) {
        let ChildExited {
            index,
            generation,
            reason,
        } = exited;
        if let Some(stopping) = &self.stopping {
            if (stopping.index, stopping.generation) == (index, generation) {
                self.stopping = None;
                return self.run_queue(ctx);
            }
        }
        let current = self.live[index]
            .as_ref()
            .is_some_and(|live| live.generation == generation);
        let failed_start = self.live[index].is_none() && self.generations[index] == generation;
        if !(current || failed_start) || self.shutting_down {
            return;
        }
        self.live[index] = None;
        self.on_exit(index, reason, ctx);
    }
}

impl Handler<ShutdownSupervisor> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: ShutdownSupervisor, ctx: &mut Context<Self>) {
        info!(target: LOG_TARGET, supervisor = %self.name, "Shutting down");
        self.shutting_down = true;
        self.queue
            .retain(|command| matches!(command, Command::Stop(_)));
        let commands = self.core.shutdown();
        self.queue.extend(commands);
        self.run_queue(ctx);
    }
}

impl Handler<ViewSupervisor> for Supervisor {
    type Result = SupervisorView;

    fn handle(&mut self, _: ViewSupervisor, _ctx: &mut Context<Self>) -> SupervisorView {
        self.view()
    }
}

impl Supervisor {
    fn view(&self) -> SupervisorView {
        let children = self
            .core
            .children()
            .map(|(info, status, restarts, last_exit)| ChildView {
                info: info.clone(),
                status: status.clone(),
                restarts,
                last_exit: last_exit.cloned(),
            })
            .collect();
        SupervisorView {
            name: self.name.clone(),
            gave_up: self.core.gave_up().cloned(),
            children,
        }
    }
}

impl Handler<super::child::StopChild> for Supervisor {
    type Result = ();

    /// A supervisor supervised by another stops like any child: children first.
    fn handle(&mut self, _: super::child::StopChild, ctx: &mut Context<Self>) {
        self.handle(ShutdownSupervisor, ctx);
    }
}

impl ChildSpec {
    /// A child that is itself a supervisor, built afresh by `make` at each (re)start: when it
    /// gives up, this supervisor sees an abnormal exit naming the cause (escalation).
    pub fn supervisor(
        id: impl Into<String>,
        restart: crate::supervision::RestartType,
        mut make: impl FnMut() -> Supervisor + 'static,
    ) -> Self {
        ChildSpec::new(id, restart, move || {
            let (addr, running) = make().start_root();
            Ok(running.with_stop(move || addr.do_send(super::child::StopChild)))
        })
    }
}
