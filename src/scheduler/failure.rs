//! Why a task has no value: the error value the scheduler records for an erred task and
//! reports to the clients that want it.
//!
//! Plain data that travels on the wire (serde); no I/O and no dependency on the actors.

use serde::{Deserialize, Serialize};

use crate::ids::FunctionId;
use crate::ids::{TaskKey, WorkerId};
pub use crate::messages::nanny_link::DeathCause;

/// One death of a worker that was running a task: which worker, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerDeath {
    /// The worker that died.
    pub worker: WorkerId,
    /// How it ended (its nanny's report, or what the center saw).
    pub cause: DeathCause,
}

impl std::fmt::Display for WorkerDeath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.worker, self.cause)
    }
}

fn workers(count: usize) -> String {
    match count {
        1 => "1 worker".into(),
        n => format!("{n} workers"),
    }
}

fn deaths_in_words(deaths: &[WorkerDeath]) -> String {
    let words: Vec<String> = deaths.iter().map(WorkerDeath::to_string).collect();
    words.join(", ")
}

/// Why a task erred. Travels from worker to scheduler to client unchanged.
///
/// Retrying helps only for `KilledWorker` and `DataLost` (a new worker may succeed); the
/// others are deterministic given the same graph and the same workers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum TaskFailure {
    /// The function returned an error.
    #[error("task {key} ({function}) failed on {worker}: {}", shortened(.message))]
    Failed {
        /// The function that failed.
        function: FunctionId,
        /// The task that failed.
        key: TaskKey,
        /// The worker it ran on.
        worker: WorkerId,
        /// The error, as the function displayed it.
        message: String,
    },
    /// The function panicked; the worker caught the panic at the task boundary.
    #[error("task {key} ({function}) panicked on {worker}: {}", shortened(.message))]
    Panicked {
        /// The function that panicked.
        function: FunctionId,
        /// The task that panicked.
        key: TaskKey,
        /// The worker it ran on.
        worker: WorkerId,
        /// The panic payload, if it was a string.
        message: String,
    },
    /// A task this one depends on (directly or not) erred, so this one can never run.
    #[error("task {key} cannot run: its dependency {root_key} erred: {root}")]
    DependencyFailed {
        /// The task that cannot run.
        key: TaskKey,
        /// The task where the failure started.
        root_key: TaskKey,
        /// The failure of `root_key` (never itself a `DependencyFailed`).
        root: Box<TaskFailure>,
    },
    /// Workers are connected but none of them has the task's function.
    #[error("task {key}: no connected worker has function {function}")]
    UnknownFunction {
        /// The task that cannot be placed.
        key: TaskKey,
        /// The function no worker advertises.
        function: FunctionId,
    },
    /// The task names a dependency the scheduler does not know (never submitted, or
    /// already forgotten).
    #[error("task {key} depends on unknown key {dependency}")]
    UnknownDependency {
        /// The task that cannot run.
        key: TaskKey,
        /// The key nobody knows.
        dependency: TaskKey,
    },
    /// The task is part of, or depends on, a cycle of dependencies within its graph.
    #[error("task {key} is part of or depends on a dependency cycle")]
    DependencyCycle {
        /// The task that cannot run.
        key: TaskKey,
    },
    /// Too many workers died while running this task; it is probably what kills them.
    #[error("task {key} was running on {} that died: {}", workers(.deaths.len()), deaths_in_words(.deaths))]
    KilledWorker {
        /// The suspicious task.
        key: TaskKey,
        /// Each worker that died while running it, in order, with how it ended.
        deaths: Vec<WorkerDeath>,
    },
    /// Data without lineage (scattered by a client) is no longer held by any worker, so it
    /// cannot be recomputed.
    #[error("data of {key} was lost{}", lost_with(.worker))]
    DataLost {
        /// The key whose data is gone.
        key: TaskKey,
        /// The worker that held the last copy, when known.
        worker: Option<WorkerId>,
    },
    /// The key was cancelled. The scheduler itself reports cancellation through
    /// `Outbox::key_lost`; this variant lets the client side resolve a future with it.
    #[error("task {key} was cancelled")]
    Cancelled {
        /// The cancelled key.
        key: TaskKey,
    },
}

/// How many characters of a task's error or panic message `Display` shows; the rest is cut
/// (the full text stays in the `message` field).
pub const SHOWN_MESSAGE_CHARS: usize = 1000;

/// `message` as `Display` shows it: whole up to [`SHOWN_MESSAGE_CHARS`] characters, else its
/// start and how much was cut.
pub fn shortened(message: &str) -> std::borrow::Cow<'_, str> {
    match message.char_indices().nth(SHOWN_MESSAGE_CHARS) {
        None => message.into(),
        Some((cut, _)) => format!(
            "{}… ({} more bytes cut; the whole message is in the error's `message` field)",
            &message[..cut],
            message.len() - cut
        )
        .into(),
    }
}

fn lost_with(worker: &Option<WorkerId>) -> String {
    match worker {
        Some(worker) => format!(" with worker {worker}"),
        None => String::new(),
    }
}

impl TaskFailure {
    /// The key the failure is about.
    pub fn key(&self) -> &TaskKey {
        match self {
            TaskFailure::Failed { key, .. }
            | TaskFailure::Panicked { key, .. }
            | TaskFailure::DependencyFailed { key, .. }
            | TaskFailure::UnknownFunction { key, .. }
            | TaskFailure::UnknownDependency { key, .. }
            | TaskFailure::DependencyCycle { key }
            | TaskFailure::KilledWorker { key, .. }
            | TaskFailure::DataLost { key, .. }
            | TaskFailure::Cancelled { key } => key,
        }
    }

    /// Where the failure started: the root key and its own failure. For anything but
    /// `DependencyFailed` that is the failure itself.
    pub fn root_cause(&self) -> (&TaskKey, &TaskFailure) {
        match self {
            TaskFailure::DependencyFailed { root_key, root, .. } => (root_key, root),
            other => (other.key(), other),
        }
    }

    /// The failure of `key`, which cannot run because its dependency erred with `self`.
    pub fn for_dependent(&self, key: TaskKey) -> TaskFailure {
        let (root_key, root) = self.root_cause();
        TaskFailure::DependencyFailed {
            key,
            root_key: root_key.clone(),
            root: Box::new(root.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_failure_names_the_root_not_the_intermediate() {
        let root = TaskFailure::UnknownFunction {
            key: "a".into(),
            function: FunctionId::new("f", 1),
        };
        let b = root.for_dependent("b".into());
        let c = b.for_dependent("c".into());
        assert_eq!(
            c,
            TaskFailure::DependencyFailed {
                key: "c".into(),
                root_key: "a".into(),
                root: Box::new(root),
            }
        );
        assert!(c.to_string().contains("dependency a erred"));
    }

    #[test]
    fn long_messages_are_shortened_on_a_char_boundary() {
        assert_eq!(shortened("short"), "short");
        let long = "é".repeat(SHOWN_MESSAGE_CHARS + 10);
        let shown = shortened(&long);
        assert!(shown.starts_with(&"é".repeat(SHOWN_MESSAGE_CHARS)));
        assert!(shown.ends_with(
            "… (20 more bytes cut; the whole message is in the error's `message` field)"
        ));
    }
}
