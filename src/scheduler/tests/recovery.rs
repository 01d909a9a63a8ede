//! Recovery: lost workers (rescheduling, recomputing from lineage, lost scattered data)
//! and dependencies a worker could not fetch from a peer.

use super::*;

#[test]
fn running_tasks_of_a_lost_worker_are_rescheduled() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    let tasks = (0..3)
        .map(|i| TaskBuilder::new(&format!("t{i}")).order(i))
        .collect();
    sim.submit(C1, tasks, &["t0", "t1", "t2"]);
    sim.add_worker(WorkerBuilder::new(W2));
    let sent = sim.remove_worker(W1);
    assert_eq!(
        computes(&sent),
        pairs(&[(W2, "t0"), (W2, "t1"), (W2, "t2")])
    );
    assert_eq!(sim.state.suspicious(&key("t1")), 1);
    assert_eq!(sim.state.worker_count(), 1);
}

#[test]
fn without_any_worker_left_running_tasks_wait_for_one() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(C1, vec![TaskBuilder::new("a")], &["a"]);
    assert!(sim.remove_worker(W1).is_empty());
    assert_eq!(sim.state_of("a"), "no-worker");
    let sent = sim.add_worker(WorkerBuilder::new(W2));
    assert_eq!(computes(&sent), pairs(&[(W2, "a")]));
}

#[test]
fn lost_keys_are_recomputed_from_lineage_including_released_dependencies() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(
        C1,
        vec![TaskBuilder::new("a"), TaskBuilder::new("b").deps(&["a"])],
        &["b"],
    );
    sim.finish(W1, "a", 4);
    sim.finish(W1, "b", 4);
    assert_eq!(sim.state_of("a"), "released");
    sim.add_worker(WorkerBuilder::new(W2));
    let sent = sim.remove_worker(W1);
    assert_eq!(sent.len(), 2);
    assert_eq!(computes(&sent), pairs(&[(W2, "a")]));
    assert_eq!(reports(&sent), vec![Sent::Recomputing(C1, key("b"))]);
    assert_eq!(sim.state_of("b"), "waiting");
    let sent = sim.finish(W2, "a", 4);
    assert_eq!(computes(&sent), pairs(&[(W2, "b")]));
    let sent = sim.finish(W2, "b", 4);
    assert_eq!(
        sent,
        vec![
            Sent::InMemory(C1, key("b")),
            Sent::Release(W2, keys(&["a"]))
        ]
    );
}

#[test]
fn dependents_running_elsewhere_wait_again_for_a_lost_dependency() {
    let g = FunctionId::new("g", 7);
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![g.clone()]));
    sim.add_worker(WorkerBuilder::new(W3));
    sim.submit(
        C1,
        vec![
            TaskBuilder::new("a"),
            TaskBuilder::new("b").deps(&["a"]).function(g),
        ],
        &["b"],
    );
    sim.finish(W1, "a", 4);
    assert_eq!(sim.runner("b"), Some(W2));
    let sent = sim.remove_worker(W1);
    assert_eq!(releases(&sent), pairs(&[(W2, "b")]), "b is cancelled on W2");
    assert_eq!(computes(&sent), pairs(&[(W3, "a")]));
    assert_eq!(sim.state.suspicious(&key("b")), 0, "b's worker did not die");
    let sent = sim.finish(W3, "a", 4);
    let Some(Sent::Compute(W2, b)) = sent.first() else {
        panic!("{sent:?}")
    };
    assert_eq!(b.deps, vec![(key("a"), vec![W3])]);
}

#[test]
fn scattered_data_lost_with_its_worker_is_reported_lost() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    assert_eq!(
        sim.scatter(C1, "x", W1, 10),
        vec![Sent::InMemory(C1, key("x"))]
    );
    sim.scatter(C2, "x", W1, 10); // the same value scattered: shared
    sim.scatter(C1, "kept", W1, 10);
    sim.scatter(C2, "kept", W2, 10);
    sim.submit(C1, vec![TaskBuilder::new("y").deps(&["x"])], &["y"]);
    assert_eq!(sim.runner("y"), Some(W1));
    let sent = sim.remove_worker(W1);
    let reason = "data of x was lost with worker w1".to_string();
    let lost = TaskFailure::DataLost {
        key: key("x"),
        worker: Some(W1),
    };
    let mut told = reports(&sent);
    told.sort_by_key(|sent| format!("{sent:?}"));
    assert_eq!(
        told,
        vec![
            Sent::Erred(C1, key("y"), lost.for_dependent(key("y"))),
            Sent::Lost(C1, key("x"), reason.clone()),
            Sent::Lost(C2, key("x"), reason),
        ]
    );
    assert_eq!(sim.state.who_has(&key("kept")), &[W2], "a replica survives");
    // Scattering it again brings it back, for the client that scatters it only: the
    // others were told it was lost and want it no more.
    assert_eq!(
        sim.scatter(C1, "x", W2, 10),
        vec![Sent::InMemory(C1, key("x"))]
    );
    sim.step(|s, out| s.on_client_removed(C1, out));
    sim.step(|s, out| s.on_client_removed(C2, out));
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn scattered_data_lost_with_its_only_worker_is_forgotten_at_once() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    sim.scatter(C1, "x", W1, 10);
    sim.scatter(C2, "x", W1, 10);
    let sent = sim.remove_worker(W1);
    let reason = "data of x was lost with worker w1".to_string();
    assert_eq!(
        reports(&sent),
        vec![
            Sent::Lost(C1, key("x"), reason.clone()),
            Sent::Lost(C2, key("x"), reason)
        ]
    );
    assert_eq!(
        sim.state.task_count(),
        0,
        "x is forgotten before its futures go"
    );
    // The clients' releases, when their futures go, find nothing to do.
    assert!(reports(&sim.releases(C1, &["x"])).is_empty());
    assert!(reports(&sim.releases(C2, &["x"])).is_empty());
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn a_released_scattered_dependency_cannot_be_recomputed() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![]));
    sim.scatter(C1, "x", W1, 10);
    sim.submit(C1, vec![TaskBuilder::new("y").deps(&["x"])], &["y"]);
    sim.releases(C1, &["x"]);
    assert_eq!(sim.state_of("x"), "memory", "still needed by running y");
    let sent = sim.finish(W1, "y", 1);
    assert_eq!(releases(&sent), pairs(&[(W1, "x")]));
    sim.add_worker(WorkerBuilder::new(W3));
    let sent = sim.remove_worker(W1);
    let lost = TaskFailure::DataLost {
        key: key("x"),
        worker: None,
    };
    assert_eq!(
        sent,
        vec![Sent::Erred(C1, key("y"), lost.for_dependent(key("y")))]
    );
}

#[test]
fn missing_dependency_with_another_holder_retries_with_fixed_who_has() {
    let g = FunctionId::new("g", 7);
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![g.clone()]));
    sim.add_worker(WorkerBuilder::new(W3));
    sim.submit(C1, vec![TaskBuilder::new("a")], &["a"]);
    sim.finish(W1, "a", 4);
    sim.scatter(C1, "a", W3, 4);
    sim.submit(
        C1,
        vec![TaskBuilder::new("b").deps(&["a"]).function(g)],
        &["b"],
    );
    assert_eq!(sim.runner("b"), Some(W2));
    let sent = sim.step(|s, out| s.on_missing_dependency(W2, key("b"), key("a"), W1, out));
    assert_eq!(releases(&sent), pairs(&[(W1, "a")]));
    let Some(Sent::Compute(W2, b)) = sent.first() else {
        panic!("{sent:?}")
    };
    assert_eq!(b.deps, vec![(key("a"), vec![W3])]);
    assert_eq!(sim.state.has_what(W1), Vec::<TaskKey>::new());
}

#[test]
fn missing_last_copy_of_a_dependency_recomputes_it() {
    let g = FunctionId::new("g", 7);
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![g.clone()]));
    sim.submit(
        C1,
        vec![
            TaskBuilder::new("a"),
            TaskBuilder::new("b").deps(&["a"]).function(g),
        ],
        &["b"],
    );
    sim.finish(W1, "a", 4);
    let sent = sim.step(|s, out| s.on_missing_dependency(W2, key("b"), key("a"), W1, out));
    assert!(
        computes(&sent).is_empty(),
        "W1 is held off until it answers a ping"
    );
    assert_eq!(computes(&ping_answered(&mut sim, W1)), pairs(&[(W1, "a")]));
    assert_eq!(sim.state_of("b"), "waiting");
    let sent = sim.finish(W1, "a", 4);
    assert_eq!(computes(&sent), pairs(&[(W2, "b")]));
    // A stale report about a task no longer running there is ignored.
    let (ignored, sent) =
        sim.step_with(|s, out| s.on_missing_dependency(W1, key("b"), key("zzz"), W3, out));
    assert!(ignored.is_err());
    assert!(sent.is_empty());
}
