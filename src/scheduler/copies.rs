//! Copies of values between workers: a worker's report that it holds a copy (fetched as a
//! task's input, or ordered), copies ordered for the cluster operations, copies dropped
//! once a move is done, and workers being retired.
//!
//! A worker may report a copy only of a key it was asked to copy, or one a task it is
//! running needs: anything else is stale or forged ([`IgnoredReport::UnexpectedCopy`]) and
//! the worker is told to drop it. What the operations decide (which copies, where) is in
//! `cluster_plans`. No I/O.

use super::outbox::{Command, Outbox};
use super::report_check::IgnoredReport;
use super::state::SchedulerState;
use crate::ids::{TaskKey, WorkerId};

impl SchedulerState {
    /// `worker` holds a copy of `key` (`nbytes`), fetched from a peer. Taken when it was
    /// ordered (`order_copy`) or a task the worker runs needs `key`: the worker becomes a
    /// holder, and `Ok(true)` says so. A copy of a key that left memory meanwhile is
    /// dropped (`Ok(false)`); an unexpected one too, with the reason.
    pub fn on_task_copied(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        _nbytes: u64,
        out: &mut dyn Outbox,
    ) -> Result<bool, IgnoredReport> {
        let result = self.take_copy(worker, &key);
        let running_here = matches!(
            self.tasks.get(&key).map(|task| &task.state),
            Some(super::TaskState::Processing { worker: w }) if *w == worker
        );
        let keep = matches!(result, Ok(true) | Err(IgnoredReport::UnknownWorker { .. }));
        // A late copy of a key being computed again on this very worker must not cancel that
        // run: the release would reach the worker as "drop it".
        if !keep && !running_here {
            self.push_command(Command::Release(worker, key));
        }
        self.end_event(out);
        result
    }

    fn take_copy(&mut self, worker: WorkerId, key: &TaskKey) -> Result<bool, IgnoredReport> {
        if !self.workers.contains_key(&worker) {
            return Err(IgnoredReport::UnknownWorker { worker });
        }
        let ordered = self.settle_copy(key, worker);
        if self.who_has(key).contains(&worker) {
            // Known already (an input copy reported first, then the ordered one): keep it.
            return Ok(true);
        }
        if !ordered && !self.needed_by_a_task_on(key, worker) {
            return Err(IgnoredReport::UnexpectedCopy {
                worker,
                key: key.clone(),
            });
        }
        if !self
            .tasks
            .get(key)
            .is_some_and(|task| task.state.is_memory())
        {
            return Ok(false);
        }
        self.add_replica(key, worker);
        if ordered {
            // Its wanters learn the new holder, so they can gather from it once the old
            // one is retired.
            self.report_to_wanters(key);
        }
        Ok(true)
    }

    /// A copy ordered of `key` on `worker` did not come (its holder could not deliver it);
    /// returns whether it was ordered. The holder keeps its place: one failed fetch does not
    /// prove a value lost (a task that needs it finds out, as `on_missing_dependency`).
    pub fn on_copy_failed(
        &mut self,
        worker: WorkerId,
        key: &TaskKey,
        out: &mut dyn Outbox,
    ) -> bool {
        let ordered = self.settle_copy(key, worker);
        self.end_event(out);
        ordered
    }

    /// Removes `worker` from the copies of `key` awaited; returns whether it was there.
    fn settle_copy(&mut self, key: &TaskKey, worker: WorkerId) -> bool {
        let Some(asked) = self.pending_copies.get_mut(key) else {
            return false;
        };
        let Some(at) = asked.iter().position(|w| *w == worker) else {
            return false;
        };
        asked.swap_remove(at);
        if asked.is_empty() {
            self.pending_copies.remove(key);
        }
        true
    }

    /// Whether a task processing on `worker` depends on `key`.
    pub(super) fn needed_by_a_task_on(&self, key: &TaskKey, worker: WorkerId) -> bool {
        let Some(record) = self.workers.get(&worker) else {
            return false;
        };
        let Some(task) = self.tasks.get(key) else {
            return false;
        };
        // Whichever side is smaller: a broadcast key may have many dependents.
        if record.processing.len() <= task.dependents.len() {
            record
                .processing
                .iter()
                .any(|running| self.task(running).dependencies.contains(key))
        } else {
            task.dependents.iter().any(|dependent| {
                matches!(self.task(dependent).state, super::TaskState::Processing { worker: w } if w == worker)
            })
        }
    }

    /// Orders `worker` to fetch a copy of `key` (in memory) from its holders; returns whether
    /// it was ordered (not when `worker` is unknown, holds it already, or was asked already).
    pub(super) fn order_copy(&mut self, key: &TaskKey, worker: WorkerId) -> bool {
        let holders = self.who_has(key).to_vec();
        if holders.is_empty() || holders.contains(&worker) || !self.workers.contains_key(&worker) {
            return false;
        }
        let asked = self.pending_copies.entry(key.clone()).or_default();
        if asked.contains(&worker) {
            return false;
        }
        asked.push(worker);
        self.push_command(Command::Acquire(worker, key.clone(), holders));
        true
    }

    /// Copies awaited from `worker`, which left: they will not come.
    pub(super) fn forget_pending_copies_to(&mut self, worker: WorkerId) {
        self.pending_copies.retain(|_, asked| {
            asked.retain(|w| *w != worker);
            !asked.is_empty()
        });
    }

    /// Drops `worker`'s copy of `key` when another worker not retiring holds one too and no
    /// task running on `worker` needs it; the worker is told to delete it. Returns whether it
    /// was dropped.
    pub fn drop_copy(&mut self, key: &TaskKey, worker: WorkerId, out: &mut dyn Outbox) -> bool {
        let holders = self.who_has(key);
        let others_stay = holders
            .iter()
            .any(|h| *h != worker && !self.is_retiring(*h));
        let dropped =
            others_stay && holders.contains(&worker) && !self.needed_by_a_task_on(key, worker);
        if dropped {
            self.remove_replica(key, worker);
            self.push_command(Command::Release(worker, key.clone()));
        }
        self.end_event(out);
        dropped
    }

    /// Marks `worker` as retiring (`true`: it takes no new task, and copies of what it alone
    /// holds are placed elsewhere by `plan_retire`) or not any more (`false`, when retiring
    /// it failed). Returns whether the worker is connected.
    pub fn set_retiring(&mut self, worker: WorkerId, retiring: bool, out: &mut dyn Outbox) -> bool {
        let Some(record) = self.workers.get_mut(&worker) else {
            return false;
        };
        if !record.is_saturated() {
            self.free_slots.remove(&record.free_slot_entry());
        }
        record.retiring = retiring;
        if !record.is_saturated() {
            self.free_slots.insert(record.free_slot_entry());
        }
        if !retiring {
            // Tasks parked while it was retiring (restricted to it) can go to it again.
            self.place_parked();
        }
        self.end_event(out);
        true
    }

    /// Whether `worker` is connected and retiring.
    pub fn is_retiring(&self, worker: WorkerId) -> bool {
        self.workers
            .get(&worker)
            .is_some_and(|record| record.retiring)
    }

    /// How many copies are ordered and not yet reported.
    pub fn pending_copy_count(&self) -> usize {
        self.pending_copies.values().map(Vec::len).sum()
    }
}
