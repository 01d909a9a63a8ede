//! Restrictions and resources: strict and loose worker restrictions by name or address,
//! resources taken while a task runs and given back on finish, failure and worker death,
//! and restricted tasks no worker satisfies waiting visibly.

use super::*;
use crate::resources::Resources;

fn on_workers(workers: &[&str], loose: bool) -> Restrictions {
    Restrictions {
        workers: workers.iter().map(|w| w.to_string()).collect(),
        loose,
        resources: Resources::new(),
    }
}

fn needing(resources: &[(&str, f64)]) -> Restrictions {
    Restrictions {
        resources: Resources::from_pairs(resources.iter().copied()).expect("resources"),
        ..Restrictions::default()
    }
}

fn tasks(prefix: &str, n: i64, restrictions: &Restrictions) -> Vec<TaskBuilder> {
    (0..n)
        .map(|i| {
            TaskBuilder::new(&format!("{prefix}{i}"))
                .order(i)
                .restrictions(restrictions.clone())
        })
        .collect()
}

fn names(prefix: &str, n: i64) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn submit_all(sim: &mut Sim, prefix: &str, n: i64, restrictions: &Restrictions) -> Vec<Sent> {
    let wanted = names(prefix, n);
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    sim.submit(C1, tasks(prefix, n, restrictions), &wanted)
}

#[test]
fn a_strict_restriction_by_name_or_address_is_obeyed() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).threads(4));
    sim.add_worker(WorkerBuilder::new(W2));
    let sent = submit_all(&mut sim, "n", 3, &on_workers(&["w2"], false));
    assert!(
        computes(&sent).iter().all(|(w, _)| *w == W2),
        "by name: {sent:?}"
    );
    let sent = submit_all(&mut sim, "a", 3, &on_workers(&["127.0.0.1:40002"], false));
    assert!(
        computes(&sent).iter().all(|(w, _)| *w == W2),
        "by address: {sent:?}"
    );
}

#[test]
fn a_strict_restriction_waits_past_saturation_rather_than_go_elsewhere() {
    let config = SchedulerConfig {
        tasks_per_thread: 1,
        extra_tasks_per_worker: 0,
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1).threads(4));
    sim.add_worker(WorkerBuilder::new(W2));
    let sent = submit_all(&mut sim, "t", 3, &on_workers(&["w2"], false));
    assert_eq!(computes(&sent), pairs(&[(W2, "t0")]));
    assert_eq!(sim.state.queued_count(), 2, "W1 is idle but not allowed");
    let sent = sim.finish(W2, "t0", 1);
    assert_eq!(computes(&sent), pairs(&[(W2, "t1")]));
}

#[test]
fn a_loose_restriction_prefers_its_workers_and_spills_over() {
    let config = SchedulerConfig {
        tasks_per_thread: 1,
        extra_tasks_per_worker: 0,
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    let sent = submit_all(&mut sim, "t", 2, &on_workers(&["w2"], true));
    // t0 goes to W2 (preferred although W1 has the lower id), t1 to W1 as W2 is full.
    assert_eq!(computes(&sent), pairs(&[(W2, "t0"), (W1, "t1")]));
}

#[test]
fn a_loose_restriction_to_a_missing_worker_runs_anywhere() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    let sent = submit_all(&mut sim, "t", 1, &on_workers(&["gone"], true));
    assert_eq!(computes(&sent), pairs(&[(W1, "t0")]));
}

#[test]
fn an_unsatisfiable_strict_restriction_waits_is_noted_once_and_runs_when_its_worker_joins() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    let sent = submit_all(&mut sim, "t", 1, &on_workers(&["w2"], false));
    assert!(computes(&sent).is_empty());
    assert_eq!(sim.state_of("t0"), "no-worker");
    assert_eq!(sim.state.waiting_for_worker(), 1);
    let notes = sim.state.take_unplaceable_notes();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].0, key("t0"));
    assert!(notes[0].1.contains("workers [w2] (strict)"), "{notes:?}");
    assert_eq!(sim.state.unplaceable(16), notes, "visible while it waits");
    // Another worker that does not satisfy it: still waiting, not noted again.
    sim.add_worker(WorkerBuilder::new(W3));
    assert_eq!(sim.state_of("t0"), "no-worker");
    assert!(sim.state.take_unplaceable_notes().is_empty(), "noted once");
    let sent = sim.add_worker(WorkerBuilder::new(W2));
    assert_eq!(computes(&sent), pairs(&[(W2, "t0")]));
    assert!(sim.state.unplaceable(16).is_empty());
}

#[test]
fn a_resource_task_runs_only_where_it_is_free_and_gives_it_back_on_finish() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).threads(4));
    sim.add_worker(WorkerBuilder::new(W2).threads(4).resources("GPU=1"));
    let sent = submit_all(&mut sim, "g", 3, &needing(&[("GPU", 1.0)]));
    assert_eq!(computes(&sent), pairs(&[(W2, "g0")]), "one GPU, one task");
    assert_eq!(sim.state.queued_count(), 2);
    // Plain tasks still go anywhere, the GPU worker included.
    let sent = submit_all(&mut sim, "p", 2, &Restrictions::default());
    assert_eq!(computes(&sent).len(), 2);
    let sent = sim.finish(W2, "g0", 8);
    assert_eq!(computes(&sent), pairs(&[(W2, "g1")]));
    let sent = sim.fail(W2, "g1", "boom");
    assert_eq!(
        computes(&sent),
        pairs(&[(W2, "g2")]),
        "given back on failure"
    );
}

#[test]
fn fractional_and_several_resources_are_counted_exactly() {
    let mut sim = Sim::new();
    sim.add_worker(
        WorkerBuilder::new(W1)
            .threads(8)
            .resources("GPU=1,MEM=10e9"),
    );
    let sent = submit_all(&mut sim, "h", 5, &needing(&[("GPU", 0.5), ("MEM", 4e9)]));
    assert_eq!(
        computes(&sent).len(),
        2,
        "two halves of the GPU, 8e9 of MEM"
    );
    let sent = sim.finish(W1, "h0", 1);
    assert_eq!(computes(&sent), pairs(&[(W1, "h2")]));
}

#[test]
fn a_dependent_needing_a_resource_skips_a_holder_without_it() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).resources("GPU=1"));
    sim.scatter(C1, "x", W1, 1 << 20);
    let task = TaskBuilder::new("y")
        .deps(&["x"])
        .restrictions(needing(&[("GPU", 1.0)]));
    let sent = sim.submit(C1, vec![task], &["y"]);
    assert_eq!(computes(&sent), pairs(&[(W2, "y")]));
}

#[test]
fn a_dead_gpu_worker_gives_its_task_back_and_it_waits_for_another() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).resources("GPU=1"));
    let sent = submit_all(&mut sim, "g", 2, &needing(&[("GPU", 1.0)]));
    assert_eq!(computes(&sent), pairs(&[(W2, "g0")]));
    let sent = sim.remove_worker(W2);
    assert!(computes(&sent).is_empty(), "W1 has no GPU: {sent:?}");
    assert_eq!(sim.state_of("g0"), "no-worker");
    assert_eq!(sim.state_of("g1"), "no-worker");
    assert_eq!(sim.state.unplaceable(16).len(), 2);
    let sent = sim.add_worker(WorkerBuilder::new(W3).resources("GPU=2"));
    assert_eq!(computes(&sent), pairs(&[(W3, "g0"), (W3, "g1")]));
}

#[test]
fn more_than_any_worker_offers_waits_visibly() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1).resources("GPU=2"));
    submit_all(&mut sim, "big", 1, &needing(&[("GPU", 3.0)]));
    assert_eq!(sim.state_of("big0"), "no-worker");
    let noted = sim.state.take_unplaceable_notes();
    assert!(noted[0].1.contains("resources GPU=3"), "{noted:?}");
}

#[test]
fn restrictions_survive_a_restart_of_the_workers_records() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).resources("GPU=1"));
    submit_all(&mut sim, "g", 1, &needing(&[("GPU", 1.0)]));
    sim.restart();
    let sent = submit_all(&mut sim, "r", 2, &needing(&[("GPU", 1.0)]));
    assert_eq!(
        computes(&sent),
        pairs(&[(W2, "r0")]),
        "resources reset and kept"
    );
}
