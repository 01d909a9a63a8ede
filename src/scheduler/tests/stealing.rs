//! Work stealing (`stealing.rs`): a worker about to idle asks tasks back from one with a
//! queue, the answers (given back, or run anyway), and what is never stolen.

use std::time::Duration;

use super::*;
use crate::ids::Set;
use crate::scheduler::{IgnoredReport, WorkerTiming};

fn steals(sent: &[Sent]) -> Vec<(WorkerId, TaskKey)> {
    sent.iter()
        .filter_map(|sent| match sent {
            Sent::Steal(worker, key, _) => Some((*worker, key.clone())),
            _ => None,
        })
        .collect()
}

fn stolen_from(worker: WorkerId, names: &[&str]) -> Vec<(WorkerId, TaskKey)> {
    names.iter().map(|name| (worker, key(name))).collect()
}

/// Two one-thread workers; `x` (`x_bytes` big) scattered to W1; then `count` tasks
/// `t0..` reading `x`, all sent to W1, which holds their input. Returns what the
/// submission sent.
fn all_tasks_on_the_holder(count: usize, x_bytes: u64) -> (Sim, Vec<Sent>) {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    sim.scatter(C1, "x", W1, x_bytes);
    let sent = submit_readers_of_x(&mut sim, count);
    (sim, sent)
}

fn submit_readers_of_x(sim: &mut Sim, count: usize) -> Vec<Sent> {
    let names: Vec<String> = (0..count).map(|i| format!("t{i}")).collect();
    let tasks = names
        .iter()
        .enumerate()
        .map(|(i, name)| TaskBuilder::new(name).deps(&["x"]).order(i as i64))
        .collect();
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    sim.submit(C1, tasks, &wanted)
}

/// The number of the steal request under way for `name`.
fn request(sim: &Sim, name: &str) -> u64 {
    sim.state.steals[&key(name)].id
}

fn answer(
    sim: &mut Sim,
    worker: WorkerId,
    name: &str,
    steal: u64,
    given_back: bool,
) -> (Result<(), IgnoredReport>, Vec<Sent>) {
    sim.step_with(|s, out| s.on_steal_answer(worker, key(name), steal, given_back, out))
}

fn given_back(sim: &mut Sim, worker: WorkerId, name: &str) -> Vec<Sent> {
    let steal = request(sim, name);
    let (taken, sent) = answer(sim, worker, name, steal, true);
    assert_eq!(taken, Ok(()));
    sent
}

fn measure(sim: &mut Sim, worker: WorkerId, round_trip: Duration, tasks: u64, busy: Duration) {
    let timing = WorkerTiming {
        round_trip,
        tasks_done: tasks,
        busy,
    };
    sim.step(|s, out| s.on_worker_timing(worker, timing, out));
}

#[test]
fn an_idle_worker_asks_back_half_the_queue_of_the_holder_latest_first() {
    let (sim, sent) = all_tasks_on_the_holder(8, 8);
    let on_w1: Vec<_> = computes(&sent).into_iter().map(|(w, _)| w).collect();
    assert_eq!(on_w1, vec![W1; 8], "every reader goes to the holder of x");
    assert_eq!(
        steals(&sent),
        stolen_from(W1, &["t7", "t6", "t5", "t4"]),
        "W2 idles: loads of 8 and 0 even out at 4 each"
    );
    assert_eq!(sim.state.pending_steal_count(), 4);
}

#[test]
fn a_task_given_back_goes_to_its_thief_and_one_run_anyway_ends_its_steal() {
    let (mut sim, _) = all_tasks_on_the_holder(8, 8);
    let sent = given_back(&mut sim, W1, "t7");
    assert_eq!(computes(&sent), vec![(W2, key("t7"))]);
    let Sent::Compute(_, task) = &sent[0] else {
        panic!("{sent:?}")
    };
    assert_eq!(
        task.deps,
        vec![(key("x"), vec![W1])],
        "W2 fetches x from W1"
    );
    // t6 started on W1 before the request came: W1 finishes it.
    sim.finish(W1, "t6", 8);
    assert_eq!(sim.state.pending_steal_count(), 2, "t5 and t4 still asked");
    assert_eq!(
        sim.state.task_state(&key("t6")).map(|s| s.name()),
        Some("memory")
    );
    // An answer about a task that finished meanwhile changes nothing.
    let (taken, sent) = answer(&mut sim, W1, "t6", 2, false);
    assert!(matches!(taken, Err(IgnoredReport::NotRunning { .. })));
    assert!(computes(&sent).is_empty());
    // t5 runs on W1 already: kept, its steal ends and W2 may ask again.
    let steal = request(&sim, "t5");
    let (kept, _) = answer(&mut sim, W1, "t5", steal, false);
    assert_eq!(kept, Ok(()));
    assert_eq!(sim.state.pending_steal_count(), 1, "t4 still asked");
    assert_eq!(
        sim.state.task_state(&key("t5")),
        Some(&TaskState::Processing { worker: W1 })
    );
}

#[test]
fn a_task_its_victim_kept_is_not_asked_for_again() {
    let (mut sim, _) = all_tasks_on_the_holder(8, 8);
    let mut asked_again = Vec::new();
    for name in ["t7", "t6", "t5", "t4"] {
        let steal = request(&sim, name);
        let (kept, sent) = answer(&mut sim, W1, name, steal, false);
        assert_eq!(kept, Ok(()));
        asked_again.extend(steals(&sent));
    }
    assert!(
        asked_again.iter().all(|(_, key)| !["t7", "t6", "t5", "t4"]
            .iter()
            .any(|name| *key == self::key(name))),
        "a started task is asked for once: {asked_again:?}"
    );
    assert_eq!(
        asked_again,
        stolen_from(W1, &["t3", "t2", "t1"]),
        "W2, still idle, asks for tasks W1 has not said it started (until 5 and 3 even out)"
    );
    sim.state.sanity_check();
}

#[test]
fn a_thief_that_cannot_take_a_victims_tasks_leaves_them_to_one_that_can() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    // W2 comes first among the idle (lowest id) but lacks the tasks' function.
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![]));
    sim.add_worker(WorkerBuilder::new(W3));
    sim.scatter(C1, "x", W1, 8);
    let sent = submit_readers_of_x(&mut sim, 8);
    assert_eq!(
        steals(&sent),
        stolen_from(W1, &["t7", "t6", "t5", "t4"]),
        "W3 asks, though W2 found nothing it could take on W1"
    );
    assert!(sim
        .state
        .steals
        .values()
        .all(|steal| steal.thief == Some(W3)));
    sim.state.sanity_check();
}

#[test]
fn a_thief_is_asked_no_more_tasks_than_its_free_resources_run_together() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).resources("GPU=8"));
    sim.add_worker(WorkerBuilder::new(W2).resources("GPU=1"));
    sim.scatter(C1, "x", W1, 8);
    let one_gpu = Restrictions {
        resources: crate::resources::Resources::from_pairs([("GPU", 1.0)]).expect("GPU"),
        ..Default::default()
    };
    let tasks = (0..8)
        .map(|i| {
            TaskBuilder::new(&format!("t{i}"))
                .deps(&["x"])
                .order(i)
                .restrictions(one_gpu.clone())
        })
        .collect();
    let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    let sent = sim.submit(C1, tasks, &wanted);
    assert_eq!(
        steals(&sent),
        stolen_from(W1, &["t7"]),
        "W2's one GPU runs one of them at a time"
    );
    let sent = given_back(&mut sim, W1, "t7");
    assert_eq!(computes(&sent), vec![(W2, key("t7"))]);
    sim.state.sanity_check();
}

#[test]
fn no_steal_while_the_thief_has_work_or_the_queue_is_short() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    sim.scatter(C1, "x", W1, 8);
    sim.scatter(C1, "y", W2, 8);
    let tasks = (0..3)
        .map(|i| TaskBuilder::new(&format!("a{i}")).deps(&["x"]))
        .chain((0..2).map(|i| TaskBuilder::new(&format!("b{i}")).deps(&["y"])))
        .collect();
    let sent = sim.submit(C1, tasks, &["a0", "a1", "a2", "b0", "b1"]);
    assert!(
        steals(&sent).is_empty(),
        "W2 has a task queued behind its running one: {sent:?}"
    );
    let sent = sim.finish(W2, "b0", 8);
    assert_eq!(
        steals(&sent),
        stolen_from(W1, &["a2"]),
        "W2 is down to its running task: loads of 3 and 1 even out at 2 each"
    );
    let sent = sim.finish(W2, "b1", 8);
    assert!(
        steals(&sent).is_empty(),
        "a2 is on its way: loads of 2 and 1 are as even as they get: {sent:?}"
    );
}

#[test]
fn fast_tasks_are_not_stolen_when_the_queue_ends_before_a_steal_would_arrive() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    // W1 runs tasks in 10 µs and answers in 1 ms: 7 queued last 70 µs.
    measure(&mut sim, W1, Duration::from_millis(1), 0, Duration::ZERO);
    measure(
        &mut sim,
        W1,
        Duration::from_millis(1),
        100,
        Duration::from_millis(1),
    );
    sim.scatter(C1, "x", W1, 8);
    let sent = submit_readers_of_x(&mut sim, 8);
    assert_eq!(computes(&sent).len(), 8);
    assert!(steals(&sent).is_empty(), "{sent:?}");
}

#[test]
fn tasks_whose_inputs_move_slower_than_they_run_stay() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    // 50 ms a task; x takes 1 s to move at 100 MB/s.
    measure(&mut sim, W1, Duration::from_micros(200), 0, Duration::ZERO);
    measure(
        &mut sim,
        W1,
        Duration::from_micros(200),
        10,
        Duration::from_millis(500),
    );
    sim.scatter(C1, "x", W1, 100_000_000);
    let sent = submit_readers_of_x(&mut sim, 8);
    assert!(steals(&sent).is_empty(), "{sent:?}");
    // Once W2 holds a copy too, moving costs nothing.
    sim.step(|s, out| s.replicate(C1, &[key("x")], 2, out));
    let (taken, sent) = sim.step_with(|s, out| s.on_task_copied(W2, key("x"), 100_000_000, out));
    assert_eq!(taken, Ok(true));
    assert_eq!(steals(&sent), stolen_from(W1, &["t7", "t6", "t5", "t4"]));
}

#[test]
fn a_task_restricted_to_its_worker_is_never_stolen() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    let only_w1 = Restrictions {
        workers: vec!["w1".into()],
        ..Default::default()
    };
    let tasks = (0..6)
        .map(|i| TaskBuilder::new(&format!("t{i}")).restrictions(only_w1.clone()))
        .collect();
    let sent = sim.submit(C1, tasks, &["t0", "t1", "t2", "t3", "t4", "t5"]);
    assert_eq!(computes(&sent).len(), test_config().saturation(1));
    assert!(steals(&sent).is_empty(), "{sent:?}");
}

#[test]
fn a_task_given_back_after_its_thief_left_is_placed_afresh() {
    let (mut sim, _) = all_tasks_on_the_holder(8, 8);
    sim.remove_worker(W2);
    let sent = given_back(&mut sim, W1, "t7");
    assert_eq!(
        computes(&sent),
        vec![(W1, key("t7"))],
        "back to the holder of x, the one worker left"
    );
    assert_eq!(sim.state.pending_steal_count(), 3);
}

#[test]
fn an_answer_to_an_older_request_is_ignored_after_the_task_was_sent_again() {
    let (mut sim, sent) = all_tasks_on_the_holder(2, 8);
    assert_eq!(steals(&sent), stolen_from(W1, &["t1"]));
    let first = request(&sim, "t1");
    // The client lets go of t1 and asks for it again: sent to W1 anew, asked back anew.
    sim.step(|s, out| s.on_client_releases(C1, vec![key("t1")], out));
    let task = TaskBuilder::new("t1").deps(&["x"]).order(1);
    let sent = sim.submit(C1, vec![task], &["t1"]);
    assert_eq!(computes(&sent), vec![(W1, key("t1"))]);
    assert_eq!(steals(&sent), stolen_from(W1, &["t1"]));
    let second = request(&sim, "t1");
    assert_ne!(first, second);
    // W1 gave the first t1 back before it saw the new compute order: that answer is stale.
    let (taken, sent) = answer(&mut sim, W1, "t1", first, true);
    assert!(matches!(taken, Err(IgnoredReport::StaleStealAnswer { .. })));
    assert!(computes(&sent).is_empty(), "t1 stays on W1: {sent:?}");
    assert_eq!(
        sim.state.task_state(&key("t1")),
        Some(&TaskState::Processing { worker: W1 })
    );
    let sent = given_back(&mut sim, W1, "t1");
    assert_eq!(computes(&sent), vec![(W2, key("t1"))]);
}

#[test]
fn a_stranger_answering_is_ignored() {
    let (mut sim, _) = all_tasks_on_the_holder(8, 8);
    let steal = request(&sim, "t7");
    let (taken, sent) = answer(&mut sim, W2, "t7", steal, true);
    assert!(matches!(taken, Err(IgnoredReport::NotRunning { .. })));
    assert!(sent.is_empty());
    assert_eq!(
        sim.state.task_state(&key("t7")),
        Some(&TaskState::Processing { worker: W1 })
    );
}

#[test]
fn thieves_waiting_for_answers_leave_room_for_the_others() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    for id in 2..=21 {
        sim.add_worker(WorkerBuilder::new(WorkerId(id)));
    }
    sim.scatter(C1, "x", W1, 8);
    let sent = submit_readers_of_x(&mut sim, 400);
    let thieves: Set<WorkerId> = sent
        .iter()
        .filter_map(|sent| match sent {
            Sent::Compute(worker, _) if *worker != W1 => Some(*worker),
            _ => None,
        })
        .collect();
    assert!(thieves.is_empty(), "nothing moves before an answer");
    let asked_first = sim.state.pending_steal_count();
    assert!(asked_first > 0);
    // The next event serves the thieves not yet served.
    sim.finish(W1, "t0", 8);
    let served: Set<WorkerId> = sim.state.steals.values().filter_map(|s| s.thief).collect();
    assert_eq!(
        served.len(),
        20,
        "every idle worker waits for answers: {served:?}"
    );
}

#[test]
fn a_thief_registering_again_does_not_inherit_the_steals_for_it() {
    let (mut sim, _) = all_tasks_on_the_holder(8, 8);
    sim.remove_worker(W2);
    sim.add_worker(WorkerBuilder::new(W2));
    // The new W2 may be asked for afresh; the old requests place their tasks afresh.
    let sent = given_back(&mut sim, W1, "t7");
    assert_eq!(computes(&sent).len(), 1);
}

#[test]
fn a_seceded_task_is_not_stolen_and_its_steal_ends_when_it_secedes() {
    let (mut sim, _) = all_tasks_on_the_holder(8, 8);
    sim.step(|s, out| s.on_task_seceded(W1, key("t7"), out).expect("W1 runs t7"));
    assert_eq!(
        sim.state.pending_steal_count(),
        3,
        "t7 runs: its steal ended"
    );
    let sent = given_back(&mut sim, W1, "t6");
    assert_eq!(computes(&sent), vec![(W2, key("t6"))]);
}

#[test]
fn the_victim_lost_with_steals_under_way_leaves_none_behind() {
    let (mut sim, _) = all_tasks_on_the_holder(8, 8);
    sim.remove_worker(W1);
    assert_eq!(sim.state.pending_steal_count(), 0);
}
