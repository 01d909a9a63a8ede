//! The worker's own bookkeeping of the tasks it was given: which wait for inputs, which inputs
//! are being fetched and from whom, which run, which were released while running.
//!
//! Pure: no I/O. The actor asks it what to do and does it.

use std::net::SocketAddr;

use crate::function::registry::Invoke;
use crate::function::TaskBody;
use crate::ids::FunctionId;
use crate::ids::{Map, Set, TaskKey, WorkerId};

/// A task waiting for inputs.
#[derive(Debug)]
pub struct WaitingTask {
    /// What to run.
    pub body: TaskBody,
    /// How to run it.
    pub invoke: Invoke,
    /// Inputs not yet here.
    pub missing: Set<TaskKey>,
    /// Where it stands in the scheduler's order.
    pub priority: crate::scheduler::Priority,
}

/// A planned fetch: ask `holder` for `keys`.
#[derive(Debug, PartialEq, Eq)]
pub struct FetchPlan {
    /// The holder's id (for reports).
    pub holder: WorkerId,
    /// Its address.
    pub addr: SocketAddr,
    /// The keys to ask for.
    pub keys: Vec<TaskKey>,
}

/// Tasks given to this worker and not yet reported.
#[derive(Debug, Default)]
pub struct WorkerTasks {
    waiting: Map<TaskKey, WaitingTask>,
    needed_by: Map<TaskKey, Vec<TaskKey>>,
    fetching: Set<TaskKey>,
    running: Map<TaskKey, FunctionId>,
    released_while_running: Set<TaskKey>,
}

impl WorkerTasks {
    /// Records a task whose `missing` inputs must be fetched; returns the inputs not already
    /// being fetched, each with the holders the scheduler named.
    pub fn wait_for_inputs(
        &mut self,
        key: TaskKey,
        task: WaitingTask,
        holders: &Map<TaskKey, Vec<WorkerId>>,
    ) -> Vec<(TaskKey, Vec<WorkerId>)> {
        let mut to_fetch = Vec::new();
        for dep in &task.missing {
            self.needed_by
                .entry(dep.clone())
                .or_default()
                .push(key.clone());
            if self.fetching.insert(dep.clone()) {
                to_fetch.push((dep.clone(), holders.get(dep).cloned().unwrap_or_default()));
            }
        }
        self.waiting.insert(key, task);
        to_fetch
    }

    /// An input arrived; returns the tasks that now have all their inputs.
    pub fn input_arrived(&mut self, dep: &TaskKey) -> Vec<(TaskKey, WaitingTask)> {
        self.fetching.remove(dep);
        let mut ready = Vec::new();
        for key in self.needed_by.remove(dep).unwrap_or_default() {
            let Some(task) = self.waiting.get_mut(&key) else {
                continue;
            };
            task.missing.remove(dep);
            if task.missing.is_empty() {
                let task = self.waiting.remove(&key).expect("waiting task");
                ready.push((key, task));
            }
        }
        ready
    }

    /// An input could not be fetched; returns the tasks that needed it, now dropped (the
    /// scheduler reschedules them).
    pub fn input_failed(&mut self, dep: &TaskKey) -> Vec<TaskKey> {
        self.fetching.remove(dep);
        let mut dropped = Vec::new();
        for key in self.needed_by.remove(dep).unwrap_or_default() {
            if let Some(task) = self.waiting.remove(&key) {
                self.forget_needs(&key, &task);
                dropped.push(key);
            }
        }
        dropped
    }

    fn forget_needs(&mut self, key: &TaskKey, task: &WaitingTask) {
        for dep in &task.missing {
            if let Some(tasks) = self.needed_by.get_mut(dep) {
                tasks.retain(|k| k != key);
                if tasks.is_empty() {
                    self.needed_by.remove(dep);
                }
            }
        }
    }

    /// A task went to the threads.
    pub fn started(&mut self, key: TaskKey, function: FunctionId) {
        self.running.insert(key, function);
    }

    /// A task came back from the threads; returns its function, or `None` if it was released
    /// while running (its outcome is to be dropped).
    pub fn finished(&mut self, key: &TaskKey) -> Option<FunctionId> {
        let function = self.running.remove(key)?;
        if self.released_while_running.remove(key) {
            return None;
        }
        Some(function)
    }

    /// The scheduler released `key`: forget it if waiting, drop its outcome if running.
    pub fn release(&mut self, key: &TaskKey) {
        if let Some(task) = self.waiting.remove(key) {
            self.forget_needs(key, &task);
        }
        if self.running.contains_key(key) {
            self.released_while_running.insert(key.clone());
        }
    }

    /// The scheduler asks again for a task released while it was running here: keep the run
    /// that is under way instead of starting another. Returns whether there was one.
    pub fn revive(&mut self, key: &TaskKey) -> bool {
        self.running.contains_key(key) && self.released_while_running.remove(key)
    }

    /// Whether `key` is waiting or running here.
    pub fn is_active(&self, key: &TaskKey) -> bool {
        self.waiting.contains_key(key)
            || (self.running.contains_key(key) && !self.released_while_running.contains(key))
    }

    /// Tasks on the threads now.
    pub fn running_count(&self) -> usize {
        self.running.len()
    }
}

/// Groups inputs to fetch by holder: each input is asked of its first holder with a known
/// address, so one request goes to each holder.
pub fn plan_fetches(
    to_fetch: Vec<(TaskKey, Vec<WorkerId>)>,
    addresses: &Map<WorkerId, SocketAddr>,
) -> (Vec<FetchPlan>, Vec<TaskKey>) {
    let mut plans: Map<WorkerId, FetchPlan> = Map::default();
    let mut unreachable = Vec::new();
    for (key, holders) in to_fetch {
        let holder = holders
            .iter()
            .find_map(|id| addresses.get(id).map(|addr| (*id, *addr)));
        match holder {
            Some((holder, addr)) => plans
                .entry(holder)
                .or_insert_with(|| FetchPlan {
                    holder,
                    addr,
                    keys: Vec::new(),
                })
                .keys
                .push(key),
            None => unreachable.push(key),
        }
    }
    let mut plans: Vec<FetchPlan> = plans.into_values().collect();
    plans.sort_by_key(|plan| plan.holder);
    (plans, unreachable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::{ArgReader, CallError, Value};
    use std::sync::Arc;

    fn noop(_: &ArgReader<'_>) -> Result<Arc<dyn Value>, CallError> {
        Ok(Arc::new(()))
    }

    fn waiting(missing: &[&str]) -> WaitingTask {
        WaitingTask {
            body: TaskBody {
                function: FunctionId::new("f", 1),
                args: vec![],
            },
            invoke: noop,
            missing: missing.iter().map(TaskKey::new).collect(),
            priority: Default::default(),
        }
    }

    fn holders(pairs: &[(&str, u32)]) -> Map<TaskKey, Vec<WorkerId>> {
        pairs
            .iter()
            .map(|(k, w)| (TaskKey::new(k), vec![WorkerId(*w)]))
            .collect()
    }

    #[test]
    fn a_task_runs_once_every_input_arrived_and_inputs_are_fetched_once() {
        let mut tasks = WorkerTasks::default();
        let where_ = holders(&[("x", 1), ("y", 2)]);
        let first = tasks.wait_for_inputs("a".into(), waiting(&["x", "y"]), &where_);
        assert_eq!(first.len(), 2);
        let second = tasks.wait_for_inputs("b".into(), waiting(&["x"]), &where_);
        assert!(second.is_empty(), "x is already being fetched");
        let ready = tasks.input_arrived(&"x".into());
        assert_eq!(
            ready.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        let ready = tasks.input_arrived(&"y".into());
        assert_eq!(
            ready.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[test]
    fn a_failed_input_drops_the_tasks_that_need_it() {
        let mut tasks = WorkerTasks::default();
        let where_ = holders(&[("x", 1), ("y", 2)]);
        tasks.wait_for_inputs("a".into(), waiting(&["x", "y"]), &where_);
        assert_eq!(tasks.input_failed(&"x".into()), vec![TaskKey::new("a")]);
        assert!(tasks.input_arrived(&"y".into()).is_empty());
        assert!(!tasks.is_active(&"a".into()));
    }

    #[test]
    fn releasing_a_running_task_drops_its_outcome() {
        let mut tasks = WorkerTasks::default();
        tasks.started("a".into(), FunctionId::new("f", 1));
        tasks.release(&"a".into());
        assert_eq!(tasks.finished(&"a".into()), None);
        tasks.started("b".into(), FunctionId::new("f", 1));
        assert!(tasks.finished(&"b".into()).is_some());
    }

    #[test]
    fn fetches_are_grouped_by_first_reachable_holder() {
        let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
        let addresses: Map<WorkerId, SocketAddr> = [(WorkerId(2), addr(2)), (WorkerId(3), addr(3))]
            .into_iter()
            .collect();
        let to_fetch = vec![
            ("x".into(), vec![WorkerId(1), WorkerId(2)]),
            ("y".into(), vec![WorkerId(2)]),
            ("z".into(), vec![WorkerId(9)]),
        ];
        let (plans, unreachable) = plan_fetches(to_fetch, &addresses);
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].keys, vec![TaskKey::new("x"), TaskKey::new("y")]);
        assert_eq!(unreachable, vec![TaskKey::new("z")]);
    }
}
