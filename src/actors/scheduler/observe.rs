//! What the scheduler shell tells the dashboard: observations gathered during one event and
//! handed over under one lock when the event's commands are flushed. Nothing here decides.

use std::sync::Arc;

use super::Scheduler;
use crate::actors::dashboard::Dashboard;
use crate::dashboard::Observation;
use crate::ids::{TaskKey, WorkerId};
use crate::messages::center_link::{HeartbeatMsg, TaskEvent, WorkerDescription};
use crate::messages::tasks::NewTaskMsg;

/// The dashboard the scheduler feeds, if any, and what it saw during the current event.
#[derive(Default)]
pub(super) struct Observer {
    dashboard: Option<Dashboard>,
    link: Option<String>,
    pending: Vec<Observation>,
}

impl Observer {
    fn new(dashboard: Dashboard, link: String) -> Self {
        Observer {
            dashboard: Some(dashboard),
            link: Some(link),
            pending: Vec::new(),
        }
    }

    /// The dashboard's URL, if there is one.
    pub(super) fn link(&self) -> Option<&str> {
        self.link.as_deref()
    }

    fn push(&mut self, observation: impl FnOnce() -> Observation) {
        if self.dashboard.is_some() {
            self.pending.push(observation());
        }
    }

    pub(super) fn worker_joined(&mut self, id: WorkerId, worker: &WorkerDescription) {
        self.push(|| Observation::WorkerJoined {
            id,
            name: worker.name.clone(),
            addr: worker.addr.to_string(),
            nthreads: worker.nthreads,
            memory_limit: worker.memory_limit,
        });
    }

    pub(super) fn worker_lost(&mut self, id: WorkerId, cause: String) {
        self.push(|| Observation::WorkerLost { id, cause });
    }

    pub(super) fn worker_load(&mut self, id: WorkerId, load: &HeartbeatMsg) {
        self.push(|| Observation::WorkerLoad {
            id,
            memory_used: load.memory_bytes,
            stored_bytes: load.stored_bytes,
            peer_bytes_in: load.peer_bytes_in,
            spilled_bytes: load.spilled_bytes,
        });
    }

    pub(super) fn submitted(&mut self, tasks: &[NewTaskMsg]) {
        if self.dashboard.is_none() {
            return;
        }
        self.pending
            .extend(tasks.iter().map(|task| Observation::TaskSubmitted {
                key: task.key.clone(),
                function: task.function.name.clone(),
                dependencies: task.deps.clone(),
            }));
    }

    pub(super) fn scattered(&mut self, keys: &[TaskKey]) {
        for key in keys {
            self.push(|| Observation::TaskSubmitted {
                key: key.clone(),
                function: Arc::from("scatter"),
                dependencies: Vec::new(),
            });
            self.push(|| Observation::TaskFinished { key: key.clone() });
        }
    }

    pub(super) fn sent(&mut self, key: &TaskKey, worker: WorkerId) {
        self.push(|| Observation::TaskSent {
            key: key.clone(),
            worker,
        });
    }

    pub(super) fn task_event(&mut self, event: &TaskEvent) {
        match event {
            TaskEvent::Finished { key, .. } => {
                self.push(|| Observation::TaskFinished { key: key.clone() })
            }
            TaskEvent::Erred { key, .. } => {
                self.push(|| Observation::TaskErred { key: key.clone() })
            }
            TaskEvent::MissingDependency { .. } | TaskEvent::Seceded { .. } => {}
        }
    }

    pub(super) fn forgotten(&mut self, keys: Vec<TaskKey>) {
        if self.dashboard.is_some() {
            self.pending.extend(
                keys.into_iter()
                    .map(|key| Observation::TaskReleased { key }),
            );
        }
    }

    pub(super) fn restarted(&mut self) {
        self.push(|| Observation::Restarted);
    }

    /// Hands what was seen to the dashboard.
    pub(super) fn flush(&mut self) {
        if let Some(dashboard) = &self.dashboard {
            if !self.pending.is_empty() {
                dashboard.observe(std::mem::take(&mut self.pending));
            }
        }
    }
}

impl Scheduler {
    /// Feeds `dashboard`, served at `link`, from now on.
    pub fn with_dashboard(mut self, dashboard: Dashboard, link: String) -> Self {
        self.observer = Observer::new(dashboard, link);
        self
    }

    /// Reports the cluster's supervision trees, as `trees` holds them, in snapshots.
    pub fn with_tree(mut self, trees: crate::actors::center::ClusterTrees) -> Self {
        self.tree = Some(trees);
        self
    }
}
