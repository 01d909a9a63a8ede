//! The pure scheduler state machine: the task graph, each task's state, and the decisions
//! of which worker runs what, what to release and how to recover from lost workers.
//!
//! Events come in as `on_<event>` methods of [`SchedulerState`]; commands go out through
//! an [`Outbox`] the caller implements. No I/O, no actix, no tokio, no clock and no
//! randomness: the same events always give the same commands, so tests and simulations
//! drive it directly and its per-task cost can be measured in a bench.
//!
//! Files: `types`/`failure` (values in and out), `task`/`worker` (records), `queue` (ready
//! tasks by function and priority), `state` (the struct, queries, `set_state` bookkeeping),
//! `transitions` (revive, ready, finish, fail, release), `placement` (worker choice, slots),
//! `restrictions` (workers and resources a task may use),
//! `window` (each worker's in-flight window, sized from its measured round trip),
//! `stealing` (a worker about to idle takes tasks queued on another),
//! `client_events`/`graph_intake`/`worker_events`/`restart` (the `on_*` events),
//! `report_check` (a worker reports only on what it was asked), `ownership` (a client uses
//! only its own keys), `copies`/`cluster_plans` (copies between workers: replicate,
//! rebalance, retire), `center_restart` (workers and executors coming back to a restarted
//! center), `outbox`, `sanity`.
//!
//! ```
//! use taskforce::ids::{ClientId, WorkerId};
//! use taskforce::scheduler::{FunctionId, NewTask, OutboxBatch, SchedulerConfig, SchedulerState};
//!
//! let inc = FunctionId::new("inc", 1);
//! let mut state = SchedulerState::new(SchedulerConfig::default());
//! let mut out = OutboxBatch::default();
//! state.on_worker_added(WorkerId(1), 2, vec![inc.clone()], &mut out);
//! let task = NewTask { key: "x".into(), function: inc, spec: vec![1u8].into(), deps: vec![], order: 0, restrictions: None };
//! state.on_update_graph(ClientId(7), vec![task], vec!["x".into()], &mut out);
//! assert_eq!(out.take_worker_commands().len(), 1); // compute x on w1
//! state.on_task_finished(WorkerId(1), "x".into(), 8, &mut out).expect("w1 runs x");
//! assert_eq!(out.take_client_reports().len(), 1); // x is in memory, told to c7
//! state.sanity_check();
//! ```

mod center_restart;
mod client_events;
mod cluster_plans;
mod copies;
mod failure;
mod graph_intake;
mod outbox;
mod ownership;
mod placement;
mod queue;
mod report_check;
mod restart;
mod restrictions;
mod sanity;
mod state;
mod stealing;
mod task;
mod transitions;
mod types;
mod window;
mod worker;
mod worker_events;

#[cfg(test)]
mod tests;

pub use center_restart::LOST_WITH_CENTER;
pub use client_events::FOREIGN_KEY;
pub use cluster_plans::CopyOrder;
pub use failure::{shortened, DeathCause, TaskFailure, WorkerDeath, SHOWN_MESSAGE_CHARS};
pub use outbox::{ClientReport, Outbox, OutboxBatch, WorkerCommand};
pub use report_check::IgnoredReport;
pub use restrictions::{Restrictions, WorkerProfile};
pub use state::SchedulerState;
pub use task::TaskState;
pub use types::{
    ComputeTask, FunctionId, NewTask, Priority, SchedulerConfig, TaskSpec, WorkerLoss,
};
pub use window::WorkerTiming;
