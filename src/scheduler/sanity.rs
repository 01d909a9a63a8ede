//! `sanity_check`: asserts every invariant tying task states, worker records, the queue,
//! client wants and reference counts together. Tests call it after every step; it walks
//! everything, so production code does not.
//!
//! Read-only, no I/O.

use super::state::SchedulerState;
use super::task::{TaskRecord, TaskState};
use super::worker::WorkerRecord;
use crate::ids::{Map, Set, TaskKey, WorkerId};

impl SchedulerState {
    /// Panics with a description of the first broken invariant, if any.
    ///
    /// Checks, among others: graph edges are symmetric and point at known keys; each
    /// task's count of active dependents and its wanters match; needed tasks are active,
    /// in memory or erred, and unneeded ones are released or erred; every record is
    /// wanted or referenced; active tasks only depend on tasks in memory or active ones;
    /// waiting counts are exact; processing tasks are in their worker's processing set
    /// (and nowhere else) on a worker that has their function; who_has matches has_what;
    /// no key in memory lacks a holder; the queue holds exactly the queued tasks and only
    /// while every worker able to run them is saturated; the free-slot index lists exactly
    /// the unsaturated workers.
    pub fn sanity_check(&self) {
        assert!(self.commands.is_empty(), "commands left undelivered");
        assert!(
            self.release_candidates.is_empty(),
            "release candidates left unprocessed"
        );
        for (key, asked) in &self.pending_copies {
            assert!(!asked.is_empty(), "{key}: an empty list of copies awaited");
            for worker in asked {
                assert!(
                    self.workers.contains_key(worker),
                    "{key}: copy awaited from gone {worker}"
                );
            }
        }
        let mut in_memory = 0;
        for (key, task) in &self.tasks {
            self.check_edges(key, task);
            self.check_refcounts(key, task);
            self.check_state(key, task);
            in_memory += usize::from(task.state.is_memory());
        }
        assert_eq!(
            in_memory, self.keys_in_memory,
            "keys_in_memory counter is off"
        );
        self.check_workers();
        self.check_steals();
        self.check_queue();
        self.check_no_worker();
        self.check_clients();
    }

    fn check_edges(&self, key: &TaskKey, task: &TaskRecord) {
        let unique: Set<&TaskKey> = task.dependencies.iter().collect();
        assert_eq!(
            unique.len(),
            task.dependencies.len(),
            "{key}: repeated dependency"
        );
        for dep in &task.dependencies {
            let record = self
                .tasks
                .get(dep)
                .unwrap_or_else(|| panic!("{key}: unknown dependency {dep}"));
            assert!(
                record.dependents.contains(key),
                "{key}: {dep} does not list it as dependent"
            );
        }
        for dependent in &task.dependents {
            let record = self
                .tasks
                .get(dependent)
                .unwrap_or_else(|| panic!("{key}: unknown dependent {dependent}"));
            assert!(
                record.dependencies.contains(key),
                "{key}: {dependent} does not depend on it"
            );
        }
    }

    fn check_refcounts(&self, key: &TaskKey, task: &TaskRecord) {
        let active = task
            .dependents
            .iter()
            .filter(|dependent| self.tasks[*dependent].state.is_active())
            .count();
        assert_eq!(
            task.active_dependents as usize, active,
            "{key}: active_dependents is off"
        );
        let wanters: Set<_> = task.who_wants.iter().collect();
        assert_eq!(
            wanters.len(),
            task.who_wants.len(),
            "{key}: repeated wanter"
        );
        for client in &task.who_wants {
            let wants = self.clients.get(client);
            assert!(
                wants.is_some_and(|wants| wants.contains(key)),
                "{key}: {client} not tracked as wanting it"
            );
        }
        if self.is_unclaimed(key) {
            assert!(self.is_recovering(), "{key}: unclaimed after the recovery");
            return;
        }
        assert!(
            !task.is_unreferenced(),
            "{key}: record kept though nothing refers to it"
        );
        match &task.state {
            TaskState::Released => assert!(!task.is_needed(), "{key}: needed but released"),
            TaskState::Erred { .. } => {}
            state => assert!(task.is_needed(), "{key}: {} but not needed", state.name()),
        }
    }

    /// An active task only depends on tasks in memory or on their way there.
    fn check_active_dependencies(&self, key: &TaskKey, task: &TaskRecord) {
        if !task.state.is_active() {
            return;
        }
        assert!(task.run.is_some(), "{key}: active without lineage");
        for dep in &task.dependencies {
            let state = &self.tasks[dep].state;
            assert!(
                state.is_active() || state.is_memory(),
                "{key}: active but {dep} is {}",
                state.name()
            );
        }
    }

    fn check_state(&self, key: &TaskKey, task: &TaskRecord) {
        self.check_active_dependencies(key, task);
        let missing = task
            .dependencies
            .iter()
            .filter(|dep| !self.tasks[*dep].state.is_memory())
            .count();
        match &task.state {
            TaskState::Waiting { waiting_on } => {
                assert_eq!(*waiting_on as usize, missing, "{key}: waiting count is off");
                assert!(*waiting_on > 0, "{key}: waiting on nothing");
            }
            TaskState::NoWorker => {
                assert_eq!(missing, 0, "{key}: no-worker but not ready");
                let unplaceable = task.class().is_some_and(|class| {
                    class.restrictions.is_some() && !self.class_runnable(&class)
                });
                assert!(
                    self.workers.is_empty() || self.is_recovering() || unplaceable,
                    "{key}: no-worker while workers exist that could run it"
                );
                assert!(
                    self.no_worker.contains(key),
                    "{key}: missing from the no-worker set"
                );
            }
            TaskState::Queued => assert_eq!(missing, 0, "{key}: queued but not ready"),
            TaskState::Processing { worker } => {
                assert_eq!(missing, 0, "{key}: processing but not ready");
                self.check_runner(key, task, *worker);
            }
            TaskState::Memory { who_has } => self.check_holders(key, who_has),
            TaskState::Released | TaskState::Erred { .. } => {}
        }
    }

    fn check_runner(&self, key: &TaskKey, task: &TaskRecord, worker: WorkerId) {
        let record = self
            .workers
            .get(&worker)
            .unwrap_or_else(|| panic!("{key}: processing on gone {worker}"));
        assert!(
            record.processing.contains(key),
            "{key}: not in {worker}'s processing set"
        );
        let function = task.function().expect("active tasks have lineage");
        assert!(
            record.functions.contains(function),
            "{key}: {worker} lacks its function"
        );
    }

    fn check_holders(&self, key: &TaskKey, who_has: &[WorkerId]) {
        assert!(!who_has.is_empty(), "{key}: in memory without a holder");
        assert!(
            who_has.windows(2).all(|pair| pair[0] < pair[1]),
            "{key}: who_has not sorted/unique"
        );
        for worker in who_has {
            let record = self
                .workers
                .get(worker)
                .unwrap_or_else(|| panic!("{key}: held by gone {worker}"));
            assert!(
                record.has_what.contains(key),
                "{key}: missing from {worker}'s has_what"
            );
        }
    }

    fn check_workers(&self) {
        let mut counts: Map<&super::FunctionId, u32> = Map::default();
        for (id, record) in &self.workers {
            self.check_worker(*id, record);
            for function in &record.functions {
                *counts.entry(function).or_default() += 1;
            }
        }
        let unsaturated = self.workers.values().filter(|w| !w.is_saturated()).count();
        assert_eq!(self.free_slots.len(), unsaturated, "free-slot index size");
        assert_eq!(
            counts,
            self.function_workers.iter().map(|(f, n)| (f, *n)).collect()
        );
    }

    fn check_worker(&self, id: WorkerId, record: &WorkerRecord) {
        assert_eq!(id, record.id, "worker filed under the wrong id");
        let listed = self.free_slots.contains(&record.free_slot_entry());
        assert_eq!(
            listed,
            !record.is_saturated(),
            "{id}: free-slot index is off"
        );
        assert!(
            record.seceded.is_subset(&record.processing),
            "{id}: a seceded task is not processing there"
        );
        assert!(
            record.started.is_subset(&record.processing),
            "{id}: a task known started is not processing there"
        );
        for key in &record.processing {
            let state = self.tasks.get(key).map(|task| &task.state);
            let expected = TaskState::Processing { worker: id };
            assert_eq!(state, Some(&expected), "{id}: processing {key}");
        }
        let mut available = record.profile.resources.clone();
        for key in &record.processing {
            if let Some(asked) = &self.tasks[key].restrictions {
                assert!(
                    available.covers(&asked.resources),
                    "{id}: resources overcommitted"
                );
                available.take(&asked.resources);
            }
        }
        assert_eq!(available, record.available, "{id}: free resources are off");
        for key in &record.has_what {
            assert!(
                self.who_has(key).contains(&id),
                "{id}: has {key}, not in its who_has"
            );
        }
    }

    fn check_queue(&self) {
        assert!(!self.queue.has_empty_queue(), "empty queue kept");
        let mut queued = 0;
        for (class, (priority, key)) in self.queue.iter() {
            let task = self
                .tasks
                .get(key)
                .unwrap_or_else(|| panic!("queued unknown {key}"));
            assert_eq!(
                task.state,
                TaskState::Queued,
                "{key}: in the queue but {}",
                task.state.name()
            );
            assert_eq!(
                task.priority, *priority,
                "{key}: queued under the wrong priority"
            );
            assert_eq!(
                task.class().as_ref(),
                Some(class),
                "{key}: queued under the wrong class"
            );
            queued += 1;
        }
        let in_state = self
            .tasks
            .values()
            .filter(|task| task.state == TaskState::Queued)
            .count();
        assert_eq!(queued, in_state, "queue and queued states disagree");
        assert_eq!(queued, self.queue.len(), "queue length counter is off");
        for class in self.queue.classes() {
            assert!(
                self.function_workers.contains_key(&class.function),
                "{class}: queued but no worker has it"
            );
            assert!(
                self.first_free_worker_with(class).is_none(),
                "{class}: queued while a slot is free"
            );
        }
    }

    fn check_no_worker(&self) {
        for key in &self.no_worker {
            assert_eq!(
                self.tasks.get(key).map(|task| &task.state),
                Some(&TaskState::NoWorker),
                "{key}: stray no-worker entry"
            );
        }
    }

    fn check_clients(&self) {
        for (client, wants) in &self.clients {
            assert!(!wants.is_empty(), "{client}: empty want set kept");
            for key in wants {
                let task = self
                    .tasks
                    .get(key)
                    .unwrap_or_else(|| panic!("{client} wants unknown {key}"));
                assert!(
                    task.who_wants.contains(client),
                    "{client} wants {key} but is not its wanter"
                );
            }
        }
    }
}
