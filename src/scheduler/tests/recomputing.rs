//! Who hears "recomputing" when a value is lost (with its worker, or with a holder that
//! could not deliver it), and what the scheduler says a lost worker cost.

use super::*;

#[test]
fn only_the_wanters_of_lost_computed_keys_hear_recomputing() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).threads(4));
    let tasks = vec![
        TaskBuilder::new("shared"),
        TaskBuilder::new("replicated"),
        TaskBuilder::new("inner"),
        TaskBuilder::new("outer").deps(&["inner"]),
    ];
    sim.submit(C1, tasks, &["shared", "replicated", "outer"]);
    sim.shares(C2, &["shared"]);
    sim.finish(W1, "shared", 8);
    sim.finish(W1, "replicated", 8);
    sim.finish(W1, "inner", 8);
    sim.add_worker(WorkerBuilder::new(W2));
    sim.scatter(C1, "replicated", W2, 8); // a client's copy is kept as a replica
    assert_eq!(sim.state_of("outer"), "processing");
    let (loss, sent) = sim.lose_worker(W1);
    let mut told = reports(&sent);
    told.sort_by_key(|sent| format!("{sent:?}"));
    assert_eq!(
        told,
        vec![
            Sent::Recomputing(C1, key("shared")),
            Sent::Recomputing(C2, key("shared")),
        ],
        "replicated survives on W2; inner is wanted by nobody; outer was never in memory"
    );
    let expected = WorkerLoss {
        keys_held: 3,
        keys_lost: 2,
        tasks_interrupted: 1,
    };
    assert_eq!(loss, expected);
    assert_eq!(sim.state_of("shared"), "processing");
}

#[test]
fn a_lost_key_that_cannot_come_back_is_reported_erred_not_recomputing() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![]));
    sim.scatter(C1, "x", W1, 10);
    sim.submit(C1, vec![TaskBuilder::new("y").deps(&["x"])], &["y"]);
    sim.finish(W1, "y", 4);
    sim.releases(C1, &["x"]);
    let (loss, sent) = sim.lose_worker(W1);
    let lost = TaskFailure::DataLost {
        key: key("x"),
        worker: None,
    };
    assert_eq!(
        reports(&sent),
        vec![Sent::Erred(C1, key("y"), lost.for_dependent(key("y")))]
    );
    assert_eq!(loss.keys_lost, 1, "x was already released, y goes with W1");
    assert_eq!(sim.state_of("x"), "erred");
}

#[test]
fn a_holder_that_cannot_deliver_the_last_copy_makes_its_wanters_wait_again() {
    let g = FunctionId::new("g", 7);
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![g.clone()]));
    let tasks = vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").deps(&["a"]).function(g),
    ];
    sim.submit(C1, tasks, &["a", "b"]);
    assert_eq!(
        reports(&sim.finish(W1, "a", 4)),
        vec![Sent::InMemory(C1, key("a"))]
    );
    let sent = sim.step(|s, out| s.on_missing_dependency(W2, key("b"), key("a"), W1, out));
    assert_eq!(reports(&sent), vec![Sent::Recomputing(C1, key("a"))]);
    // Only W1 runs `a`, and it is held off until it answers a ping.
    assert!(computes(&sent).is_empty());
    assert_eq!(computes(&ping_answered(&mut sim, W1)), pairs(&[(W1, "a")]));
    assert_eq!(
        reports(&sim.finish(W1, "a", 4)),
        vec![Sent::InMemory(C1, key("a"))]
    );
}

#[test]
fn losing_an_unknown_or_idle_worker_costs_nothing() {
    let mut sim = Sim::new();
    let (loss, sent) = sim.lose_worker(W3);
    assert_eq!((loss, sent), (WorkerLoss::default(), vec![]));
    sim.add_worker(WorkerBuilder::new(W1));
    let (loss, sent) = sim.lose_worker(W1);
    assert_eq!((loss, sent), (WorkerLoss::default(), vec![]));
}
