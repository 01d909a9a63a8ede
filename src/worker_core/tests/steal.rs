//! Giving tasks back to the scheduler for another worker: only tasks no thread started.

use super::*;

fn answer(name: &str, given_back: bool) -> TaskEvent {
    TaskEvent::StealAnswer {
        key: key(name),
        steal: 7,
        given_back,
    }
}

fn asked(names: &[&str]) -> Vec<(TaskKey, u64)> {
    names.iter().map(|name| (key(name), 7)).collect()
}

#[test]
fn a_queued_task_is_given_back_and_a_running_one_is_not() {
    let mut sim = Sim::new();
    sim.threads_busy();
    sim.compute(vec![TaskBuilder::new("a"), TaskBuilder::new("b")]);
    let sent = sim.step(|s, out| s.on_steal(asked(&["a"]), out));
    assert_eq!(reports(&sent), vec![answer("a", true)]);
    assert_eq!(
        sim.state.running_count(),
        1,
        "a left the queue and the core"
    );
    assert!(
        sim.done("a", value(1)).is_empty(),
        "a stray outcome of a is dropped"
    );
    // A thread took b before the request came: b runs and is reported as usual.
    sim.out.queued.remove(&key("b"));
    let sent = sim.step(|s, out| s.on_steal(asked(&["b"]), out));
    assert_eq!(reports(&sent), vec![answer("b", false)], "b is running");
    assert!(matches!(
        reports(&sim.done("b", value(1)))[..],
        [TaskEvent::Finished { .. }]
    ));
}

#[test]
fn a_task_waiting_for_inputs_is_given_back_and_its_input_still_lands() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a").input("x", &[W2])]);
    let steal = sim.step(|s, out| s.on_steal(asked(&["a"]), out));
    assert_eq!(reports(&steal), vec![answer("a", true)]);
    assert_eq!(sim.state.waiting_count(), 0);
    let sent = sim.fetched(&fetches(&sent)[0], &["x"]);
    assert!(runs(&sent).is_empty(), "a is not run here");
    assert_eq!(reports(&sent), vec![replica("x", bytes(10).len() as u64)]);
}

#[test]
fn unknown_finished_and_released_tasks_are_not_given_back() {
    let mut sim = Sim::new();
    sim.hold("done", 8);
    sim.compute(vec![TaskBuilder::new("released")]);
    sim.release(&["released"]);
    let sent = sim.step(|s, out| s.on_steal(asked(&["done", "released", "unknown"]), out));
    let kept = vec![
        answer("done", false),
        answer("released", false),
        answer("unknown", false),
    ];
    assert_eq!(reports(&sent), kept);
    assert_eq!(sim.state.stored_keys(), 1, "the value stays");
}
