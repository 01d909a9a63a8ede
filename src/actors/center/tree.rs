//! The center process's supervision tree (drawn in the module docs of `center`): the
//! scheduler, the center and the listener under one one-for-all root.
//!
//! One-for-all because the three share state that none can rebuild alone: the scheduler's
//! workers are the center's sessions, and a fresh scheduler without the old one's task
//! graph must meet fresh sessions. Restarting all three is a center restart in place (the
//! port stays bound): workers reconnect and register again, executors reconnect. Past the
//! root's intensity the process exits with the reason (see `super::serve`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use super::actor::{Admit, Center};
use super::CenterConfig;
use crate::actors::dashboard::Dashboard;
use crate::actors::remote::{accept_loop, SessionOptions};
use crate::actors::scheduler::Scheduler;
use crate::actors::supervisor::{
    spawn_actor, ChildRef, ChildSpec, ExitSlot, RunningChild, StopChild, Supervisor, ViewCell,
};
use crate::dashboard::Observation;
use crate::ids::WorkerId;
use crate::messages::tree::TreeNode;
use crate::supervision::{ExitReason, RestartType, Strategy};

/// More restarts of the center's tree than this within [`RESTART_WINDOW`] and the process
/// exits: something fails again and again, and a fresh process (or a person) has to decide.
pub const MAX_RESTARTS: u32 = 3;
/// The window of [`MAX_RESTARTS`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// The trees of the processes the center knows (nannies with their workers, workers no
/// nanny watches), as the live center last published them. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct MemberTrees(Arc<Mutex<Vec<TreeNode>>>);

impl MemberTrees {
    /// The members' trees as last published.
    pub fn get(&self) -> Vec<TreeNode> {
        self.0.lock().expect("member trees lock").clone()
    }

    /// Replaces them (the center does, whenever membership changes).
    pub fn set(&self, trees: Vec<TreeNode>) {
        *self.0.lock().expect("member trees lock") = trees;
    }
}

/// Everything `taskforce status` draws: the center process's own tree and its members'.
#[derive(Clone, Debug, Default)]
pub struct ClusterTrees {
    /// The center process's root supervisor's view.
    pub center: ViewCell,
    /// The members' trees.
    pub members: MemberTrees,
}

impl ClusterTrees {
    /// The whole cluster's trees: the center process's first, then its members'.
    pub fn snapshot(&self) -> Vec<TreeNode> {
        let center = self.center.get().map(|view| view.tree_node());
        center.into_iter().chain(self.members.get()).collect()
    }
}

/// What the tree's children are made from, again at each restart.
pub(super) struct CenterParts {
    /// The center's configuration.
    pub config: CenterConfig,
    /// The bound port; each listener accepts on a duplicate of it.
    pub listener: std::net::TcpListener,
    /// The dashboard the scheduler feeds, and its link, when one is served.
    pub dashboard: Option<(Dashboard, String)>,
    /// Where the root and the center publish the trees (for `cluster_info` and
    /// `taskforce status`).
    pub trees: ClusterTrees,
}

/// The root supervisor of a center process; `center` always names the live center actor.
pub(super) fn root(parts: CenterParts, center: ChildRef<Center>) -> Supervisor {
    let scheduler = ChildRef::<Scheduler>::default();
    Supervisor::builder("center")
        .strategy(Strategy::OneForAll)
        .intensity(MAX_RESTARTS, RESTART_WINDOW)
        .publish(parts.trees.center.clone())
        .child(scheduler_spec(&parts, scheduler.clone()))
        .child(center_spec(&parts, scheduler, center.clone()))
        .child(listener_spec(parts, center))
        .build()
}

fn scheduler_spec(parts: &CenterParts, scheduler: ChildRef<Scheduler>) -> ChildSpec {
    let config = parts.config.clone();
    let dashboard = parts.dashboard.clone();
    let trees = parts.trees.clone();
    let mut restarting = false;
    ChildSpec::actor("scheduler", RestartType::Permanent, scheduler, move |_| {
        if let (true, Some((dashboard, _))) = (restarting, &dashboard) {
            forget_the_old_center(dashboard);
        }
        restarting = true;
        let sessions = SessionOptions::new(config.limits, config.bounds);
        let made = Scheduler::new(config.scheduler.clone(), sessions, config.name.clone())
            .with_tree(trees.clone())
            .with_restart_allowed(config.allow_restart);
        match &dashboard {
            Some((dashboard, link)) => made.with_dashboard(dashboard.clone(), link.clone()),
            None => made,
        }
    })
}

/// Tells the dashboard that every task and worker of the center before a restart is gone
/// (the new scheduler knows none of them; the workers register again).
fn forget_the_old_center(dashboard: &Dashboard) {
    let live = dashboard.snapshot().workers.into_iter();
    let lost = live
        .filter(|panel| panel.is_live())
        .map(|panel| Observation::WorkerLost {
            id: WorkerId(panel.id),
            cause: "the center's tree restarted".into(),
            restarting: false,
        });
    dashboard.observe(lost.chain([Observation::Restarted]));
}

fn center_spec(
    parts: &CenterParts,
    scheduler: ChildRef<Scheduler>,
    center: ChildRef<Center>,
) -> ChildSpec {
    let config = parts.config.clone();
    let members = parts.trees.members.clone();
    ChildSpec::new("center", RestartType::Permanent, move || {
        // Children start in order, each before the next: the scheduler is up.
        let scheduler = scheduler
            .get()
            .ok_or_else(|| "the scheduler has not started".to_string())?;
        let made = Center::new(config.clone(), scheduler).publishing(members.clone());
        let (addr, running) = spawn_actor(made, ExitSlot::default());
        center.set(addr.clone());
        Ok(running.with_stop(move || addr.do_send(StopChild)))
    })
}

fn listener_spec(parts: CenterParts, center: ChildRef<Center>) -> ChildSpec {
    let CenterParts {
        config, listener, ..
    } = parts;
    ChildSpec::new("listener", RestartType::Permanent, move || {
        let socket = listener
            .try_clone()
            .and_then(TcpListener::from_std)
            .map_err(|e| format!("could not reuse the listening socket: {e}"))?;
        let center = center.clone();
        let admit = move |arrival| {
            // Between a restart's stop and start there is no center: the connection is
            // dropped and its client connects again.
            if let Some(center) = center.get() {
                center.do_send(Admit(arrival));
            }
        };
        let accepting = accept_loop(
            socket,
            config.token.clone(),
            config.tls.clone(),
            config.handshake_timeout,
            config.bounds.max_connections,
            "center",
            admit,
        );
        let task = actix_rt::spawn(async move {
            accepting.await;
            ExitReason::Failed("the accept loop ended".into())
        });
        Ok(RunningChild::new(task))
    })
}
