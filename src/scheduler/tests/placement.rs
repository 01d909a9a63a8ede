//! Worker choice and load balancing: locality by bytes, least occupied, lowest id,
//! function eligibility, saturation and the priority queue.

use super::*;
use crate::scheduler::Priority;

fn two_workers() -> Sim {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    sim
}

#[test]
fn dependent_goes_where_its_dependency_is() {
    let mut sim = two_workers();
    sim.scatter(C1, "x", W2, 100);
    let sent = sim.submit(C1, vec![TaskBuilder::new("y").deps(&["x"])], &["y"]);
    assert_eq!(
        computes(&sent),
        pairs(&[(W2, "y")]),
        "not the idle lower id W1"
    );
}

#[test]
fn dependent_goes_to_the_holder_of_the_bigger_dependency() {
    for (small_on, big_on) in [(W1, W2), (W2, W1)] {
        let mut sim = two_workers();
        sim.scatter(C1, "small", small_on, 10);
        sim.scatter(C1, "big", big_on, 1000);
        let sent = sim.submit(
            C1,
            vec![TaskBuilder::new("y").deps(&["small", "big"])],
            &["y"],
        );
        let Some(Sent::Compute(worker, task)) = sent.first() else {
            panic!("{sent:?}")
        };
        assert_eq!(*worker, big_on);
        assert_eq!(
            task.deps,
            vec![(key("small"), vec![small_on]), (key("big"), vec![big_on])]
        );
    }
}

#[test]
fn least_occupied_then_lowest_id() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).threads(2));
    let tasks = (1..=4)
        .map(|i| TaskBuilder::new(&format!("t{i}")).order(i))
        .collect();
    let sent = sim.submit(C1, tasks, &["t1", "t2", "t3", "t4"]);
    // t1: tie at 0 -> W1; t2: 1/1 vs 0/2 -> W2; t3: 1/1 vs 1/2 -> W2; t4: 1/1 vs 2/2 -> W1.
    assert_eq!(
        computes(&sent),
        pairs(&[(W1, "t1"), (W2, "t2"), (W2, "t3"), (W1, "t4")])
    );
}

#[test]
fn saturation_queues_and_frees_slots_lowest_priority_first() {
    let config = SchedulerConfig {
        tasks_per_thread: 1,
        extra_tasks_per_worker: 0,
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1));
    let tasks = [5, 3, 1, 4, 2]
        .iter()
        .map(|i| TaskBuilder::new(&format!("t{i}")).order(*i))
        .collect();
    let sent = sim.submit(C1, tasks, &["t1", "t2", "t3", "t4", "t5"]);
    assert_eq!(computes(&sent), pairs(&[(W1, "t1")]));
    assert_eq!(sim.state.queued_count(), 4);
    assert_eq!(sim.state_of("t2"), "queued");
    // A later graph runs after the earlier one even with a lower order.
    sim.submit(C1, vec![TaskBuilder::new("late").order(-100)], &["late"]);
    let mut ran = vec![key("t1")];
    while let Some(current) = ran.last().cloned() {
        let sent = sim.step(|s, out| s.on_task_finished(W1, current, 1, out));
        match computes(&sent).as_slice() {
            [(W1, next)] => ran.push(next.clone()),
            [] => break,
            other => panic!("more than one slot freed: {other:?}"),
        }
    }
    assert_eq!(ran, keys(&["t1", "t2", "t3", "t4", "t5", "late"]));
    assert_eq!(sim.state.queued_count(), 0);
}

#[test]
fn a_joining_worker_takes_queued_tasks() {
    let config = SchedulerConfig {
        tasks_per_thread: 1,
        extra_tasks_per_worker: 0,
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1));
    let tasks = (0..3)
        .map(|i| TaskBuilder::new(&format!("t{i}")).order(i))
        .collect();
    sim.submit(C1, tasks, &["t0", "t1", "t2"]);
    let sent = sim.add_worker(WorkerBuilder::new(W2).threads(2));
    assert_eq!(computes(&sent), pairs(&[(W2, "t1"), (W2, "t2")]));
}

#[test]
fn a_worker_without_the_function_is_never_chosen() {
    let g = FunctionId::new("g", 1);
    let other_hash = FunctionId::new("f", 43);
    let mut sim = Sim::new();
    sim.add_worker(
        WorkerBuilder::new(W1)
            .threads(8)
            .functions(vec![g.clone(), other_hash]),
    );
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![func()]));
    sim.scatter(C1, "x", W1, 1 << 20);
    let tasks: Vec<_> = (0..6)
        .map(|i| TaskBuilder::new(&format!("t{i}")).deps(&["x"]).order(i))
        .collect();
    let sent = sim.submit(C1, tasks, &["t0", "t1", "t2", "t3", "t4", "t5"]);
    let placed = computes(&sent);
    assert_eq!(placed.len(), 4, "W2's saturation is 1*2+2");
    assert!(placed.iter().all(|(worker, _)| *worker == W2), "{placed:?}");
    assert_eq!(
        sim.state.queued_count(),
        2,
        "the rest waits rather than go to W1"
    );
    let sent = sim.submit(C1, vec![TaskBuilder::new("g1").function(g)], &["g1"]);
    assert_eq!(computes(&sent), pairs(&[(W1, "g1")]));
}

#[test]
fn unknown_function_errs_at_once_when_workers_exist() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).functions(vec![FunctionId::new("g", 1)]));
    let tasks = vec![TaskBuilder::new("a"), TaskBuilder::new("b").deps(&["a"])];
    let sent = sim.submit(C1, tasks, &["a", "b"]);
    let unknown = TaskFailure::UnknownFunction {
        key: key("a"),
        function: func(),
    };
    let dependent = unknown.for_dependent(key("b"));
    assert_eq!(
        sent,
        vec![
            Sent::Erred(C1, key("a"), unknown),
            Sent::Erred(C1, key("b"), dependent)
        ]
    );
    sim.releases(C1, &["a", "b"]);
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn without_workers_tasks_wait_until_one_joins() {
    let mut sim = Sim::new();
    let tasks = vec![
        TaskBuilder::new("a").order(1),
        TaskBuilder::new("b").order(0),
    ];
    assert!(sim.submit(C1, tasks, &["a", "b"]).is_empty());
    assert_eq!(sim.state_of("a"), "no-worker");
    let sent = sim.add_worker(WorkerBuilder::new(W1));
    assert_eq!(computes(&sent), pairs(&[(W1, "b"), (W1, "a")]));
    let Some(Sent::Compute(_, b)) = sent.first() else {
        unreachable!()
    };
    assert_eq!(
        b.priority,
        Priority {
            generation: 1,
            order: 0
        }
    );
}

#[test]
fn a_first_worker_lacking_the_function_errs_parked_tasks() {
    let mut sim = Sim::new();
    sim.submit(C1, vec![TaskBuilder::new("a")], &["a"]);
    let sent = sim.add_worker(WorkerBuilder::new(W1).functions(vec![]));
    assert_eq!(
        sent,
        vec![Sent::Erred(
            C1,
            key("a"),
            TaskFailure::UnknownFunction {
                key: key("a"),
                function: func()
            }
        )]
    );
}

/// A task with inputs goes to the worker holding them even when that worker is saturated
/// with root tasks, so results are consumed where they are instead of being copied to a
/// free worker or waiting behind every queued root task.
#[test]
fn dependent_goes_to_a_saturated_holder_rather_than_wait_or_move() {
    let mut sim = two_workers();
    sim.scatter(C1, "x", W1, 1_000_000);
    let roots: Vec<_> = (0..12)
        .map(|i| TaskBuilder::new(&format!("root{i}")).order(i))
        .collect();
    let wanted: Vec<String> = (0..12).map(|i| format!("root{i}")).collect();
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    sim.submit(C1, roots, &wanted);
    assert!(sim.state.queued_count() > 0, "both workers are saturated");
    let sent = sim.submit(
        C1,
        vec![TaskBuilder::new("y").deps(&["x"]).order(100)],
        &["y"],
    );
    assert_eq!(computes(&sent), pairs(&[(W1, "y")]));
}

/// A task that seceded (it waits on tasks it submitted) frees its worker's slot: the queued
/// task goes there; a report of secession from a worker not running the task is ignored;
/// and the seceded task's end leaves the count right.
#[test]
fn a_seceded_task_gives_its_slot_to_a_queued_one() {
    let config = SchedulerConfig {
        tasks_per_thread: 1,
        extra_tasks_per_worker: 0,
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    let tasks = (0..4)
        .map(|i| TaskBuilder::new(&format!("t{i}")).order(i))
        .collect();
    let sent = sim.submit(C1, tasks, &["t0", "t1", "t2", "t3"]);
    assert_eq!(computes(&sent), pairs(&[(W1, "t0"), (W2, "t1")]));
    let forged = sim.step(|s, out| s.on_task_seceded(W2, key("t0"), out));
    assert!(
        computes(&forged).is_empty(),
        "W2 does not run t0: {forged:?}"
    );
    let sent = sim.step(|s, out| s.on_task_seceded(W1, key("t0"), out));
    assert_eq!(computes(&sent), pairs(&[(W1, "t2")]));
    assert_eq!(sim.state_of("t0"), "processing", "it still runs there");
    // Once more is the same as once: no second slot.
    let again = sim.step(|s, out| s.on_task_seceded(W1, key("t0"), out));
    assert!(computes(&again).is_empty(), "{again:?}");
    // The seceded task ends: W1 still computes t2, so nothing more goes there.
    let sent = sim.finish(W1, "t0", 8);
    assert!(computes(&sent).is_empty(), "{sent:?}");
    let sent = sim.finish(W1, "t2", 8);
    assert_eq!(computes(&sent), pairs(&[(W1, "t3")]));
}
