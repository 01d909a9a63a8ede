//! Message counts by direction and kind, as the scheduler's shell tallies them: a fixed array
//! indexed by [`MessageKind`], so counting a message is one increment and nothing allocates.

/// A kind of message the scheduler receives or sends, with its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Worker to scheduler: task outcomes.
    WorkerTaskEvents,
    /// Worker to scheduler: a heartbeat.
    WorkerHeartbeat,
    /// Worker to scheduler: an activity report.
    WorkerActivity,
    /// Worker to scheduler: values kept from an earlier center.
    WorkerHeldKeys,
    /// Scheduler to worker: tasks to run.
    Compute,
    /// Scheduler to worker: keys to drop.
    ReleaseData,
    /// Scheduler to worker: copies to fetch (replicate, rebalance, retire).
    Acquire,
    /// Scheduler to worker: tasks asked back for another worker (work stealing).
    Steal,
    /// Executor to scheduler: a graph.
    UpdateGraph,
    /// Executor to scheduler: a graph sent again after a center restart.
    Resubmit,
    /// Executor to scheduler: keys it wants.
    Want,
    /// Executor to scheduler: keys it releases.
    Release,
    /// Executor to scheduler: keys it cancels.
    Cancel,
    /// Executor to scheduler: values it placed on workers.
    Scattered,
    /// Executor to scheduler: a `cluster_info` request.
    ClusterInfo,
    /// Executor to scheduler: a restart request.
    Restart,
    /// Executor to scheduler: a coordination request (lock, semaphore, queue, event,
    /// variable).
    Coordinate,
    /// Executor to scheduler: a replicate, rebalance or retire request.
    ClusterOperation,
    /// Scheduler to executor: keys in memory.
    InMemory,
    /// Scheduler to executor: keys that failed.
    Erred,
    /// Scheduler to executor: keys lost.
    Lost,
    /// Scheduler to executor: keys computed again.
    Recomputing,
    /// Scheduler to executor: a cluster snapshot (a reply or a broadcast).
    Cluster,
    /// Scheduler to executor: an acknowledgement of a request.
    Ack,
}

impl MessageKind {
    /// Every kind, in index order.
    pub const ALL: [MessageKind; 24] = [
        MessageKind::WorkerTaskEvents,
        MessageKind::WorkerHeartbeat,
        MessageKind::WorkerActivity,
        MessageKind::WorkerHeldKeys,
        MessageKind::Compute,
        MessageKind::ReleaseData,
        MessageKind::Acquire,
        MessageKind::Steal,
        MessageKind::UpdateGraph,
        MessageKind::Resubmit,
        MessageKind::Want,
        MessageKind::Release,
        MessageKind::Cancel,
        MessageKind::Scattered,
        MessageKind::ClusterInfo,
        MessageKind::Restart,
        MessageKind::Coordinate,
        MessageKind::ClusterOperation,
        MessageKind::InMemory,
        MessageKind::Erred,
        MessageKind::Lost,
        MessageKind::Recomputing,
        MessageKind::Cluster,
        MessageKind::Ack,
    ];

    /// Which way it goes: `worker_to_scheduler`, `scheduler_to_worker`,
    /// `executor_to_scheduler` or `scheduler_to_executor`.
    pub fn direction(self) -> &'static str {
        use MessageKind::*;
        match self {
            WorkerTaskEvents | WorkerHeartbeat | WorkerActivity | WorkerHeldKeys => {
                "worker_to_scheduler"
            }
            Compute | ReleaseData | Acquire | Steal => "scheduler_to_worker",
            UpdateGraph | Resubmit | Want | Release | Cancel | Scattered | ClusterInfo
            | Restart | Coordinate | ClusterOperation => "executor_to_scheduler",
            InMemory | Erred | Lost | Recomputing | Cluster | Ack => "scheduler_to_executor",
        }
    }

    /// Its name in metrics (`task_events`, `compute`, `update_graph`, …).
    pub fn name(self) -> &'static str {
        use MessageKind::*;
        match self {
            WorkerTaskEvents => "task_events",
            WorkerHeartbeat => "heartbeat",
            WorkerActivity => "activity",
            WorkerHeldKeys => "held_keys",
            Compute => "compute",
            ReleaseData => "release_data",
            Acquire => "acquire",
            Steal => "steal",
            UpdateGraph => "update_graph",
            Resubmit => "resubmit",
            Want => "want",
            Release => "release",
            Cancel => "cancel",
            Scattered => "scattered",
            ClusterInfo => "cluster_info",
            Restart => "restart",
            Coordinate => "coordinate",
            ClusterOperation => "cluster_operation",
            InMemory => "in_memory",
            Erred => "erred",
            Lost => "lost",
            Recomputing => "recomputing",
            Cluster => "cluster",
            Ack => "ack",
        }
    }
}

/// Messages counted per [`MessageKind`].
///
/// ```
/// use taskforce::dashboard::{MessageCounts, MessageKind};
/// let mut counts = MessageCounts::default();
/// counts.add(MessageKind::Compute, 2);
/// assert_eq!(counts.get(MessageKind::Compute), 2);
/// assert_eq!(counts.take().get(MessageKind::Compute), 2);
/// assert!(counts.is_empty());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts([u64; MessageKind::ALL.len()]);

impl MessageCounts {
    /// Counts `n` messages of `kind`.
    pub fn add(&mut self, kind: MessageKind, n: u64) {
        self.0[kind as usize] += n;
    }

    /// Messages of `kind` counted.
    pub fn get(&self, kind: MessageKind) -> u64 {
        self.0[kind as usize]
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&n| n == 0)
    }

    /// The counts so far; starts again from zero.
    pub fn take(&mut self) -> MessageCounts {
        std::mem::take(self)
    }

    /// Each kind with its count, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (MessageKind, u64)> + '_ {
        MessageKind::ALL.iter().map(|&kind| (kind, self.get(kind)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_indexes_its_own_slot() {
        for (at, kind) in MessageKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, at, "{kind:?}");
        }
    }
}
