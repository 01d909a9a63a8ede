//! Each worker's in-flight window (how many tasks without inputs it may have sent and not
//! finished), sized as TCP sizes its congestion window: from the bandwidth-delay product of
//! the link. A worker with `nthreads` threads finishes a task per thread every `task_time`,
//! and hears of the next only a round trip after it reported the last, so to never idle it
//! needs `nthreads * (round_trip + task_time) / task_time` tasks in flight; the window is
//! twice that (reports and orders travel in batches), bounded by a cap per thread and by
//! the memory the tasks in flight may take, and never below the fixed window
//! ([`SchedulerConfig::saturation`]) the scheduler uses before anything is measured.
//!
//! A worker a peer could not fetch from within its deadline may be silent (stopped, cut off)
//! though the center still counts it until `--worker-ttl`: its window closes (0) until it
//! answers a ping, so what the failed fetch sends back to be placed or recomputed goes to a
//! worker that answers ([`SchedulerState::on_holder_unreachable`]).
//!
//! Measurements come in as values ([`WorkerTiming`]: the caller times a ping and the worker
//! counts its tasks); this file has no clock, no I/O, nothing from the actor or wire layers.

use std::time::Duration;

use super::outbox::Outbox;
use super::state::SchedulerState;
use super::types::SchedulerConfig;
use crate::ids::{TaskKey, WorkerId};

/// How many round-trip samples the minimum is taken over. The minimum, not the mean (as
/// TCP BBR's `min_rtt`): a window sized from round trips that include the queueing it
/// causes would grow itself. With a sample every 250 ms, a path that became slower is
/// noticed within 2 s.
const ROUND_TRIP_SAMPLES: usize = 8;

/// Reports and orders travel in batches, so a window of exactly one bandwidth-delay
/// product leaves threads idle while a batch is on its way: twice as much, as TCP's
/// window is kept at about twice the path's product.
const HEADROOM: u64 = 2;

/// Task times under this count as this, so a task measured at 0 does not make the product
/// infinite (the cap bounds the window anyway).
const SHORTEST_TASK: Duration = Duration::from_nanos(100);

/// One measurement of a worker's link and speed, as the caller took it.
///
/// ```
/// use std::time::Duration;
/// use taskforce::scheduler::WorkerTiming;
/// let timing = WorkerTiming {
///     round_trip: Duration::from_millis(2),
///     tasks_done: 10_000,
///     busy: Duration::from_millis(50),
/// };
/// assert_eq!(timing.busy / timing.tasks_done as u32, Duration::from_micros(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerTiming {
    /// How long a ping to the worker took to be answered (through the worker's actor, so
    /// it includes what a compute order and its report would wait there).
    pub round_trip: Duration,
    /// Tasks the worker's threads have finished since it started (a running count).
    pub tasks_done: u64,
    /// Time its threads spent running those tasks (a running sum).
    pub busy: Duration,
}

/// What the scheduler has measured of one worker, and the window that follows.
#[derive(Clone, Debug, Default)]
pub(crate) struct WindowEstimate {
    /// The latest round trips, oldest overwritten first.
    round_trips: [Option<Duration>; ROUND_TRIP_SAMPLES],
    next_sample: usize,
    /// The worker's counters at the previous measurement.
    last_counters: Option<(u64, Duration)>,
    /// Mean time per task, smoothed over measurements.
    task_time: Option<Duration>,
    /// Bytes a task in flight takes (its spec plus its result), smoothed over finishes.
    bytes_per_task: Option<u64>,
    /// A peer could not fetch from the worker: no new tasks until its next measurement (a
    /// ping it answered).
    held_off: bool,
}

impl WindowEstimate {
    /// Takes a measurement: a round-trip sample, and the mean task time since the last one
    /// (when the worker finished a task in between).
    pub(crate) fn observe(&mut self, timing: WorkerTiming) {
        self.held_off = false;
        self.round_trips[self.next_sample] = Some(timing.round_trip);
        self.next_sample = (self.next_sample + 1) % ROUND_TRIP_SAMPLES;
        let counters = (timing.tasks_done, timing.busy);
        let previous = self.last_counters.replace(counters);
        // A first measurement has no interval; a worker's counters only grow, so smaller
        // ones mean a restarted count: measured from the next measurement on.
        let Some((tasks_before, busy_before)) = previous else {
            return;
        };
        if timing.tasks_done <= tasks_before || timing.busy < busy_before {
            return;
        }
        let tasks = timing.tasks_done - tasks_before;
        let mean = (timing.busy - busy_before).as_nanos() / u128::from(tasks);
        let mean = Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX));
        self.task_time = Some(match self.task_time {
            Some(smoothed) => (smoothed + mean) / 2,
            None => mean,
        });
    }

    /// A task finished whose spec took `spec_bytes` and whose value takes `nbytes`.
    pub(crate) fn observe_task_bytes(&mut self, spec_bytes: u64, nbytes: u64) {
        let bytes = spec_bytes.saturating_add(nbytes);
        self.bytes_per_task = Some(match self.bytes_per_task {
            Some(smoothed) => smoothed - smoothed / 8 + bytes / 8,
            None => bytes,
        });
    }

    /// Whether a peer could not fetch from the worker and it has not answered a ping since.
    pub(crate) fn held_off_now(&self) -> bool {
        self.held_off
    }

    /// The smallest of the recent round trips, if any was measured.
    pub(crate) fn min_round_trip(&self) -> Option<Duration> {
        self.round_trips.iter().flatten().min().copied()
    }

    /// The mean task time, once measured.
    pub(crate) fn task_time(&self) -> Option<Duration> {
        self.task_time
    }

    /// The window for a worker with `nthreads` threads: 0 while held off, else the fixed
    /// window until both the round trip and the task time are known, then twice the
    /// bandwidth-delay product, within the cap and the memory bound and never below the
    /// fixed window.
    pub(crate) fn window(&self, config: &SchedulerConfig, nthreads: u32) -> usize {
        if self.held_off {
            return 0;
        }
        let floor = config.saturation(nthreads);
        let (Some(round_trip), Some(task_time)) = (self.min_round_trip(), self.task_time) else {
            return floor;
        };
        let task_nanos = task_time.max(SHORTEST_TASK).as_nanos();
        let per_thread = (round_trip.as_nanos() + task_nanos).div_ceil(task_nanos);
        let per_thread = u64::try_from(per_thread).unwrap_or(u64::MAX);
        let nthreads = u64::from(nthreads.max(1));
        let extra = u64::from(config.extra_tasks_per_worker);
        let wanted = per_thread
            .saturating_mul(HEADROOM)
            .saturating_mul(nthreads)
            .saturating_add(extra);
        // The cap: past it, tasks wait at the scheduler, where they can still go to any
        // worker (a task sent is not taken back), as they do with the fixed window.
        let cap = u64::from(config.max_tasks_per_thread)
            .saturating_mul(nthreads)
            .saturating_add(extra);
        // The memory bound: the tasks in flight (their specs, then their results) take at
        // most `window_memory_bytes` of the worker's memory; past it tasks wait here too.
        let by_memory = match self.bytes_per_task {
            Some(bytes) if bytes > 0 => config.window_memory_bytes / bytes,
            _ => u64::MAX,
        };
        let window = wanted.min(cap).min(by_memory);
        usize::try_from(window).unwrap_or(usize::MAX).max(floor)
    }
}

impl SchedulerState {
    /// A measurement of `worker`'s round trip and task speed: its in-flight window is sized
    /// again from it (see [`WorkerTiming`] and the module docs), and queued tasks fill any
    /// slots a wider window opened. A worker whose window narrowed below what it has in
    /// flight keeps those tasks and gets no more until it is under. A held-off worker
    /// ([`Self::on_holder_unreachable`]) answered: its window opens again. Ignored for a
    /// worker not connected (a measurement that arrives after it left).
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskforce::ids::WorkerId;
    /// use taskforce::scheduler::{FunctionId, OutboxBatch, SchedulerConfig, SchedulerState, WorkerTiming};
    ///
    /// let config = SchedulerConfig::default();
    /// let mut state = SchedulerState::new(config.clone());
    /// let mut out = OutboxBatch::default();
    /// state.on_worker_added(WorkerId(1), 1, vec![FunctionId::new("f", 1)], &mut out);
    /// assert_eq!(state.window(WorkerId(1)), Some(config.saturation(1)));
    /// let mut timing = WorkerTiming { round_trip: Duration::from_millis(2), tasks_done: 0, busy: Duration::ZERO };
    /// state.on_worker_timing(WorkerId(1), timing, &mut out);
    /// timing.tasks_done = 1_000;
    /// timing.busy = Duration::from_millis(100); // 100 µs a task: 21 of them per round trip
    /// state.on_worker_timing(WorkerId(1), timing, &mut out);
    /// assert_eq!(state.window(WorkerId(1)), Some(2 * 21 + 8));
    /// ```
    pub fn on_worker_timing(
        &mut self,
        worker: WorkerId,
        timing: WorkerTiming,
        out: &mut dyn Outbox,
    ) {
        let Some(record) = self.workers.get_mut(&worker) else {
            return;
        };
        record.window.observe(timing);
        let window = record.window.window(&self.config, record.nthreads);
        self.set_saturation(worker, window);
        self.end_event(out);
    }

    /// A worker could not fetch from `holder`: it did not answer within the fetching
    /// worker's heartbeat deadline (or lacked the value). A silent holder (stopped, cut off)
    /// still counts as connected until the center's ttl removes it, and a task placed there
    /// meanwhile waits for that; so its window closes until it answers a ping
    /// ([`Self::on_worker_timing`]), and what the failed fetch gives back to be placed or
    /// recomputed goes to a worker that answers. Its tasks in flight stay. The caller pings
    /// a held-off worker ([`Self::is_held_off`]); [`Self::on_missing_dependency`] calls this
    /// for the holder it names. Ignored for a worker not connected.
    pub fn on_holder_unreachable(&mut self, holder: WorkerId) {
        let Some(record) = self.workers.get_mut(&holder) else {
            return;
        };
        record.window.held_off = true;
        self.set_saturation(holder, 0);
    }

    /// Whether `worker`'s window is closed by [`Self::on_holder_unreachable`] and it has not
    /// answered a ping since.
    pub fn is_held_off(&self, worker: WorkerId) -> bool {
        self.workers
            .get(&worker)
            .is_some_and(|record| record.window.held_off)
    }

    /// `worker`'s in-flight window now, or `None` for a worker not connected.
    pub fn window(&self, worker: WorkerId) -> Option<usize> {
        self.workers.get(&worker).map(|record| record.saturation)
    }

    /// `worker`'s smallest recent round trip and mean task time, as far as measured (for
    /// the caller's log and dashboard); `None` for a worker not connected.
    pub fn worker_timing(&self, worker: WorkerId) -> Option<(Option<Duration>, Option<Duration>)> {
        self.workers
            .get(&worker)
            .map(|record| (record.window.min_round_trip(), record.window.task_time()))
    }

    /// `key` finished on `worker` with a value of `nbytes`: what a task in flight there takes
    /// (spec and result) feeds the memory bound of its window at the next measurement.
    pub(super) fn observe_task_bytes(&mut self, key: &TaskKey, worker: WorkerId, nbytes: u64) {
        let spec_bytes = self
            .tasks
            .get(key)
            .and_then(|task| task.run.as_ref())
            .map_or(0, |run| run.spec.as_bytes().len() as u64);
        if let Some(record) = self.workers.get_mut(&worker) {
            record.window.observe_task_bytes(spec_bytes, nbytes);
        }
    }

    /// Sets `worker`'s window, keeping the free-slot index in step.
    fn set_saturation(&mut self, worker: WorkerId, window: usize) {
        let Some(record) = self.workers.get_mut(&worker) else {
            return;
        };
        if record.saturation == window {
            return;
        }
        if !record.is_saturated() {
            self.free_slots.remove(&record.free_slot_entry());
        }
        record.saturation = window;
        if !record.is_saturated() {
            self.free_slots.insert(record.free_slot_entry());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(round_trip_us: u64, tasks_done: u64, busy_us: u64) -> WorkerTiming {
        WorkerTiming {
            round_trip: Duration::from_micros(round_trip_us),
            tasks_done,
            busy: Duration::from_micros(busy_us),
        }
    }

    #[test]
    fn the_fixed_window_stands_until_round_trip_and_task_time_are_known() {
        let config = SchedulerConfig::default();
        let mut estimate = WindowEstimate::default();
        assert_eq!(estimate.window(&config, 2), config.saturation(2));
        estimate.observe(timing(2_000, 0, 0));
        assert_eq!(estimate.window(&config, 2), config.saturation(2));
        estimate.observe(timing(2_000, 0, 0));
        assert_eq!(estimate.task_time(), None, "no task finished in between");
        estimate.observe(timing(2_000, 100, 1_000));
        assert_eq!(estimate.task_time(), Some(Duration::from_micros(10)));
        // (2000 + 10) / 10 = 201 per thread, twice that, 2 threads, plus 8.
        assert_eq!(estimate.window(&config, 2), 2 * 201 * 2 + 8);
    }

    #[test]
    fn the_smallest_recent_round_trip_counts() {
        let mut estimate = WindowEstimate::default();
        estimate.observe(timing(900, 0, 0));
        estimate.observe(timing(300, 0, 0));
        estimate.observe(timing(5_000, 0, 0));
        assert_eq!(estimate.min_round_trip(), Some(Duration::from_micros(300)));
        for _ in 0..ROUND_TRIP_SAMPLES - 1 {
            estimate.observe(timing(700, 0, 0));
        }
        assert_eq!(
            estimate.min_round_trip(),
            Some(Duration::from_micros(700)),
            "the 300 µs sample aged out"
        );
    }

    #[test]
    fn counters_that_went_back_are_not_an_interval() {
        let mut estimate = WindowEstimate::default();
        estimate.observe(timing(100, 1_000, 5_000));
        estimate.observe(timing(100, 10, 50));
        assert_eq!(estimate.task_time(), None);
        estimate.observe(timing(100, 20, 150));
        assert_eq!(estimate.task_time(), Some(Duration::from_micros(10)));
    }

    #[test]
    fn cap_memory_and_floor_bound_the_window() {
        let config = SchedulerConfig {
            max_tasks_per_thread: 100,
            window_memory_bytes: 1 << 20,
            ..SchedulerConfig::default()
        };
        let mut estimate = WindowEstimate::default();
        estimate.observe(timing(10_000, 0, 0));
        estimate.observe(timing(10_000, 1_000_000, 1_000));
        assert_eq!(estimate.window(&config, 1), 100 + 8, "the cap");
        estimate.observe_task_bytes(16 << 10, 0);
        assert_eq!(estimate.window(&config, 1), 64, "1 MiB / 16 KiB in flight");
        estimate.observe_task_bytes(1 << 20, 1 << 20);
        assert!(estimate.bytes_per_task.unwrap() > 128 << 10);
        assert_eq!(
            estimate.window(&config, 1),
            config.saturation(1),
            "never below the fixed window"
        );
    }

    #[test]
    fn long_tasks_keep_the_fixed_window() {
        let config = SchedulerConfig::default();
        let mut estimate = WindowEstimate::default();
        estimate.observe(timing(2_000, 0, 0));
        estimate.observe(timing(2_000, 10, 500_000)); // 50 ms a task
        assert_eq!(estimate.window(&config, 4), config.saturation(4));
    }
}
