//! Pings each busy worker to measure its round trip and task speed, and hands the
//! measurement to the scheduler core, which sizes the worker's in-flight window from it
//! (`crate::scheduler::SchedulerState::on_worker_timing`). Only the clock and the ping live
//! here; what follows from them is the core's.

use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::debug;

use super::{Scheduler, LOG_TARGET};
use crate::ids::WorkerId;
use crate::messages::center_link::{CenterToWorker, PongMsg, WorkerToCenter};
use crate::scheduler::WorkerTiming;

/// How often a worker with tasks in flight is pinged (a worker that joins is pinged at once;
/// an idle worker once measured is left alone). Each ping is one small frame each way, so a
/// center with 1,000 busy workers sends 4,000 a second.
pub(super) const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// A ping unanswered this long is dropped (a silent worker is the heartbeat's business).
const PING_TIMEOUT: Duration = Duration::from_secs(10);

impl Scheduler {
    /// Pings every worker that has tasks in flight, or was never measured, or is held off
    /// (a peer could not fetch from it: its answer reopens its window), and has no ping
    /// outstanding.
    pub(super) fn probe_workers(&mut self, ctx: &mut Context<Self>) {
        let due: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(id, entry)| {
                !entry.pinging
                    && (!entry.measured
                        || self.state.is_held_off(**id)
                        || self.state.processing_count(**id).unwrap_or(0) > 0)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.ping_worker(id, ctx);
        }
    }

    /// Pings `worker`; its answer becomes a [`WorkerTiming`] for the core.
    pub(super) fn ping_worker(&mut self, worker: WorkerId, ctx: &mut Context<Self>) {
        let Some(entry) = self.workers.get_mut(&worker) else {
            return;
        };
        entry.pinging = true;
        let link = entry.link.clone();
        let session = link.session_id();
        let sent = Instant::now();
        let ping = async move { link.ask(CenterToWorker::Ping, PING_TIMEOUT).await };
        ctx.spawn(ping.into_actor(self).map(move |answer, scheduler, _| {
            let round_trip = sent.elapsed();
            let Some(entry) = scheduler.workers.get_mut(&worker) else {
                return;
            };
            if entry.link.session_id() != session {
                return; // the answer of a session the worker has since replaced
            }
            entry.pinging = false;
            match answer.map(|incoming| incoming.body) {
                Ok(WorkerToCenter::Pong(PongMsg {
                    tasks_done,
                    busy_nanos,
                })) => {
                    entry.measured = true;
                    let timing = WorkerTiming {
                        round_trip,
                        tasks_done,
                        busy: Duration::from_nanos(busy_nanos),
                    };
                    scheduler.on_worker_timing(worker, timing);
                }
                Ok(other) => {
                    debug!(target: LOG_TARGET, %worker, "a ping answered with {other:?}");
                }
                Err(e) => debug!(target: LOG_TARGET, %worker, "ping unanswered: {e}"),
            }
        }));
    }

    fn on_worker_timing(&mut self, worker: WorkerId, timing: WorkerTiming) {
        let before = self.state.window(worker);
        self.state.on_worker_timing(worker, timing, &mut self.batch);
        let after = self.state.window(worker);
        if before != after {
            let (round_trip, task_time) = self.state.worker_timing(worker).unwrap_or_default();
            debug!(target: LOG_TARGET, %worker, window = ?after, ?round_trip, ?task_time,
                "in-flight window sized again");
        }
        self.flush();
    }
}
