//! Copies between workers: which copy reports are taken, replicate, rebalance and retire.

use super::*;
use crate::resources::Resources;
use crate::scheduler::{CopyOrder, IgnoredReport};

fn copied(sim: &mut Sim, worker: WorkerId, name: &str) -> (Result<bool, IgnoredReport>, Vec<Sent>) {
    sim.step_with(|s, out| s.on_task_copied(worker, key(name), 8, out))
}

fn acquires(sent: &[Sent]) -> Vec<(WorkerId, TaskKey)> {
    sent.iter()
        .filter_map(|sent| match sent {
            Sent::Acquire(worker, key, _) => Some((*worker, key.clone())),
            _ => None,
        })
        .collect()
}

/// Three one-thread workers; `x` computed on W1 and wanted by C1.
fn x_on_w1() -> Sim {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(C1, vec![TaskBuilder::new("x")], &["x"]);
    sim.finish(W1, "x", 100);
    sim.add_worker(WorkerBuilder::new(W2));
    sim.add_worker(WorkerBuilder::new(W3));
    sim
}

#[test]
fn replicate_orders_copies_on_the_least_loaded_and_tells_the_wanters_of_each() {
    let mut sim = x_on_w1();
    let (orders, sent) = sim.step_with(|s, out| s.replicate(C1, &[key("x")], 2, out));
    let expected = CopyOrder {
        key: key("x"),
        to: W2,
        from: None,
        nbytes: 100,
    };
    assert_eq!(orders, vec![expected]);
    assert_eq!(sent, vec![Sent::Acquire(W2, key("x"), vec![W1])]);
    assert_eq!(sim.state.pending_copy_count(), 1);
    let (taken, sent) = copied(&mut sim, W2, "x");
    assert_eq!(taken, Ok(true));
    assert_eq!(sim.state.who_has(&key("x")), &[W1, W2]);
    assert_eq!(
        sent,
        vec![Sent::InMemory(C1, key("x"))],
        "C1 learns the new holder"
    );
    // Already two holders: nothing more to do; n past the workers means every worker.
    let (orders, _) = sim.step_with(|s, out| s.replicate(C1, &[key("x")], 2, out));
    assert!(orders.is_empty());
    let (orders, _) = sim.step_with(|s, out| s.replicate(C1, &[key("x")], 10, out));
    assert_eq!(orders.len(), 1, "only W3 is left: {orders:?}");
}

#[test]
fn a_client_replicates_only_its_own_keys() {
    let mut sim = x_on_w1();
    let (orders, sent) = sim.step_with(|s, out| s.replicate(C2, &[key("x")], 3, out));
    assert!(orders.is_empty() && sent.is_empty());
}

#[test]
fn a_copy_nobody_asked_for_is_refused_and_dropped() {
    let mut sim = x_on_w1();
    let (taken, sent) = copied(&mut sim, W3, "x");
    assert!(matches!(
        taken,
        Err(IgnoredReport::UnexpectedCopy { worker: W3, .. })
    ));
    assert_eq!(sent, vec![Sent::Release(W3, keys(&["x"]))]);
    assert_eq!(sim.state.who_has(&key("x")), &[W1]);
}

#[test]
fn a_copy_fetched_for_a_task_is_kept_as_a_replica() {
    let mut sim = x_on_w1();
    let on_w2 = Restrictions {
        workers: vec!["w2".into()],
        loose: false,
        resources: Resources::new(),
    };
    sim.add_worker(WorkerBuilder::new(W2).named("w2"));
    let y = TaskBuilder::new("y").deps(&["x"]).restrictions(on_w2);
    sim.submit(C1, vec![y], &["y"]);
    assert_eq!(sim.runner("y"), Some(W2));
    let (taken, sent) = copied(&mut sim, W2, "x");
    assert_eq!(taken, Ok(true));
    assert!(sent.is_empty(), "no report for a task's input: {sent:?}");
    assert_eq!(sim.state.who_has(&key("x")), &[W1, W2]);
}

#[test]
fn a_copy_that_fails_or_whose_worker_leaves_is_no_longer_awaited() {
    let mut sim = x_on_w1();
    sim.step(|s, out| s.replicate(C1, &[key("x")], 3, out));
    assert_eq!(sim.state.pending_copy_count(), 2);
    let (ordered, _) = sim.step_with(|s, out| s.on_copy_failed(W2, &key("x"), out));
    assert!(ordered);
    sim.remove_worker(W3);
    assert_eq!(sim.state.pending_copy_count(), 0);
    assert_eq!(
        sim.state.who_has(&key("x")),
        &[W1],
        "a failed copy costs the holder nothing"
    );
    let (taken, _) = copied(&mut sim, W2, "x");
    assert!(taken.is_err(), "a settled copy is not awaited any more");
}

#[test]
fn rebalance_moves_from_the_heavy_to_the_light_and_drops_the_old_copy() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).threads(4));
    let tasks = Vec::from(["a", "b", "c"].map(TaskBuilder::new));
    sim.submit(C1, tasks, &["a", "b", "c"]);
    sim.run_all(100);
    sim.add_worker(WorkerBuilder::new(W2));
    let (orders, sent) = sim.step_with(|s, out| s.rebalance(out));
    // 300 bytes on W1, 0 on W2, mean 150: one move narrows the gap, a second would not.
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!((orders[0].to, orders[0].from), (W2, Some(W1)));
    assert_eq!(acquires(&sent), vec![(W2, orders[0].key.clone())]);
    let moved = orders[0].key.clone();
    let (taken, _) = sim.step_with(|s, out| s.on_task_copied(W2, moved.clone(), 100, out));
    assert_eq!(taken, Ok(true));
    let (dropped, sent) = sim.step_with(|s, out| s.drop_copy(&moved, W1, out));
    assert!(dropped);
    assert_eq!(sent, vec![Sent::Release(W1, vec![moved.clone()])]);
    assert_eq!(sim.state.who_has(&moved), &[W2]);
    // The last copy is never dropped.
    let (dropped, _) = sim.step_with(|s, out| s.drop_copy(&moved, W2, out));
    assert!(!dropped);
}

#[test]
fn a_retiring_worker_takes_no_task_its_data_is_copied_and_its_tasks_are_not_suspect() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).threads(2));
    sim.submit(
        C1,
        vec![TaskBuilder::new("x"), TaskBuilder::new("slow")],
        &["x", "slow"],
    );
    sim.finish(W1, "x", 100);
    assert_eq!(sim.runner("slow"), Some(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    sim.step(|s, out| s.set_retiring(W1, true, out));
    assert!(sim.state.is_retiring(W1));
    sim.submit(C1, vec![TaskBuilder::new("new")], &["new"]);
    assert_eq!(
        sim.runner("new"),
        Some(W2),
        "a retiring worker takes no new task"
    );
    let (orders, sent) = sim.step_with(|s, out| s.plan_retire(&[W1], out));
    let orders = orders.expect("W2 takes the data");
    assert_eq!(acquires(&sent), vec![(W2, key("x"))]);
    assert_eq!(orders.len(), 1);
    assert_eq!(copied(&mut sim, W2, "x").0, Ok(true));
    sim.step_with(|s, out| s.on_worker_removed(W1, died_of_signal(), out));
    assert_eq!(sim.state_of("x"), "memory");
    assert_eq!(sim.runner("slow"), Some(W2));
    assert_eq!(sim.state.suspicious(&key("slow")), 0, "retired, not died");
}

#[test]
fn retiring_every_worker_is_refused() {
    let mut sim = x_on_w1();
    let (planned, sent) = sim.step_with(|s, out| s.plan_retire(&[W1, W2, W3], out));
    let reason = planned.expect_err("nobody would take the data");
    assert!(reason.contains("would leave none"), "{reason}");
    assert!(sent.is_empty());
}

#[test]
fn a_copy_reported_twice_is_kept_not_released() {
    let mut sim = x_on_w1();
    sim.step(|s, out| s.replicate(C1, &[key("x")], 2, out));
    assert_eq!(copied(&mut sim, W2, "x").0, Ok(true));
    let (taken, sent) = copied(&mut sim, W2, "x");
    assert_eq!(taken, Ok(true));
    assert!(sent.is_empty(), "W2 holds x: no release, {sent:?}");
    assert_eq!(sim.state.who_has(&key("x")), &[W1, W2]);
}

#[test]
fn copies_already_ordered_count_toward_n() {
    let mut sim = x_on_w1();
    let (first, _) = sim.step_with(|s, out| s.replicate(C1, &[key("x")], 2, out));
    let (again, _) = sim.step_with(|s, out| s.replicate(C1, &[key("x"), key("x")], 2, out));
    assert_eq!((first.len(), again.len()), (1, 0));
}

#[test]
fn the_last_copy_outside_retiring_workers_is_not_dropped() {
    let mut sim = x_on_w1();
    sim.step(|s, out| s.replicate(C1, &[key("x")], 2, out));
    assert_eq!(copied(&mut sim, W2, "x").0, Ok(true));
    sim.step(|s, out| s.set_retiring(W2, true, out));
    let (dropped, _) = sim.step_with(|s, out| s.drop_copy(&key("x"), W1, out));
    assert!(!dropped, "only retiring W2 would be left");
}

#[test]
fn a_task_parked_while_its_worker_retired_runs_when_the_retire_is_undone() {
    let mut sim = x_on_w1();
    sim.add_worker(WorkerBuilder::new(W2).named("w2"));
    sim.step(|s, out| s.set_retiring(W2, true, out));
    let on_w2 = Restrictions {
        workers: vec!["w2".into()],
        loose: false,
        resources: Resources::new(),
    };
    sim.submit(C1, vec![TaskBuilder::new("r").restrictions(on_w2)], &["r"]);
    assert_eq!(sim.state_of("r"), "no-worker");
    let sent = sim.step(|s, out| s.set_retiring(W2, false, out));
    assert!(matches!(&sent[..], [Sent::Compute(W2, task)] if task.key == key("r")));
}

#[test]
fn wanters_hear_the_holders_left_when_a_retiring_worker_goes() {
    let mut sim = x_on_w1();
    sim.step(|s, out| s.replicate(C1, &[key("x")], 2, out));
    assert_eq!(copied(&mut sim, W2, "x").0, Ok(true));
    sim.step(|s, out| s.set_retiring(W1, true, out));
    let (_, sent) = sim.step_with(|s, out| s.on_worker_removed(W1, died_of_signal(), out));
    assert_eq!(reports(&sent), vec![Sent::InMemory(C1, key("x"))]);
    assert_eq!(sim.state.who_has(&key("x")), &[W2]);
}
