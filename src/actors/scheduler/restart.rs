//! `Executor::restart` on the scheduler's side: the core forgets every task and tells the
//! workers to clear their memory (`SchedulerState::on_restart`); this shell asks the nannies
//! for fresh worker processes and answers once they have joined.
//!
//! Clients may restart only a cluster that allows it ([`refusal`] otherwise).
//!
//! A restart is done when every worker present at the restart has left and as many fresh
//! workers (ids the center gave after the restart began) are present as nannies were asked.
//! Counting joins alone was wrong twice over: a worker whose nanny had not yet connected was
//! never replaced (the center asked only the nannies it knew), and a join could arrive
//! before the center's answer set up the count.

use actix::prelude::*;
use tracing::{info, warn};

use super::{Scheduler, LOG_TARGET};
use crate::ids::{ClientId, Set, WorkerId};
use crate::messages::executor_link::SchedulerToExecutor;

/// A restart waiting for old workers to leave and new ones to join before it is
/// acknowledged.
pub(super) struct PendingRestart {
    client: ClientId,
    tag: Option<u64>,
    /// Workers connected when the restart began; each must leave.
    old: Set<WorkerId>,
    /// Nannies the center asked for a fresh worker; `None` until the center answers.
    awaited: Option<usize>,
}

impl PendingRestart {
    /// Whether the restart is complete, given the workers connected now.
    fn is_complete(&self, present: &[WorkerId]) -> bool {
        let Some(awaited) = self.awaited else {
            return false;
        };
        let old_left = present.iter().all(|id| !self.old.contains(id));
        let fresh = present.iter().filter(|id| !self.old.contains(id)).count();
        old_left && fresh >= awaited
    }
}

/// The answer to a client's restart on a cluster that does not allow it (logged): a
/// restart cancels every other user's work, so it is the cluster owner's to allow.
pub(super) fn refusal(client: ClientId) -> SchedulerToExecutor {
    let reason = "this cluster does not allow its clients to restart it (start the center \
                  with --allow-restart to allow it)";
    warn!(target: LOG_TARGET, %client, "Refusing restart: {reason}");
    SchedulerToExecutor::Refused {
        operation: "restart".into(),
        reason: reason.into(),
    }
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
        // Set before asking: a fresh worker may join before the center's answer arrives.
        self.restart = Some(PendingRestart {
            client,
            tag,
            old: self.workers.keys().copied().collect(),
            awaited: None,
        });
        let asked = async move {
            center
                .send(crate::actors::center::RestartWorkers)
                .await
                .unwrap_or(0)
        };
        ctx.spawn(asked.into_actor(self).map(|awaited, scheduler, ctx| {
            if let Some(pending) = &mut scheduler.restart {
                pending.awaited = Some(awaited);
            }
            scheduler.check_restart();
            ctx.run_later(RESTART_TIMEOUT, |scheduler, _| {
                if let Some(pending) = scheduler.restart.take() {
                    let old_left = pending.old.iter().filter(|id| scheduler.workers.contains_key(id)).count();
                    warn!(target: LOG_TARGET, awaited = pending.awaited, old_still_connected = old_left,
                        "Restart timed out waiting for workers");
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

    /// A worker joined or left: acknowledges a pending restart that is now complete.
    pub(super) fn check_restart(&mut self) {
        let present: Vec<WorkerId> = self.workers.keys().copied().collect();
        if !self
            .restart
            .as_ref()
            .is_some_and(|pending| pending.is_complete(&present))
        {
            return;
        }
        let pending = self.restart.take().expect("pending restart");
        self.finish_restart(pending.client, pending.tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(old: &[u32], awaited: Option<usize>) -> PendingRestart {
        PendingRestart {
            client: ClientId(1),
            tag: Some(1),
            old: old.iter().map(|&id| WorkerId(id)).collect(),
            awaited,
        }
    }

    fn ids(ids: &[u32]) -> Vec<WorkerId> {
        ids.iter().map(|&id| WorkerId(id)).collect()
    }

    #[test]
    fn not_complete_before_the_center_answers() {
        assert!(!pending(&[1, 2], None).is_complete(&ids(&[3, 4])));
    }

    #[test]
    fn an_old_worker_still_present_keeps_the_restart_pending() {
        // The race of the flake: one nanny asked, one fresh worker, one old worker whose
        // nanny was not yet connected still there.
        let restart = pending(&[1, 2], Some(1));
        assert!(!restart.is_complete(&ids(&[2, 3])));
        assert!(restart.is_complete(&ids(&[3])));
    }

    #[test]
    fn waits_for_as_many_fresh_workers_as_nannies_asked() {
        let restart = pending(&[1, 2], Some(2));
        assert!(!restart.is_complete(&ids(&[3])));
        assert!(restart.is_complete(&ids(&[3, 4])));
    }
}
