//! Inputs from peers: a task waits for the inputs it misses, each input is fetched once (from
//! the first holder with a known address, one request per holder), and a fetch's answer
//! starts the tasks it completes or drops (and reports) the tasks whose input did not come.
//!
//! Pure: no I/O, no actors.

use std::sync::Arc;

use super::outbox::{FetchId, FetchOrder, WorkerOutbox};
use super::state::{FetchRecord, Prepared, TaskRecord, TaskState, WorkerState};
use crate::function::{EncodedValue, Stored};
use crate::ids::{Map, Set, TaskKey, WorkerId};
use crate::messages::center_link::TaskEvent;
use crate::scheduler::Priority;

impl WorkerState {
    /// Records a task that misses `missing` and fetches those not already on their way.
    pub(super) fn wait_for_inputs(
        &mut self,
        key: TaskKey,
        priority: Priority,
        prepared: Prepared,
        missing: Set<TaskKey>,
        holders: &Map<TaskKey, Vec<WorkerId>>,
        out: &mut dyn WorkerOutbox,
    ) {
        let mut to_fetch = Vec::new();
        for dep in &missing {
            self.needed_by
                .entry(dep.clone())
                .or_default()
                .push(key.clone());
            if !self.fetching.contains_key(dep) {
                to_fetch.push(dep.clone());
            }
        }
        let state = TaskState::WaitingForInputs { prepared, missing };
        self.tasks.insert(key, TaskRecord { priority, state });
        self.fetch_from_holders(to_fetch, holders, out);
    }

    /// Fetches each of `to_fetch` (none already on its way) from its first holder with a
    /// known address, one request per holder; an input no holder can be asked for fails.
    pub(super) fn fetch_from_holders(
        &mut self,
        mut to_fetch: Vec<TaskKey>,
        holders: &Map<TaskKey, Vec<WorkerId>>,
        out: &mut dyn WorkerOutbox,
    ) {
        to_fetch.sort();
        let mut orders: Map<WorkerId, FetchOrder> = Map::default();
        let mut unreachable = Vec::new();
        for dep in to_fetch {
            let holder = holders
                .get(&dep)
                .into_iter()
                .flatten()
                .find_map(|id| self.peer_addrs.get(id).map(|addr| (*id, *addr)));
            let Some((holder, addr)) = holder else {
                unreachable.push(dep);
                continue;
            };
            let order = orders.entry(holder).or_insert_with(|| FetchOrder {
                id: FetchId(0),
                holder,
                addr,
                keys: Vec::new(),
            });
            order.keys.push(dep);
        }
        for dep in unreachable {
            self.input_failed(&dep, WorkerId(0), out);
        }
        let mut orders: Vec<FetchOrder> = orders.into_values().collect();
        orders.sort_by_key(|order| order.holder);
        for order in orders {
            self.send_fetch(order, out);
        }
    }

    fn send_fetch(&mut self, mut order: FetchOrder, out: &mut dyn WorkerOutbox) {
        self.next_fetch += 1;
        order.id = FetchId(self.next_fetch);
        for dep in &order.keys {
            self.fetching.insert(dep.clone(), order.id);
        }
        let record = FetchRecord {
            holder: order.holder,
            keys: order.keys.clone(),
        };
        self.fetches.insert(order.id, record);
        out.fetch(order);
    }

    /// A fetch came back with `values`. The inputs it asked for and does not carry (the
    /// holder lacks them) did not come: the tasks needing them are dropped and reported.
    pub fn on_fetched(
        &mut self,
        fetch: FetchId,
        values: Vec<(TaskKey, EncodedValue)>,
        out: &mut dyn WorkerOutbox,
    ) {
        // An unknown fetch was made for a center that is gone: its values are nobody's.
        let Some(record) = self.fetches.remove(&fetch) else {
            return;
        };
        for (key, value) in values {
            if self.fetching.get(&key) != Some(&fetch) {
                continue;
            }
            self.input_arrived(key, value, out);
        }
        self.inputs_failed(fetch, record, out);
    }

    /// A fetch failed (the holder could not be reached or did not answer).
    pub fn on_fetch_failed(&mut self, fetch: FetchId, out: &mut dyn WorkerOutbox) {
        if let Some(record) = self.fetches.remove(&fetch) {
            self.inputs_failed(fetch, record, out);
        }
    }

    /// Fails every input of `fetch` that it did not bring.
    fn inputs_failed(&mut self, fetch: FetchId, record: FetchRecord, out: &mut dyn WorkerOutbox) {
        for dep in &record.keys {
            if self.fetching.get(dep) == Some(&fetch) {
                self.input_failed(dep, record.holder, out);
            }
        }
    }

    fn input_arrived(&mut self, dep: TaskKey, value: EncodedValue, out: &mut dyn WorkerOutbox) {
        self.fetching.remove(&dep);
        self.acquiring.remove(&dep);
        let nbytes = value.len() as u64;
        self.peer_bytes_in += nbytes;
        self.keep(dep.clone(), Stored::Encoded(Arc::new(value)), nbytes, out);
        // A copy the scheduler must know of, so its release reaches this worker too.
        out.report(TaskEvent::Copied {
            key: dep.clone(),
            nbytes,
        });
        for key in self.needed_by.remove(&dep).unwrap_or_default() {
            let Some(record) = self.tasks.get_mut(&key) else {
                continue;
            };
            let TaskState::WaitingForInputs { missing, .. } = &mut record.state else {
                continue;
            };
            missing.remove(&dep);
            if missing.is_empty() {
                let record = self.tasks.remove(&key).expect("waiting task");
                let TaskState::WaitingForInputs { prepared, .. } = record.state else {
                    unreachable!("checked above");
                };
                self.start(key, record.priority, prepared, out);
            }
        }
    }

    /// `dep` will not come from `holder`: the tasks that need it are dropped and reported, so
    /// the scheduler places them again.
    pub(super) fn input_failed(
        &mut self,
        dep: &TaskKey,
        holder: WorkerId,
        out: &mut dyn WorkerOutbox,
    ) {
        self.fetching.remove(dep);
        if self.acquiring.remove(dep) {
            let key = dep.clone();
            out.report(TaskEvent::CopyFailed { key, holder });
        }
        for key in self.needed_by.remove(dep).unwrap_or_default() {
            if !self.is_waiting(&key) {
                continue;
            }
            self.forget_waiting(&key);
            out.report(TaskEvent::MissingDependency {
                key,
                dependency: dep.clone(),
                holder,
            });
        }
    }

    fn is_waiting(&self, key: &TaskKey) -> bool {
        self.tasks
            .get(key)
            .is_some_and(|task| matches!(task.state, TaskState::WaitingForInputs { .. }))
    }

    /// Drops a waiting task and its claims on the inputs it still misses (the fetches stay:
    /// what they bring is kept and reported).
    pub(super) fn forget_waiting(&mut self, key: &TaskKey) {
        let Some(record) = self.tasks.remove(key) else {
            return;
        };
        let TaskState::WaitingForInputs { missing, .. } = record.state else {
            self.tasks.insert(key.clone(), record);
            return;
        };
        for dep in &missing {
            if let Some(tasks) = self.needed_by.get_mut(dep) {
                tasks.retain(|k| k != key);
                if tasks.is_empty() {
                    self.needed_by.remove(dep);
                }
            }
        }
    }
}
