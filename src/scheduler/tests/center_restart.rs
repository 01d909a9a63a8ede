//! A restarted center meeting its old workers and executors: held keys are learned before
//! anything is placed, re-submitted work reuses them, and what nothing holds or can
//! recompute is reported lost with a reason that names the restart.

use super::*;
use crate::scheduler::LOST_WITH_CENTER;

impl Sim {
    /// `worker` registers (again) holding `held` values of 8 bytes each.
    fn rejoin(&mut self, worker: WorkerId, held: &[&str]) -> Vec<Sent> {
        let mut sent = self.add_worker(WorkerBuilder::new(worker));
        let held = held.iter().map(|name| (key(name), 8)).collect();
        sent.extend(self.step(|s, out| s.on_worker_holds(worker, held, out)));
        sent
    }

    fn resubmit(
        &mut self,
        client: ClientId,
        tasks: Vec<TaskBuilder>,
        wanted: &[&str],
    ) -> Vec<Sent> {
        let tasks = tasks.into_iter().map(TaskBuilder::build).collect();
        let wanted = keys(wanted);
        self.step(|s, out| s.on_client_resubmitted(client, tasks, wanted, out))
    }

    fn end_recovery(&mut self) -> Vec<Sent> {
        self.step(|s, out| s.on_recovery_ended(out))
    }
}

/// `a` and `b` were computed before the center died; `c = f(a, b)` was still to run.
fn graph() -> Vec<TaskBuilder> {
    vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b"),
        TaskBuilder::new("c").deps(&["a", "b"]),
    ]
}

#[test]
fn held_keys_are_learned_before_a_resubmitted_graph_is_placed_and_are_not_recomputed() {
    let mut sim = Sim::new();
    assert!(sim.state.begin_recovery());
    assert!(sim.rejoin(W1, &["a"]).is_empty());
    // The executor comes back before W2: nothing is placed while W2 may still hold b.
    let sent = sim.resubmit(C1, graph(), &["a", "b", "c"]);
    assert!(computes(&sent).is_empty());
    assert_eq!(reports(&sent), vec![Sent::InMemory(C1, key("a"))]);
    assert_eq!(sim.state_of("b"), "no-worker");
    // W2 holds b: it is in memory now, and c is ready but still parked.
    let sent = sim.rejoin(W2, &["b"]);
    assert_eq!(reports(&sent), vec![Sent::InMemory(C1, key("b"))]);
    assert!(computes(&sent).is_empty());
    let sent = sim.end_recovery();
    assert_eq!(computes(&sent).len(), 1);
    assert_eq!(computes(&sent)[0].1, key("c"));
    assert!(!sim.state.is_recovering());
}

#[test]
fn unclaimed_held_keys_are_released_when_the_recovery_ends() {
    let mut sim = Sim::new();
    sim.state.begin_recovery();
    sim.rejoin(W1, &["a", "old"]);
    sim.resubmit(C1, vec![TaskBuilder::new("a")], &["a"]);
    let sent = sim.end_recovery();
    assert_eq!(releases(&sent), pairs(&[(W1, "old")]));
    assert_eq!(sim.state.task_state(&key("old")), None);
    assert_eq!(sim.state.who_has(&key("a")), &[W1]);
}

#[test]
fn a_claimed_key_gets_its_lineage_back_and_is_recomputed_if_its_holder_dies_later() {
    let mut sim = Sim::new();
    sim.state.begin_recovery();
    sim.rejoin(W1, &["a", "b", "c"]);
    sim.rejoin(W2, &[]);
    // a and b are claimed only as c's lineage: kept until the recovery ends (another
    // executor may still want them), then released on W1 and kept as records.
    let sent = sim.resubmit(C1, graph(), &["c"]);
    assert!(releases(&sent).is_empty());
    let sent = sim.end_recovery();
    assert_eq!(releases(&sent), pairs(&[(W1, "a"), (W1, "b")]));
    assert!(computes(&sent).is_empty());
    assert_eq!(sim.state_of("a"), "released");
    let sent = sim.remove_worker(W1);
    assert_eq!(reports(&sent), vec![Sent::Recomputing(C1, key("c"))]);
    assert_eq!(computes(&sent).len(), 2, "a and b run again for c");
    assert_eq!(sim.state_of("c"), "waiting");
}

#[test]
fn a_value_one_executor_does_not_need_is_kept_for_another_that_re_submits_later() {
    let mut sim = Sim::new();
    sim.state.begin_recovery();
    sim.rejoin(W1, &["a"]);
    let sent = sim.resubmit(
        C1,
        vec![TaskBuilder::new("a"), TaskBuilder::new("b")],
        &["b"],
    );
    assert!(releases(&sent).is_empty());
    let sent = sim.resubmit(C2, vec![TaskBuilder::new("a")], &["a"]);
    assert_eq!(reports(&sent), vec![Sent::InMemory(C2, key("a"))]);
    let sent = sim.end_recovery();
    assert_eq!(computes(&sent), pairs(&[(W1, "b")]));
}

#[test]
fn a_wanted_key_nothing_holds_or_can_recompute_is_lost_naming_the_restart() {
    let mut sim = Sim::new();
    sim.state.begin_recovery();
    sim.rejoin(W1, &[]);
    let sent = sim.resubmit(C1, vec![TaskBuilder::new("a")], &["a", "scattered-x"]);
    assert_eq!(
        reports(&sent),
        vec![Sent::Lost(C1, key("scattered-x"), LOST_WITH_CENTER.into())]
    );
    let sent = sim.end_recovery();
    assert_eq!(computes(&sent), pairs(&[(W1, "a")]));
}

#[test]
fn a_held_key_whose_holder_dies_during_the_recovery_is_computed_from_its_resubmitted_lineage() {
    let mut sim = Sim::new();
    sim.state.begin_recovery();
    sim.rejoin(W1, &["a"]);
    sim.rejoin(W2, &[]);
    sim.remove_worker(W1);
    sim.resubmit(C1, vec![TaskBuilder::new("a")], &["a"]);
    let sent = sim.end_recovery();
    assert_eq!(computes(&sent), pairs(&[(W2, "a")]));
    assert!(reports(&sent).is_empty());
}

#[test]
fn a_scheduler_that_has_run_tasks_opens_no_recovery_and_a_stale_worker_only_adds_what_helps() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(C1, graph(), &["c"]);
    assert!(!sim.state.begin_recovery());
    // W2 was cut off, removed, and comes back holding a (now running on W1) and a stray.
    let sent = sim.rejoin(W2, &["a", "stray"]);
    assert_eq!(sim.state.who_has(&key("a")), &[W2]);
    assert_eq!(releases(&sent), pairs(&[(W1, "a"), (W2, "stray")]));
    assert_eq!(sim.state.task_state(&key("stray")), None);
}
