//! The owner's half of the service client: the groups this process spawned. It keeps their
//! last checkpoints (off the hosting worker), and when their worker is lost it counts a
//! restart against the group's intensity and starts the group on another worker from those
//! checkpoints, or marks it `Failed` with the cause.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::client::{Answer, ServiceClient};
use super::target::{Location, Target};
use super::LOG_TARGET;
use crate::messages::service_link::{FromServiceHost, ServiceId, StartGroup, ToServiceHost};
use crate::service::CallFailure;
use crate::supervision::{ChildInfo, Command, ExitReason, RestartType, SupervisorCore};

/// The workers a group may be placed on now (asks the scheduler; runs on its own thread).
pub(crate) type WorkerList = Arc<dyn Fn() -> Result<Vec<SocketAddr>, String> + Send + Sync>;

/// How long the owner keeps trying to place a group whose worker was lost (workers may be
/// restarting) before it marks the group `Failed`.
const PLACEMENT_DEADLINE: Duration = Duration::from_secs(60);
/// The pause between two rounds of placement attempts.
const PLACEMENT_RETRY: Duration = Duration::from_millis(250);

/// A group this process spawned.
pub(crate) struct OwnedGroup {
    /// What to start; each member's state is its last checkpoint.
    pub(crate) spec: StartGroup,
    /// The members' targets, in `spec.members` order.
    pub(crate) targets: Vec<Arc<Target>>,
    /// Where it runs.
    pub(crate) host: Option<SocketAddr>,
    /// Counts the group's moves against its intensity.
    pub(crate) moves: SupervisorCore,
    /// Where it may go.
    pub(crate) workers: WorkerList,
    /// The workers last fetched, given to the targets as the places to look it up.
    known_workers: Vec<SocketAddr>,
    /// Told where the group first starts (or why it could not): the spawning caller waits.
    first_start: Option<oneshot::Sender<Result<SocketAddr, String>>>,
}

impl OwnedGroup {
    /// A group to place; `first_start` hears where it started, or why no worker took it.
    pub(crate) fn new(
        spec: StartGroup,
        targets: Vec<Arc<Target>>,
        workers: WorkerList,
        first_start: oneshot::Sender<Result<SocketAddr, String>>,
    ) -> Self {
        let info = ChildInfo::new(spec.group.to_string(), RestartType::Permanent);
        let mut moves =
            SupervisorCore::new(spec.policy.strategy, spec.policy.intensity, vec![info]);
        let _ = moves.start_all();
        OwnedGroup {
            spec,
            targets,
            host: None,
            moves,
            workers,
            known_workers: Vec::new(),
            first_start: Some(first_start),
        }
    }
}

/// This process now owns a group; it places it.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Own(pub(crate) OwnedGroup);

/// Stop a group this process owns (its last handle dropped, or `stop` was called).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StopGroup {
    pub(crate) group: ServiceId,
    /// Told when the host confirmed (or at once when there is no host).
    pub(crate) done: Option<Answer>,
}

/// The workers a moving group may try, fetched off the client's thread.
#[derive(Message)]
#[rtype(result = "()")]
struct Candidates {
    group: ServiceId,
    since: Instant,
    workers: Result<Vec<SocketAddr>, String>,
}

impl ServiceClient {
    /// A host's unasked report: a checkpoint, or a group's end.
    pub(super) fn on_report(&mut self, report: FromServiceHost, ctx: &mut Context<Self>) {
        match report {
            FromServiceHost::Checkpoint { service, state } => {
                let member = self
                    .owned
                    .values_mut()
                    .flat_map(|group| group.spec.members.iter_mut())
                    .find(|member| member.id == service);
                if let Some(member) = member {
                    member.state = state;
                }
            }
            FromServiceHost::GroupExited { group, reason } => {
                if let Some(owned) = self.owned.remove(&group) {
                    let location = match reason.is_abnormal() {
                        true => Location::Failed(reason.to_string()),
                        false => Location::Stopped,
                    };
                    self.settle(&owned.targets, location, ctx);
                }
            }
            _ => {}
        }
    }

    /// Every target gets `location`, and the calls waiting for them are routed again.
    fn settle(&mut self, targets: &[Arc<Target>], location: Location, ctx: &mut Context<Self>) {
        for target in targets {
            target.set_location(location.clone());
            self.release_waiting(target.id, ctx);
        }
    }

    /// The worker at `host` is gone: every group it hosted moves, within its intensity.
    pub(super) fn host_lost(&mut self, host: SocketAddr, reason: &str, ctx: &mut Context<Self>) {
        let lost: Vec<ServiceId> = self
            .owned
            .iter()
            .filter(|(_, group)| group.host == Some(host))
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            let owned = self.owned.get_mut(&id).expect("owned group");
            owned.host = None;
            let exit = ExitReason::Failed(format!("its worker {host} was lost: {reason}"));
            let commands = owned.moves.on_child_exited(0, exit, Instant::now());
            if let Some(Command::Escalate(cause)) = commands.last().cloned() {
                warn!(target: LOG_TARGET, group = %id, "Service group failed: {cause}");
                let owned = self.owned.remove(&id).expect("owned group");
                self.settle(&owned.targets, Location::Failed(cause.to_string()), ctx);
                continue;
            }
            info!(target: LOG_TARGET, group = %id, %host, "Moving service group off a lost worker");
            for target in &owned.targets {
                target.set_location(Location::Moving);
            }
            self.find_candidates(id, Instant::now(), ctx);
        }
    }

    fn find_candidates(&mut self, group: ServiceId, since: Instant, ctx: &mut Context<Self>) {
        let Some(owned) = self.owned.get(&group) else {
            return;
        };
        let workers = owned.workers.clone();
        let me = ctx.address();
        std::thread::spawn(move || {
            let workers = workers();
            me.do_send(Candidates {
                group,
                since,
                workers,
            });
        });
    }

    /// Tries `candidates` one after the other; the first that starts the group hosts it.
    fn try_place(
        &mut self,
        group: ServiceId,
        since: Instant,
        mut candidates: Vec<SocketAddr>,
        last_error: String,
        ctx: &mut Context<Self>,
    ) {
        let Some(owned) = self.owned.get(&group) else {
            return;
        };
        let Some(host) = candidates.pop() else {
            let first = owned.first_start.is_some();
            if first || since.elapsed() > PLACEMENT_DEADLINE {
                let cause =
                    format!("no worker could start it within {PLACEMENT_DEADLINE:?}: {last_error}");
                let mut owned = self.owned.remove(&group).expect("owned group");
                if let Some(first_start) = owned.first_start.take() {
                    let _ = first_start.send(Err(last_error));
                }
                return self.settle(&owned.targets, Location::Failed(cause), ctx);
            }
            ctx.run_later(PLACEMENT_RETRY, move |client, ctx| {
                client.find_candidates(group, since, ctx)
            });
            return;
        };
        let (answer, reply) = oneshot::channel();
        let start = ToServiceHost::Start(owned.spec.clone());
        let options = owned.targets[0].options.clone();
        self.send((host, &options), start, answer, None, ctx);
        ctx.spawn(reply.into_actor(self).map(move |outcome, client, ctx| {
            let error = match outcome {
                Ok(Ok(FromServiceHost::Started)) => return client.placed(group, host, ctx),
                Ok(Ok(FromServiceHost::Refused(reason))) => reason,
                Ok(Err(failure)) => failure.to_string(),
                _ => "no answer".to_string(),
            };
            client.try_place(group, since, candidates, format!("{host}: {error}"), ctx);
        }));
    }

    fn placed(&mut self, group: ServiceId, host: SocketAddr, ctx: &mut Context<Self>) {
        let Some(owned) = self.owned.get_mut(&group) else {
            return;
        };
        info!(target: LOG_TARGET, %group, %host, "Service group placed");
        owned.host = Some(host);
        for target in &owned.targets {
            target.set_candidates(owned.known_workers.clone());
        }
        let first_start = owned.first_start.take();
        let targets = owned.targets.clone();
        self.settle(&targets, Location::At(host), ctx);
        // Only now: the spawning caller reads the handles' location as soon as it hears.
        if let Some(first_start) = first_start {
            let _ = first_start.send(Ok(host));
        }
    }
}

impl Handler<Own> for ServiceClient {
    type Result = ();

    fn handle(&mut self, Own(group): Own, ctx: &mut Context<Self>) {
        let id = group.spec.group;
        for target in &group.targets {
            target.set_location(Location::Moving);
        }
        self.owned.insert(id, group);
        self.find_candidates(id, Instant::now(), ctx);
    }
}

impl Handler<StopGroup> for ServiceClient {
    type Result = ();

    fn handle(&mut self, stop: StopGroup, ctx: &mut Context<Self>) {
        let Some(owned) = self.owned.remove(&stop.group) else {
            if let Some(done) = stop.done {
                let _ = done.send(Ok(FromServiceHost::Stopped));
            }
            return;
        };
        self.settle(&owned.targets, Location::Stopped, ctx);
        let (answer, reply) = oneshot::channel();
        let done = stop.done;
        match owned.host {
            Some(host) => {
                let options = owned.targets[0].options.clone();
                let stop_group = ToServiceHost::Stop(stop.group);
                self.send((host, &options), stop_group, answer, None, ctx);
                actix_rt::spawn(async move {
                    let outcome = reply.await.unwrap_or(Err(CallFailure::Stopped));
                    if let Some(done) = done {
                        let _ = done.send(outcome);
                    }
                });
            }
            None => {
                if let Some(done) = done {
                    let _ = done.send(Ok(FromServiceHost::Stopped));
                }
            }
        }
    }
}

impl Handler<Candidates> for ServiceClient {
    type Result = ();

    fn handle(&mut self, found: Candidates, ctx: &mut Context<Self>) {
        let Candidates {
            group,
            since,
            workers,
        } = found;
        let (mut candidates, error) = match workers {
            Ok(workers) => (workers, "no worker in the cluster".to_string()),
            Err(e) => (Vec::new(), e),
        };
        if let Some(owned) = self.owned.get_mut(&group) {
            if !candidates.is_empty() {
                owned.known_workers = candidates.clone();
            }
        }
        // Tried last to first: the list is reversed so the scheduler's first worker goes first.
        candidates.reverse();
        self.try_place(group, since, candidates, error, ctx);
    }
}
