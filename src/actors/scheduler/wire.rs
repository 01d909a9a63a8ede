//! Conversions between the scheduler core's task types and the wire's
//! (`crate::messages::tasks`), used by the scheduler, worker and executor shells.
//!
//! Field by field on purpose: a field added to either side is a compile error here rather
//! than a silent change of the protocol.

use crate::messages::tasks::{ComputeMsg, FailureMsg, NewTaskMsg, PriorityMsg, RestrictionsMsg};
use crate::scheduler::{ComputeTask, NewTask, Priority, Restrictions, TaskFailure, WorkerDeath};

impl From<NewTask> for NewTaskMsg {
    fn from(task: NewTask) -> Self {
        let NewTask {
            key,
            function,
            spec,
            deps,
            order,
            restrictions,
        } = task;
        NewTaskMsg {
            key,
            function,
            spec,
            deps,
            order,
            restrictions: restrictions.map(Into::into),
        }
    }
}

impl From<NewTaskMsg> for NewTask {
    fn from(task: NewTaskMsg) -> Self {
        let NewTaskMsg {
            key,
            function,
            spec,
            deps,
            order,
            restrictions,
        } = task;
        NewTask {
            key,
            function,
            spec,
            deps,
            order,
            restrictions: restrictions.map(Into::into),
        }
    }
}

impl From<Restrictions> for RestrictionsMsg {
    fn from(restrictions: Restrictions) -> Self {
        let Restrictions {
            workers,
            loose,
            resources,
        } = restrictions;
        RestrictionsMsg {
            workers,
            loose,
            resources,
        }
    }
}

impl From<RestrictionsMsg> for Restrictions {
    fn from(restrictions: RestrictionsMsg) -> Self {
        let RestrictionsMsg {
            workers,
            loose,
            resources,
        } = restrictions;
        Restrictions {
            workers,
            loose,
            resources,
        }
    }
}

impl From<Priority> for PriorityMsg {
    fn from(Priority { generation, order }: Priority) -> Self {
        PriorityMsg { generation, order }
    }
}

impl From<PriorityMsg> for Priority {
    fn from(PriorityMsg { generation, order }: PriorityMsg) -> Self {
        Priority { generation, order }
    }
}

impl From<ComputeTask> for ComputeMsg {
    fn from(task: ComputeTask) -> Self {
        let ComputeTask {
            key,
            function,
            spec,
            deps,
            priority,
        } = task;
        ComputeMsg {
            key,
            function,
            spec,
            deps,
            priority: priority.into(),
        }
    }
}

impl From<ComputeMsg> for ComputeTask {
    fn from(task: ComputeMsg) -> Self {
        let ComputeMsg {
            key,
            function,
            spec,
            deps,
            priority,
        } = task;
        ComputeTask {
            key,
            function,
            spec,
            deps,
            priority: priority.into(),
        }
    }
}

impl From<TaskFailure> for FailureMsg {
    fn from(failure: TaskFailure) -> Self {
        use TaskFailure as F;
        match failure {
            F::Failed {
                function,
                key,
                worker,
                message,
            } => FailureMsg::Failed {
                function,
                key,
                worker,
                message,
            },
            F::Panicked {
                function,
                key,
                worker,
                message,
            } => FailureMsg::Panicked {
                function,
                key,
                worker,
                message,
            },
            F::DependencyFailed {
                key,
                root_key,
                root,
            } => FailureMsg::DependencyFailed {
                key,
                root_key,
                root: Box::new((*root).into()),
            },
            F::UnknownFunction { key, function } => FailureMsg::UnknownFunction { key, function },
            F::UnknownDependency { key, dependency } => {
                FailureMsg::UnknownDependency { key, dependency }
            }
            F::DependencyCycle { key } => FailureMsg::DependencyCycle { key },
            F::KilledWorker { key, deaths } => FailureMsg::KilledWorker {
                key,
                deaths: deaths.into_iter().map(|d| (d.worker, d.cause)).collect(),
            },
            F::DataLost { key, worker } => FailureMsg::DataLost { key, worker },
            F::Cancelled { key } => FailureMsg::Cancelled { key },
        }
    }
}

impl From<FailureMsg> for TaskFailure {
    fn from(failure: FailureMsg) -> Self {
        use FailureMsg as M;
        match failure {
            M::Failed {
                function,
                key,
                worker,
                message,
            } => TaskFailure::Failed {
                function,
                key,
                worker,
                message,
            },
            M::Panicked {
                function,
                key,
                worker,
                message,
            } => TaskFailure::Panicked {
                function,
                key,
                worker,
                message,
            },
            M::DependencyFailed {
                key,
                root_key,
                root,
            } => TaskFailure::DependencyFailed {
                key,
                root_key,
                root: Box::new((*root).into()),
            },
            M::UnknownFunction { key, function } => TaskFailure::UnknownFunction { key, function },
            M::UnknownDependency { key, dependency } => {
                TaskFailure::UnknownDependency { key, dependency }
            }
            M::DependencyCycle { key } => TaskFailure::DependencyCycle { key },
            M::KilledWorker { key, deaths } => TaskFailure::KilledWorker {
                key,
                deaths: deaths
                    .into_iter()
                    .map(|(worker, cause)| WorkerDeath { worker, cause })
                    .collect(),
            },
            M::DataLost { key, worker } => TaskFailure::DataLost { key, worker },
            M::Cancelled { key } => TaskFailure::Cancelled { key },
        }
    }
}

#[cfg(test)]
mod tests {
    //! The wire types were split from the core's without changing a byte: each core value
    //! and its wire form encode the same (so `PROTOCOL_VERSION` did not need a bump), and
    //! converting there and back is the identity.

    use super::*;
    use crate::ids::{FunctionId, WorkerId};
    use crate::messages::codec;
    use crate::scheduler::DeathCause;

    fn same_bytes<C, W>(core: C)
    where
        C: serde::Serialize + Clone + PartialEq + std::fmt::Debug + From<W>,
        W: serde::Serialize + From<C>,
    {
        let wire = W::from(core.clone());
        assert_eq!(codec::encode(&core).unwrap(), codec::encode(&wire).unwrap());
        assert_eq!(C::from(wire), core);
    }

    #[test]
    fn wire_types_encode_like_the_core_types_they_replaced() {
        let function = FunctionId::new("f", 3);
        same_bytes::<NewTask, NewTaskMsg>(NewTask {
            key: "k".into(),
            function: function.clone(),
            spec: vec![1u8, 2].into(),
            deps: vec!["d".into()],
            order: -4,
            restrictions: Some(Restrictions {
                workers: vec!["w".into()],
                loose: true,
                resources: "GPU=1".parse().unwrap(),
            }),
        });
        same_bytes::<ComputeTask, ComputeMsg>(ComputeTask {
            key: "k".into(),
            function: function.clone(),
            spec: vec![7u8].into(),
            deps: vec![("d".into(), vec![WorkerId(1), WorkerId(2)])],
            priority: Priority {
                generation: 9,
                order: 2,
            },
        });
        let root = TaskFailure::Panicked {
            function: function.clone(),
            key: "a".into(),
            worker: WorkerId(1),
            message: "boom".into(),
        };
        let failures = [
            TaskFailure::Failed {
                function: function.clone(),
                key: "a".into(),
                worker: WorkerId(1),
                message: "bad".into(),
            },
            root.for_dependent("b".into()),
            root.clone(),
            TaskFailure::UnknownFunction {
                key: "a".into(),
                function,
            },
            TaskFailure::UnknownDependency {
                key: "a".into(),
                dependency: "z".into(),
            },
            TaskFailure::DependencyCycle { key: "a".into() },
            TaskFailure::KilledWorker {
                key: "a".into(),
                deaths: vec![WorkerDeath {
                    worker: WorkerId(3),
                    cause: DeathCause::Signal {
                        number: 6,
                        name: "SIGABRT".into(),
                    },
                }],
            },
            TaskFailure::DataLost {
                key: "a".into(),
                worker: Some(WorkerId(2)),
            },
            TaskFailure::Cancelled { key: "a".into() },
        ];
        for failure in failures {
            same_bytes::<TaskFailure, FailureMsg>(failure);
        }
    }
}
