//! The scheduler actor's handlers for worker membership and reports: a worker joined, left
//! or was given up by its nanny, and its load, activity and task events. Thin adapters onto
//! the scheduler core, like the rest of the actor (`mod.rs`).

use super::*;

impl Handler<WorkerJoined> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: WorkerJoined, ctx: &mut Context<Self>) {
        let WorkerJoined {
            id,
            description,
            link,
        } = msg;
        let (nthreads, functions) = (description.nthreads, description.functions.clone());
        let profile = WorkerProfile {
            name: description.name.clone(),
            address: description.addr.to_string(),
            resources: description.resources.clone(),
        };
        self.observer.worker_joined(id, &description);
        let load = HeartbeatMsg::default();
        let entry = WorkerEntry {
            description,
            load,
            link,
            pinging: false,
            measured: false,
        };
        self.workers.insert(id, entry);
        self.state
            .on_worker_added_with(id, nthreads, functions, profile, &mut self.batch);
        self.flush();
        self.ping_worker(id, ctx);
        self.broadcast_cluster();
        self.check_restart();
    }
}

impl Handler<NannyGaveUp> for Scheduler {
    type Result = ();

    /// Every executor hears it at once (a cluster snapshot naming it), and tasks left
    /// without a worker show as waiting in `cluster_info`.
    fn handle(&mut self, NannyGaveUp { nanny, reason }: NannyGaveUp, _ctx: &mut Context<Self>) {
        warn!(target: LOG_TARGET, %nanny, workers = self.workers.len(),
            waiting_for_worker = self.state.waiting_for_worker(), "Nanny gave up: {reason}");
        if self.gave_up.len() >= MAX_GAVE_UP_NOTES {
            self.gave_up.pop_front();
        }
        self.gave_up.push_back(format!("{nanny}: {reason}"));
        self.broadcast_cluster();
    }
}

impl Handler<AttachCenter> for Scheduler {
    type Result = ();

    fn handle(&mut self, AttachCenter(center): AttachCenter, _ctx: &mut Context<Self>) {
        self.center = Some(center);
    }
}

impl Handler<WorkerLeft> for Scheduler {
    type Result = ();

    fn handle(&mut self, left: WorkerLeft, _ctx: &mut Context<Self>) {
        let WorkerLeft {
            id,
            reason,
            cause,
            restarting,
        } = left;
        if !matches!(reason, LeaveReason::Goodbye(_)) {
            self.last_death = Some(format!("{id} {cause}"));
        }
        let Some(entry) = self.workers.remove(&id) else {
            return;
        };
        if self.state.is_retiring(id) && !matches!(reason, LeaveReason::Goodbye(_)) {
            // It crashed while retiring: its tasks' deaths count as any other's.
            self.state.set_retiring(id, false, &mut self.batch);
        }
        let loss = self.state.on_worker_removed(id, cause, &mut self.batch);
        self.observer
            .worker_lost(id, reason.to_string(), restarting);
        log_worker_left(id, &entry.description, &reason, loss, self.workers.len());
        self.cluster_ops_worker_left(id);
        self.flush();
        self.broadcast_cluster();
        self.check_restart();
    }
}

/// The one log line of a worker leaving, with what it cost (the scheduler alone knows
/// which keys it held). A goodbye is not a loss, even if it took keys with it.
fn log_worker_left(
    id: WorkerId,
    worker: &WorkerDescription,
    reason: &LeaveReason,
    loss: WorkerLoss,
    remaining: usize,
) {
    let WorkerLoss {
        keys_held,
        keys_lost,
        tasks_interrupted,
    } = loss;
    let (name, addr) = (&worker.name, worker.addr);
    if matches!(reason, LeaveReason::Goodbye(_)) {
        info!(target: MEMBERSHIP_LOG_TARGET, worker = %id, %name, keys_held, keys_lost, tasks_interrupted,
            "Remove worker at {addr} ({reason}; {remaining} workers)");
    } else {
        warn!(target: MEMBERSHIP_LOG_TARGET, worker = %id, %name, keys_held, keys_lost, tasks_interrupted,
            "Lost worker at {addr} ({reason}; {remaining} workers)");
    }
}

impl Handler<WorkerLoad> for Scheduler {
    type Result = ();

    fn handle(&mut self, WorkerLoad { id, load }: WorkerLoad, _ctx: &mut Context<Self>) {
        self.observer.messages(MessageKind::WorkerHeartbeat, 1);
        self.observer.worker_load(id, &load);
        if let Some(worker) = self.workers.get_mut(&id) {
            worker.load = load;
        }
        self.observer.flush();
    }
}

impl Handler<WorkerActivity> for Scheduler {
    type Result = ();

    fn handle(&mut self, WorkerActivity { id, activity }: WorkerActivity, _: &mut Context<Self>) {
        self.observer.messages(MessageKind::WorkerActivity, 1);
        self.observer.worker_activity(id, activity);
        self.observer.flush();
    }
}

impl Handler<WorkerTaskEvents> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: WorkerTaskEvents, _ctx: &mut Context<Self>) {
        crate::actors::test_panic::tick("scheduler");
        self.observer.messages(MessageKind::WorkerTaskEvents, 1);
        for event in msg.events {
            self.on_task_event(msg.id, event);
        }
        self.flush();
    }
}
