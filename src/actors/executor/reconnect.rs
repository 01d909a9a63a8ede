//! An executor whose center is lost keeps its futures and comes back: it reconnects with
//! backoff (for up to `ConnectOptions::reconnect_for`, 60 s by default) and re-submits what it still holds, so the
//! scheduler of a restarted center can match it against the values workers kept.
//!
//! While reconnecting, new submissions are only recorded (the re-submission carries them),
//! releases only update the record, and requests and cancels wait (at most
//! [`MAX_HELD_BACK`] of them; one more fails at once as when the center is gone). A scatter
//! that waited fails: it names workers by the lost center's numbers.

use std::sync::{Arc, RwLock};

use actix::prelude::*;
use tracing::{info, warn};

use super::actor::{AskScheduler, ExecutorActor, LOG_TARGET};
use super::state::KeyStatus;
use crate::actors::remote::handshake::HandshakeError;
use crate::actors::remote::{
    connect_with_backoff, AtSendBound, Connected, RemoteError, SendQueue, Session,
};
use crate::ids::TaskKey;
use crate::messages::executor_link::ExecutorToScheduler;
use crate::messages::tasks::NewTaskMsg;
use crate::messages::{Hello, Role};

/// The most requests and cancels that wait for the center to come back.
const MAX_HELD_BACK: usize = 1024;

/// The send queue of the current link to the scheduler, which the user's threads wait on;
/// replaced when the executor reconnects.
pub(crate) type QueueSlot = Arc<RwLock<Arc<SendQueue>>>;

/// What waits for the center to come back.
#[derive(Default)]
pub(crate) struct Reconnecting {
    /// Why the last link closed.
    reason: String,
    messages: Vec<ExecutorToScheduler>,
    asks: Vec<AskScheduler>,
}

/// About how many bytes of tasks one part of a re-submission carries (far under the frame
/// limit on a message header, 64 MiB by default).
const RESUBMIT_PART_BYTES: usize = 16 << 20;

/// The re-submission of `tasks` and `wanted` in parts of about [`RESUBMIT_PART_BYTES`] each,
/// in order; the wanted keys go in the last part.
pub(crate) fn resubmission(
    tasks: Vec<NewTaskMsg>,
    wanted: Vec<TaskKey>,
) -> Vec<ExecutorToScheduler> {
    let mut parts = Vec::new();
    let mut part = Vec::new();
    let mut bytes = 0;
    for task in tasks {
        let size = task.spec.as_bytes().len()
            + task.key.as_str().len()
            + task
                .deps
                .iter()
                .map(|dep| dep.as_str().len() + 8)
                .sum::<usize>()
            + 64;
        if bytes + size > RESUBMIT_PART_BYTES && !part.is_empty() {
            let tasks = std::mem::take(&mut part);
            parts.push(ExecutorToScheduler::Resubmit {
                tasks,
                wanted: Vec::new(),
                last: false,
            });
            bytes = 0;
        }
        bytes += size;
        part.push(task);
    }
    parts.push(ExecutorToScheduler::Resubmit {
        tasks: part,
        wanted,
        last: true,
    });
    parts
}

/// The introduction an executor named `name` makes.
pub(crate) fn executor_hello(name: &str) -> Hello {
    Hello {
        role: Role::Executor,
        name: name.to_string(),
        listen_addr: None,
        nthreads: 0,
        memory_limit: 0,
        pid: std::process::id(),
        functions: Vec::new(),
        resources: Default::default(),
    }
}

impl ExecutorActor {
    /// The link to the scheduler closed (not by us): keep every future and reconnect.
    pub(crate) fn on_scheduler_lost(&mut self, reason: String, ctx: &mut Context<Self>) {
        let Some(limit) = self.options.reconnect_for else {
            warn!(target: LOG_TARGET, center = %self.center, "Lost the scheduler: {reason}");
            let status = KeyStatus::Disconnected(format!("lost the scheduler: {reason}"));
            self.shared.set_all(status, false);
            self.lost = Some(reason);
            return;
        };
        warn!(target: LOG_TARGET, center = %self.center, "Lost the scheduler: {reason}; reconnecting for up to {limit:?}");
        self.reconnecting = Some(Reconnecting {
            reason,
            ..Reconnecting::default()
        });
        let options = crate::actors::remote::ConnectOptions {
            give_up_after: Some(limit),
            ..self.options.clone()
        };
        let hello = executor_hello(&self.name);
        let center = self.center.clone();
        let attempt = async move { connect_with_backoff(&center, &hello, &options).await };
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(|result, actor, ctx| match result {
                    Ok(connected) => actor.on_reconnected(connected, ctx),
                    Err(e) => actor.give_up_reconnecting(e),
                }),
        );
    }

    /// Keeps a message for the next center; hands it back at the bound (or if the executor
    /// is not reconnecting), for the caller to fail.
    pub(crate) fn hold_back(
        &mut self,
        message: ExecutorToScheduler,
    ) -> Result<(), ExecutorToScheduler> {
        let Some(waiting) = &mut self.reconnecting else {
            return Err(message);
        };
        match message {
            // Carried by the re-submission: every kept task, every held key.
            ExecutorToScheduler::UpdateGraph { .. } | ExecutorToScheduler::Want(_) => Ok(()),
            message if waiting.messages.len() + waiting.asks.len() < MAX_HELD_BACK => {
                waiting.messages.push(message);
                Ok(())
            }
            message => Err(message),
        }
    }

    /// Keeps a request for the next center; answers it "gone" at the bound or if the
    /// executor is not reconnecting.
    pub(crate) fn hold_back_ask(&mut self, ask: AskScheduler) {
        match &mut self.reconnecting {
            Some(waiting) if waiting.messages.len() + waiting.asks.len() < MAX_HELD_BACK => {
                waiting.asks.push(ask)
            }
            _ => {
                let _ = ask.reply.send(Err(RemoteError::SessionGone));
            }
        }
    }

    fn on_reconnected(&mut self, connected: Connected, ctx: &mut Context<Self>) {
        let Some(waiting) = self.reconnecting.take() else {
            return;
        };
        let session_options = crate::actors::remote::SessionOptions {
            at_send_bound: AtSendBound::Wait,
            ..self.options.session_options()
        };
        let link = Session::open(
            connected.stream,
            ctx.address().recipient(),
            session_options,
            None,
        );
        if let Some(queue) = link.known_send_queue() {
            *self.send_queue.write().expect("queue slot lock") = queue;
        }
        self.shared.set_client(crate::ids::ClientId(connected.id));
        let tasks = self.submissions.tasks();
        let wanted = self.shared.held_keys();
        info!(target: LOG_TARGET, center = %self.center, client = connected.id, tasks = tasks.len(),
            wanted = wanted.len(), submissions = self.submissions.len(), "Reconnected to the scheduler; re-submitting what is still held");
        for part in resubmission(tasks, wanted) {
            link.tell(part);
        }
        self.scheduler = Some(link);
        self.lost = None;
        for message in waiting.messages {
            self.send_or_refuse(message);
        }
        for ask in waiting.asks {
            // A scatter names its workers by the lost center's numbers, which the new one
            // gives out afresh: sent now it could name the wrong holder, so it fails (the
            // values are offered by their workers, and `scatter` may be called again).
            if matches!(ask.request, ExecutorToScheduler::Scattered(_)) {
                let _ = ask.reply.send(Err(RemoteError::SessionGone));
                continue;
            }
            self.ask_scheduler(ask, ctx);
        }
    }

    fn give_up_reconnecting(&mut self, error: HandshakeError) {
        let Some(waiting) = self.reconnecting.take() else {
            return;
        };
        let limit = self.options.reconnect_for.unwrap_or_default();
        let reason = format!(
            "{}; could not reconnect within {limit:?}: {error}",
            waiting.reason
        );
        warn!(target: LOG_TARGET, center = %self.center, "Giving up on the scheduler: {reason}");
        self.shared.set_all(
            KeyStatus::Disconnected(format!("lost the scheduler: {reason}")),
            false,
        );
        self.lost = Some(reason);
        for message in waiting.messages {
            self.send_or_refuse(message);
        }
        for ask in waiting.asks {
            let _ = ask.reply.send(Err(RemoteError::SessionGone));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::FunctionId;

    fn task(name: &str, spec_bytes: usize) -> NewTaskMsg {
        NewTaskMsg {
            key: name.into(),
            function: FunctionId::new("f", 1),
            spec: vec![0_u8; spec_bytes].into(),
            deps: Vec::new(),
            order: 0,
            restrictions: None,
        }
    }

    #[test]
    fn a_large_resubmission_goes_in_parts_in_order_with_the_wants_last() {
        let tasks: Vec<NewTaskMsg> = (0..5).map(|i| task(&format!("t{i}"), 7 << 20)).collect();
        let parts = resubmission(tasks, vec!["t4".into()]);
        let shapes: Vec<(Vec<String>, usize, bool)> = parts
            .into_iter()
            .map(|part| match part {
                ExecutorToScheduler::Resubmit {
                    tasks,
                    wanted,
                    last,
                } => (
                    tasks.iter().map(|t| t.key.to_string()).collect(),
                    wanted.len(),
                    last,
                ),
                other => panic!("not a re-submission: {other:?}"),
            })
            .collect();
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shapes,
            vec![
                (names(&["t0", "t1"]), 0, false),
                (names(&["t2", "t3"]), 0, false),
                (names(&["t4"]), 1, true),
            ]
        );
        assert_eq!(resubmission(Vec::new(), Vec::new()).len(), 1);
    }
}
