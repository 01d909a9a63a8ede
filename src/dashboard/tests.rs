//! The model's counts, rings and bounds.

use super::*;
use crate::ids::{TaskKey, WorkerId};
use crate::messages::activity::{ActivityMsg, SpanKind, SpanMsg};

fn compute(thread: u32, function: &str, ago_us: (u64, u64), erred: bool) -> SpanMsg {
    SpanMsg {
        kind: SpanKind::Compute {
            thread,
            function: function.into(),
            erred,
        },
        started_us_ago: ago_us.0,
        stopped_us_ago: ago_us.1,
    }
}

fn activity(model: &mut DashboardModel, id: u32, spans: Vec<SpanMsg>, now: f64) {
    let activity = ActivityMsg {
        spans,
        ..ActivityMsg::default()
    };
    let observation = Observation::WorkerActivity {
        id: WorkerId(id),
        activity,
    };
    model.observe(observation, now);
}

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
    assert!(
        snapshot.stream.is_empty(),
        "bars come from the workers' reports"
    );
}

#[test]
fn the_task_stream_has_a_row_per_thread_and_marks_transfers_and_spills() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    let transfer = SpanMsg {
        kind: SpanKind::Transfer { nbytes: 4096 },
        started_us_ago: 900_000,
        stopped_us_ago: 800_000,
    };
    let spill = SpanMsg {
        kind: SpanKind::Spill { nbytes: 1 << 20 },
        started_us_ago: 300_000,
        stopped_us_ago: 100_000,
    };
    let spans = vec![
        compute(0, "inc", (1_000_000, 500_000), false),
        compute(1, "inc", (700_000, 200_000), true),
        transfer,
        spill,
    ];
    activity(&mut model, 1, spans, 10.0);
    let stream = model.snapshot(10.0, 100).stream;
    let rows: Vec<_> = stream.iter().map(|s| (s.thread, s.kind)).collect();
    assert_eq!(
        rows,
        vec![
            (Some(0), "compute"),
            (Some(1), "compute"),
            (None, "transfer"),
            (None, "spill")
        ]
    );
    assert_eq!((stream[0].start, stream[0].stop), (9.0, 9.5));
    assert!(stream[1].erred);
    assert_eq!(&*stream[2].function, "transfer");
    assert_eq!(stream[3].nbytes, 1 << 20);
}

#[test]
fn cpu_and_network_rates_come_from_two_reports_and_pausing_shows() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    let report = |cpu_seconds, bytes_in, bytes_out, paused| Observation::WorkerActivity {
        id: WorkerId(1),
        activity: ActivityMsg {
            cpu_seconds,
            bytes_in,
            bytes_out,
            paused,
            ..ActivityMsg::default()
        },
    };
    model.observe(report(1.0, 0, 0, false), 1.0);
    assert_eq!(model.snapshot(1.0, 0).workers[0].cpu_percent, 0.0);
    model.observe(report(1.5, 2_000, 500, true), 3.0);
    let panel = &model.snapshot(3.0, 0).workers[0];
    assert_eq!(panel.cpu_percent, 25.0);
    assert_eq!(
        (panel.bytes_in_per_second, panel.bytes_out_per_second),
        (1_000.0, 250.0)
    );
    assert_eq!(panel.state, "paused");
    model.observe(
        Observation::WorkerLoad {
            id: WorkerId(1),
            memory_used: 100,
            stored_bytes: 70,
            peer_bytes_in: 2_000,
            spilled_bytes: 30,
        },
        3.0,
    );
    let panel = &model.snapshot(3.0, 0).workers[0];
    assert_eq!((panel.managed_bytes, panel.unmanaged_bytes), (40, 60));
}

#[test]
fn a_restarting_worker_says_so_and_makes_way_for_its_successor() {
    let mut model = DashboardModel::default();
    joined(&mut model, 1);
    model.observe(
        Observation::WorkerLost {
            id: WorkerId(1),
            cause: "killed by signal 9".into(),
            restarting: true,
        },
        1.0,
    );
    let snapshot = model.snapshot(1.0, 0);
    assert_eq!(snapshot.workers[0].state, "restarting: killed by signal 9");
    assert!(snapshot
        .events
        .last()
        .expect("a line")
        .text
        .contains("restarts it"));
    let successor = Observation::WorkerJoined {
        id: WorkerId(2),
        name: "w1".into(),
        addr: "127.0.0.1:4002".into(),
        nthreads: 1,
        memory_limit: 0,
    };
    model.observe(successor, 2.0);
    let workers = model.snapshot(2.0, 0).workers;
    assert_eq!(workers.len(), 1, "the old panel made way");
    assert_eq!((workers[0].id, workers[0].state.as_str()), (2, "running"));
}

#[test]
fn message_counts_add_up_across_batches() {
    let mut model = DashboardModel::default();
    let mut counts = MessageCounts::default();
    counts.add(MessageKind::Compute, 3);
    model.observe(Observation::Messages(counts), 0.0);
    model.observe(Observation::Messages(counts), 0.0);
    assert_eq!(model.messages().get(MessageKind::Compute), 6);
    assert_eq!(model.messages().get(MessageKind::Ack), 0);
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
            restarting: false,
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
        activity(
            &mut model,
            1,
            vec![compute(0, "f", (10, 5), false)],
            i as f64,
        );
    }
    let snapshot = model.snapshot(1e4, usize::MAX);
    assert_eq!(snapshot.stream.len(), 4_000);
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
}
