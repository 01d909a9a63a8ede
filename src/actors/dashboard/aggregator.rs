//! The dashboard's aggregator: a thread of its own that takes the scheduler's observation
//! batches off a bounded channel and folds them into the [`DashboardModel`] and the metrics.
//! The scheduler's only cost is building the batch and one `try_send`; it never waits here.
//!
//! Depends on the pure model and the metrics only; no HTTP, no actix.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use tracing::warn;

use super::Metrics;
use crate::dashboard::{DashboardModel, Observation, Snapshot};

const LOG_TARGET: &str = "taskforce::dashboard";

/// Batches (one per scheduler event) waiting for the aggregator. At the bound the sender does
/// not wait: the batch is dropped and counted, and the event log says the counts may be off.
pub const BACKLOG_BATCHES: usize = 4_096;
/// Batches folded in under one lock before readers get a turn.
const BATCHES_PER_LOCK: usize = 64;
/// How long the aggregator lets batches gather after folding in what it found.
const FOLD_EVERY: Duration = Duration::from_millis(20);
/// How long a reader waits for the batches sent before it asked to be folded in.
const SETTLE_WAIT: Duration = Duration::from_millis(500);

/// One event's observations and when, in seconds since the dashboard started, they were made.
type Batch = (f64, Vec<Observation>);

/// The sending half: what the scheduler (and the center) hold.
pub(super) struct Feed {
    batches: Sender<Batch>,
    aggregate: Arc<Aggregate>,
}

/// The model, the metrics, and how far the aggregator got.
pub(super) struct Aggregate {
    state: Mutex<Folded>,
    folded_more: Condvar,
    /// Batches accepted into the channel.
    sent: AtomicU64,
    /// Batches dropped at the bound.
    dropped: AtomicU64,
    pub(super) metrics: Metrics,
    started: Instant,
}

struct Folded {
    model: DashboardModel,
    batches: u64,
    dropped_noted: u64,
}

impl Feed {
    /// A feed and its aggregator thread, which ends when the last feed is dropped.
    pub(super) fn start() -> Feed {
        let (batches, receiver) = crossbeam_channel::bounded(BACKLOG_BATCHES);
        let aggregate = Arc::new(Aggregate {
            state: Mutex::new(Folded {
                model: DashboardModel::default(),
                batches: 0,
                dropped_noted: 0,
            }),
            folded_more: Condvar::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            metrics: Metrics::new(),
            started: Instant::now(),
        });
        let folding = aggregate.clone();
        std::thread::Builder::new()
            .name("taskforce-dashboard-model".into())
            .spawn(move || folding.run(receiver))
            .expect("spawn the dashboard aggregator");
        Feed { batches, aggregate }
    }

    /// Hands a batch to the aggregator without waiting.
    pub(super) fn send(&self, observations: Vec<Observation>) {
        let at = self.aggregate.started.elapsed().as_secs_f64();
        match self.batches.try_send((at, observations)) {
            Ok(()) => {
                self.aggregate.sent.fetch_add(1, Ordering::Release);
            }
            Err(TrySendError::Full(_)) => {
                self.aggregate.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The aggregator only stops when every feed is gone, so this cannot be one of ours.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    pub(super) fn aggregate(&self) -> &Aggregate {
        &self.aggregate
    }
}

impl Aggregate {
    fn run(&self, receiver: Receiver<Batch>) {
        while let Ok(first) = receiver.recv() {
            let mut next = Some(first);
            let mut folded = 0;
            while let Some(first) = next.take() {
                folded += BATCHES_PER_LOCK;
                let mut state = self.state.lock().expect("dashboard model lock");
                self.fold(&mut state, first);
                for more in receiver.try_iter().take(BATCHES_PER_LOCK - 1) {
                    self.fold(&mut state, more);
                }
                self.note_dropped(&mut state);
                drop(state);
                self.folded_more.notify_all();
                next = receiver.try_recv().ok();
            }
            // Not parked on the channel while batches gather: a send wakes a parked thread,
            // and one wake per scheduler event cost the scheduler a fifth of its throughput
            // on two cores. Batches sent meanwhile wait (at most BACKLOG_BATCHES); after a
            // long drain it goes on at once, so a fast scheduler does not fill the channel.
            if folded < BACKLOG_BATCHES / 4 {
                std::thread::sleep(FOLD_EVERY);
            }
        }
    }

    fn fold(&self, state: &mut Folded, (at, observations): Batch) {
        for observation in observations {
            self.metrics.observe(&observation);
            if let Some(latency) = state.model.observe(observation, at) {
                self.metrics.task_latency(latency);
            }
        }
        state.batches += 1;
    }

    fn note_dropped(&self, state: &mut Folded) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > state.dropped_noted {
            let text = format!(
                "dashboard fell behind: {dropped} batches of observations dropped; counts may be off"
            );
            warn!(target: LOG_TARGET, dropped, "dashboard fell behind the scheduler");
            let now = self.started.elapsed().as_secs_f64();
            state.model.observe(Observation::Note(text), now);
            state.dropped_noted = dropped;
        }
    }

    /// The model once every batch sent before this call is folded in (or [`SETTLE_WAIT`]
    /// passed: a reader never waits longer on an aggregator that fell behind).
    fn settled(&self) -> MutexGuard<'_, Folded> {
        let sent = self.sent.load(Ordering::Acquire);
        let state = self.state.lock().expect("dashboard model lock");
        let (state, _) = self
            .folded_more
            .wait_timeout_while(state, SETTLE_WAIT, |state| state.batches < sent)
            .expect("dashboard model lock");
        state
    }

    /// What the page shows now, with up to `spans` spans of the task stream.
    pub(super) fn snapshot(&self, spans: usize) -> Snapshot {
        let state = self.settled();
        state
            .model
            .snapshot(self.started.elapsed().as_secs_f64(), spans)
    }

    /// Batches dropped at the bound so far.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_backlog_drops_batches_counts_them_and_says_so() {
        let feed = Feed::start();
        let held = feed.aggregate.state.lock().expect("lock");
        // The aggregator takes at most one batch before it waits for the lock we hold.
        for _ in 0..BACKLOG_BATCHES + 10 {
            feed.send(Vec::new());
        }
        let dropped = feed.aggregate().dropped();
        assert!((9..=10).contains(&dropped), "dropped {dropped}");
        drop(held);
        let snapshot = feed.aggregate().snapshot(10);
        let last = snapshot.events.last().expect("a line");
        assert!(last.text.contains("fell behind"), "{}", last.text);
    }
}
