//! Work stealing: a worker about to idle takes tasks waiting in another worker's own queue.
//!
//! Tasks with inputs go to the worker holding them whatever its window (as dask's non-root
//! tasks do), and a task sent is queued on its worker; so one worker may hold a queue of
//! work while another has nothing left. At the end of each event, every worker with no more
//! tasks in flight than threads (it idles once its running tasks end), for which nothing is
//! queued at the scheduler, asks the worker with the most tasks queued per thread to give
//! some back: as many as evens their loads, no more than the thief's window holds, latest
//! in the victim's order first (those it would run last), only tasks whose inputs cost less
//! to move than to run them ([`transfer_time`] against the victim's measured task time),
//! and only when the victim's queue lasts longer than the round trip a steal costs.
//!
//! A steal is a request, as in dask: the victim gives a task back only if none of its
//! threads started it (`on_task_given_back`), and the task then goes to the thief the
//! request was for (or, if that thief left or cannot take it now, is placed afresh);
//! otherwise the victim runs it and reports it as usual. A task leaving the victim in any
//! other way (finished, erred, released, its worker lost) ends its steal.
//!
//! Decisions only, from the state's own records; no clock, no I/O.

use std::time::Duration;

use super::outbox::{Command, Outbox};
use super::report_check::IgnoredReport;
use super::state::SchedulerState;
use super::task::TaskState;
use super::types::Priority;
use crate::ids::{TaskKey, WorkerId};

/// The time a task whose worker has not measured its tasks yet is assumed to take: dask's
/// default for tasks of unknown duration (`distributed.scheduler.default-task-durations`).
const UNMEASURED_TASK_TIME: Duration = Duration::from_millis(500);

/// The round trip assumed to a worker not measured yet: a loopback round trip through two
/// actors is a few hundred microseconds, across a LAN about a millisecond.
const UNMEASURED_ROUND_TRIP: Duration = Duration::from_millis(1);

/// The bandwidth assumed between workers, to weigh moving a task's inputs against running
/// it: dask's default (`distributed.scheduler.bandwidth`, 100 MB/s).
const BANDWIDTH_BYTES_PER_SECOND: u64 = 100_000_000;

/// A steal costs the victim's answer and the order to the thief: about this many round
/// trips, during which the thief idles. Tasks queued for less than that stay.
const ROUND_TRIPS_PER_STEAL: u32 = 2;

/// Thieves served per event, least loaded first; the others are served at the next event
/// (every finished task is one), so an event costs little with many idle workers.
const THIEVES_PER_EVENT: usize = 16;

/// A task asked back from `victim` for `thief`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Steal {
    pub(crate) victim: WorkerId,
    pub(crate) thief: WorkerId,
}

/// The time moving `bytes` between workers takes at the assumed bandwidth.
pub(super) fn transfer_time(bytes: u64) -> Duration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(BANDWIDTH_BYTES_PER_SECOND);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl SchedulerState {
    /// `worker` gave `key` back, unstarted, as asked by a steal: it goes to the thief the
    /// steal was for if that worker is connected and can start it now, else it is placed
    /// afresh. Taken only from the worker processing `key` ([`IgnoredReport`] otherwise: a
    /// task finished, released or moved before the answer came). A task given back without
    /// a steal (the worker dropped it) is placed afresh too: the worker no longer has it.
    pub fn on_task_given_back(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        out: &mut dyn Outbox,
    ) -> Result<(), IgnoredReport> {
        let checked = self.check_running(worker, &key);
        if checked.is_ok() {
            let thief = self.steals.get(&key).map(|steal| steal.thief);
            match thief.filter(|thief| self.can_take_stolen(&key, *thief)) {
                Some(thief) => self.start_processing(&key, thief),
                None => self.reset_to_waiting(&key, false),
            }
        }
        self.end_event(out);
        checked
    }

    /// How many tasks are asked back and not answered yet.
    pub fn pending_steal_count(&self) -> usize {
        self.steals.len()
    }

    /// Whether `thief` is connected, not retiring nor held off, and can start `key` now
    /// (its function, restrictions and free resources).
    fn can_take_stolen(&self, key: &TaskKey, thief: WorkerId) -> bool {
        let Some(record) = self.workers.get(&thief) else {
            return false;
        };
        let class = self
            .task(key)
            .class()
            .expect("stolen task without function");
        !record.retiring && !record.window.held_off_now() && class.fits_now(record)
    }

    /// `key` leaves the worker processing it: any steal of it ends, and both workers'
    /// counts of steals under way drop.
    pub(super) fn forget_steal(&mut self, key: &TaskKey) {
        let Some(steal) = self.steals.remove(key) else {
            return;
        };
        if let Some(victim) = self.workers.get_mut(&steal.victim) {
            victim.outgoing_steals -= 1;
            self.update_overloaded(steal.victim);
        }
        if let Some(thief) = self.workers.get_mut(&steal.thief) {
            thief.incoming_steals -= 1;
        }
    }

    /// For each worker about to idle with nothing queued here it could run (after
    /// `assign_queued`, every worker with a free slot), asks tasks back from the worker
    /// with the most queued per thread (see the module docs).
    pub(super) fn steal_for_idle_workers(&mut self) {
        if !self.config.work_stealing || self.overloaded.is_empty() || self.is_recovering() {
            return;
        }
        let thieves: Vec<WorkerId> = self
            .free_slots
            .iter()
            .take_while(|(occupancy, _)| occupancy.processing <= occupancy.nthreads)
            .map(|(_, worker)| *worker)
            .take(THIEVES_PER_EVENT)
            .collect();
        for thief in thieves {
            self.steal_for(thief);
        }
    }

    fn steal_for(&mut self, thief: WorkerId) {
        let record = &self.workers[&thief];
        let thief_load = record.computing() + record.incoming_steals;
        let thief_threads = record.nthreads as usize;
        if thief_load > thief_threads || record.window.held_off_now() {
            return;
        }
        let room = record.saturation.saturating_sub(thief_load);
        let Some((victim, queued)) = self.busiest_victim(thief) else {
            return;
        };
        let victim_record = &self.workers[&victim];
        let victim_load = victim_record.keeps();
        let victim_threads = victim_record.nthreads as usize;
        // Loads per thread even out when `moved` tasks go: (v - m) / tv = (t + m) / tt.
        let even = (victim_load * thief_threads).saturating_sub(thief_load * victim_threads)
            / (victim_threads + thief_threads);
        let wanted = even.min(queued).min(room);
        if wanted == 0 || !self.queue_outlasts_a_steal(victim, queued) {
            return;
        }
        for key in self.stealable(victim, thief, wanted) {
            self.steals.insert(key.clone(), Steal { victim, thief });
            self.workers
                .get_mut(&victim)
                .expect("victim")
                .outgoing_steals += 1;
            self.workers.get_mut(&thief).expect("thief").incoming_steals += 1;
            self.push_command(Command::Steal(victim, key));
        }
        self.update_overloaded(victim);
    }

    /// The worker other than `thief` with the most tasks queued per thread (not counting
    /// those asked back already), and how many it has queued; `None` if none has any.
    fn busiest_victim(&self, thief: WorkerId) -> Option<(WorkerId, usize)> {
        let mut busiest: Option<&(_, WorkerId)> = None;
        // Among workers as busy as the busiest, the lowest id: the index is walked from the
        // busiest down, so each tie seen is a lower id.
        for entry in self.overloaded.iter().rev() {
            match busiest {
                _ if entry.1 == thief => continue,
                Some((most, _)) if entry.0 != *most => break,
                _ => busiest = Some(entry),
            }
        }
        let (_, victim) = busiest?;
        let record = &self.workers[victim];
        Some((*victim, record.keeps() - record.nthreads as usize))
    }

    /// Whether `victim`'s `queued` tasks would wait there longer than a steal takes.
    fn queue_outlasts_a_steal(&self, victim: WorkerId, queued: usize) -> bool {
        let record = &self.workers[&victim];
        let task_time = record.window.task_time().unwrap_or(UNMEASURED_TASK_TIME);
        let round_trip = record
            .window
            .min_round_trip()
            .unwrap_or(UNMEASURED_ROUND_TRIP);
        let queued = u32::try_from(queued).unwrap_or(u32::MAX);
        let wait = task_time.saturating_mul(queued) / record.nthreads.max(1);
        wait > round_trip.saturating_mul(ROUND_TRIPS_PER_STEAL)
    }

    /// Up to `wanted` of `victim`'s tasks `thief` could run now, latest in the victim's order
    /// first, not seceded, not asked back already, whose inputs missing on the thief move
    /// faster than the victim runs a task.
    fn stealable(&self, victim: WorkerId, thief: WorkerId, wanted: usize) -> Vec<TaskKey> {
        let victim_record = &self.workers[&victim];
        let thief_record = &self.workers[&thief];
        let task_time = victim_record
            .window
            .task_time()
            .unwrap_or(UNMEASURED_TASK_TIME);
        let mut candidates: Vec<(Priority, &TaskKey)> = victim_record
            .processing
            .iter()
            .filter(|key| !victim_record.seceded.contains(*key) && !self.steals.contains_key(*key))
            .filter_map(|key| {
                let task = self.task(key);
                let class = task.class()?;
                let fits = class.fits_now(thief_record);
                (fits && transfer_time(self.bytes_missing_on(key, thief)) <= task_time)
                    .then_some((task.priority, key))
            })
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates
            .into_iter()
            .take(wanted)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// The bytes of `key`'s inputs that `worker` does not hold.
    fn bytes_missing_on(&self, key: &TaskKey, worker: WorkerId) -> u64 {
        self.task(key)
            .dependencies
            .iter()
            .map(|dep| self.task(dep))
            .filter(|dep| !dep.who_has().contains(&worker))
            .map(|dep| dep.nbytes)
            .sum()
    }

    /// Every steal under way names a task processing on its victim, and each worker's
    /// counts match (for `sanity_check`).
    pub(super) fn check_steals(&self) {
        let mut outgoing: crate::ids::Map<WorkerId, usize> = Default::default();
        let mut incoming: crate::ids::Map<WorkerId, usize> = Default::default();
        for (key, steal) in &self.steals {
            let state = &self.task(key).state;
            assert_eq!(
                state,
                &TaskState::Processing {
                    worker: steal.victim
                },
                "{key}: asked back from {} but {}",
                steal.victim,
                state.name()
            );
            assert_ne!(
                steal.victim, steal.thief,
                "{key}: stolen for its own worker"
            );
            *outgoing.entry(steal.victim).or_default() += 1;
            *incoming.entry(steal.thief).or_default() += 1;
        }
        for (id, record) in &self.workers {
            let expected_out = outgoing.get(id).copied().unwrap_or(0);
            let expected_in = incoming.get(id).copied().unwrap_or(0);
            assert_eq!(
                record.outgoing_steals, expected_out,
                "{id}: outgoing steals"
            );
            assert_eq!(record.incoming_steals, expected_in, "{id}: incoming steals");
            assert_eq!(
                record.indexed_queue,
                record.queue_entry(),
                "{id}: queue entry"
            );
            if let Some(entry) = record.queue_entry() {
                assert!(self.overloaded.contains(&entry), "{id}: not indexed");
            }
        }
        let indexed = self.workers.values().filter(|w| w.indexed_queue.is_some());
        assert_eq!(
            self.overloaded.len(),
            indexed.count(),
            "stale queue entries"
        );
    }
}
