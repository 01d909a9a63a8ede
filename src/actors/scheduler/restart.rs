//! `Executor::restart` on the scheduler's side: the core forgets every task and tells the
//! workers to clear their memory (`SchedulerState::on_restart`); this shell asks the nannies
//! for fresh worker processes and answers once they have joined.

use actix::prelude::*;
use tracing::{info, warn};

use super::{Scheduler, LOG_TARGET};
use crate::ids::ClientId;
use crate::messages::executor_link::SchedulerToExecutor;

/// A restart waiting for new workers before it is acknowledged.
pub(super) struct PendingRestart {
    client: ClientId,
    tag: Option<u64>,
    awaited: usize,
}

/// How long a restart waits for nannies to bring workers back.
const RESTART_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Scheduler {
    /// Forgets every task, clears every worker's memory, asks the nannies for fresh worker
    /// processes, and answers `client` once they have joined (or after a timeout).
    pub(super) fn restart(&mut self, client: ClientId, tag: Option<u64>, ctx: &mut Context<Self>) {
        info!(target: LOG_TARGET, %client, "Restarting the cluster");
        self.state.on_restart(&mut self.batch);
        self.observer.restarted();
        self.flush();
        for link in self.clients.values() {
            link.tell(SchedulerToExecutor::Restarted);
        }
        let Some(center) = self.center.clone() else {
            return self.finish_restart(client, tag);
        };
        let asked = async move {
            center
                .send(crate::actors::center::RestartWorkers)
                .await
                .unwrap_or(0)
        };
        ctx.spawn(asked.into_actor(self).map(move |awaited, scheduler, ctx| {
            if awaited == 0 {
                return scheduler.finish_restart(client, tag);
            }
            scheduler.restart = Some(PendingRestart { client, tag, awaited });
            ctx.run_later(RESTART_TIMEOUT, |scheduler, _| {
                if let Some(pending) = scheduler.restart.take() {
                    warn!(target: LOG_TARGET, missing = pending.awaited, "Restart timed out waiting for workers");
                    scheduler.finish_restart(pending.client, pending.tag);
                }
            });
        }));
    }

    fn finish_restart(&self, client: ClientId, tag: Option<u64>) {
        info!(target: LOG_TARGET, workers = self.workers.len(), "Restart complete");
        if let (Some(tag), Some(link)) = (tag, self.clients.get(&client)) {
            link.reply(tag, SchedulerToExecutor::Ack);
        }
    }

    pub(super) fn on_restarted_worker_joined(&mut self) {
        let Some(pending) = &mut self.restart else {
            return;
        };
        pending.awaited = pending.awaited.saturating_sub(1);
        if pending.awaited == 0 {
            let pending = self.restart.take().expect("pending restart");
            self.finish_restart(pending.client, pending.tag);
        }
    }
}
