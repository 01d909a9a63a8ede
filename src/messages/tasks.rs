//! Task payloads as they travel: submitted tasks, compute orders with their priority, and
//! why a task failed. These are the wire's own types: the scheduler core has its own, and
//! the actor shells convert (`crate::actors::scheduler::wire`), so a change in the core
//! cannot silently change the protocol; the golden bytes below notice any change here.
//!
//! Pure data: nothing from the scheduler, the actors or a socket.

use serde::{Deserialize, Serialize};

use super::nanny_link::DeathCause;
use crate::function::TaskSpec;
use crate::ids::{FunctionId, TaskKey, WorkerId};

/// A task as an executor submits it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTaskMsg {
    /// The task's key.
    pub key: TaskKey,
    /// The function to run.
    pub function: FunctionId,
    /// The encoded call.
    pub spec: TaskSpec,
    /// Keys whose values the task needs.
    pub deps: Vec<TaskKey>,
    /// The client's graph-order priority (lower runs first).
    pub order: i64,
    /// Where it may run; `None` for anywhere with its function.
    pub restrictions: Option<RestrictionsMsg>,
}

/// Where a task may run: named workers (strict or loose) and resources it holds while it
/// runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionsMsg {
    /// Worker names or addresses; empty means any.
    pub workers: Vec<String>,
    /// Whether `workers` is only a preference.
    pub loose: bool,
    /// Resources the task asks for (names with amounts in thousandths).
    pub resources: crate::resources::Resources,
}

/// When a task runs relative to others on a worker: lower runs first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityMsg {
    /// The number of the graph submission the task came with.
    pub generation: u64,
    /// Its graph-order priority within that submission.
    pub order: i64,
}

/// An order to a worker: run this task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComputeMsg {
    /// The key to compute.
    pub key: TaskKey,
    /// The function to run.
    pub function: FunctionId,
    /// The encoded call.
    pub spec: TaskSpec,
    /// Each dependency with the workers holding it.
    pub deps: Vec<(TaskKey, Vec<WorkerId>)>,
    /// The task's priority, for the worker's own queue.
    pub priority: PriorityMsg,
}

/// Why a task has no value, as worker and scheduler report it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FailureMsg {
    /// The function returned an error.
    Failed {
        /// The function.
        function: FunctionId,
        /// The task.
        key: TaskKey,
        /// The worker it ran on.
        worker: WorkerId,
        /// The error as displayed.
        message: String,
    },
    /// The function panicked.
    Panicked {
        /// The function.
        function: FunctionId,
        /// The task.
        key: TaskKey,
        /// The worker it ran on.
        worker: WorkerId,
        /// The panic payload, if it was a string.
        message: String,
    },
    /// A dependency (directly or not) erred.
    DependencyFailed {
        /// The task that cannot run.
        key: TaskKey,
        /// Where the failure started.
        root_key: TaskKey,
        /// The failure of `root_key`.
        root: Box<FailureMsg>,
    },
    /// No connected worker has the function.
    UnknownFunction {
        /// The task.
        key: TaskKey,
        /// The function.
        function: FunctionId,
    },
    /// The task names a key nobody knows.
    UnknownDependency {
        /// The task.
        key: TaskKey,
        /// The unknown key.
        dependency: TaskKey,
    },
    /// The task is in or behind a dependency cycle.
    DependencyCycle {
        /// The task.
        key: TaskKey,
    },
    /// Too many workers died running it.
    KilledWorker {
        /// The task.
        key: TaskKey,
        /// Each worker that died running it, with how it ended.
        deaths: Vec<(WorkerId, DeathCause)>,
    },
    /// Scattered data with no copy left.
    DataLost {
        /// The key.
        key: TaskKey,
        /// The worker that held the last copy, when known.
        worker: Option<WorkerId>,
    },
    /// The key was cancelled.
    Cancelled {
        /// The key.
        key: TaskKey,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::center_link::{CenterToWorker, TaskEvent, WorkerToCenter};
    use crate::messages::codec;

    fn golden<T>(value: &T, expected: &[u8])
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let bytes = codec::encode(value).unwrap();
        assert_eq!(
            bytes, expected,
            "encoding of {value:?} changed: bump PROTOCOL_VERSION"
        );
        assert_eq!(&codec::decode::<T>(&bytes).unwrap(), value);
    }

    #[test]
    fn compute_golden_bytes() {
        let task = ComputeMsg {
            key: "b".into(),
            function: FunctionId::new("inc", 7),
            spec: vec![9u8, 8].into(),
            deps: vec![("a".into(), vec![WorkerId(2)])],
            priority: PriorityMsg {
                generation: 3,
                order: -1,
            },
        };
        let compute = CenterToWorker::Compute {
            tasks: vec![task],
            peers: vec![(WorkerId(2), "127.0.0.1:4000".parse().unwrap())],
        };
        golden(
            &compute,
            &[
                2, 1, 1, b'b', 3, b'i', b'n', b'c', 7, 2, 9, 8, 1, 1, b'a', 1, 2, 3, 1, 1, 2, 0,
                127, 0, 0, 1, 251, 160, 15,
            ],
        );
    }

    #[test]
    fn task_events_golden_bytes() {
        let failure = FailureMsg::DependencyFailed {
            key: "c".into(),
            root_key: "a".into(),
            root: Box::new(FailureMsg::Panicked {
                function: FunctionId::new("f", 1),
                key: "a".into(),
                worker: WorkerId(4),
                message: "boom".into(),
            }),
        };
        let events = WorkerToCenter::TaskEvents(vec![
            TaskEvent::Finished {
                key: "a".into(),
                nbytes: 300,
                inline: None,
            },
            TaskEvent::Erred {
                key: "c".into(),
                failure,
            },
            TaskEvent::MissingDependency {
                key: "d".into(),
                dependency: "a".into(),
                holder: WorkerId(5),
            },
        ]);
        golden(
            &events,
            &[
                2, 3, 0, 1, b'a', 251, 44, 1, 0, 1, 1, b'c', 2, 1, b'c', 1, b'a', 1, 1, b'f', 1, 1,
                b'a', 4, 4, b'b', b'o', b'o', b'm', 2, 1, b'd', 1, b'a', 5,
            ],
        );
    }

    #[test]
    fn new_task_and_failure_reports_golden_bytes() {
        let task = NewTaskMsg {
            key: "x".into(),
            function: FunctionId::new("g", 2),
            spec: vec![1u8].into(),
            deps: vec!["w".into()],
            order: 5,
            restrictions: None,
        };
        golden(&task, &[1, b'x', 1, b'g', 2, 1, 1, 1, 1, b'w', 10, 0]);
        let restricted = NewTaskMsg {
            restrictions: Some(RestrictionsMsg {
                workers: vec!["a".into()],
                loose: true,
                resources: "G=1".parse().unwrap(),
            }),
            ..task
        };
        let mut bytes = vec![1, b'x', 1, b'g', 2, 1, 1, 1, 1, b'w', 10];
        bytes.extend([1, 1, 1, b'a', 1, 1, 1, b'G', 251, 232, 3]);
        golden(&restricted, &bytes);
        let lost = FailureMsg::KilledWorker {
            key: "k".into(),
            deaths: vec![(WorkerId(9), DeathCause::Exited { code: 3 })],
        };
        golden(&lost, &[6, 1, b'k', 1, 9, 1, 6]);
    }
}
