//! Lifecycles and reference counting: tasks run and report, intermediates are released,
//! keys shared by clients live while anyone wants them, cancel, and nothing is left once
//! everything is released.

use super::*;
use crate::scheduler::Priority;

fn one_worker() -> Sim {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim
}

#[test]
fn single_task_runs_and_reports() {
    let mut sim = one_worker();
    let sent = sim.submit(C1, vec![TaskBuilder::new("a").order(7)], &["a"]);
    let expected = ComputeTask {
        key: key("a"),
        function: func(),
        spec: b"a".as_slice().into(),
        deps: vec![],
        priority: Priority {
            generation: 1,
            order: 7,
        },
    };
    assert_eq!(sent, vec![Sent::Compute(W1, expected)]);
    assert_eq!(sim.state_of("a"), "processing");
    assert_eq!(sim.state.processing_count(W1), Some(1));

    let sent = sim.finish(W1, "a", 10);
    assert_eq!(sent, vec![Sent::InMemory(C1, key("a"))]);
    assert_eq!(sim.state.who_has(&key("a")), &[W1]);
    assert_eq!(sim.state.has_what(W1), keys(&["a"]));
    assert_eq!(sim.state.keys_in_memory(), 1);

    let sent = sim.releases(C1, &["a"]);
    assert_eq!(sent, vec![Sent::Release(W1, keys(&["a"]))]);
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn chain_releases_intermediates_once_dependents_are_done() {
    let mut sim = one_worker();
    let tasks = vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").deps(&["a"]),
        TaskBuilder::new("c").deps(&["b"]),
    ];
    let sent = sim.submit(C1, tasks, &["c"]);
    assert_eq!(computes(&sent), pairs(&[(W1, "a")]));
    assert_eq!(sim.state_of("b"), "waiting");

    let sent = sim.finish(W1, "a", 5);
    let Some(Sent::Compute(_, b)) = sent.first() else {
        panic!("b not sent: {sent:?}")
    };
    assert_eq!(b.deps, vec![(key("a"), vec![W1])]);
    assert!(releases(&sent).is_empty(), "a is still needed by b");

    let sent = sim.finish(W1, "b", 5);
    assert_eq!(computes(&sent), pairs(&[(W1, "c")]));
    assert_eq!(releases(&sent), pairs(&[(W1, "a")]));
    assert_eq!(sim.state_of("a"), "released", "kept for lineage");

    let sent = sim.finish(W1, "c", 5);
    assert_eq!(reports(&sent), vec![Sent::InMemory(C1, key("c"))]);
    assert_eq!(releases(&sent), pairs(&[(W1, "b")]));
    assert_eq!(sim.state.keys_in_memory(), 1);
    assert_eq!(sim.state.task_count(), 3);

    let sent = sim.releases(C1, &["c"]);
    assert_eq!(releases(&sent), pairs(&[(W1, "c")]));
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn clients_share_a_key_until_both_release_it() {
    let mut sim = one_worker();
    sim.submit(C1, vec![TaskBuilder::new("x")], &["x"]);
    let sent = sim.submit(C2, vec![TaskBuilder::new("x")], &["x"]);
    assert!(sent.is_empty(), "x is not computed twice: {sent:?}");

    let sent = sim.finish(W1, "x", 1);
    assert_eq!(
        sent,
        vec![Sent::InMemory(C1, key("x")), Sent::InMemory(C2, key("x"))]
    );

    assert!(sim.releases(C1, &["x"]).is_empty());
    assert_eq!(sim.state.who_wants(&key("x")), &[C2]);
    assert_eq!(sim.state_of("x"), "memory");

    let sent = sim.releases(C2, &["x"]);
    assert_eq!(sent, vec![Sent::Release(W1, keys(&["x"]))]);
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn one_client_releasing_before_completion_leaves_the_other_served() {
    let mut sim = one_worker();
    sim.submit(C1, vec![TaskBuilder::new("x")], &["x"]);
    sim.shares(C2, &["x"]);
    sim.releases(C1, &["x"]);
    assert_eq!(sim.state_of("x"), "processing");
    let sent = sim.finish(W1, "x", 1);
    assert_eq!(sent, vec![Sent::InMemory(C2, key("x"))]);
}

#[test]
fn resubmitting_a_known_key_does_not_recompute_it() {
    let mut sim = one_worker();
    sim.submit(C1, vec![TaskBuilder::new("x")], &["x"]);
    sim.finish(W1, "x", 1);
    assert_eq!(
        sim.submit(C1, vec![TaskBuilder::new("x")], &["x"]),
        vec![Sent::InMemory(C1, key("x"))],
        "answered again, not recomputed"
    );
    let sent = sim.submit(
        C2,
        vec![TaskBuilder::new("x"), TaskBuilder::new("y").deps(&["x"])],
        &["y"],
    );
    let Some(Sent::Compute(W1, y)) = sent.first() else {
        panic!("y not sent: {sent:?}")
    };
    assert_eq!(y.key, key("y"));
    assert_eq!(computes(&sent).len(), 1);
    let sent = sim.shares(C2, &["x"]);
    assert_eq!(
        sent,
        vec![Sent::InMemory(C2, key("x"))],
        "a key in memory is reported at once"
    );
}

#[test]
fn tasks_nothing_wants_are_forgotten() {
    let mut sim = one_worker();
    let sent = sim.submit(
        C1,
        vec![TaskBuilder::new("a"), TaskBuilder::new("b").deps(&["a"])],
        &[],
    );
    assert!(sent.is_empty());
    assert_eq!(sim.state.task_count(), 0);
    let sent = sim.wants(C1, &["nope"]);
    assert_eq!(
        sent,
        vec![Sent::Lost(C1, key("nope"), "unknown key".into())]
    );
}

#[test]
fn duplicate_dependencies_and_duplicate_tasks_are_tolerated() {
    let mut sim = one_worker();
    let tasks = vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("a").order(9),
        TaskBuilder::new("b").deps(&["a", "a"]),
    ];
    sim.submit(C1, tasks, &["b"]);
    let sent = sim.finish(W1, "a", 3);
    let Some(Sent::Compute(_, b)) = sent.first() else {
        panic!("b not sent: {sent:?}")
    };
    assert_eq!(b.deps.len(), 1);
}

#[test]
fn cancel_drops_running_work_and_its_dependents() {
    let mut sim = one_worker();
    let tasks = vec![TaskBuilder::new("a"), TaskBuilder::new("b").deps(&["a"])];
    sim.submit(C1, tasks, &["a", "b"]);
    let sent = sim.cancel(C1, &["a"]);
    let mut lost = reports(&sent);
    lost.sort_by_key(|sent| format!("{sent:?}"));
    assert_eq!(
        lost,
        vec![
            Sent::Lost(C1, key("a"), "cancelled".into()),
            Sent::Lost(C1, key("b"), "cancelled".into())
        ]
    );
    assert_eq!(
        releases(&sent),
        pairs(&[(W1, "a")]),
        "running a is cancelled on its worker"
    );
    assert_eq!(sim.state.task_count(), 0);
    assert_eq!(sim.state.processing_count(W1), Some(0));
    // A late result of the cancelled task is released, not kept.
    let sent = sim.finish(W1, "a", 1);
    assert_eq!(sent, vec![Sent::Release(W1, keys(&["a"]))]);
}

#[test]
fn cancel_of_a_shared_key_only_drops_the_cancelling_client() {
    let mut sim = one_worker();
    sim.submit(C1, vec![TaskBuilder::new("x")], &["x"]);
    sim.shares(C2, &["x"]);
    let sent = sim.cancel(C1, &["x"]);
    assert_eq!(sent, vec![Sent::Lost(C1, key("x"), "cancelled".into())]);
    assert_eq!(sim.state_of("x"), "processing");
    assert_eq!(sim.finish(W1, "x", 1), vec![Sent::InMemory(C2, key("x"))]);
}

#[test]
fn cancel_stops_at_a_dependent_another_client_wants() {
    let mut sim = one_worker();
    sim.submit(C1, vec![TaskBuilder::new("a")], &["a"]);
    let graph = vec![TaskBuilder::new("a"), TaskBuilder::new("b").deps(&["a"])];
    sim.submit(C2, graph, &["b"]);
    let sent = sim.cancel(C1, &["a"]);
    assert_eq!(sent, vec![Sent::Lost(C1, key("a"), "cancelled".into())]);
    assert_eq!(sim.state_of("a"), "processing", "still needed by C2's b");
    sim.finish(W1, "a", 1);
    assert_eq!(
        sim.finish(W1, "b", 1),
        vec![
            Sent::InMemory(C2, key("b")),
            Sent::Release(W1, keys(&["a"]))
        ]
    );
}

#[test]
fn client_removed_drops_all_its_wants() {
    let mut sim = one_worker();
    sim.submit(
        C1,
        vec![TaskBuilder::new("a"), TaskBuilder::new("b")],
        &["a", "b"],
    );
    sim.finish(W1, "a", 1);
    let sent = sim.step(|s, out| s.on_client_removed(C1, out));
    assert_eq!(releases(&sent), pairs(&[(W1, "a"), (W1, "b")]));
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn everything_released_leaves_nothing_anywhere() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).threads(2));
    sim.add_worker(WorkerBuilder::new(W2));
    let diamond = || {
        vec![
            TaskBuilder::new("a").order(0),
            TaskBuilder::new("b").deps(&["a"]).order(1),
            TaskBuilder::new("c").deps(&["a"]).order(2),
            TaskBuilder::new("d").deps(&["b", "c"]).order(3),
            TaskBuilder::new("e").order(4),
        ]
    };
    sim.submit(C1, diamond(), &["d", "e"]);
    // C2 shares the diamond by submitting the same tasks.
    let mut shared = diamond();
    shared.push(TaskBuilder::new("f").deps(&["d", "e"]));
    sim.submit(C2, shared, &["f", "b"]);
    sim.run_all(8);
    assert_eq!(sim.state_of("f"), "memory");
    sim.releases(C1, &["d", "e"]);
    assert!(sim.state.task_count() > 0);
    sim.releases(C2, &["f", "b"]);
    assert_eq!(sim.state.task_count(), 0);
    assert_eq!(sim.state.keys_in_memory(), 0);
    assert!(sim.state.has_what(W1).is_empty() && sim.state.has_what(W2).is_empty());
}
