//! The scheduler's shell of the coordination primitives (`crate::coordination`): feeds the
//! core requests, a tick and disconnections with the time since the scheduler started, and
//! sends what it returns. Key effects go to the scheduler core first, so an executor handed
//! a future is already a wanter of its key when the answer reaches it.
//!
//! The tick ([`COORDINATION_TICK`]) is what ends waits past their deadline and frees
//! expired semaphore leases, so a timeout fires up to one tick late.

use std::time::Duration;

use tracing::warn;

use super::{Scheduler, LOG_TARGET};
use crate::coordination::{Asker, CoordinationError, Effects, KeyEffect, COORDINATION_CLIENT};
use crate::ids::ClientId;
use crate::messages::coordination::{CoordinationReply, CoordinationRequest, Item};
use crate::messages::executor_link::SchedulerToExecutor;

/// How often deadlines and lease timeouts are checked.
pub const COORDINATION_TICK: Duration = Duration::from_millis(50);

impl Scheduler {
    /// A coordination request from `client`; answered now or when it is satisfied.
    pub(super) fn on_coordinate(
        &mut self,
        client: ClientId,
        request: CoordinationRequest,
        reply_tag: Option<u64>,
    ) {
        let asker = Asker {
            client,
            tag: reply_tag,
        };
        if let Some(error) = self.foreign_future(client, &request) {
            warn!(target: LOG_TARGET, %client, "Refused a coordination request: {error}");
            let mut effects = Effects::default();
            effects.answers.push(crate::coordination::Answer {
                to: asker,
                reply: CoordinationReply::Failed(error),
            });
            return self.apply_coordination(effects);
        }
        let now = self.coordination_epoch.elapsed();
        let effects = self.coordination.on_request(asker, request, now);
        self.apply_coordination(effects);
    }

    /// Ends waits past their deadline and frees expired leases.
    pub(super) fn coordination_tick(&mut self) {
        let now = self.coordination_epoch.elapsed();
        let effects = self.coordination.on_tick(now);
        self.apply_coordination(effects);
    }

    /// `client` disconnected: its locks and leases are freed.
    pub(super) fn coordination_client_removed(&mut self, client: ClientId) {
        let now = self.coordination_epoch.elapsed();
        let effects = self.coordination.on_client_removed(client, now);
        self.apply_coordination(effects);
    }

    /// A future put by a client that holds no future for its key: it may not share it.
    fn foreign_future(
        &self,
        client: ClientId,
        request: &CoordinationRequest,
    ) -> Option<CoordinationError> {
        use crate::messages::coordination::Primitive;
        let (primitive, name, key) = match request {
            CoordinationRequest::Put {
                name,
                item: Item::Future(key),
                ..
            } => (Primitive::Queue, name, key),
            CoordinationRequest::SetVariable {
                name,
                item: Item::Future(key),
            } => (Primitive::Variable, name, key),
            _ => return None,
        };
        (!self.state.holds_future(client, key)).then(|| CoordinationError::ForeignKey {
            primitive,
            name: name.clone(),
            key: key.clone(),
        })
    }

    fn apply_coordination(&mut self, effects: Effects) {
        let Effects {
            answers,
            keys,
            expired,
        } = effects;
        for effect in keys {
            match effect {
                KeyEffect::Hold(key) => {
                    self.state
                        .on_key_handed(COORDINATION_CLIENT, key, &mut self.batch)
                }
                KeyEffect::HandOver(client, key) => {
                    self.state.on_key_handed(client, key, &mut self.batch)
                }
                KeyEffect::Unhold(key) => {
                    self.state
                        .on_client_releases(COORDINATION_CLIENT, vec![key], &mut self.batch)
                }
            }
        }
        for lease in expired {
            warn!(target: LOG_TARGET, client = %lease.client, semaphore = %lease.name, idle = ?lease.idle,
                "Freed a semaphore lease its holder stopped refreshing");
        }
        self.flush();
        for answer in answers {
            let (Some(tag), Some(link)) = (answer.to.tag, self.clients.get(&answer.to.client))
            else {
                continue;
            };
            link.reply(tag, SchedulerToExecutor::Coordinated(answer.reply));
        }
    }
}
