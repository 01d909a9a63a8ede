//! Events from workers and about workers: joined, lost, task finished, task erred, and a
//! dependency that could not be fetched from a peer; with the recovery of keys whose last
//! copy was lost.
//!
//! No I/O: commands go to the outbox at the end of each event.

use super::failure::{DeathCause, TaskFailure, WorkerDeath};
use super::outbox::{Command, Outbox};
use super::report_check::IgnoredReport;
use super::restrictions::{TaskClass, WorkerProfile};
use super::state::SchedulerState;
use super::task::TaskState;
use super::types::WorkerLoss;
use super::worker::WorkerRecord;
use crate::ids::FunctionId;
use crate::ids::{TaskKey, WorkerId};

impl SchedulerState {
    /// A worker joined with `nthreads` threads (at least 1 is assumed) and these functions.
    /// Tasks waiting for any worker are placed (or err if it lacks their function).
    /// A worker id already known is treated as that worker leaving and joining again.
    pub fn on_worker_added(
        &mut self,
        worker: WorkerId,
        nthreads: u32,
        functions: Vec<FunctionId>,
        out: &mut dyn Outbox,
    ) {
        let profile = WorkerProfile::default();
        self.on_worker_added_with(worker, nthreads, functions, profile, out);
    }

    /// Like [`SchedulerState::on_worker_added`], with the worker's name, address and
    /// resources, which task restrictions match against.
    pub fn on_worker_added_with(
        &mut self,
        worker: WorkerId,
        nthreads: u32,
        functions: Vec<FunctionId>,
        profile: WorkerProfile,
        out: &mut dyn Outbox,
    ) {
        if self.workers.contains_key(&worker) {
            let cause = DeathCause::ConnectionClosed {
                reason: "it registered again".into(),
            };
            self.drop_worker(worker, &cause);
        }
        self.insert_worker(worker, nthreads, functions, profile);
        self.place_parked();
        self.end_event(out);
    }

    /// Adds the record of a joining worker (not yet known) to every index.
    pub(super) fn insert_worker(
        &mut self,
        worker: WorkerId,
        nthreads: u32,
        functions: impl IntoIterator<Item = FunctionId>,
        profile: WorkerProfile,
    ) {
        let nthreads = nthreads.max(1);
        let record = WorkerRecord {
            id: worker,
            nthreads,
            functions: functions.into_iter().collect(),
            processing: Default::default(),
            seceded: Default::default(),
            started: Default::default(),
            has_what: Default::default(),
            saturation: self.config.saturation(nthreads),
            available: profile.resources.clone(),
            profile,
            window: Default::default(),
            retiring: false,
            incoming_steals: 0,
            outgoing_steals: 0,
            indexed_queue: None,
        };
        for function in &record.functions {
            *self.function_workers.entry(function.clone()).or_default() += 1;
        }
        self.free_slots.insert(record.free_slot_entry());
        self.workers.insert(worker, record);
    }

    /// A worker is gone (connection lost or timed out). Its running tasks go back to
    /// waiting (or err with `KilledWorker` once too many workers died running them); keys
    /// only it held are recomputed from lineage if still needed (their wanters hear
    /// `key_recomputing`), or reported lost if they were scattered data.
    ///
    /// Returns what the loss cost, for the caller's log (all zero for an unknown worker).
    pub fn on_worker_removed(
        &mut self,
        worker: WorkerId,
        cause: DeathCause,
        out: &mut dyn Outbox,
    ) -> WorkerLoss {
        let loss = self.drop_worker(worker, &cause);
        self.end_event(out);
        loss
    }

    fn drop_worker(&mut self, worker: WorkerId, cause: &DeathCause) -> WorkerLoss {
        let Some(record) = self.remove_worker_record(worker) else {
            return WorkerLoss::default();
        };
        let mut held: Vec<TaskKey> = record.has_what.into_iter().collect();
        held.sort_unstable();
        let keys_held = held.len();
        let (lost, kept): (Vec<TaskKey>, Vec<TaskKey>) = held
            .into_iter()
            .partition(|key| self.remove_replica(key, worker));
        if record.retiring {
            // Their wanters may know only the retired address: tell them who holds them now.
            for key in &kept {
                self.report_to_wanters(key);
            }
        }
        self.fail_lost_data(&lost, Some(worker));
        let mut running: Vec<TaskKey> = record.processing.into_iter().collect();
        running.sort_unstable();
        for key in &running {
            if self.task(key).state != (TaskState::Processing { worker }) {
                continue;
            }
            match record.retiring {
                // Retired on purpose: its tasks are no more suspect than before.
                true => self.reset_to_waiting(key, false),
                false => self.worker_died_running(key, worker, cause),
            }
        }
        self.forget_pending_copies_to(worker);
        self.recompute_lost(&lost);
        self.requeue_after_worker_loss();
        WorkerLoss {
            keys_held,
            keys_lost: lost.len(),
            tasks_interrupted: running.len(),
        }
    }

    /// Takes the worker out of every index; `None` if it was not connected.
    fn remove_worker_record(&mut self, worker: WorkerId) -> Option<WorkerRecord> {
        let record = self.workers.remove(&worker)?;
        self.free_slots.remove(&record.free_slot_entry());
        if let Some(entry) = record.indexed_queue {
            self.overloaded.remove(&entry);
        }
        self.thief_left(worker);
        for function in &record.functions {
            let count = self
                .function_workers
                .get_mut(function)
                .expect("function count");
            *count -= 1;
            if *count == 0 {
                self.function_workers.remove(function);
            }
        }
        Some(record)
    }

    /// `key` was running on `worker`, which died of `cause`: try again elsewhere, or give
    /// up naming every death.
    fn worker_died_running(&mut self, key: &TaskKey, worker: WorkerId, cause: &DeathCause) {
        let allowed_failures = self.config.allowed_failures;
        let task = self.task_mut(key);
        task.deaths.push(WorkerDeath {
            worker,
            cause: cause.clone(),
        });
        if task.deaths.len() as u32 > allowed_failures {
            let failure = TaskFailure::KilledWorker {
                key: key.clone(),
                deaths: task.deaths.clone(),
            };
            self.fail(key, failure);
        } else {
            self.reset_to_waiting(key, false);
        }
    }

    /// After a worker left: with no worker at all, queued tasks wait for one; tasks whose
    /// function no remaining worker has err; restricted tasks no remaining worker satisfies
    /// wait as no-worker.
    fn requeue_after_worker_loss(&mut self) {
        let stranded: Vec<TaskClass> = self
            .queue
            .classes()
            .filter(|class| {
                !self.function_workers.contains_key(&class.function)
                    || (class.restrictions.is_some() && !self.class_runnable(class))
            })
            .cloned()
            .collect();
        for class in stranded {
            let keys: Vec<TaskKey> = self
                .queue
                .tasks_of(&class)
                .map(|(_, key)| key.clone())
                .collect();
            for key in keys {
                self.set_state(&key, TaskState::Waiting { waiting_on: 0 });
                self.mark_ready(&key);
            }
        }
    }

    /// Scattered data among `lost` (no lineage) can never come back: it errs with
    /// `DataLost`, its wanters are told it is lost and its dependents err. Then it is wanted
    /// no more (as dask forgets it at once), so its record goes as soon as no erred dependent
    /// refers to it; the wanters' futures already report the loss.
    fn fail_lost_data(&mut self, lost: &[TaskKey], worker: Option<WorkerId>) {
        for key in lost {
            if self.task(key).run.is_none() {
                let failure = TaskFailure::DataLost {
                    key: key.clone(),
                    worker,
                };
                self.fail(key, failure);
                self.drop_wanters(key);
            }
        }
    }

    /// Computed keys among `lost` (now released): their active dependents wait for them
    /// again (cancelled where running), and they are recomputed if still needed.
    fn recompute_lost(&mut self, lost: &[TaskKey]) {
        for key in lost {
            let dependents: Vec<TaskKey> = self
                .task(key)
                .dependents
                .iter()
                .filter(|dependent| self.task(dependent).state.is_active())
                .cloned()
                .collect();
            for dependent in dependents {
                if self.task(&dependent).state.is_active() {
                    self.reset_to_waiting(&dependent, true);
                }
            }
        }
        for key in lost {
            if self.task(key).is_needed() {
                self.revive(key);
                self.tell_recomputing(key);
            }
            self.release_candidates.push(key.clone());
        }
    }

    /// Tells the clients that want `key` (whose value was lost) that it is being computed
    /// again. A key that erred instead (lost lineage upstream) was reported as erred.
    fn tell_recomputing(&mut self, key: &TaskKey) {
        let task = self.task(key);
        if !task.state.is_active() {
            return;
        }
        let clients = task.who_wants.clone();
        for client in clients {
            self.push_command(Command::Recomputing(client, key.clone()));
        }
    }

    /// `worker` computed `key`, whose value takes `nbytes`. Only a task the scheduler asked
    /// `worker` to run, and which it runs there now, is taken ([`IgnoredReport`] otherwise):
    /// a worker cannot claim to hold a key it was not given. A connected worker that claims
    /// another result is told to drop that value, so its memory matches the scheduler's view.
    pub fn on_task_finished(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        nbytes: u64,
        out: &mut dyn Outbox,
    ) -> Result<(), IgnoredReport> {
        let checked = self.check_running(worker, &key);
        match &checked {
            Ok(()) => {
                self.observe_task_bytes(&key, worker, nbytes);
                self.task_finished(&key, worker, nbytes)
            }
            Err(IgnoredReport::UnknownWorker { .. }) => {}
            Err(_) => self.push_command(Command::Release(worker, key)),
        }
        self.end_event(out);
        checked
    }

    /// `worker`'s task `key` gave its thread back to wait on the cluster (it submitted
    /// tasks and waits for them): it stays processing there but no longer counts against
    /// the worker's saturation, so queued tasks (its own subtasks among them) can go there.
    /// Ignored unless `worker` is running `key`.
    pub fn on_task_seceded(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        out: &mut dyn Outbox,
    ) -> Result<(), IgnoredReport> {
        let checked = self.check_running(worker, &key);
        if checked.is_ok() {
            // It runs: a steal asked of it will not be answered with the task.
            self.forget_steal(&key);
            self.mark_seceded(worker, &key);
        }
        self.end_event(out);
        checked
    }

    /// Running `key` on `worker` failed. Ignored unless `worker` was running it.
    pub fn on_task_erred(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        failure: TaskFailure,
        out: &mut dyn Outbox,
    ) -> Result<(), IgnoredReport> {
        let checked = self.check_running(worker, &key);
        if checked.is_ok() {
            self.fail(&key, failure);
        }
        self.end_event(out);
        checked
    }

    /// `worker` could not fetch `dep` from `holder` to run `key`, and has dropped `key`.
    ///
    /// Taken only from the worker running `key`, for a dependency of `key`
    /// ([`IgnoredReport`] otherwise): a worker cannot make the scheduler forget another's
    /// copy of a key it was not sent to fetch. `holder` no longer counts as holding `dep`
    /// (and is told to delete any copy, so its memory matches the scheduler's view). `key`
    /// goes back to waiting and is placed again; if `dep` has no holder left it is
    /// recomputed, or reported lost if scattered. `holder` takes no new task until it answers
    /// a ping (`on_holder_unreachable`).
    pub fn on_missing_dependency(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        dep: TaskKey,
        holder: WorkerId,
        out: &mut dyn Outbox,
    ) -> Result<(), IgnoredReport> {
        let checked = self.check_dependency(worker, &key, &dep);
        if checked.is_ok() {
            // First: what the failure gives back to be placed or recomputed must not go to a
            // holder that may be silent (the shell pings it; an answer reopens it). Only a
            // holder of `dep`: a report cannot close any other worker's window.
            if holder != worker && self.who_has(&dep).contains(&holder) {
                self.on_holder_unreachable(holder);
            }
            self.reset_to_waiting(&key, false);
            let lost = self.forget_replica(&dep, holder);
            self.fail_lost_data(&lost, Some(holder));
            self.recompute_lost(&lost);
        }
        self.end_event(out);
        checked
    }

    /// Drops `holder` as a holder of `key` (if it was one) and tells it to delete its copy.
    /// Returns `[key]` if that was the last copy.
    fn forget_replica(&mut self, key: &TaskKey, holder: WorkerId) -> Vec<TaskKey> {
        let held = self
            .tasks
            .get(key)
            .is_some_and(|task| task.who_has().contains(&holder));
        if !held {
            return Vec::new();
        }
        self.push_command(Command::Release(holder, key.clone()));
        if self.remove_replica(key, holder) {
            vec![key.clone()]
        } else {
            Vec::new()
        }
    }
}
