//! The cluster restart as a scheduler event: what a restart forgets and what it keeps.
//!
//! Forgotten: every task record (graph, states, priorities, suspicion counts), every
//! client's wants, every value on every worker (each worker is told to delete or cancel
//! what it holds and runs). Kept: the connected workers with their threads and functions,
//! and the graph generation counter (so priorities of later graphs keep increasing).
//!
//! No I/O: waiting for nannies to replace worker processes is the shell's business.

use super::outbox::{Command, Outbox};
use super::state::SchedulerState;
use crate::ids::{Set, TaskKey, WorkerId};

impl SchedulerState {
    /// The cluster is restarted: every worker is told to drop every key it holds or runs,
    /// then every task and every want is forgotten. Workers stay connected and idle.
    pub fn on_restart(&mut self, out: &mut dyn Outbox) {
        let mut workers: Vec<(WorkerId, u32, Vec<_>, _)> = Vec::with_capacity(self.workers.len());
        let mut drops: Vec<(WorkerId, Vec<TaskKey>)> = Vec::new();
        for (&id, record) in &self.workers {
            let mut keys: Vec<TaskKey> = record
                .has_what
                .iter()
                .chain(record.processing.iter())
                .cloned()
                .collect::<Set<_>>()
                .into_iter()
                .collect();
            keys.sort_unstable();
            drops.push((id, keys));
            workers.push((
                id,
                record.nthreads,
                record.functions.iter().cloned().collect(),
                record.profile.clone(),
            ));
        }
        drops.sort_unstable_by_key(|(id, _)| *id);
        workers.sort_unstable_by_key(|(id, ..)| *id);
        self.forget_everything();
        for (id, nthreads, functions, profile) in workers {
            self.insert_worker(id, nthreads, functions, profile);
        }
        for (worker, keys) in drops {
            for key in keys {
                self.push_command(Command::Release(worker, key));
            }
        }
        self.end_event(out);
    }

    /// Clears every task, want, worker and index; keeps the configuration and generation.
    fn forget_everything(&mut self) {
        let (generation, report_forgotten) = (self.generation, self.report_forgotten);
        // Steal numbers keep counting: a worker's late answer to a request made before the
        // restart must not match one made after.
        let next_steal = self.next_steal;
        *self = SchedulerState::new(self.config.clone());
        self.generation = generation;
        self.next_steal = next_steal;
        self.report_forgotten = report_forgotten;
        // Workers that come back after a restart hold nothing worth recovering.
        self.recovery = super::center_restart::RecoveryPhase::Closed;
    }
}
