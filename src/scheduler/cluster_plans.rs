//! What the cluster operations copy where: `replicate` (at least n holders of each key),
//! `rebalance` (even out the bytes workers hold), and `plan_retire` (a copy elsewhere of
//! each key only retiring workers hold). Each orders its copies (`order_copy`) and returns
//! them, for the shell to follow the reports; a rebalance's moves name the worker whose copy
//! is dropped (`drop_copy`) once the new one is reported.
//!
//! Recipients are chosen by the bytes they hold, least first, counting the copies already
//! planned; ties go to the lower id, so the same state gives the same plan. No I/O.

use std::collections::BTreeSet;

use super::outbox::Outbox;
use super::state::SchedulerState;
use crate::ids::{ClientId, Map, TaskKey, WorkerId};

/// A copy a cluster operation ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOrder {
    /// The key copied.
    pub key: TaskKey,
    /// The worker fetching the copy.
    pub to: WorkerId,
    /// For a move (rebalance), the worker whose copy is dropped once `to` holds one.
    pub from: Option<WorkerId>,
    /// Its size, as last reported.
    pub nbytes: u64,
}

impl SchedulerState {
    /// Orders copies so that each of `keys` that `client` wants and that is in memory is
    /// held by at least `n` workers (by every worker not retiring when there are fewer).
    pub fn replicate(
        &mut self,
        client: ClientId,
        keys: &[TaskKey],
        n: usize,
        out: &mut dyn Outbox,
    ) -> Vec<CopyOrder> {
        let mut loads = self.worker_loads();
        let mut orders = Vec::new();
        for key in keys {
            if !self.is_wanted_by(client, key) {
                continue;
            }
            let holders = self.who_has(key).to_vec();
            let ordered = self.pending_copies.get(key).map_or(0, Vec::len);
            let mut missing = n.saturating_sub(holders.len() + ordered);
            let candidates: Vec<(u64, WorkerId)> = loads
                .iter()
                .filter(|(_, worker)| !holders.contains(worker))
                .copied()
                .collect();
            for candidate in candidates {
                if missing == 0 {
                    break;
                }
                if let Some(order) = self.order_counted(key, candidate, &mut loads) {
                    missing -= 1;
                    orders.push(order);
                }
            }
        }
        self.end_event(out);
        orders
    }

    /// Orders moves from workers holding more than the mean bytes to workers holding less,
    /// largest keys first, each move only if it narrows the gap between the two. Keys a task
    /// running on the sender needs stay.
    pub fn rebalance(&mut self, out: &mut dyn Outbox) -> Vec<CopyOrder> {
        let mut loads: Map<WorkerId, u64> = self
            .worker_loads()
            .into_iter()
            .map(|(b, w)| (w, b))
            .collect();
        let mut orders = Vec::new();
        if loads.len() >= 2 {
            let total: u64 = loads.values().sum();
            let mean = total / loads.len() as u64;
            let mut senders: Vec<(u64, WorkerId)> = loads
                .iter()
                .filter(|(_, bytes)| **bytes > mean)
                .map(|(w, b)| (*b, *w))
                .collect();
            senders.sort_unstable_by(|a, b| b.cmp(a));
            for (_, from) in senders {
                self.move_from(from, mean, &mut loads, &mut orders);
            }
        }
        self.end_event(out);
        orders
    }

    fn move_from(
        &mut self,
        from: WorkerId,
        mean: u64,
        loads: &mut Map<WorkerId, u64>,
        orders: &mut Vec<CopyOrder>,
    ) {
        let mut keys: Vec<(u64, TaskKey)> = self.workers[&from]
            .has_what
            .iter()
            .filter(|key| !self.pending_copies.contains_key(*key))
            .map(|key| (self.task(key).nbytes, key.clone()))
            .collect();
        keys.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (nbytes, key) in keys {
            let sender = loads[&from];
            if sender <= mean {
                break;
            }
            if nbytes == 0 || self.needed_by_a_task_on(&key, from) {
                continue;
            }
            let holders = self.who_has(&key);
            let recipient = loads
                .iter()
                .filter(|(worker, bytes)| **bytes < mean && !holders.contains(worker))
                .map(|(worker, bytes)| (*bytes, *worker))
                .min();
            let Some((bytes, to)) = recipient else {
                break;
            };
            if bytes + nbytes >= sender || !self.order_copy(&key, to) {
                continue;
            }
            *loads.get_mut(&to).expect("recipient") += nbytes;
            *loads.get_mut(&from).expect("sender") -= nbytes;
            orders.push(CopyOrder {
                key,
                to,
                from: Some(from),
                nbytes,
            });
        }
    }

    /// Orders, for each key that only `retiring` workers hold, a copy on the worker not
    /// retiring that holds the fewest bytes. `Err` (nothing ordered) when no other worker is
    /// connected, saying so.
    pub fn plan_retire(
        &mut self,
        retiring: &[WorkerId],
        out: &mut dyn Outbox,
    ) -> Result<Vec<CopyOrder>, String> {
        let mut loads: BTreeSet<(u64, WorkerId)> = self
            .worker_loads()
            .into_iter()
            .filter(|(_, worker)| !retiring.contains(worker))
            .collect();
        let mut stranded: Vec<TaskKey> = retiring
            .iter()
            .filter_map(|worker| self.workers.get(worker))
            .flat_map(|record| record.has_what.iter())
            .filter(|key| self.who_has(key).iter().all(|h| retiring.contains(h)))
            .filter(|key| !self.pending_copies.contains_key(*key))
            .cloned()
            .collect();
        stranded.sort_unstable();
        stranded.dedup();
        if loads.is_empty() {
            let others = self.workers.len() - retiring.len().min(self.workers.len());
            return Err(format!(
                "retiring {} of {} workers would leave none to take their data ({others} others)",
                retiring.len(),
                self.workers.len()
            ));
        }
        let mut orders = Vec::new();
        for key in stranded {
            let least = *loads.iter().next().expect("a worker to take it");
            orders.extend(self.order_counted(&key, least, &mut loads));
        }
        self.end_event(out);
        Ok(orders)
    }

    /// Orders a copy of `key` on the worker of `(load, to)`, whose entry in `loads` then
    /// counts the copy's bytes.
    fn order_counted(
        &mut self,
        key: &TaskKey,
        (load, to): (u64, WorkerId),
        loads: &mut BTreeSet<(u64, WorkerId)>,
    ) -> Option<CopyOrder> {
        if !self.order_copy(key, to) {
            return None;
        }
        let nbytes = self.task(key).nbytes;
        loads.remove(&(load, to));
        loads.insert((load + nbytes, to));
        let key = key.clone();
        Some(CopyOrder {
            key,
            to,
            from: None,
            nbytes,
        })
    }

    /// Each connected worker not retiring with the bytes of values it holds, least first.
    fn worker_loads(&self) -> BTreeSet<(u64, WorkerId)> {
        self.workers
            .values()
            .filter(|record| !record.retiring)
            .map(|record| {
                let bytes = record
                    .has_what
                    .iter()
                    .map(|key| self.task(key).nbytes)
                    .sum();
                (bytes, record.id)
            })
            .collect()
    }
}
