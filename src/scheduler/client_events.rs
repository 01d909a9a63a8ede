//! Events from clients (executors): graphs submitted, keys wanted and released, keys
//! cancelled, data scattered, client gone. Each client's wants are tracked separately, so
//! several clients share keys safely.
//!
//! No I/O: reports go to the outbox at the end of each event.

use super::outbox::{Command, Outbox};
use super::state::SchedulerState;
use super::task::{TaskRecord, TaskState};
use super::types::{NewTask, Priority};
use crate::ids::{ClientId, Set, TaskKey, WorkerId};

/// Why a client is refused another client's key.
pub const FOREIGN_KEY: &str = "another client's key: submit the same task to share its result";

impl SchedulerState {
    /// A client submitted tasks and holds futures for `wanted`.
    ///
    /// Tasks whose key is already known are not recomputed. Dependencies may name known
    /// keys or keys of the same batch; a task naming an unknown key (or caught in a cycle)
    /// errs, and so does what depends on it. Only what `wanted` needs is computed; tasks of
    /// the batch nothing needs are forgotten. A wanted key that is unknown is reported lost.
    ///
    /// Another client's key counts as known only if this client resubmits the same task
    /// (`ownership`): a dependency on one it may not use errs as unknown, and wanting one
    /// is answered "lost" with [`FOREIGN_KEY`].
    pub fn on_update_graph(
        &mut self,
        client: ClientId,
        tasks: Vec<NewTask>,
        wanted: Vec<TaskKey>,
        out: &mut dyn Outbox,
    ) {
        self.generation += 1;
        let resubmitted = self.known_keys_usable_by(client, &tasks);
        let foreign: Set<TaskKey> = wanted
            .iter()
            .filter(|key| self.tasks.contains_key(*key) && !resubmitted.contains(*key))
            .filter(|key| !self.is_wanted_by(client, key))
            .cloned()
            .collect();
        let new_keys = self.insert_tasks(tasks, (client, &resubmitted));
        for key in wanted {
            if foreign.contains(&key) {
                self.push_command(Command::Lost(client, key, FOREIGN_KEY.to_string()));
            } else {
                self.want_again(client, key);
            }
        }
        self.release_candidates.extend(new_keys);
        self.end_event(out);
    }

    /// `client` holds futures for `keys` again: keys it wants are reported again (those in
    /// memory or erred at once); others are reported lost, as unknown or, if another
    /// client's, with [`FOREIGN_KEY`] (a client takes another's key only by resubmitting
    /// its task).
    pub fn on_client_wants(&mut self, client: ClientId, keys: Vec<TaskKey>, out: &mut dyn Outbox) {
        for key in keys {
            if self.tasks.contains_key(&key) && !self.is_wanted_by(client, &key) {
                self.push_command(Command::Lost(client, key, FOREIGN_KEY.to_string()));
            } else {
                self.want_again(client, key);
            }
        }
        self.end_event(out);
    }

    /// The center's coordination primitives give `client` a future for `key` (taken from a
    /// queue or read from a variable), or hold `key` themselves
    /// ([`crate::coordination::COORDINATION_CLIENT`]): `client` wants it from now on,
    /// whoever computed it, and is told what became of it. Only the scheduler's shell calls
    /// this, for keys an executor that held them put in a queue or a variable; an unknown
    /// key is reported lost.
    pub fn on_key_handed(&mut self, client: ClientId, key: TaskKey, out: &mut dyn Outbox) {
        self.add_want(client, key);
        self.end_event(out);
    }

    /// Whether `client` holds a future for `key` (may share it through a queue or a
    /// variable).
    pub fn holds_future(&self, client: ClientId, key: &TaskKey) -> bool {
        self.is_wanted_by(client, key)
    }

    /// `client` dropped its last future for each of `keys`.
    pub fn on_client_releases(
        &mut self,
        client: ClientId,
        keys: Vec<TaskKey>,
        out: &mut dyn Outbox,
    ) {
        for key in keys {
            self.remove_want(client, &key);
        }
        self.end_event(out);
    }

    /// `client` disconnected: all its wants are dropped.
    pub fn on_client_removed(&mut self, client: ClientId, out: &mut dyn Outbox) {
        let mut keys: Vec<TaskKey> = self
            .clients
            .remove(&client)
            .unwrap_or_default()
            .into_iter()
            .collect();
        keys.sort_unstable();
        for key in keys {
            self.unlink_wanter(client, &key);
        }
        self.end_event(out);
    }

    /// `client` cancels `keys`: its wants are dropped and it is told each is lost
    /// ("cancelled"). If no other client wants a key, the dependents wanted by this client
    /// alone are cancelled too, and what nothing needs any more is released.
    pub fn on_cancel(&mut self, client: ClientId, keys: Vec<TaskKey>, out: &mut dyn Outbox) {
        for key in keys {
            let Some(task) = self.tasks.get(&key) else {
                continue;
            };
            if !task.who_wants.contains(&client) {
                continue;
            }
            if task.who_wants.len() > 1 {
                self.cancel_want(client, &key);
            } else {
                self.cancel_with_dependents(client, &key);
            }
        }
        self.end_event(out);
    }

    /// `client` put data on workers directly: `(key, worker, nbytes)`. The client wants
    /// each key. Data has no lineage, so if all its holders die it is lost. A copy of a key
    /// that is known with lineage and not in memory is not trusted and is released. A key
    /// another client computed cannot be taken by claiming to have scattered it: the claim
    /// is answered lost with [`FOREIGN_KEY`] (and the claimed copy released).
    pub fn on_scattered(
        &mut self,
        client: ClientId,
        keys: Vec<(TaskKey, WorkerId, u64)>,
        out: &mut dyn Outbox,
    ) {
        for (key, worker, nbytes) in keys {
            if !self.workers.contains_key(&worker) {
                let reason = format!("scattered to unknown worker {worker}");
                self.push_command(Command::Lost(client, key, reason));
                continue;
            }
            if self.is_computed_for_another(client, &key) {
                if !self.task(&key).who_has().contains(&worker) {
                    self.push_command(Command::Release(worker, key.clone()));
                }
                self.push_command(Command::Lost(client, key, FOREIGN_KEY.to_string()));
                continue;
            }
            self.accept_scattered(&key, worker, nbytes);
            self.add_want(client, key);
        }
        self.end_event(out);
    }

    fn accept_scattered(&mut self, key: &TaskKey, worker: WorkerId, nbytes: u64) {
        let revivable = match self
            .tasks
            .get(key)
            .map(|task| (&task.state, task.run.is_none()))
        {
            None => {
                let record = TaskRecord::new(None, Priority::default(), Vec::new());
                self.tasks.insert(key.clone(), Box::new(record));
                true
            }
            Some((TaskState::Memory { .. }, _)) => {
                self.add_replica(key, worker);
                return;
            }
            Some((TaskState::Released | TaskState::Erred { .. }, no_lineage)) => no_lineage,
            Some(_) => false,
        };
        if revivable {
            self.task_mut(key).nbytes = nbytes;
            self.set_state(
                key,
                TaskState::Memory {
                    who_has: vec![worker],
                },
            );
            self.report_to_wanters(key);
        } else {
            self.push_command(Command::Release(worker, key.clone()));
        }
    }

    /// Records that `client` wants `key`; reports final states at once and brings a
    /// released key back.
    /// A client asks for `key` (submitting it, or taking a new future for it): like
    /// [`Self::add_want`], and a client that wanted it already is told its state again, since
    /// its new future may not have seen the earlier report.
    pub(super) fn want_again(&mut self, client: ClientId, key: TaskKey) {
        let already = self
            .tasks
            .get(&key)
            .is_some_and(|task| task.who_wants.contains(&client));
        match already {
            true => self.report_to(client, &key),
            false => self.add_want(client, key),
        }
    }

    pub(super) fn add_want(&mut self, client: ClientId, key: TaskKey) {
        let Some(key) = self.known_key(&key) else {
            self.push_command(Command::Lost(client, key, "unknown key".to_string()));
            return;
        };
        let task = self.task_mut(&key);
        if task.who_wants.contains(&client) {
            return;
        }
        task.who_wants.push(client);
        self.clients.entry(client).or_default().insert(key.clone());
        self.report_to(client, &key);
        self.revive(&key);
    }

    /// Every client that wants `key` wants it no more (they were told what became of it).
    pub(super) fn drop_wanters(&mut self, key: &TaskKey) {
        for client in self.task(key).who_wants.clone() {
            self.remove_want(client, key);
        }
    }

    fn remove_want(&mut self, client: ClientId, key: &TaskKey) {
        if let Some(wants) = self.clients.get_mut(&client) {
            wants.remove(key);
            if wants.is_empty() {
                self.clients.remove(&client);
            }
        }
        self.unlink_wanter(client, key);
    }

    /// Drops `client` from `key`'s wanters (the client's own set is already updated).
    fn unlink_wanter(&mut self, client: ClientId, key: &TaskKey) {
        if let Some(task) = self.tasks.get_mut(key) {
            task.who_wants.retain(|wanter| *wanter != client);
            self.release_candidates.push(key.clone());
        }
    }

    fn cancel_want(&mut self, client: ClientId, key: &TaskKey) {
        self.remove_want(client, key);
        let reason = "cancelled".to_string();
        self.push_command(Command::Lost(client, key.clone(), reason));
    }

    /// Cancels `root` for `client` and walks its dependents: those wanted by this client
    /// alone are cancelled too; one another client wants stops the walk.
    fn cancel_with_dependents(&mut self, client: ClientId, root: &TaskKey) {
        let mut seen = Set::default();
        let mut stack = vec![root.clone()];
        while let Some(key) = stack.pop() {
            if !seen.insert(key.clone()) {
                continue;
            }
            let task = self.task(&key);
            if task.who_wants.iter().any(|wanter| *wanter != client) {
                continue;
            }
            stack.extend(task.dependents.iter().cloned());
            if task.who_wants.contains(&client) {
                self.cancel_want(client, &key);
            }
        }
    }
}
