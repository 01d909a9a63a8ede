//! Scenarios of the in-flight window sized from measurements (`window.rs`): a worker behind
//! a long round trip gets more tasks in flight than the fixed window, each worker by its own
//! round trip, a narrowed window keeps what was sent, the memory bound, and measurements of
//! workers not connected.

use std::time::Duration;

use super::*;
use crate::scheduler::WorkerTiming;

fn timing(round_trip_us: u64, tasks_done: u64, busy_us: u64) -> WorkerTiming {
    WorkerTiming {
        round_trip: Duration::from_micros(round_trip_us),
        tasks_done,
        busy: Duration::from_micros(busy_us),
    }
}

/// `count` independent tasks `t0..`, all wanted by C1.
fn submit_roots(sim: &mut Sim, count: usize) -> Vec<Sent> {
    let names: Vec<String> = (0..count).map(|i| format!("t{i}")).collect();
    let tasks = names
        .iter()
        .enumerate()
        .map(|(i, name)| TaskBuilder::new(name).order(i as i64))
        .collect();
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    sim.submit(C1, tasks, &wanted)
}

fn measure(sim: &mut Sim, worker: WorkerId, sample: WorkerTiming) -> Vec<Sent> {
    sim.step(|s, out| s.on_worker_timing(worker, sample, out))
}

#[test]
fn a_worker_behind_a_long_round_trip_gets_a_wider_window() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    let fixed = test_config().saturation(1);
    assert_eq!(computes(&submit_roots(&mut sim, 1_000)).len(), fixed);
    // The round trip alone changes nothing: the task time is not known yet.
    assert!(computes(&measure(&mut sim, W1, timing(2_000, 0, 0))).is_empty());
    assert_eq!(sim.state.window(W1), Some(fixed));
    // 10 µs a task over 2 ms: 201 per round trip, twice that, plus 2.
    let sent = measure(&mut sim, W1, timing(2_000, 4, 40));
    assert_eq!(sim.state.window(W1), Some(2 * 201 + 2));
    assert_eq!(
        computes(&sent).len(),
        2 * 201 + 2 - fixed,
        "the new slots are filled at once"
    );
    assert_eq!(sim.state.processing_count(W1), Some(2 * 201 + 2));
}

#[test]
fn each_worker_gets_the_window_of_its_own_round_trip() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).threads(2));
    for (worker, round_trip) in [(W1, 100), (W2, 5_000)] {
        measure(&mut sim, worker, timing(round_trip, 0, 0));
        measure(&mut sim, worker, timing(round_trip, 100, 1_000));
    }
    // W1: (100 + 10) / 10 = 11 a thread, twice, plus 2. W2: 501 a thread, past the cap of
    // 512 a thread once doubled: 2 * 512 + 2.
    assert_eq!(sim.state.window(W1), Some(2 * 11 + 2));
    assert_eq!(sim.state.window(W2), Some(2 * 512 + 2));
    let sent = submit_roots(&mut sim, 2_000);
    let placed = computes(&sent);
    let on_w1 = placed.iter().filter(|(w, _)| *w == W1).count();
    assert_eq!((on_w1, placed.len() - on_w1), (24, 1_026));
}

#[test]
fn a_narrowed_window_keeps_what_was_sent_and_refills_below_it() {
    let config = SchedulerConfig {
        max_tasks_per_thread: 50,
        ..test_config()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1));
    submit_roots(&mut sim, 200);
    measure(&mut sim, W1, timing(2_000, 0, 0));
    measure(&mut sim, W1, timing(2_000, 4, 40));
    assert_eq!(
        sim.state.window(W1),
        Some(52),
        "the cap: 50 a thread plus 2"
    );
    assert_eq!(sim.state.processing_count(W1), Some(52));
    // The tasks turn long (100 ms each, smoothed with the 10 µs before: about 50 ms).
    measure(&mut sim, W1, timing(2_000, 5, 100_040));
    assert_eq!(sim.state.window(W1), Some(2 * 2 + 2));
    for i in 0..46 {
        let sent = sim.finish(W1, &format!("t{i}"), 8);
        assert!(
            computes(&sent).is_empty(),
            "over the narrowed window after t{i}"
        );
    }
    let sent = sim.finish(W1, "t46", 8);
    assert_eq!(computes(&sent), pairs(&[(W1, "t52")]), "under it: one more");
}

#[test]
fn memory_bounds_the_window_but_not_below_the_fixed_one() {
    let config = SchedulerConfig {
        window_memory_bytes: 64 << 20,
        ..test_config()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1));
    submit_roots(&mut sim, 1_000);
    sim.finish(W1, "t0", 1 << 20);
    measure(&mut sim, W1, timing(2_000, 0, 0));
    measure(&mut sim, W1, timing(2_000, 1, 10));
    // A task in flight takes 1 MiB and 2 bytes of spec: 63 of them in 64 MiB.
    assert_eq!(sim.state.window(W1), Some(63));
    for i in 1..200 {
        sim.finish(W1, &format!("t{i}"), 64 << 20);
    }
    measure(&mut sim, W1, timing(2_000, 2, 20));
    assert_eq!(sim.state.window(W1), Some(test_config().saturation(1)));
}

#[test]
fn measurements_of_workers_not_connected_are_ignored() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    submit_roots(&mut sim, 10);
    assert!(measure(&mut sim, W3, timing(2_000, 10, 10)).is_empty());
    sim.remove_worker(W1);
    assert!(measure(&mut sim, W1, timing(2_000, 10, 10)).is_empty());
    assert_eq!(sim.state.window(W1), None);
}

#[test]
fn a_worker_that_rejoins_starts_from_the_fixed_window() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    measure(&mut sim, W1, timing(2_000, 0, 0));
    measure(&mut sim, W1, timing(2_000, 100, 100));
    assert!(sim.state.window(W1) > Some(test_config().saturation(1)));
    sim.remove_worker(W1);
    sim.add_worker(WorkerBuilder::new(W1));
    assert_eq!(sim.state.window(W1), Some(test_config().saturation(1)));
}

#[test]
fn a_holder_a_peer_could_not_fetch_from_gets_nothing_until_it_answers() {
    let g = FunctionId::new("g", 7);
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![func(), g.clone()]));
    let tasks = vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").deps(&["a"]).function(g),
    ];
    assert_eq!(
        computes(&sim.submit(C1, tasks, &["a", "b"])),
        pairs(&[(W1, "a")])
    );
    assert_eq!(computes(&sim.finish(W1, "a", 4)), pairs(&[(W2, "b")]));
    // W2 got nothing from W1 (silent, still connected): `a` is recomputed on W2, not on the
    // idle, lower-numbered W1, where it would wait for the center's ttl.
    let sent = sim.step(|s, out| s.on_missing_dependency(W2, key("b"), key("a"), W1, out));
    assert_eq!(computes(&sent), pairs(&[(W2, "a")]));
    assert!(sim.state.is_held_off(W1));
    assert_eq!(sim.state.window(W1), Some(0));
    assert_eq!(computes(&submit_roots(&mut sim, 1)), pairs(&[(W2, "t0")]));
    // W1 answers a ping: it takes tasks again (the least occupied now).
    assert!(computes(&measure(&mut sim, W1, timing(100, 0, 0))).is_empty());
    assert!(!sim.state.is_held_off(W1));
    assert_eq!(sim.state.window(W1), Some(test_config().saturation(1)));
    let sent = sim.submit(C1, vec![TaskBuilder::new("r")], &["r"]);
    assert_eq!(computes(&sent), pairs(&[(W1, "r")]));
}
