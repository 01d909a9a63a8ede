//! What a cluster restart forgets (every task, want and value) and what it keeps (the
//! workers, their threads and functions).

use super::*;

/// Two workers, one of them with function `g`; a finished key, a running one, queued ones.
fn busy_cluster() -> Sim {
    let g = FunctionId::new("g", 7);
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![func(), g.clone()]));
    let mut tasks: Vec<TaskBuilder> = (0..12)
        .map(|i| TaskBuilder::new(&format!("t{i:02}")).order(i))
        .collect();
    tasks.push(TaskBuilder::new("ga").function(g));
    let names: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
    let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    wanted.push("ga");
    sim.submit(C1, tasks, &wanted);
    sim.shares(C2, &["t00"]);
    let running = sim.processing();
    let (done, worker) = running.iter().min().cloned().expect("something runs");
    sim.step(|s, out| s.on_task_finished(worker, done, 8, out));
    assert!(sim.state.queued_count() > 0);
    sim
}

#[test]
fn restart_tells_each_worker_to_drop_what_it_holds_and_runs_then_forgets_every_task() {
    let mut sim = busy_cluster();
    let mut expected: Vec<(WorkerId, TaskKey)> = sim
        .processing()
        .into_iter()
        .map(|(key, worker)| (worker, key))
        .collect();
    for worker in [W1, W2] {
        expected.extend(
            sim.state
                .has_what(worker)
                .into_iter()
                .map(|key| (worker, key)),
        );
    }
    expected.sort();
    let sent = sim.restart();
    assert_eq!(releases(&sent), expected);
    assert!(computes(&sent).is_empty() && reports(&sent).is_empty());
    assert_eq!(sim.state.task_count(), 0);
    assert_eq!(sim.state.keys_in_memory(), 0);
    assert_eq!(sim.state.queued_count(), 0);
    assert_eq!(sim.state.worker_count(), 2);
    assert_eq!(sim.state.processing_count(W1), Some(0));
}

#[test]
fn after_a_restart_workers_keep_their_functions_and_old_results_are_refused() {
    let mut sim = busy_cluster();
    let old = sim.processing();
    sim.restart();
    let (stale, runner) = old.first().cloned().expect("something ran");
    let sent = sim.step(|s, out| s.on_task_finished(runner, stale.clone(), 8, out));
    assert_eq!(sent, vec![Sent::Release(runner, vec![stale])]);
    let g = FunctionId::new("g", 7);
    let sent = sim.submit(C1, vec![TaskBuilder::new("ga").function(g)], &["ga"]);
    assert_eq!(computes(&sent), pairs(&[(W2, "ga")]), "only W2 has g");
    assert_eq!(
        reports(&sim.finish(W2, "ga", 1)),
        vec![Sent::InMemory(C1, key("ga"))]
    );
}

#[test]
fn restart_forgets_suspicion_and_wants() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(C1, vec![TaskBuilder::new("a")], &["a"]);
    sim.add_worker(WorkerBuilder::new(W2));
    sim.remove_worker(W1);
    assert_eq!(sim.state.suspicious(&key("a")), 1);
    assert_eq!(sim.restart(), vec![Sent::Release(W2, keys(&["a"]))]);
    assert_eq!(sim.state.suspicious(&key("a")), 0);
    assert!(sim.state.who_wants(&key("a")).is_empty());
    // A client leaving after the restart has nothing left to release.
    assert!(sim.step(|s, out| s.on_client_removed(C1, out)).is_empty());
}

#[test]
fn restart_of_an_empty_cluster_sends_nothing() {
    let mut sim = Sim::new();
    assert!(sim.restart().is_empty());
    sim.add_worker(WorkerBuilder::new(W1));
    assert!(sim.restart().is_empty());
    assert_eq!(sim.state.worker_count(), 1);
}
