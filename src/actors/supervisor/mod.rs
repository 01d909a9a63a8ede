//! Supervision trees of actix actors, with Erlang/OTP's semantics.
//!
//! actix's own `Supervisor` restarts an actor only when the actor stops itself, and a panic
//! in a handler just closes the actor's mailbox, leaving a process that is alive but deaf.
//! Here each child runs as its own task, so a panic ends that task and comes back as the
//! child's exit reason ([`ExitReason::Panicked`](crate::supervision::ExitReason) with the
//! panic's message); the [`Supervisor`] then restarts by strategy and restart type within its
//! intensity, and past it stops its children (last started first) and exits abnormally, so
//! its own supervisor decides (escalation). The decisions are the pure
//! [`SupervisorCore`](crate::supervision::SupervisorCore); this module only starts, watches
//! and stops tasks.
//!
//! ```
//! use std::time::Duration;
//! use actix::prelude::*;
//! use taskforce::actors::supervisor::{ChildRef, ChildSpec, StopChild, Supervisor, ViewSupervisor};
//! use taskforce::supervision::{RestartType, Strategy};
//!
//! struct Greeter;
//! impl Actor for Greeter { type Context = Context<Self>; }
//! impl Handler<StopChild> for Greeter {
//!     type Result = ();
//!     fn handle(&mut self, _: StopChild, ctx: &mut Context<Self>) { ctx.stop() }
//! }
//!
//! actix_rt::System::new().block_on(async {
//!     let greeter = ChildRef::<Greeter>::default();
//!     let (root, _task) = Supervisor::builder("root")
//!         .strategy(Strategy::OneForOne)
//!         .intensity(3, Duration::from_secs(5))
//!         .child(ChildSpec::actor("greeter", RestartType::Permanent, greeter.clone(), |_exit| Greeter))
//!         .build()
//!         .start_root();
//!     let view = root.send(ViewSupervisor).await.unwrap();
//!     assert_eq!(view.children.len(), 1);
//!     assert!(greeter.get().is_some());
//! });
//! ```

mod actor;
mod child;

use std::time::Instant;

use crate::messages::tree::TreeNode;
use crate::supervision::ChildStatus;

pub use actor::{
    ChildView, ShutdownSupervisor, Supervisor, SupervisorBuilder, SupervisorView, ViewCell,
    ViewSupervisor,
};
pub use child::{
    spawn_actor, spawn_in_context, ChildRef, ChildSpec, ExitSlot, RunningChild, StopChild,
};

/// Where a supervisor reads the time for its restart intensity.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl SupervisorView {
    /// This supervisor as a node of the cluster's tree, its children under it.
    pub fn tree_node(&self) -> TreeNode {
        let status = match &self.gave_up {
            Some(reason) => format!("gave up: {reason}"),
            None => "running".into(),
        };
        let children = self.children.iter().map(ChildView::tree_node).collect();
        TreeNode {
            name: self.name.clone(),
            status,
            restarts: 0,
            last_exit: None,
            children,
        }
    }
}

impl ChildView {
    /// This child as a node of the cluster's tree.
    pub fn tree_node(&self) -> TreeNode {
        let status = match &self.status {
            ChildStatus::NotStarted => "not started".into(),
            ChildStatus::Running => "running".into(),
            ChildStatus::Exited(reason) => format!("exited: {reason}"),
            ChildStatus::Removed => "removed".into(),
        };
        TreeNode {
            name: self.info.id.clone(),
            status,
            restarts: self.restarts,
            last_exit: self.last_exit.as_ref().map(ToString::to_string),
            children: Vec::new(),
        }
    }
}
