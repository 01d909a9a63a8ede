//! What the scheduler shell tells the dashboard: observations gathered during one event and
//! handed over in one batch when the event's commands are flushed. Nothing here decides.
//!
//! Cheap by construction: with no dashboard every call returns before touching its
//! arguments (and the core is told not to report forgotten keys at all); with one, a task
//! costs a key and a name (reference counts), never a copy of its dependency list: only
//! the few dependencies that show a new link between layers are passed on. Messages are
//! tallied in a fixed array and handed over as one count per event.

use std::sync::Arc;

use super::Scheduler;
use crate::actors::dashboard::Dashboard;
use crate::dashboard::{layer_of, MessageCounts, MessageKind, Observation};
use crate::ids::{TaskKey, WorkerId};
use crate::messages::activity::ActivityMsg;
use crate::messages::center_link::{HeartbeatMsg, TaskEvent, WorkerDescription};
use crate::messages::tasks::NewTaskMsg;

/// Links between layers remembered while one graph is read, to pass on each only once.
const RECENT_LINKS: usize = 16;

/// The dashboard the scheduler feeds, if any, and what it saw during the current event.
#[derive(Default)]
pub(super) struct Observer {
    dashboard: Option<Dashboard>,
    link: Option<String>,
    pending: Vec<Observation>,
    messages: MessageCounts,
}

impl Observer {
    fn new(dashboard: Dashboard, link: String) -> Self {
        Observer {
            dashboard: Some(dashboard),
            link: Some(link),
            pending: Vec::new(),
            messages: MessageCounts::default(),
        }
    }

    /// Counts `n` messages of `kind` received or sent.
    pub(super) fn messages(&mut self, kind: MessageKind, n: u64) {
        self.messages.add(kind, n);
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

    pub(super) fn worker_lost(&mut self, id: WorkerId, cause: String, restarting: bool) {
        self.push(|| Observation::WorkerLost {
            id,
            cause,
            restarting,
        });
    }

    pub(super) fn worker_activity(&mut self, id: WorkerId, activity: ActivityMsg) {
        self.push(|| Observation::WorkerActivity { id, activity });
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
        let mut links = RecentLinks::default();
        self.pending.reserve(tasks.len());
        for task in tasks {
            let layer = layer_of(task.key.as_str());
            let dependencies = (task.deps.iter())
                .filter(|dep| links.is_new(layer, layer_of(dep.as_str())))
                .cloned()
                .collect();
            self.pending.push(Observation::TaskSubmitted {
                key: task.key.clone(),
                function: task.function.name.clone(),
                dependencies,
            });
        }
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
            TaskEvent::MissingDependency { .. }
            | TaskEvent::Seceded { .. }
            | TaskEvent::Copied { .. }
            | TaskEvent::CopyFailed { .. }
            | TaskEvent::StealAnswer { .. } => {}
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
            if !self.messages.is_empty() {
                self.pending
                    .push(Observation::Messages(self.messages.take()));
            }
            if !self.pending.is_empty() {
                dashboard.observe(std::mem::take(&mut self.pending));
            }
        }
    }
}

/// The last few links between layers passed on while reading one graph (a layer's tasks
/// mostly read the same layers, so a short list catches nearly every repeat; a link passed
/// on twice costs only a few keys).
#[derive(Default)]
struct RecentLinks<'a> {
    links: Vec<(&'a str, &'a str)>,
    next: usize,
}

impl<'a> RecentLinks<'a> {
    /// Whether `layer` reading `input` is a link between two layers not passed on lately;
    /// if so it is remembered.
    fn is_new(&mut self, layer: &'a str, input: &'a str) -> bool {
        if layer == input || self.links.contains(&(layer, input)) {
            return false;
        }
        if self.links.len() < RECENT_LINKS {
            self.links.push((layer, input));
        } else {
            self.links[self.next] = (layer, input);
            self.next = (self.next + 1) % RECENT_LINKS;
        }
        true
    }
}

impl Scheduler {
    /// Feeds `dashboard`, served at `link`, from now on.
    pub fn with_dashboard(mut self, dashboard: Dashboard, link: String) -> Self {
        self.observer = Observer::new(dashboard, link);
        self.state.report_forgotten(true);
        self
    }

    /// Reports the cluster's supervision trees, as `trees` holds them, in snapshots.
    pub fn with_tree(mut self, trees: crate::actors::center::ClusterTrees) -> Self {
        self.tree = Some(trees);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_between_layers_is_passed_on_once_while_it_is_recent() {
        let mut links = RecentLinks::default();
        assert!(
            !links.is_new("sum", "sum"),
            "a layer reading itself is no link"
        );
        assert!(links.is_new("sum", "part"));
        assert!(!links.is_new("sum", "part"));
        assert!(links.is_new("sum", "other"));
        for i in 0..RECENT_LINKS {
            let name: &'static str = Box::leak(format!("l{i}").into_boxed_str());
            assert!(links.is_new("sum", name));
        }
        assert!(
            links.is_new("sum", "part"),
            "forgotten once older than the list"
        );
    }
}
