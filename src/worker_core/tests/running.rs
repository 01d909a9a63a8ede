//! Runs: outcomes kept and reported, small values inline, asking again while running keeps
//! the run, releases drop data and outcomes, and a lost center takes everything with it.

use super::*;

#[test]
fn a_value_is_kept_and_small_ones_ride_along_with_the_report() {
    let mut sim = Sim::new();
    sim.compute(vec![TaskBuilder::new("small"), TaskBuilder::new("big")]);
    let sent = sim.done("small", value(10));
    let [TaskEvent::Finished {
        key: k,
        nbytes,
        inline: Some(inline),
    }] = &reports(&sent)[..]
    else {
        panic!("expected one inline report, got {sent:?}");
    };
    assert_eq!((k, *nbytes), (&key("small"), inline.len() as u64));
    let sent = sim.done("big", value(10_000));
    let [TaskEvent::Finished {
        inline: None,
        nbytes,
        ..
    }] = &reports(&sent)[..]
    else {
        panic!("a big value is not inlined: {sent:?}");
    };
    assert!(*nbytes > crate::worker_core::INLINE_BYTES);
    assert_eq!(sim.state.stored_keys(), 2);
    assert_eq!(sim.state.running_count(), 0);
}

#[test]
fn asking_for_a_held_key_is_answered_at_once() {
    let mut sim = Sim::new();
    sim.hold("a", 8);
    let nbytes = sim.state.stored_bytes();
    let sent = sim.compute(vec![TaskBuilder::new("a")]);
    let finished = TaskEvent::Finished {
        key: key("a"),
        nbytes,
        inline: None,
    };
    assert_eq!(sent, vec![Sent::Report(finished)]);
}

#[test]
fn asking_again_while_waiting_or_running_keeps_what_is_under_way() {
    let mut sim = Sim::new();
    sim.compute(vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").input("x", &[W2]),
    ]);
    let sent = sim.compute(vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").input("x", &[W2]),
    ]);
    assert!(sent.is_empty(), "no second run, no second fetch: {sent:?}");
    assert_eq!(reports(&sim.done("a", value(1))).len(), 1);
}

#[test]
fn a_task_released_while_running_drops_its_outcome_unless_asked_again() {
    let mut sim = Sim::new();
    sim.compute(vec![TaskBuilder::new("a"), TaskBuilder::new("b")]);
    sim.release(&["a", "b"]);
    assert!(sim.done("a", value(1)).is_empty());
    assert!(sim.state.get(&key("a")).is_none());
    let sent = sim.compute(vec![TaskBuilder::new("b")]);
    assert!(sent.is_empty(), "the run under way is kept");
    assert_eq!(reports(&sim.done("b", value(1))).len(), 1);
    assert!(sim.state.get(&key("b")).is_some());
}

#[test]
fn a_released_task_no_thread_started_is_taken_back_from_the_queue() {
    let mut sim = Sim::new();
    sim.threads_busy();
    sim.compute(vec![TaskBuilder::new("a"), TaskBuilder::new("b")]);
    assert_eq!(sim.state.running_count(), 2);
    assert!(sim.release(&["a"]).is_empty());
    assert_eq!(
        sim.state.running_count(),
        1,
        "a left the queue and the core"
    );
    assert!(
        sim.done("a", value(1)).is_empty(),
        "a stray outcome is dropped"
    );
    let sent = sim.compute(vec![TaskBuilder::new("a")]);
    assert_eq!(runs(&sent), vec![key("a")], "asked again, it runs afresh");
}

#[test]
fn a_released_waiting_task_is_forgotten_but_its_input_still_lands() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a").input("x", &[W2])]);
    sim.release(&["a"]);
    assert_eq!(sim.state.waiting_count(), 0);
    let sent = sim.fetched(&fetches(&sent)[0], &["x"]);
    assert!(runs(&sent).is_empty());
    assert_eq!(reports(&sent), vec![replica("x", bytes(10).len() as u64)]);
}

#[test]
fn a_release_drops_the_value() {
    let mut sim = Sim::new();
    sim.hold("a", 100);
    sim.hold("b", 100);
    let peak = sim.state.peak_stored_bytes();
    sim.release(&["a", "unknown"]);
    assert_eq!(sim.state.stored_keys(), 1);
    assert_eq!(sim.state.peak_stored_bytes(), peak);
    assert!(sim.state.stored_bytes() < peak);
}

#[test]
fn a_lost_center_takes_tasks_and_fetches_with_it_but_not_the_data() {
    let mut sim = Sim::new();
    sim.hold("h", 8);
    let sent = sim.compute(vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").input("x", &[W2]),
    ]);
    let order = fetches(&sent)[0].clone();
    let held = sim.step(|s, out| assert_eq!(s.on_center_lost(out), 1));
    assert!(held.is_empty());
    assert_eq!((sim.state.stored_keys(), sim.state.running_count()), (1, 0));
    assert_eq!(sim.state.held_keys(), vec![(key("h"), 8)]);
    // What the old center asked still comes back: a fetch is dropped, a run's value kept.
    assert!(sim.fetched(&order, &["x"]).is_empty());
    assert!(sim.fetch_failed(order.id).is_empty());
    assert_eq!(sim.state.held_keys(), vec![(key("h"), 8)]);
    assert!(matches!(sim.done("a", value(1))[..], [Sent::Offer(_, _)]));
    // The new center's tasks start afresh: b fetches x again in a new fetch.
    let sent = sim.compute(vec![TaskBuilder::new("b").input("x", &[W2])]);
    assert_ne!(fetches(&sent)[0].id, order.id);
}

#[test]
fn a_run_ending_after_its_center_was_lost_keeps_its_value_and_offers_it() {
    let mut sim = Sim::new();
    sim.compute(vec![TaskBuilder::new("a"), TaskBuilder::new("b")]);
    sim.step(|s, out| {
        s.on_center_lost(out);
    });
    let sent = sim.done("a", value(1));
    let nbytes = sim.state.held_keys()[0].1;
    assert_eq!(sent, vec![Sent::Offer(key("a"), nbytes)]);
    assert_eq!(sim.state.held_keys(), vec![(key("a"), nbytes)]);
    // A failed run leaves nothing behind, and an outcome comes back only once.
    let failure = CallOutcome::Panicked("boom".into());
    assert!(sim
        .step(|s, out| s.on_job_done(key("b"), failure, out))
        .is_empty());
    assert!(sim.done("a", value(2)).is_empty());
    assert_eq!(sim.state.held_keys().len(), 1);
}

#[test]
fn an_old_run_ending_while_the_new_center_waits_for_inputs_is_dropped() {
    let mut sim = Sim::new();
    sim.compute(vec![TaskBuilder::new("a")]);
    sim.step(|s, out| {
        s.on_center_lost(out);
    });
    sim.compute(vec![TaskBuilder::new("a").input("x", &[W2])]);
    assert!(sim.done("a", value(1)).is_empty());
    assert_eq!(sim.state.waiting_count(), 1);
}
