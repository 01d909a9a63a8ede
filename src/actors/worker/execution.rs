//! How the worker actor runs what the scheduler sends: check the function, fetch missing
//! inputs straight from the peers that hold them, run on the task threads, and report back in
//! batches.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use tracing::warn;

use super::actor::{Worker, LOG_TARGET};
use super::pool::{Job, JobDone};
use super::tasks::{plan_fetches, FetchPlan, WaitingTask};
use crate::actors::remote::peer_client::{
    connect_peer, get_data, keep_link, Fetched, PeerError, PeerLink,
};
use crate::function::{lookup, ArgSlot, ArgSpec, Stored, TaskBody};
use crate::function::{Call, CallOutcome};
use crate::ids::{Map, TaskKey, WorkerId};
use crate::messages::center_link::{TaskEvent, WorkerToCenter};
use crate::scheduler::{ComputeTask, Priority, TaskFailure};

/// Values up to this size ride along with the "finished" report, so clients need not fetch.
const INLINE_BYTES: u64 = 4096;
/// Reports are sent once this many have gathered, or at the end of the current turn.
const REPORT_BATCH: usize = 512;

impl Worker {
    pub(super) fn worker_id(&self) -> WorkerId {
        self.id.unwrap_or(WorkerId(0))
    }

    pub(super) fn on_compute(
        &mut self,
        tasks: Vec<ComputeTask>,
        peers: Vec<(WorkerId, SocketAddr)>,
        ctx: &mut Context<Self>,
    ) {
        self.peer_addrs.extend(peers);
        for task in tasks {
            self.accept_task(task, ctx);
        }
    }

    fn accept_task(&mut self, task: ComputeTask, ctx: &mut Context<Self>) {
        let key = task.key.clone();
        if let Some(nbytes) = self.store.nbytes_of(&key) {
            let inline = None;
            return self.report(
                TaskEvent::Finished {
                    key,
                    nbytes,
                    inline,
                },
                ctx,
            );
        }
        if self.tasks.revive(&key) || self.tasks.is_active(&key) {
            return;
        }
        let (body, invoke) = match self.prepare(&task) {
            Ok(prepared) => prepared,
            Err(failure) => {
                return self.report(
                    TaskEvent::Erred {
                        key,
                        failure: failure.into(),
                    },
                    ctx,
                )
            }
        };
        let missing: crate::ids::Set<TaskKey> = body
            .dependencies()
            .into_iter()
            .filter(|dep| !self.store.contains(dep))
            .collect();
        if missing.is_empty() {
            return self.start_task(key, task.priority, body, invoke, ctx);
        }
        let holders: Map<TaskKey, Vec<WorkerId>> = task.deps.into_iter().collect();
        let waiting = WaitingTask {
            body,
            invoke,
            missing,
            priority: task.priority,
        };
        let to_fetch = self.tasks.wait_for_inputs(key, waiting, &holders);
        let (plans, unreachable) = plan_fetches(to_fetch, &self.peer_addrs);
        for dep in unreachable {
            self.input_failed(&dep, WorkerId(0), ctx);
        }
        for plan in plans {
            self.fetch(plan, ctx);
        }
    }

    /// Decodes the task and finds its function, or says why it can't run here.
    fn prepare(
        &self,
        task: &ComputeTask,
    ) -> Result<(TaskBody, crate::function::registry::Invoke), TaskFailure> {
        let failed = |message: String| TaskFailure::Failed {
            function: task.function.clone(),
            key: task.key.clone(),
            worker: self.worker_id(),
            message,
        };
        let body = TaskBody::from_spec(&task.spec)
            .map_err(|e| failed(format!("undecodable task: {e}")))?;
        let Some((registration, signature)) = lookup(&body.function.name) else {
            return Err(TaskFailure::UnknownFunction {
                key: task.key.clone(),
                function: body.function,
            });
        };
        if signature != body.function.signature {
            return Err(failed(format!(
                "signature mismatch: this worker's {} has signature {signature:016x}, the task \
                 expects {:016x}; rebuild the worker and the executor from the same code",
                body.function.name, body.function.signature
            )));
        }
        Ok((body, registration.invoke))
    }

    fn start_task(
        &mut self,
        key: TaskKey,
        priority: Priority,
        body: TaskBody,
        invoke: crate::function::registry::Invoke,
        ctx: &mut Context<Self>,
    ) {
        let mut args = Vec::with_capacity(body.args.len());
        for spec in body.args {
            match self.resolve(spec) {
                Ok(slot) => args.push(slot),
                Err(dep) => {
                    let holder = self.worker_id();
                    let event = TaskEvent::MissingDependency {
                        key,
                        dependency: dep,
                        holder,
                    };
                    return self.report(event, ctx);
                }
            }
        }
        self.tasks.started(key.clone(), body.function);
        self.pool().submit(Job {
            key,
            priority,
            call: Call { invoke, args },
        });
    }

    /// Turns an argument into what the function reads; `Err` names an input not held here.
    fn resolve(&self, spec: ArgSpec) -> Result<ArgSlot, TaskKey> {
        let held = |key: TaskKey| self.store.get(&key).cloned().ok_or(key);
        Ok(match spec {
            ArgSpec::Value(value) => ArgSlot::One(Stored::Encoded(Arc::new(value))),
            ArgSpec::Key(key) => ArgSlot::One(held(key)?),
            ArgSpec::Keys(keys) => {
                ArgSlot::List(keys.into_iter().map(held).collect::<Result<_, _>>()?)
            }
        })
    }

    fn fetch(&mut self, plan: FetchPlan, ctx: &mut Context<Self>) {
        let cached = self
            .peer_links
            .get(&plan.addr)
            .filter(|l| l.is_connected())
            .cloned();
        let owner = ctx.address().recipient();
        let name = self.name();
        let options = self.config.connect.clone();
        let FetchPlan { holder, addr, keys } = plan;
        let asked = keys.clone();
        let request = async move {
            let link = match cached {
                Some(link) => link,
                None => connect_peer(addr, name, owner, &options).await?,
            };
            let fetched = get_data(&link, addr, asked).await?;
            Ok::<(PeerLink, Fetched), PeerError>((link, fetched))
        };
        ctx.spawn(request.into_actor(self).map(move |result, worker, ctx| match result {
            Ok((link, fetched)) => {
                keep_link(&mut worker.peer_links, addr, link);
                worker.on_fetched(holder, fetched, ctx);
            }
            Err(e) => {
                warn!(target: LOG_TARGET, %holder, %addr, keys = keys.len(), "fetch failed: {e}");
                for dep in &keys {
                    worker.input_failed(dep, holder, ctx);
                }
            }
        }));
    }

    fn on_fetched(&mut self, holder: WorkerId, fetched: Fetched, ctx: &mut Context<Self>) {
        for (key, value) in fetched.values {
            let nbytes = value.len() as u64;
            self.peer_bytes_in += nbytes;
            self.store
                .insert(key.clone(), Stored::Encoded(Arc::new(value)), nbytes);
            // A copy the scheduler must know of, so its release reaches this worker too.
            let replica = TaskEvent::Finished {
                key: key.clone(),
                nbytes,
                inline: None,
            };
            self.report(replica, ctx);
            for (task, waiting) in self.tasks.input_arrived(&key) {
                self.start_task(task, waiting.priority, waiting.body, waiting.invoke, ctx);
            }
        }
        for dep in &fetched.missing {
            self.input_failed(dep, holder, ctx);
        }
    }

    fn input_failed(&mut self, dep: &TaskKey, holder: WorkerId, ctx: &mut Context<Self>) {
        for key in self.tasks.input_failed(dep) {
            let dependency = dep.clone();
            self.report(
                TaskEvent::MissingDependency {
                    key,
                    dependency,
                    holder,
                },
                ctx,
            );
        }
    }

    pub(super) fn on_job_done(&mut self, done: JobDone, ctx: &mut Context<Self>) {
        let JobDone { key, outcome } = done;
        let Some(function) = self.tasks.finished(&key) else {
            return;
        };
        let event = match outcome {
            CallOutcome::Value(value) => {
                let nbytes = value.nbytes();
                let inline = (nbytes <= INLINE_BYTES)
                    .then(|| value.encode().ok())
                    .flatten();
                self.store
                    .insert(key.clone(), Stored::Object(value), nbytes);
                TaskEvent::Finished {
                    key,
                    nbytes,
                    inline,
                }
            }
            CallOutcome::Failed(error) => {
                let (worker, message) = (self.worker_id(), error.to_string());
                let failure = TaskFailure::Failed {
                    function,
                    key: key.clone(),
                    worker,
                    message,
                };
                TaskEvent::Erred {
                    key,
                    failure: failure.into(),
                }
            }
            CallOutcome::Panicked(message) => {
                warn!(target: LOG_TARGET, %key, function = %function.name, "task panicked: {message}");
                let worker = self.worker_id();
                let failure = TaskFailure::Panicked {
                    function,
                    key: key.clone(),
                    worker,
                    message,
                };
                TaskEvent::Erred {
                    key,
                    failure: failure.into(),
                }
            }
        };
        self.report(event, ctx);
    }

    pub(super) fn on_release(&mut self, keys: Vec<TaskKey>) {
        for key in keys {
            self.store.remove(&key);
            self.tasks.release(&key);
        }
    }

    fn report(&mut self, event: TaskEvent, ctx: &mut Context<Self>) {
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
        self.on_job_done(done, ctx);
    }
}
