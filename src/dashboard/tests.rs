//! The model's counts, rings and bounds.

use super::*;
use crate::ids::{TaskKey, WorkerId};

fn joined(model: &mut DashboardModel, id: u32) {
    let observation = Observation::WorkerJoined {
        id: WorkerId(id),
        name: format!("w{id}"),
        addr: format!("127.0.0.1:{}", 4000 + id),
        nthreads: 1,
        memory_limit: 1 << 30,
    };
    model.observe(observation, 0.0);
}

fn submit(model: &mut DashboardModel, key: &str, function: &str, deps: &[&str]) {
    let dependencies = deps.iter().map(|&d| TaskKey::from(d)).collect();
    let observation = Observation::TaskSubmitted {
        key: key.into(),
        function: function.into(),
        dependencies,
    };
    model.observe(observation, 0.0);
}

#[test]
fn counts_follow_a_task_through_its_phases_per_function_and_layer() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    for i in 0..3 {
        submit(&mut model, &format!("('x', {i})"), "make", &[]);
    }
    submit(
        &mut model,
        "total",
        "sum_all",
        &["('x', 0)", "('x', 1)", "('x', 2)"],
    );
    assert_eq!(model.totals().waiting, 4);
    model.observe(
        Observation::TaskSent {
            key: "('x', 0)".into(),
            worker: WorkerId(1),
        },
        1.0,
    );
    model.observe(
        Observation::TaskFinished {
            key: "('x', 0)".into(),
        },
        1.5,
    );
    model.observe(
        Observation::TaskSent {
            key: "('x', 1)".into(),
            worker: WorkerId(1),
        },
        1.5,
    );
    let snapshot = model.snapshot(2.0, 100);
    assert_eq!(
        snapshot.totals,
        Counts {
            waiting: 2,
            processing: 1,
            memory: 1,
            erred: 0,
            released: 0
        }
    );
    assert_eq!(snapshot.finished_total, 1);
    let make = snapshot
        .functions
        .iter()
        .find(|f| f.function == "make")
        .expect("make");
    assert_eq!(
        (
            make.counts.waiting,
            make.counts.processing,
            make.counts.memory
        ),
        (1, 1, 1)
    );
    let total = snapshot
        .layers
        .iter()
        .find(|l| l.name == "total")
        .expect("total layer");
    assert_eq!(total.inputs, vec!["x".to_string()]);
    assert_eq!(snapshot.workers[0].processing, 1);
    assert_eq!(snapshot.stream.len(), 1);
    assert_eq!(
        (snapshot.stream[0].start, snapshot.stream[0].stop),
        (1.0, 1.5)
    );
}

#[test]
fn released_tasks_are_forgotten_but_still_counted_as_done() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    submit(&mut model, "inc-00ff", "inc", &[]);
    model.observe(
        Observation::TaskSent {
            key: "inc-00ff".into(),
            worker: WorkerId(1),
        },
        0.1,
    );
    model.observe(
        Observation::TaskFinished {
            key: "inc-00ff".into(),
        },
        0.2,
    );
    model.observe(
        Observation::TaskReleased {
            key: "inc-00ff".into(),
        },
        0.3,
    );
    assert_eq!(
        model.totals(),
        Counts {
            released: 1,
            ..Counts::default()
        }
    );
    model.observe(
        Observation::TaskFinished {
            key: "inc-00ff".into(),
        },
        0.4,
    );
    assert_eq!(
        model.totals(),
        Counts {
            released: 1,
            ..Counts::default()
        },
        "a late report changes nothing"
    );
}

#[test]
fn a_lost_worker_stays_listed_with_its_cause_and_the_log_says_so() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    model.observe(
        Observation::WorkerLost {
            id: WorkerId(1),
            cause: "killed by SIGKILL".into(),
        },
        3.0,
    );
    let snapshot = model.snapshot(3.0, 10);
    assert_eq!(snapshot.workers[0].state, "dead: killed by SIGKILL");
    assert!(snapshot
        .events
        .last()
        .expect("event")
        .text
        .contains("w1 lost: killed by SIGKILL"));
}

#[test]
fn rings_and_groups_stay_bounded_whatever_the_graph() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    for i in 0..10_000 {
        let key = format!("f{i}-{i:x}");
        submit(&mut model, &key, &format!("function{i}"), &[]);
        model.observe(
            Observation::TaskSent {
                key: key.as_str().into(),
                worker: WorkerId(1),
            },
            i as f64,
        );
        model.observe(
            Observation::TaskFinished {
                key: key.as_str().into(),
            },
            i as f64 + 0.5,
        );
        model.observe(Observation::Note(format!("note {i}")), 0.0);
    }
    let snapshot = model.snapshot(1e4, usize::MAX);
    assert!(snapshot.stream.len() <= 4_000);
    assert!(snapshot.events.len() <= 200);
    assert!(
        snapshot.functions.len() <= 257,
        "{}",
        snapshot.functions.len()
    );
    assert!(snapshot.layers.len() <= 257);
    let other = snapshot
        .functions
        .iter()
        .find(|f| f.function == "(other)")
        .expect("(other)");
    assert_eq!(
        snapshot
            .functions
            .iter()
            .map(|f| f.counts.memory)
            .sum::<u64>(),
        10_000
    );
    assert!(other.counts.memory > 9_000);
}

#[test]
fn layers_group_indexed_and_hashed_keys() {
    assert_eq!(layer_of("('sum', 12)"), "sum");
    assert_eq!(layer_of("inc-8bca9d0e"), "inc");
    assert_eq!(layer_of("x-3"), "x");
    assert_eq!(layer_of("my-name"), "my-name");
    assert_eq!(layer_of("-ff"), "-ff");
}

#[test]
fn a_failed_task_stays_counted_as_failed_once_forgotten() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    submit(&mut model, "bad-01", "bad", &[]);
    model.observe(
        Observation::TaskSent {
            key: "bad-01".into(),
            worker: WorkerId(1),
        },
        0.1,
    );
    model.observe(
        Observation::TaskErred {
            key: "bad-01".into(),
        },
        0.2,
    );
    model.observe(
        Observation::TaskReleased {
            key: "bad-01".into(),
        },
        0.3,
    );
    assert_eq!(
        model.totals(),
        Counts {
            erred: 1,
            ..Counts::default()
        }
    );
    assert!(model.snapshot(0.4, 10).stream[0].erred);
}
