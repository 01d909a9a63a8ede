//! The executor's face of services: spawn one or a group, and look one up by name.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::oneshot;

use super::client::{client, connect_options, Request};
use super::handle::{ServiceHandle, StopOnDrop};
use super::owner::{Own, OwnedGroup, WorkerList};
use super::target::{Location, Target};
use crate::actors::executor::{check_may_block, on_own_thread, wait_for_reply, Executor};
use crate::actors::remote::ConnectOptions;
use crate::messages::codec;
use crate::messages::service_link::{
    FindService, FromServiceHost, MemberSpec, ServiceId, StartGroup, ToServiceHost,
};
use crate::service::{Restart, Service, ServiceError};

impl Executor {
    /// Starts a service `S` from `S::default()` on a worker, under a supervisor with
    /// `policy`; it stops when the last handle of this executor drops.
    ///
    /// ```no_run
    /// # use serde::{Deserialize, Serialize};
    /// # use std::time::Duration;
    /// # use taskforce::{Executor, Restart};
    /// #[taskforce::service]
    /// #[derive(Default, Serialize, Deserialize)]
    /// struct Counter { n: u64 }
    ///
    /// #[taskforce::service]
    /// impl Counter {
    ///     pub fn increment(&mut self, by: u64) -> u64 { self.n += by; self.n }
    /// }
    ///
    /// # fn main() -> taskforce::Result<()> {
    /// let executor = Executor::local()?;
    /// let counter = executor.spawn_service::<Counter>(Restart::one_for_one().max_restarts(5, Duration::from_secs(60)))?;
    /// assert_eq!(counter.call(Increment(3))?, 3);
    /// # Ok(()) }
    /// ```
    pub fn spawn_service<S: Service + Default>(
        &self,
        policy: Restart,
    ) -> crate::Result<ServiceHandle<S>> {
        self.spawn_service_with(S::default(), policy)
    }

    /// Starts a service from `state` (the constructor's result), as
    /// [`Executor::spawn_service`] does.
    pub fn spawn_service_with<S: Service>(
        &self,
        state: S,
        policy: Restart,
    ) -> crate::Result<ServiceHandle<S>> {
        let mut group = self.service_group(policy);
        let handle = group.add(state)?;
        group.spawn()?;
        Ok(handle)
    }

    /// Starts a service that other executors can find by `name` ([`Executor::service`]); it
    /// runs until stopped, whatever happens to the handles.
    pub fn spawn_named_service<S: Service>(
        &self,
        name: &str,
        state: S,
        policy: Restart,
    ) -> crate::Result<ServiceHandle<S>> {
        let mut group = self.service_group(policy);
        let handle = group.add_named(name, state)?;
        group.spawn()?;
        Ok(handle)
    }

    /// [`Executor::spawn_service`] without blocking the calling task.
    pub async fn spawn_service_async<S: Service + Default>(
        &self,
        policy: Restart,
    ) -> crate::Result<ServiceHandle<S>> {
        self.spawn_service_with_async(S::default(), policy).await
    }

    /// [`Executor::spawn_service_with`] without blocking the calling task.
    pub async fn spawn_service_with_async<S: Service>(
        &self,
        state: S,
        policy: Restart,
    ) -> crate::Result<ServiceHandle<S>> {
        let mut group = self.service_group(policy);
        let handle = group.add(state)?;
        group.spawn_async().await?;
        Ok(handle)
    }

    /// [`Executor::spawn_named_service`] without blocking the calling task.
    pub async fn spawn_named_service_async<S: Service>(
        &self,
        name: &str,
        state: S,
        policy: Restart,
    ) -> crate::Result<ServiceHandle<S>> {
        let mut group = self.service_group(policy);
        let handle = group.add_named(name, state)?;
        group.spawn_async().await?;
        Ok(handle)
    }

    /// [`Executor::service`] without blocking the calling task (the lookup, which asks the
    /// scheduler and then the workers, runs on a thread of its own).
    pub async fn service_async<S: Service>(&self, name: &str) -> crate::Result<ServiceHandle<S>> {
        let executor = self.clone();
        let name = name.to_string();
        on_own_thread("taskforce-service-lookup", move || executor.service(&name)).await
    }

    /// A group of services started together on one worker, under one supervisor whose
    /// strategy (`one_for_all`, `rest_for_one`) says which members restart together.
    pub fn service_group(&self, policy: Restart) -> ServiceGroup {
        ServiceGroup {
            workers: worker_list(self),
            options: connect_options(Some(&self.inner.center)),
            spec: StartGroup {
                group: fresh_id(),
                policy,
                members: Vec::new(),
            },
            targets: Vec::new(),
            keep: None,
            named: false,
        }
    }

    /// A handle to the service spawned (by any executor) under `name`.
    ///
    /// On the thread of a current-thread tokio runtime this fails with
    /// [`crate::Error::BlockingInAsync`]: await [`Executor::service_async`] there.
    pub fn service<S: Service>(&self, name: &str) -> crate::Result<ServiceHandle<S>> {
        check_may_block("service", "service_async(..).await")?;
        let refresh = worker_list(self);
        let workers = refresh().map_err(|reason| ServiceError::Placement {
            service: name.to_string(),
            reason,
        })?;
        let options = connect_options(Some(&self.inner.center));
        for host in &workers {
            let find = ToServiceHost::Find(FindService::Name(name.into()));
            let found = ask((*host, options.clone()), find);
            let Ok(FromServiceHost::Found(Some(found))) = found else {
                continue;
            };
            if found.kind != S::KIND || found.signature != S::signature() {
                return Err(ServiceError::Mismatch {
                    service: name.to_string(),
                    method: "lookup",
                    reason: format!("it is a {}, not {} as built here", found.kind, S::KIND),
                }
                .into());
            }
            let target = Target::new(
                found.id,
                name.to_string(),
                (S::KIND, found.signature),
                false,
                Location::At(*host),
                (workers.clone(), options),
            )
            .with_refresh(refresh);
            return Ok(handle(Arc::new(target), None));
        }
        Err(ServiceError::NotFound { name: name.into() }.into())
    }
}

/// Services to start together; see [`Executor::service_group`]. Members start in the order
/// they are added; handles work once the group is spawned.
pub struct ServiceGroup {
    workers: WorkerList,
    options: Arc<ConnectOptions>,
    spec: StartGroup,
    targets: Vec<Arc<Target>>,
    keep: Option<Arc<StopOnDrop>>,
    named: bool,
}

impl ServiceGroup {
    /// Adds a member starting from `state`.
    pub fn add<S: Service>(&mut self, state: S) -> crate::Result<ServiceHandle<S>> {
        self.member(None, state)
    }

    /// Adds a member other executors can find by `name`; a group with a named member runs
    /// until stopped.
    pub fn add_named<S: Service>(
        &mut self,
        name: &str,
        state: S,
    ) -> crate::Result<ServiceHandle<S>> {
        self.named = true;
        self.member(Some(name.to_string()), state)
    }

    fn member<S: Service>(
        &mut self,
        name: Option<String>,
        state: S,
    ) -> crate::Result<ServiceHandle<S>> {
        let id = if self.spec.members.is_empty() {
            self.spec.group
        } else {
            fresh_id()
        };
        let label = name.clone().unwrap_or_else(|| short_name(S::KIND));
        self.spec.members.push(MemberSpec {
            id,
            name,
            kind: S::KIND.to_string(),
            signature: S::signature(),
            state: codec::encode(&state)?.into(),
        });
        let target = Target::new(
            id,
            label,
            (S::KIND, S::signature()),
            true,
            Location::Stopped,
            (Vec::new(), self.options.clone()),
        );
        let target = Arc::new(target);
        self.targets.push(target.clone());
        let keep = self
            .keep
            .get_or_insert_with(|| Arc::new(StopOnDrop(self.spec.group)));
        Ok(handle(target, Some(keep.clone())))
    }

    /// Places the group on a worker and waits until it started there.
    ///
    /// On the thread of a current-thread tokio runtime this fails with
    /// [`crate::Error::BlockingInAsync`]: await [`ServiceGroup::spawn_async`] there.
    pub fn spawn(self) -> crate::Result<()> {
        check_may_block("spawn", "spawn_async().await")?;
        let (started, placed) = self.launch();
        placed.outcome(wait_for_reply(started))
    }

    /// [`ServiceGroup::spawn`] without blocking the calling task.
    pub async fn spawn_async(self) -> crate::Result<()> {
        let (started, placed) = self.launch();
        placed.outcome(started.await)
    }

    /// Hands the group to this process's service client, which places it.
    fn launch(self) -> (oneshot::Receiver<Result<SocketAddr, String>>, Placed) {
        let ServiceGroup {
            workers,
            options: _,
            spec,
            targets,
            keep,
            named,
        } = self;
        let label = targets
            .first()
            .map_or_else(String::new, |t| t.label.clone());
        let (first_start, started) = oneshot::channel();
        client()
            .0
            .do_send(Own(OwnedGroup::new(spec, targets, workers, first_start)));
        (started, Placed { label, keep, named })
    }
}

/// A group handed to the service client, waiting to hear where it started.
struct Placed {
    label: String,
    keep: Option<Arc<StopOnDrop>>,
    named: bool,
}

impl Placed {
    fn outcome(
        self,
        started: Result<Result<SocketAddr, String>, oneshot::error::RecvError>,
    ) -> crate::Result<()> {
        let outcome = started.unwrap_or_else(|_| Err("the service client stopped".into()));
        if self.named {
            // A named group outlives its handles: forget the stop guard without running it.
            if let Some(keep) = self.keep.and_then(|keep| Arc::try_unwrap(keep).ok()) {
                std::mem::forget(keep);
            }
        }
        outcome.map(|_| ()).map_err(|reason| {
            ServiceError::Placement {
                service: self.label,
                reason,
            }
            .into()
        })
    }
}

fn handle<S>(target: Arc<Target>, keep: Option<Arc<StopOnDrop>>) -> ServiceHandle<S> {
    ServiceHandle {
        target,
        keep,
        _service: PhantomData,
    }
}

fn short_name(kind: &str) -> String {
    kind.rsplit("::").next().unwrap_or(kind).to_string()
}

fn fresh_id() -> ServiceId {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source");
    ServiceId(u64::from_le_bytes(bytes))
}

/// Sends one request to `host` and waits for its answer.
fn ask(
    (host, options): (SocketAddr, Arc<ConnectOptions>),
    body: ToServiceHost,
) -> Result<FromServiceHost, String> {
    let (answer, reply) = oneshot::channel();
    client().0.do_send(Request {
        host,
        options,
        body,
        answer,
    });
    match wait_for_reply(reply) {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(failure)) => Err(failure.to_string()),
        Err(_) => Err("the service client stopped".into()),
    }
}

/// The executor's workers, asked of the scheduler, in turn from a rotating start so
/// services spread over the cluster. Holds the executor weakly: services do not keep it
/// open.
fn worker_list(executor: &Executor) -> WorkerList {
    static TURN: AtomicUsize = AtomicUsize::new(0);
    let inner: Weak<_> = Arc::downgrade(&executor.inner);
    Arc::new(move || {
        let inner = inner
            .upgrade()
            .ok_or("the executor that owns it was closed")?;
        let executor = Executor { inner };
        let snapshot = executor.cluster_info().map_err(|e| e.to_string())?;
        let mut workers: Vec<SocketAddr> = snapshot.workers.iter().map(|w| w.addr).collect();
        if !workers.is_empty() {
            let turn = TURN.fetch_add(1, Ordering::Relaxed) % workers.len();
            workers.rotate_left(turn);
        }
        Ok(workers)
    })
}
