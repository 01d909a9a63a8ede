//! One running service on its host: an actix actor that owns the user's state, answers calls
//! in arrival order, runs its timers, checkpoints by policy, and turns a panicking method into
//! a failed call plus an abnormal exit its supervisor restarts.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use bytes::Bytes;
use tracing::warn;

use super::LOG_TARGET;
use crate::actors::remote::Remote;
use crate::actors::supervisor::{ExitSlot, StopChild};
use crate::function::boundary::panic_message;
use crate::messages::peer_link::{PeerToWorker, WorkerToPeer};
use crate::messages::service_link::{FromServiceHost, ServiceId};
use crate::service::{CallFailure, CheckpointPolicy, HostedService};
use crate::supervision::ExitReason;

/// The link a host answers a caller on (the peer session the call came through).
pub(crate) type CallerLink = Remote<WorkerToPeer, PeerToWorker>;

/// Where a call's answer goes. Dropped unanswered (the instance stopped with the call still
/// in its mailbox), it answers `Restarted`, so no caller waits forever.
pub(crate) struct ReplyTo {
    link: Option<CallerLink>,
    request: u64,
}

impl ReplyTo {
    pub(crate) fn new(link: CallerLink, request: u64) -> Self {
        ReplyTo {
            link: Some(link),
            request,
        }
    }

    pub(crate) fn send(mut self, outcome: Result<Bytes, CallFailure>) {
        if let Some(link) = self.link.take() {
            link.tell(WorkerToPeer::Service(
                self.request,
                FromServiceHost::Reply(outcome),
            ));
        }
    }
}

impl Drop for ReplyTo {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let failure = CallFailure::Restarted("the service stopped before answering".into());
            link.tell(WorkerToPeer::Service(
                self.request,
                FromServiceHost::Reply(Err(failure)),
            ));
        }
    }
}

/// A method call for the instance.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ServiceCall {
    pub(crate) method: u32,
    pub(crate) args: Bytes,
    pub(crate) reply: ReplyTo,
}

/// Calls parked for one service while it (re)starts. At the bound a call is answered
/// `Restarted` at once instead of waiting.
const MAX_PARKED_CALLS: usize = 65_536;

/// The running instance of a member, or the calls waiting for the next one.
#[derive(Default)]
pub(crate) struct Slot {
    instance: Option<Addr<ServiceInstance>>,
    pub(crate) parked: VecDeque<ServiceCall>,
}

impl Slot {
    /// Delivers in arrival order: to a live instance, else into the parking queue.
    pub(crate) fn route(&mut self, call: ServiceCall) {
        match &self.instance {
            Some(instance) if instance.connected() && self.parked.is_empty() => {
                instance.do_send(call)
            }
            _ if self.parked.len() < MAX_PARKED_CALLS => self.parked.push_back(call),
            _ => call.reply.send(Err(CallFailure::Restarted(
                "the service is restarting and too many calls wait for it".into(),
            ))),
        }
    }

    /// A new instance is up: it takes the parked calls first.
    pub(crate) fn install(&mut self, instance: Addr<ServiceInstance>) {
        for call in self.parked.drain(..) {
            instance.do_send(call);
        }
        self.instance = Some(instance);
    }

    /// The instance is on its way out: calls from now on wait for the next one.
    fn vacate(&mut self) {
        self.instance = None;
    }
}

/// The last state a member checkpointed (or its initial state): what a restart starts from.
pub(crate) type LatestState = Arc<Mutex<Bytes>>;

/// One running service.
pub(crate) struct ServiceInstance {
    pub(crate) id: ServiceId,
    pub(crate) hosted: Box<dyn HostedService>,
    pub(crate) exit: ExitSlot,
    pub(crate) checkpoint: CheckpointPolicy,
    pub(crate) latest: LatestState,
    /// The owner's link, told every checkpoint (state kept off this worker).
    pub(crate) owner: CallerLink,
    pub(crate) calls_since_checkpoint: u64,
    /// The slots of the members a panic here restarts (itself, and by the group's strategy
    /// its siblings).
    pub(crate) restarts_with: Vec<Arc<Mutex<Slot>>>,
}

impl ServiceInstance {
    fn take_checkpoint(&mut self) {
        self.calls_since_checkpoint = 0;
        match self.hosted.checkpoint() {
            Ok(state) => {
                let state = Bytes::from(state);
                *self.latest.lock().expect("checkpoint lock") = state.clone();
                self.owner.tell(WorkerToPeer::Service(
                    0,
                    FromServiceHost::Checkpoint {
                        service: self.id,
                        state,
                    },
                ));
            }
            Err(e) => warn!(target: LOG_TARGET, service = %self.id, "checkpoint failed: {e}"),
        }
    }

    fn after_call(&mut self) {
        self.calls_since_checkpoint += 1;
        if let Some(every) = self.checkpoint.every_calls {
            if self.calls_since_checkpoint >= every {
                self.take_checkpoint();
            }
        }
    }

    /// Runs `work` on the state; a panic stops the instance with `Panicked` (its supervisor
    /// decides what comes next) and is returned as the message.
    fn guarded<T>(
        &mut self,
        ctx: &mut Context<Self>,
        work: impl FnOnce(&mut dyn HostedService) -> T,
    ) -> Result<T, String> {
        let hosted = &mut *self.hosted;
        match catch_unwind(AssertUnwindSafe(|| work(hosted))) {
            Ok(value) => Ok(value),
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                // Before the caller hears of the panic: a call it makes next must wait for
                // the restarted instances, not reach one about to stop.
                for slot in &self.restarts_with {
                    slot.lock().expect("slot lock").vacate();
                }
                self.exit.set(ExitReason::Panicked(message.clone()));
                ctx.stop();
                Err(message)
            }
        }
    }
}

impl Actor for ServiceInstance {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        for (index, period) in self.hosted.timer_periods().into_iter().enumerate() {
            ctx.run_interval(period, move |instance, ctx| {
                let _ = instance.guarded(ctx, |hosted| hosted.tick(index));
                instance.calls_since_checkpoint += 1;
            });
        }
        if let Some(every) = self.checkpoint.every {
            ctx.run_interval(every, |instance, _| {
                if instance.calls_since_checkpoint > 0 {
                    instance.take_checkpoint();
                }
            });
        }
    }
}

impl Handler<ServiceCall> for ServiceInstance {
    type Result = ();

    fn handle(&mut self, call: ServiceCall, ctx: &mut Context<Self>) {
        if !self.exit_pending() {
            let ServiceCall {
                method,
                args,
                reply,
            } = call;
            match self.guarded(ctx, |hosted| hosted.call(method, &args)) {
                Ok(outcome) => {
                    reply.send(outcome.map(Bytes::from));
                    self.after_call();
                }
                Err(message) => reply.send(Err(CallFailure::Panicked(message))),
            }
        }
        // A call after a panic in this same turn is dropped: its `ReplyTo` answers
        // `Restarted`, as for calls still in the mailbox when the instance stops.
    }
}

impl ServiceInstance {
    fn exit_pending(&self) -> bool {
        self.exit.is_set()
    }
}

impl Handler<StopChild> for ServiceInstance {
    type Result = ();

    fn handle(&mut self, _: StopChild, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
