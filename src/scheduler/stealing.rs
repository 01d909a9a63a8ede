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
//! A steal is a numbered request, as in dask: the victim answers every one
//! (`on_steal_answer`), giving the task back only if none of its threads started it; the
//! task then goes to the thief the request was for (or, if that thief left or cannot start
//! it now, is placed afresh). Kept, it runs there and is reported as usual, and is not asked
//! for again while it stays there (else an idle thief would ask each event). An answer
//! counts only for the request under way for that task (the number must match): a late
//! answer to an older request, after the task was released and sent again, changes
//! nothing. A task leaving the victim in any other way (finished, erred, released, seceded,
//! its worker lost) ends its steal.
//!
//! Bounded per event: at most [`THIEVES_PER_EVENT`] thieves, each looking at up to
//! [`VICTIMS_PER_THIEF`] victims and at most [`CANDIDATES_PER_STEAL`] movable tasks of
//! each; a victim with nothing any thief may take is not looked at again in the same event.
//! A victim held off (it did not answer a peer) is not asked: it may not answer.
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

/// Thieves served per event, least loaded first (not counting those already waiting for
/// answers); the others are served at the next event (every finished task is one), so an
/// event costs little with many idle workers.
const THIEVES_PER_EVENT: usize = 16;

/// The most victims one thief looks at in an event, busiest first: a busier victim may hold
/// only tasks this thief cannot take (a function it lacks, inputs too big to move).
const VICTIMS_PER_THIEF: usize = 4;

/// The most of a victim's movable tasks looked at for one steal. A worker may hold thousands
/// (every reader of a value it holds goes to it); past this bound the tasks looked at are
/// any of them, not the latest, and the pass stays cheap when none can move.
const CANDIDATES_PER_STEAL: usize = 256;

/// A task asked back from `victim` for `thief` (`None` once the thief left) by request
/// number `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Steal {
    pub(crate) victim: WorkerId,
    pub(crate) thief: Option<WorkerId>,
    pub(crate) id: u64,
}

/// The time moving `bytes` between workers takes at the assumed bandwidth.
pub(super) fn transfer_time(bytes: u64) -> Duration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(BANDWIDTH_BYTES_PER_SECOND);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl SchedulerState {
    /// `worker` answered steal request `steal` for `key`: given back unstarted, the task
    /// goes to the thief the request was for if that worker is connected and can start it
    /// now, else it is placed afresh; kept, the steal ends and the task stays. Taken only
    /// from the worker processing `key` and for the request under way
    /// ([`IgnoredReport`] otherwise: a task finished, released or sent again before the
    /// answer came).
    pub fn on_steal_answer(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        steal: u64,
        given_back: bool,
        out: &mut dyn Outbox,
    ) -> Result<(), IgnoredReport> {
        let checked = self
            .check_running(worker, &key)
            .and_then(|()| match self.steals.get(&key) {
                Some(current) if current.id == steal => Ok(current.thief),
                _ => Err(IgnoredReport::StaleStealAnswer {
                    worker,
                    key: key.clone(),
                    steal,
                }),
            });
        match checked {
            Ok(thief) if given_back => {
                match thief.filter(|thief| self.can_take_stolen(&key, *thief)) {
                    Some(thief) => self.start_processing(&key, thief),
                    None => self.reset_to_waiting(&key, false),
                }
            }
            Ok(_) => {
                self.forget_steal(&key);
                if let Some(record) = self.workers.get_mut(&worker) {
                    record.started.insert(key.clone());
                }
            }
            Err(_) => {}
        }
        self.end_event(out);
        checked.map(|_| ())
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
        if let Some(thief) = steal.thief.and_then(|thief| self.workers.get_mut(&thief)) {
            thief.incoming_steals -= 1;
        }
    }

    /// `worker` left: steals under way for it end up placed afresh when given back.
    pub(super) fn thief_left(&mut self, worker: WorkerId) {
        for steal in self.steals.values_mut() {
            if steal.thief == Some(worker) {
                steal.thief = None;
            }
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
            .filter(|worker| {
                let record = &self.workers[worker];
                record.computing() + record.incoming_steals <= record.nthreads as usize
            })
            .take(THIEVES_PER_EVENT)
            .collect();
        let mut barren: Vec<WorkerId> = Vec::new();
        for thief in thieves {
            self.steal_for(thief, &mut barren);
        }
    }

    /// Asks tasks back for `thief` from the busiest victim that has some `thief` may take,
    /// trying at most [`VICTIMS_PER_THIEF`] victims, busiest first; a victim none of whose
    /// tasks could move to any thief (all started, seceded or asked for) joins `barren`.
    fn steal_for(&mut self, thief: WorkerId, barren: &mut Vec<WorkerId>) {
        let record = &self.workers[&thief];
        let thief_load = record.computing() + record.incoming_steals;
        let thief_threads = record.nthreads as usize;
        if record.window.held_off_now() {
            return;
        }
        let room = record.saturation.saturating_sub(thief_load);
        let mut tried: Vec<WorkerId> = Vec::new();
        for _ in 0..VICTIMS_PER_THIEF {
            let Some((victim, queued)) = self.busiest_victim(thief, barren, &tried) else {
                return;
            };
            tried.push(victim);
            let victim_record = &self.workers[&victim];
            let victim_load = victim_record.keeps();
            let victim_threads = victim_record.nthreads as usize;
            // Loads per thread even out when `moved` tasks go: (v - m) / tv = (t + m) / tt.
            let even = (victim_load * thief_threads).saturating_sub(thief_load * victim_threads)
                / (victim_threads + thief_threads);
            let wanted = even.min(queued).min(room);
            if wanted == 0 || !self.queue_outlasts_a_steal(victim, queued) {
                // The less busy victims would even out at nothing too, or have shorter
                // queues (unless their tasks are slower: left for a later event).
                return;
            }
            let (stealable, movable) = self.stealable(victim, thief, wanted);
            if movable == 0 {
                barren.push(victim);
            }
            if stealable.is_empty() {
                continue;
            }
            self.ask_back(victim, thief, stealable);
            return;
        }
    }

    /// Sends the numbered requests for `keys` from `victim` to `thief`.
    fn ask_back(&mut self, victim: WorkerId, thief: WorkerId, keys: Vec<TaskKey>) {
        for key in keys {
            let id = self.next_steal;
            self.next_steal += 1;
            let steal = Steal {
                victim,
                thief: Some(thief),
                id,
            };
            self.steals.insert(key.clone(), steal);
            self.workers
                .get_mut(&victim)
                .expect("victim")
                .outgoing_steals += 1;
            self.workers.get_mut(&thief).expect("thief").incoming_steals += 1;
            self.push_command(Command::Steal(victim, key, id));
        }
        self.update_overloaded(victim);
    }

    /// The worker other than `thief`, not held off (it may not answer) and in neither
    /// `barren` nor `tried`, with the most tasks queued per thread (not counting those asked
    /// back already; the lowest id among equals), and how many it has queued; `None` if
    /// none has any.
    fn busiest_victim(
        &self,
        thief: WorkerId,
        barren: &[WorkerId],
        tried: &[WorkerId],
    ) -> Option<(WorkerId, usize)> {
        let (_, std::cmp::Reverse(victim)) =
            self.overloaded
                .iter()
                .rev()
                .find(|(_, std::cmp::Reverse(victim))| {
                    *victim != thief
                        && !barren.contains(victim)
                        && !tried.contains(victim)
                        && !self.workers[victim].window.held_off_now()
                })?;
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
    /// first, all of them together within the thief's free resources, whose inputs missing on
    /// the thief move faster than the victim runs a task;
    /// and how many of the tasks looked at could move to some worker at all (not seceded,
    /// not asked back already, nor kept when asked before: started).
    fn stealable(&self, victim: WorkerId, thief: WorkerId, wanted: usize) -> (Vec<TaskKey>, usize) {
        let victim_record = &self.workers[&victim];
        let thief_record = &self.workers[&thief];
        let task_time = victim_record
            .window
            .task_time()
            .unwrap_or(UNMEASURED_TASK_TIME);
        let movable: Vec<&TaskKey> = victim_record
            .processing
            .iter()
            .filter(|key| {
                !victim_record.seceded.contains(*key)
                    && !victim_record.started.contains(*key)
                    && !self.steals.contains_key(*key)
            })
            .take(CANDIDATES_PER_STEAL)
            .collect();
        let mut candidates: Vec<(Priority, &TaskKey)> = movable
            .iter()
            .filter_map(|key| {
                let task = self.task(key);
                let class = task.class()?;
                let fits = class.fits_now(thief_record);
                (fits && transfer_time(self.bytes_missing_on(key, thief)) <= task_time)
                    .then_some((task.priority, *key))
            })
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        // The thief's free resources, taken by each task chosen: two tasks needing its one
        // GPU are not both asked for (the second would be placed afresh when given back).
        let mut free = thief_record.available.clone();
        let chosen = candidates
            .into_iter()
            .filter(|(_, key)| {
                let needs = self.task(key).restrictions.as_deref().map(|r| &r.resources);
                match needs {
                    Some(needs) if !needs.is_empty() => {
                        let fits = free.covers(needs);
                        if fits {
                            free.take(needs);
                        }
                        fits
                    }
                    _ => true,
                }
            })
            .take(wanted)
            .map(|(_, key)| key.clone())
            .collect();
        (chosen, movable.len())
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
            *outgoing.entry(steal.victim).or_default() += 1;
            if let Some(thief) = steal.thief {
                assert_ne!(steal.victim, thief, "{key}: stolen for its own worker");
                assert!(
                    self.workers.contains_key(&thief),
                    "{key}: thief {thief} is gone"
                );
                *incoming.entry(thief).or_default() += 1;
            }
            assert!(
                steal.id < self.next_steal,
                "{key}: steal number from the future"
            );
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
