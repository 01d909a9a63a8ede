//! Spill and pause: values past the target fraction go to disk least recently used first,
//! come back when a task needs them, leave the disk when released or when the center is
//! lost; past the pause fraction ready tasks wait until memory falls back.

use super::*;
use crate::worker_core::MemoryPolicy;

/// 1000 bytes: values spill past 600, tasks pause past 800.
fn policy() -> MemoryPolicy {
    MemoryPolicy::new(1000)
}

fn spills(sent: &[Sent]) -> Vec<TaskKey> {
    sent.iter()
        .filter_map(|sent| match sent {
            Sent::Spill(key) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn without_a_limit_nothing_spills() {
    let mut sim = Sim::new();
    for name in ["a", "b", "c", "d", "e"] {
        sim.compute(vec![TaskBuilder::new(name)]);
        assert!(spills(&sim.done(name, value(10_000))).is_empty());
    }
    assert_eq!(sim.state.spilled_bytes(), 0);
    assert!(sim.memory(u64::MAX).is_empty());
    assert!(!sim.state.is_paused());
}

#[test]
fn past_the_target_the_least_recently_used_value_spills() {
    let mut sim = Sim::with_memory(policy());
    sim.hold("a", 250);
    sim.hold("b", 250);
    assert_eq!(sim.state.spilled_bytes(), 0);
    sim.compute(vec![TaskBuilder::new("c")]);
    assert_eq!(spills(&sim.done("c", value(250))), keys(&["a"]));
    assert!(sim.state.memory_bytes() <= 600);
    // b is used by a task, so c is now the oldest in memory.
    let sent = sim.compute(vec![TaskBuilder::new("u").input("b", &[ME])]);
    assert_eq!(sent, vec![Sent::Run(key("u"), 1)]);
    sim.compute(vec![TaskBuilder::new("d")]);
    assert_eq!(spills(&sim.done("d", value(250))), keys(&["c"]));
    assert_eq!(sim.state.stored_keys(), 4);
}

#[test]
fn a_spilled_input_that_does_not_fit_serves_its_task_from_disk_evicting_nothing() {
    let mut sim = Sim::with_memory(policy());
    sim.hold("a", 250);
    sim.hold("b", 250);
    sim.hold("c", 250);
    let spilled = sim.state.spilled_bytes();
    let sent = sim.compute(vec![TaskBuilder::new("t").input("a", &[ME])]);
    assert_eq!(sent, vec![Sent::ReadBack(key("a")), Sent::Run(key("t"), 1)]);
    assert_eq!(sim.state.spilled_bytes(), spilled, "a stays on disk");
    assert_eq!(sim.state.stored_keys(), 3);
}

#[test]
fn a_spilled_input_that_fits_is_read_back_into_memory() {
    let mut sim = Sim::with_memory(policy());
    sim.hold("a", 250);
    sim.hold("b", 250);
    sim.hold("c", 250);
    sim.release(&["b"]);
    let sent = sim.compute(vec![TaskBuilder::new("t").input("a", &[ME])]);
    assert_eq!(
        sent,
        vec![
            Sent::ReadBack(key("a")),
            Sent::DropSpilled(key("a")),
            Sent::Run(key("t"), 1),
        ]
    );
    assert_eq!(sim.state.spilled_bytes(), 0);
}

#[test]
fn a_released_or_forgotten_value_leaves_the_disk() {
    let mut sim = Sim::with_memory(policy());
    sim.hold("a", 250);
    sim.hold("b", 250);
    sim.hold("c", 250);
    assert_eq!(sim.release(&["a"]), vec![Sent::DropSpilled(key("a"))]);
    assert_eq!(sim.state.spilled_bytes(), 0);
}

#[test]
fn spilled_values_outlive_a_lost_center_and_are_offered_to_the_next() {
    let mut sim = Sim::with_memory(policy());
    for name in ["a", "b", "c", "d"] {
        sim.hold(name, 250);
    }
    let spilled = sim.state.spilled_bytes();
    assert!(spilled > 0);
    let sent = sim.step(|s, out| assert_eq!(s.on_center_lost(out), 4));
    assert!(sent.is_empty(), "nothing leaves the disk: {sent:?}");
    assert_eq!(sim.state.spilled_bytes(), spilled);
    let held: Vec<(TaskKey, u64)> = ["a", "b", "c", "d"].iter().map(|n| (key(n), 250)).collect();
    assert_eq!(sim.state.held_keys(), held);
}

#[test]
fn past_the_pause_fraction_tasks_wait_until_memory_falls() {
    let mut sim = Sim::with_memory(policy());
    assert!(sim.memory(801).is_empty());
    assert!(sim.state.is_paused());
    assert!(sim.compute(vec![TaskBuilder::new("a").order(2)]).is_empty());
    assert!(sim.compute(vec![TaskBuilder::new("b").order(1)]).is_empty());
    assert!(sim.compute(vec![TaskBuilder::new("c")]).is_empty());
    assert_eq!(sim.state.running_count(), 3);
    sim.release(&["c"]);
    assert!(sim
        .memory(800)
        .iter()
        .eq(&[Sent::Run(key("b"), 0), Sent::Run(key("a"), 0)]));
    assert!(!sim.state.is_paused());
    assert_eq!(sim.state.running_count(), 2);
}

#[test]
fn a_paused_worker_still_finishes_what_runs() {
    let mut sim = Sim::with_memory(policy());
    sim.compute(vec![TaskBuilder::new("a")]);
    sim.memory(900);
    let sent = sim.done("a", value(8));
    assert!(matches!(&reports(&sent)[..], [TaskEvent::Finished { .. }]));
}

#[test]
fn past_the_pause_fraction_every_value_spills() {
    let mut sim = Sim::with_memory(policy());
    sim.hold("a", 250);
    sim.hold("b", 250);
    assert_eq!(spills(&sim.memory(900)), keys(&["a", "b"]));
    assert_eq!(sim.state.memory_bytes(), 0);
    assert!(sim.state.is_paused());
}
