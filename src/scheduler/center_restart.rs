//! A center that restarts without losing results: workers re-register with the keys they
//! still hold, executors re-submit what they still want, and the scheduler learns who holds
//! what before it places anything.
//!
//! The recovery is a phase of the state machine: it opens at the first re-registration or
//! re-submission of a scheduler that has never started a task (a restarted center), and the
//! shell closes it after a grace period (it owns the clock). While it is open, ready tasks
//! park as no-worker and offered values are kept even if nothing needs them yet (an
//! executor still to re-submit may claim them); when it closes, parked tasks are placed and
//! offered values nothing needs are released. No I/O.

use super::outbox::{Command, Outbox};
use super::state::SchedulerState;
use super::task::{RunSpec, TaskRecord, TaskState};
use super::types::{NewTask, Priority};
use crate::ids::{ClientId, TaskKey, WorkerId};

/// The reason a re-submitted key that nobody holds and nothing can recompute is lost.
pub const LOST_WITH_CENTER: &str =
    "lost with the center restart: no worker re-registered holding it and it has no lineage";

/// Where the scheduler stands with respect to a center restart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum RecoveryPhase {
    /// No task has been started yet: a re-registration or re-submission opens a recovery.
    #[default]
    Fresh,
    /// Workers and executors are coming back: nothing is placed, held keys are kept.
    Recovering,
    /// Recovered, or the scheduler has started tasks: re-registrations only add replicas.
    Closed,
}

impl SchedulerState {
    /// Opens a recovery if this scheduler has never started a task (it is a restarted
    /// center meeting its old workers and executors). Returns whether it opened one: the
    /// caller then calls [`Self::on_recovery_ended`] after its grace period.
    pub fn begin_recovery(&mut self) -> bool {
        if self.recovery != RecoveryPhase::Fresh {
            return false;
        }
        self.recovery = RecoveryPhase::Recovering;
        true
    }

    /// Whether a recovery is open (tasks wait, held keys are kept).
    pub fn is_recovering(&self) -> bool {
        self.recovery == RecoveryPhase::Recovering
    }

    /// The recovery's grace period is over: held keys nobody claimed are released on their
    /// workers, and tasks that became ready meanwhile are placed.
    pub fn on_recovery_ended(&mut self, out: &mut dyn Outbox) {
        if self.recovery == RecoveryPhase::Recovering {
            self.recovery = RecoveryPhase::Closed;
            let unclaimed = std::mem::take(&mut self.unclaimed);
            self.release_candidates.extend(unclaimed);
            self.place_parked();
        }
        self.end_event(out);
    }

    /// `worker` (re-)registered holding `held`: `(key, nbytes)` values it kept from an
    /// earlier center session. A value for a key that is not in memory is taken as its
    /// result (a run elsewhere is cancelled); a value for a key in memory is a replica; an
    /// unknown key is kept, without lineage, while a recovery is open (an executor may claim
    /// it) and released otherwise, as is a key that erred. Returns how many were kept.
    pub fn on_worker_holds(
        &mut self,
        worker: WorkerId,
        held: Vec<(TaskKey, u64)>,
        out: &mut dyn Outbox,
    ) -> usize {
        let mut kept = 0;
        if self.workers.contains_key(&worker) {
            for (key, nbytes) in held {
                kept += usize::from(self.take_held(worker, key, nbytes));
            }
        }
        self.end_event(out);
        kept
    }

    fn take_held(&mut self, worker: WorkerId, key: TaskKey, nbytes: u64) -> bool {
        match self.tasks.get(&key).map(|task| &task.state) {
            None if self.is_recovering() => {
                let mut record = TaskRecord::new(None, Priority::default(), Vec::new());
                record.nbytes = nbytes;
                self.tasks.insert(key.clone(), Box::new(record));
                let who_has = vec![worker];
                self.set_state(&key, TaskState::Memory { who_has });
                self.unclaimed.insert(key);
            }
            Some(TaskState::Memory { .. }) => self.add_replica(&key, worker),
            None | Some(TaskState::Erred { .. }) => {
                self.push_command(Command::Release(worker, key));
                return false;
            }
            Some(_) => self.adopt_value(&key, worker, nbytes),
        }
        true
    }

    /// `worker` holds the value of `key`, which was released or on its way to memory: it is
    /// in memory now, as if `worker` had just computed it.
    fn adopt_value(&mut self, key: &TaskKey, worker: WorkerId, nbytes: u64) {
        self.cancel_processing(key);
        self.task_finished(key, worker, nbytes);
        self.keep_until_recovered(key);
    }

    /// During a recovery an offered value is kept even if nothing needs it yet: an
    /// executor that has not re-submitted may still claim it. Otherwise it goes if unneeded.
    fn keep_until_recovered(&mut self, key: &TaskKey) {
        match self.is_recovering() {
            true => self.unclaimed.insert(key.clone()),
            false => {
                self.release_candidates.push(key.clone());
                false
            }
        };
    }

    /// An executor that lost its center re-submits `tasks` (every task it still holds
    /// the spec of) and wants `wanted` (every key it holds futures for). Like
    /// [`Self::on_update_graph`], except that keys held on workers keep their values (and
    /// gain their lineage back), and a wanted key nothing holds or can recompute is
    /// reported lost with [`LOST_WITH_CENTER`].
    pub fn on_client_resubmitted(
        &mut self,
        client: ClientId,
        tasks: Vec<NewTask>,
        wanted: Vec<TaskKey>,
        out: &mut dyn Outbox,
    ) {
        self.generation += 1;
        let claimed = self.restore_lineage(&tasks);
        let resubmitted = self.known_keys_usable_by(client, &tasks);
        let new_keys = self.insert_tasks(tasks, (client, &resubmitted));
        for (key, deps) in claimed {
            self.link_dependencies(&key, deps);
        }
        for key in wanted {
            if self.tasks.contains_key(&key) {
                self.want_again(client, key);
            } else {
                let reason = LOST_WITH_CENTER.to_string();
                self.push_command(Command::Lost(client, key, reason));
            }
        }
        self.release_candidates.extend(new_keys);
        self.end_event(out);
    }

    /// Gives offered keys among `tasks` that have no lineage yet their function and spec
    /// back; returns each with its dependencies, to be linked once the batch is recorded.
    /// They stay kept until the recovery ends (another executor may want them).
    fn restore_lineage(&mut self, tasks: &[NewTask]) -> Vec<(TaskKey, Vec<TaskKey>)> {
        let mut claimed = Vec::new();
        for task in tasks {
            let lineless = self.tasks.get(&task.key).is_some_and(|t| t.run.is_none());
            if !lineless || !self.unclaimed.contains(&task.key) {
                continue;
            }
            // Its only holder died during the recovery: it erred as data lost, but with
            // the lineage now given it can be computed again, as a new task.
            if !self.task(&task.key).state.is_memory() {
                if self.task(&task.key).is_unreferenced() {
                    self.unclaimed.remove(&task.key);
                    self.tasks.remove(&task.key);
                    if self.report_forgotten {
                        self.push_command(Command::Forgotten(task.key.clone()));
                    }
                }
                continue;
            }
            let priority = Priority {
                generation: self.generation,
                order: task.order,
            };
            let record = self.task_mut(&task.key);
            record.priority = priority;
            record.run = Some(RunSpec {
                function: task.function.clone(),
                spec: task.spec.clone(),
            });
            claimed.push((task.key.clone(), task.deps.clone()));
        }
        claimed
    }

    /// Links a restored key (in memory, so it holds none of them) to its dependencies, if
    /// all are known; otherwise it keeps its value but not its lineage.
    fn link_dependencies(&mut self, key: &TaskKey, mut deps: Vec<TaskKey>) {
        super::graph_intake::dedup_keys(&mut deps);
        if !deps.iter().all(|dep| self.tasks.contains_key(dep)) {
            self.task_mut(key).run = None;
            return;
        }
        for dep in &deps {
            self.task_mut(dep).dependents.insert(key.clone());
            self.release_candidates.push(dep.clone());
        }
        self.task_mut(key).dependencies = deps;
    }

    /// Places the tasks parked as no-worker, in priority order.
    pub(super) fn place_parked(&mut self) {
        let mut parked: Vec<TaskKey> = self.no_worker.iter().cloned().collect();
        parked.sort_unstable_by_key(|key| (self.task(key).priority, key.clone()));
        for key in parked {
            self.mark_ready(&key);
        }
    }

    /// Whether `key` is a value offered during the open recovery (kept until it ends).
    pub(super) fn is_unclaimed(&self, key: &TaskKey) -> bool {
        self.unclaimed.contains(key)
    }
}
