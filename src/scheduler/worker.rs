//! What the scheduler knows about one worker: threads, functions, the tasks it runs and
//! the keys it holds, and how occupied it is.
//!
//! Data only, no I/O; the scheduler state keeps these records consistent with the tasks.

use std::cmp::Ordering;

use crate::ids::FunctionId;
use crate::ids::{Set, TaskKey, WorkerId};

/// The scheduler's record of one connected worker.
#[derive(Debug)]
pub(crate) struct WorkerRecord {
    pub(crate) id: WorkerId,
    /// Threads, at least 1.
    pub(crate) nthreads: u32,
    /// Functions the worker can run.
    pub(crate) functions: Set<FunctionId>,
    /// Tasks sent to the worker and not finished yet.
    pub(crate) processing: Set<TaskKey>,
    /// The tasks of `processing` that seceded to wait on the cluster: they count neither
    /// against saturation nor in occupancy (they wait, and their thread is given back).
    pub(crate) seceded: Set<TaskKey>,
    /// The tasks of `processing` it kept when asked to give them back: started, so not
    /// asked again while they stay here (see `stealing.rs`).
    pub(crate) started: Set<TaskKey>,
    /// Keys whose value the worker holds.
    pub(crate) has_what: Set<TaskKey>,
    /// The most tasks it may have in flight: its window.
    pub(crate) saturation: usize,
    /// Its name, address and offered resources.
    pub(crate) profile: super::restrictions::WorkerProfile,
    /// Its resources not held by a task it is processing.
    pub(crate) available: crate::resources::Resources,
    /// What was measured of its link and speed, from which the window is sized.
    pub(crate) window: super::window::WindowEstimate,
    /// Being retired: it takes no new task and its data moves elsewhere before it stops.
    pub(crate) retiring: bool,
    /// Tasks asked back from other workers for it, not yet given back (see `stealing.rs`).
    pub(crate) incoming_steals: usize,
    /// Tasks of its `processing` asked back for another worker, not yet given back.
    pub(crate) outgoing_steals: usize,
    /// Its entry in the scheduler's index of workers with tasks in their own queue, if
    /// it has any (see [`Self::queue_entry`]).
    pub(crate) indexed_queue: Option<QueueEntry>,
}

/// A worker's entry in the index of workers with tasks in their own queue: tasks kept per
/// thread, then the id reversed, so the last entry is the busiest with the lowest id.
pub(crate) type QueueEntry = (Occupancy, std::cmp::Reverse<WorkerId>);

impl WorkerRecord {
    /// Whether the worker has no free slot for another task.
    pub(crate) fn is_saturated(&self) -> bool {
        self.retiring || self.computing() >= self.saturation
    }

    /// Tasks in flight that did not secede.
    pub(crate) fn computing(&self) -> usize {
        self.processing.len() - self.seceded.len()
    }

    /// Its occupancy (tasks in flight per thread).
    pub(crate) fn occupancy(&self) -> Occupancy {
        Occupancy {
            processing: self.computing() as u64,
            nthreads: u64::from(self.nthreads),
        }
    }

    /// Its tasks in flight (not seceded) and not asked back: more than its threads means
    /// some wait in its own queue, where another worker may take them (see `stealing.rs`).
    pub(crate) fn keeps(&self) -> usize {
        self.computing().saturating_sub(self.outgoing_steals)
    }

    /// Its entry in the scheduler's index of workers with tasks in their own queue (most
    /// tasks kept per thread last), or `None` if it keeps no more tasks than threads.
    pub(crate) fn queue_entry(&self) -> Option<QueueEntry> {
        let keeps = self.keeps();
        (keeps > self.nthreads as usize).then_some((
            Occupancy {
                processing: keeps as u64,
                nthreads: u64::from(self.nthreads),
            },
            std::cmp::Reverse(self.id),
        ))
    }

    /// Its entry in the scheduler's index of workers with free slots.
    pub(crate) fn free_slot_entry(&self) -> (Occupancy, WorkerId) {
        (self.occupancy(), self.id)
    }
}

/// Tasks in flight per thread, compared exactly as a fraction (`1/2 == 2/4`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Occupancy {
    pub(crate) processing: u64,
    pub(crate) nthreads: u64,
}

impl Ord for Occupancy {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.processing * other.nthreads).cmp(&(other.processing * self.nthreads))
    }
}

impl PartialOrd for Occupancy {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Occupancy {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Occupancy {}

#[cfg(test)]
mod tests {
    use super::Occupancy;

    #[test]
    fn occupancy_compares_as_a_fraction() {
        let half = Occupancy {
            processing: 1,
            nthreads: 2,
        };
        let also_half = Occupancy {
            processing: 2,
            nthreads: 4,
        };
        let one = Occupancy {
            processing: 1,
            nthreads: 1,
        };
        assert_eq!(half, also_half);
        assert!(half < one);
    }
}
