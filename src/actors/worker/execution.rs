//! Translation between the worker actor and its core (`crate::worker_core`): events from
//! the center, the task threads and peers go in; the core's commands come out and are
//! performed here — jobs to the task threads, fetches to peers, reports to the center in
//! batches. Nothing here decides what to run, fetch, keep or report.

use std::net::SocketAddr;

use actix::prelude::*;
use tracing::warn;

use super::actor::{Worker, LOG_TARGET};
use super::pool::{JobDone, TaskSeceded};
use super::spill::ShellOutbox;
use crate::actors::remote::peer_client::{connect_peer, get_data};
use crate::ids::WorkerId;
use crate::messages::activity::SpanKind;
use crate::messages::center_link::{TaskEvent, WorkerToCenter};
use crate::messages::tasks::FailureMsg;
use crate::scheduler::ComputeTask;
use crate::worker_core::{FetchOrder, WorkerCommand};

/// Reports are sent once this many have gathered, or at the end of the current turn.
const REPORT_BATCH: usize = 512;

impl Worker {
    pub(super) fn on_compute(
        &mut self,
        tasks: Vec<ComputeTask>,
        peers: Vec<(WorkerId, SocketAddr)>,
        ctx: &mut Context<Self>,
    ) {
        let mut out = ShellOutbox::new(self.spill.as_mut());
        self.core.on_compute(tasks, peers, &mut out);
        let commands = out.commands;
        self.perform(commands, ctx);
    }

    /// Does what the core said, in its order.
    pub(super) fn perform(&mut self, commands: Vec<WorkerCommand>, ctx: &mut Context<Self>) {
        for command in commands {
            match command {
                WorkerCommand::Run(job) => self.pool().submit(job),
                WorkerCommand::Fetch(order) => self.fetch(order, ctx),
                WorkerCommand::Report(event) => self.report(event, ctx),
                WorkerCommand::Offer(key, nbytes) => {
                    if let Some(center) = &self.center {
                        center.tell(WorkerToCenter::HeldKeys(vec![(key, nbytes)]));
                    }
                }
            }
        }
    }

    /// Asks the holder for the order's keys over the one link to its address (waiting for a
    /// connection attempt already under way rather than racing it).
    fn fetch(&mut self, order: FetchOrder, ctx: &mut Context<Self>) {
        let FetchOrder {
            id,
            holder,
            addr,
            keys,
        } = order;
        let owner = ctx.address().recipient();
        let name = self.name();
        let options = self.config.connect.clone();
        let link = self.peer_links.link(addr, move || async move {
            connect_peer(addr, name, owner, &options).await
        });
        let asked = keys.len();
        let started = std::time::Instant::now();
        let request = async move {
            let link = link.await?;
            get_data(&link, addr, keys).await
        };
        ctx.spawn(request.into_actor(self).map(move |result, worker, ctx| {
            let mut out = ShellOutbox::new(worker.spill.as_mut());
            match result {
                Ok(fetched) => {
                    let nbytes = fetched.values.iter().map(|(_, v)| v.len() as u64).sum();
                    let kind = SpanKind::Transfer { nbytes };
                    worker
                        .activity
                        .record(kind, started, std::time::Instant::now());
                    worker.core.on_fetched(id, fetched.values, &mut out)
                }
                Err(e) => {
                    warn!(target: LOG_TARGET, %holder, %addr, keys = asked, "fetch failed: {e}");
                    worker.core.on_fetch_failed(id, &mut out);
                }
            }
            let commands = out.commands;
            worker.perform(commands, ctx);
        }));
    }

    fn report(&mut self, event: TaskEvent, ctx: &mut Context<Self>) {
        if let TaskEvent::Erred {
            key,
            failure: FailureMsg::Panicked {
                function, message, ..
            },
        } = &event
        {
            warn!(target: LOG_TARGET, %key, function = %function.name, "task panicked: {}", crate::scheduler::shortened(message));
        }
        self.events.push(event);
        if self.events.len() >= REPORT_BATCH {
            return self.flush_events();
        }
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            ctx.notify(FlushEvents);
        }
    }

    pub(super) fn flush_events(&mut self) {
        self.flush_scheduled = false;
        if self.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        match &self.center {
            Some(center) => center.tell(WorkerToCenter::TaskEvents(events)),
            None => warn!(target: LOG_TARGET, dropped = events.len(), "no center to report to"),
        }
    }
}

/// Sends the reports gathered during this turn of the actor (queued behind the messages
/// already waiting, so one frame carries the outcomes of a burst of tasks).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct FlushEvents;

impl Handler<FlushEvents> for Worker {
    type Result = ();

    fn handle(&mut self, _: FlushEvents, _ctx: &mut Context<Self>) {
        self.flush_events();
    }
}

impl Handler<JobDone> for Worker {
    type Result = ();

    fn handle(&mut self, done: JobDone, ctx: &mut Context<Self>) {
        let JobDone {
            key,
            outcome,
            gated_bytes,
            function,
            thread,
            started,
            stopped,
        } = done;
        let erred = !matches!(outcome, crate::function::CallOutcome::Value(_));
        let kind = SpanKind::Compute {
            thread,
            function,
            erred,
        };
        self.activity.record(kind, started, stopped);
        let mut out = ShellOutbox::new(self.spill.as_mut());
        self.core.on_job_done(key, outcome, &mut out);
        if let Some(gate) = &self.memory_gate {
            gate.stored(gated_bytes);
        }
        let commands = out.commands;
        self.perform(commands, ctx);
    }
}

impl Handler<TaskSeceded> for Worker {
    type Result = ();

    fn handle(&mut self, TaskSeceded { key }: TaskSeceded, ctx: &mut Context<Self>) {
        let mut out = ShellOutbox::new(self.spill.as_mut());
        self.core.on_task_seceded(key, &mut out);
        let commands = out.commands;
        self.perform(commands, ctx);
    }
}
