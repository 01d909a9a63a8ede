//! The worker's service host: starts groups of services under a supervisor on the worker's
//! service thread, routes calls to the running instance (parking them while it restarts),
//! answers lookups, reports checkpoints and a group's end to its owner, and draws its groups
//! for the worker's supervision tree.
//!
//! The table is shared between the worker's thread (which routes calls) and the service
//! thread (where supervisors start instances and see groups end); a std `Mutex` is enough:
//! each hold is a map lookup or a push, never an await.

use std::sync::{Arc, Mutex};

use actix::prelude::*;
use bytes::Bytes;
use tracing::{info, warn};

use super::instance::{CallerLink, LatestState, ReplyTo, ServiceCall, ServiceInstance, Slot};
use super::LOG_TARGET;
use crate::actors::remote::SessionId;
use crate::actors::supervisor::{
    spawn_actor, ChildSpec, ExitSlot, StopChild, Supervisor, ViewCell,
};
use crate::ids::Map;
use crate::messages::peer_link::WorkerToPeer;
use crate::messages::service_link::{
    FindService, FoundService, FromServiceHost, MemberSpec, ServiceId, StartGroup, ToServiceHost,
};
use crate::messages::tree::TreeNode;
use crate::service::{lookup_service, CallFailure, Restart, ServiceRegistration};
use crate::supervision::{ExitReason, RestartType, Strategy};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    Running,
    Failed(String),
    Stopped,
}

struct Member {
    kind: String,
    /// How the tree names it: its name, or its id if it has none.
    label: String,
    signature: u64,
    status: Status,
    slot: Arc<Mutex<Slot>>,
}

struct Group {
    members: Vec<ServiceId>,
    supervisor: Arc<Mutex<Option<Addr<Supervisor>>>>,
    /// The link of the process that spawned it (its owner).
    owner: SessionId,
    /// Whether a member has a name (then it outlives its owner).
    named: bool,
    /// The group supervisor's view, for the worker's tree.
    view: ViewCell,
}

/// Groups that gave up, kept for the tree with their cause. At the bound the oldest is
/// forgotten.
const MAX_ENDED_GROUPS: usize = 16;

#[derive(Default)]
struct HostTable {
    members: Map<ServiceId, Member>,
    names: Map<String, ServiceId>,
    groups: Map<ServiceId, Group>,
    /// The last views of groups that gave up, oldest first.
    ended: std::collections::VecDeque<TreeNode>,
}

/// The services one worker hosts.
#[derive(Default)]
pub struct ServiceHost {
    /// The thread services run on, apart from the worker's own (started with the first).
    arbiter: Option<Arbiter>,
    table: Arc<Mutex<HostTable>>,
}

impl ServiceHost {
    /// Handles one request from a caller or owner that arrived on `link`.
    pub(crate) fn on_request(&mut self, link: CallerLink, request: u64, body: ToServiceHost) {
        match body {
            ToServiceHost::Call {
                service,
                method,
                args,
            } => self.call(service, method, args, ReplyTo::new(link, request)),
            ToServiceHost::Start(group) => {
                let answer = match self.start(group, link.clone()) {
                    Ok(()) => FromServiceHost::Started,
                    Err(reason) => FromServiceHost::Refused(reason),
                };
                link.tell(WorkerToPeer::Service(request, answer));
            }
            ToServiceHost::Stop(group) => {
                self.stop(group);
                link.tell(WorkerToPeer::Service(request, FromServiceHost::Stopped));
            }
            ToServiceHost::Find(by) => {
                let found = self.find(&by);
                link.tell(WorkerToPeer::Service(
                    request,
                    FromServiceHost::Found(found),
                ));
            }
        }
    }

    fn call(&self, service: ServiceId, method: u32, args: Bytes, reply: ReplyTo) {
        let table = self.table.lock().expect("service table lock");
        let Some(member) = table.members.get(&service) else {
            return reply.send(Err(CallFailure::NoSuchService));
        };
        match &member.status {
            Status::Running => member.slot.lock().expect("slot lock").route(ServiceCall {
                method,
                args,
                reply,
            }),
            Status::Failed(cause) => reply.send(Err(CallFailure::Failed(cause.clone()))),
            Status::Stopped => reply.send(Err(CallFailure::Stopped)),
        }
    }

    fn find(&self, by: &FindService) -> Option<FoundService> {
        let table = self.table.lock().expect("service table lock");
        let id = match by {
            FindService::Id(id) => *id,
            FindService::Name(name) => *table.names.get(name)?,
        };
        let member = table.members.get(&id)?;
        (member.status == Status::Running).then(|| FoundService {
            id,
            kind: member.kind.clone(),
            signature: member.signature,
        })
    }

    fn stop(&mut self, group: ServiceId) {
        let mut table = self.table.lock().expect("service table lock");
        let Some(entry) = table.groups.get(&group) else {
            return;
        };
        let supervisor = entry.supervisor.lock().expect("supervisor lock").clone();
        if let Some(supervisor) = supervisor {
            supervisor.do_send(StopChild);
        }
        for id in entry.members.clone() {
            if let Some(member) = table.members.get_mut(&id) {
                member.status = Status::Stopped;
            }
        }
    }

    fn start(&mut self, spec: StartGroup, owner: CallerLink) -> Result<(), String> {
        let registrations = check_members(&spec.members)?;
        let supervisor = Arc::new(Mutex::new(None));
        let view = ViewCell::default();
        let entry = Group {
            members: spec.members.iter().map(|m| m.id).collect(),
            supervisor: supervisor.clone(),
            owner: owner.session_id(),
            named: spec.members.iter().any(|m| m.name.is_some()),
            view: view.clone(),
        };
        let members =
            self.table
                .lock()
                .expect("service table lock")
                .admit(&spec, registrations, entry)?;
        let run = GroupRun {
            group: spec.group,
            policy: spec.policy,
            members,
            owner,
            supervisor,
            view,
            table: self.table.clone(),
        };
        let arbiter = self.arbiter.get_or_insert_with(Arbiter::new);
        arbiter.spawn_fn(move || run.start());
        info!(target: LOG_TARGET, group = %spec.group, "Started service group");
        Ok(())
    }

    /// A peer link closed: the unnamed groups it spawned stop with it (their owner, and with
    /// it every handle that keeps them alive, is gone).
    pub(crate) fn on_link_closed(&mut self, session: SessionId) {
        let orphans: Vec<ServiceId> = {
            let table = self.table.lock().expect("service table lock");
            table
                .groups
                .iter()
                .filter(|(_, group)| group.owner == session && !group.named)
                .map(|(id, _)| *id)
                .collect()
        };
        for group in orphans {
            info!(target: LOG_TARGET, %group, "Stopping a service group whose owner left");
            self.stop(group);
        }
    }
}

impl ServiceHost {
    /// Each group as its supervisor with its members under it (`name (type)`, restart
    /// count, last exit), by group id, then the groups that gave up.
    pub(crate) fn tree_nodes(&self) -> Vec<TreeNode> {
        let table = self.table.lock().expect("service table lock");
        let mut ids: Vec<ServiceId> = table.groups.keys().copied().collect();
        ids.sort_unstable();
        let running = ids
            .iter()
            .map(|id| table.group_node(*id, &table.groups[id]));
        running.chain(table.ended.iter().cloned()).collect()
    }
}

impl HostTable {
    /// One group's node: its supervisor's last view, members named `name (type)`.
    fn group_node(&self, id: ServiceId, group: &Group) -> TreeNode {
        let mut node = match group.view.get() {
            Some(view) => view.tree_node(),
            // The service thread has not started its supervisor yet.
            None => TreeNode {
                name: format!("service group {id}"),
                status: "starting".into(),
                ..TreeNode::default()
            },
        };
        for (child, member) in node.children.iter_mut().zip(&group.members) {
            if let Some(member) = self.members.get(member) {
                child.name = format!("{} ({})", member.label, member.kind);
            }
        }
        node
    }

    /// Enters a group's members (refusing one that already runs here) and says how to start
    /// each of them.
    fn admit(
        &mut self,
        spec: &StartGroup,
        registrations: Vec<&'static ServiceRegistration>,
        entry: Group,
    ) -> Result<Vec<MemberStart>, String> {
        let running = |m: &&MemberSpec| {
            self.members
                .get(&m.id)
                .is_some_and(|member| member.status == Status::Running)
        };
        if let Some(member) = spec.members.iter().find(running) {
            return Err(format!("{} already runs here", member.id));
        }
        let mut starts = Vec::new();
        for (member, registration) in spec.members.iter().zip(registrations) {
            let slot = Arc::new(Mutex::new(Slot::default()));
            if let Some(name) = &member.name {
                self.names.insert(name.clone(), member.id);
            }
            let entry = Member {
                kind: member.kind.clone(),
                label: member.name.clone().unwrap_or_else(|| member.id.to_string()),
                signature: member.signature,
                status: Status::Running,
                slot: slot.clone(),
            };
            self.members.insert(member.id, entry);
            starts.push(MemberStart {
                id: member.id,
                label: member.name.clone().unwrap_or_else(|| member.kind.clone()),
                registration,
                latest: Arc::new(Mutex::new(member.state.clone())),
                slot,
            });
        }
        self.groups.insert(spec.group, entry);
        Ok(starts)
    }
}

fn check_members(members: &[MemberSpec]) -> Result<Vec<&'static ServiceRegistration>, String> {
    members
        .iter()
        .map(|member| {
            let registration = lookup_service(&member.kind).ok_or_else(|| {
                format!(
                    "this worker's binary does not link the service {} (run workers of the \
                     program that defines it)",
                    member.kind
                )
            })?;
            if (registration.signature)() != member.signature {
                return Err(format!(
                    "the service {} was built with other methods on this worker",
                    member.kind
                ));
            }
            Ok(registration)
        })
        .collect()
}

/// What the service thread needs to start one member, again and again.
struct MemberStart {
    id: ServiceId,
    label: String,
    registration: &'static ServiceRegistration,
    latest: LatestState,
    slot: Arc<Mutex<Slot>>,
}

/// A group on its way to the service thread.
struct GroupRun {
    group: ServiceId,
    policy: Restart,
    members: Vec<MemberStart>,
    owner: CallerLink,
    supervisor: Arc<Mutex<Option<Addr<Supervisor>>>>,
    view: ViewCell,
    table: Arc<Mutex<HostTable>>,
}

impl GroupRun {
    /// Runs on the service thread: builds the supervisor, starts it, and reports its end.
    fn start(self) {
        let GroupRun {
            group,
            policy,
            members,
            owner,
            supervisor,
            view,
            table,
        } = self;
        let intensity = policy.intensity;
        let mut builder = Supervisor::builder(format!("service group {group}"))
            .strategy(policy.strategy)
            .intensity(intensity.max_restarts, intensity.window)
            .publish(view);
        let slots: Vec<_> = members.iter().map(|member| member.slot.clone()).collect();
        for (index, member) in members.into_iter().enumerate() {
            let restarts_with = match policy.strategy {
                Strategy::OneForOne => vec![slots[index].clone()],
                Strategy::OneForAll => slots.clone(),
                Strategy::RestForOne => slots[index..].to_vec(),
            };
            builder = builder.child(member_spec(member, policy, owner.clone(), restarts_with));
        }
        let (addr, running) = builder.build().start_root();
        *supervisor.lock().expect("supervisor lock") = Some(addr);
        actix_rt::spawn(async move {
            let reason = running.exited().await;
            group_ended(&table, group, &reason);
            owner.tell(WorkerToPeer::Service(
                0,
                FromServiceHost::GroupExited { group, reason },
            ));
        });
    }
}

/// How to start one member; `restarts_with` are the slots of the members its panic restarts
/// (by the group's strategy), emptied at once so later calls wait for the new instances.
fn member_spec(
    member: MemberStart,
    policy: Restart,
    owner: CallerLink,
    restarts_with: Vec<Arc<Mutex<Slot>>>,
) -> ChildSpec {
    let MemberStart {
        id,
        label,
        registration,
        latest,
        slot,
    } = member;
    ChildSpec::new(label, RestartType::Permanent, move || {
        let state = latest.lock().expect("checkpoint lock").clone();
        let hosted = (registration.make)(&state).map_err(|e| e.to_string())?;
        let exit = ExitSlot::default();
        let instance = ServiceInstance {
            id,
            hosted,
            exit: exit.clone(),
            checkpoint: policy.checkpoint,
            latest: latest.clone(),
            owner: owner.clone(),
            calls_since_checkpoint: 0,
            restarts_with: restarts_with.clone(),
        };
        let (addr, running) = spawn_actor(instance, exit);
        slot.lock().expect("slot lock").install(addr.clone());
        Ok(running.with_stop(move || addr.do_send(StopChild)))
    })
}

/// A group's supervisor ended: past its intensity (its members are `Failed` with the cause)
/// or stopped. Calls parked for its members are answered now.
fn group_ended(table: &Mutex<HostTable>, group: ServiceId, reason: &ExitReason) {
    let mut table = table.lock().expect("service table lock");
    let Some(entry) = table.groups.remove(&group) else {
        return;
    };
    if reason.is_abnormal() {
        warn!(target: LOG_TARGET, %group, "Service group gave up: {reason}");
        let mut last = table.group_node(group, &entry);
        last.status = format!("gave up: {reason}");
        if table.ended.len() == MAX_ENDED_GROUPS {
            table.ended.pop_front();
        }
        table.ended.push_back(last);
    }
    for id in entry.members {
        let Some(member) = table.members.get_mut(&id) else {
            continue;
        };
        if member.status == Status::Running && reason.is_abnormal() {
            member.status = Status::Failed(reason.to_string());
        } else if member.status == Status::Running {
            member.status = Status::Stopped;
        }
        let failure = match &member.status {
            Status::Failed(cause) => CallFailure::Failed(cause.clone()),
            _ => CallFailure::Stopped,
        };
        let parked: Vec<_> = member
            .slot
            .lock()
            .expect("slot lock")
            .parked
            .drain(..)
            .collect();
        for call in parked {
            call.reply.send(Err(failure.clone()));
        }
    }
}
