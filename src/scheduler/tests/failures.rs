//! Errors: propagation to dependents naming the root, malformed graphs, KilledWorker,
//! and stale events from workers.

use super::*;

#[test]
fn an_error_propagates_to_dependents_naming_the_root() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    let tasks = vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").deps(&["a"]),
        TaskBuilder::new("c").deps(&["b"]),
    ];
    sim.submit(C1, tasks, &["c"]);
    // C2 shares b by submitting the same tasks.
    let shared = vec![
        TaskBuilder::new("a"),
        TaskBuilder::new("b").deps(&["a"]),
        TaskBuilder::new("d").deps(&["b"]),
    ];
    sim.submit(C2, shared, &["d"]);
    sim.shares(C2, &["a"]);
    let sent = sim.fail(W1, "a", "boom");
    let root = failed(W1, "a", "boom");
    let mut told = reports(&sent);
    told.sort_by_key(|sent| format!("{sent:?}"));
    assert_eq!(
        told,
        vec![
            Sent::Erred(C1, key("c"), root.for_dependent(key("c"))),
            Sent::Erred(C2, key("a"), root.clone()),
            Sent::Erred(C2, key("d"), root.for_dependent(key("d"))),
        ]
    );
    let Some(TaskState::Erred { failure }) = sim.state.task_state(&key("c")) else {
        panic!()
    };
    let TaskFailure::DependencyFailed { root_key, .. } = failure.as_ref() else {
        panic!()
    };
    assert_eq!(root_key, &key("a"));
    assert_eq!(sim.state_of("b"), "erred");
    // Wanting an erred key reports it at once.
    assert_eq!(
        sim.shares(C1, &["b"]),
        vec![Sent::Erred(C1, key("b"), root.for_dependent(key("b")))]
    );
    sim.releases(C1, &["c", "b"]);
    sim.releases(C2, &["d", "a"]);
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn an_unknown_dependency_errs_the_task_and_its_dependents() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    let tasks = vec![
        TaskBuilder::new("b").deps(&["nope"]),
        TaskBuilder::new("c").deps(&["b"]),
    ];
    let sent = sim.submit(C1, tasks, &["c"]);
    let unknown = TaskFailure::UnknownDependency {
        key: key("b"),
        dependency: key("nope"),
    };
    assert_eq!(
        sent,
        vec![Sent::Erred(C1, key("c"), unknown.for_dependent(key("c")))]
    );
    sim.releases(C1, &["c"]);
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn a_cycle_errs_without_looping_and_is_forgotten() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    let tasks = vec![
        TaskBuilder::new("a").deps(&["b"]),
        TaskBuilder::new("b").deps(&["a"]),
        TaskBuilder::new("self").deps(&["self"]),
        TaskBuilder::new("c").deps(&["a"]),
        TaskBuilder::new("ok"),
    ];
    let sent = sim.submit(C1, tasks, &["c", "self", "ok"]);
    assert_eq!(computes(&sent), pairs(&[(W1, "ok")]));
    assert_eq!(
        reports(&sent),
        vec![
            Sent::Erred(C1, key("c"), TaskFailure::DependencyCycle { key: key("c") }),
            Sent::Erred(
                C1,
                key("self"),
                TaskFailure::DependencyCycle { key: key("self") }
            ),
        ]
    );
    sim.releases(C1, &["c", "self", "ok"]);
    assert_eq!(sim.state.task_count(), 0);
}

#[test]
fn a_task_that_kills_workers_errs_with_killed_worker() {
    let config = SchedulerConfig {
        allowed_failures: 1,
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(
        C1,
        vec![
            TaskBuilder::new("bomb"),
            TaskBuilder::new("after").deps(&["bomb"]),
        ],
        &["after"],
    );
    sim.add_worker(WorkerBuilder::new(W2));
    let sent = sim.remove_worker(W1);
    assert_eq!(computes(&sent), pairs(&[(W2, "bomb")]));
    assert_eq!(sim.state.suspicious(&key("bomb")), 1);
    sim.add_worker(WorkerBuilder::new(W3));
    let sent = sim.remove_worker(W2);
    let killed = TaskFailure::KilledWorker {
        key: key("bomb"),
        deaths: vec![
            WorkerDeath {
                worker: W1,
                cause: died_of_signal(),
            },
            WorkerDeath {
                worker: W2,
                cause: died_of_signal(),
            },
        ],
    };
    assert_eq!(
        sent,
        vec![Sent::Erred(
            C1,
            key("after"),
            killed.for_dependent(key("after"))
        )]
    );
    assert_eq!(sim.state_of("bomb"), "erred");
    assert_eq!(sim.state.processing_count(W3), Some(0));
}

#[test]
fn stale_worker_reports_are_ignored_or_released() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2));
    sim.submit(C1, vec![TaskBuilder::new("a")], &["a"]);
    assert_eq!(sim.runner("a"), Some(W1));
    assert!(sim.fail(W2, "a", "not yours").is_empty());
    assert_eq!(
        sim.finish(W2, "a", 1),
        vec![Sent::Release(W2, keys(&["a"]))]
    );
    assert_eq!(
        sim.finish(W1, "zzz", 1),
        vec![Sent::Release(W1, keys(&["zzz"]))]
    );
    assert!(sim.finish(WorkerId(99), "a", 1).is_empty());
    assert_eq!(sim.finish(W1, "a", 1), vec![Sent::InMemory(C1, key("a"))]);
    // A copy of a key in memory from a worker never asked for it is not a replica.
    assert_eq!(
        sim.finish(W2, "a", 1),
        vec![Sent::Release(W2, keys(&["a"]))]
    );
    assert_eq!(sim.state.who_has(&key("a")), &[W1]);
    let sent = sim.releases(C1, &["a"]);
    assert_eq!(releases(&sent), pairs(&[(W1, "a")]));
}

#[test]
fn killed_worker_names_each_death_and_its_cause() {
    let config = SchedulerConfig {
        allowed_failures: 2,
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    let causes = [
        DeathCause::Signal {
            number: 6,
            name: "SIGABRT".into(),
        },
        DeathCause::heartbeats_lost(std::time::Duration::from_secs(61)),
        DeathCause::MemoryLimit {
            limit_bytes: 500 << 20,
            rss_bytes: 512 << 20,
        },
    ];
    let workers = [W1, W2, W3];
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(C1, vec![TaskBuilder::new("bomb")], &["bomb"]);
    let mut last = Vec::new();
    for (i, (worker, cause)) in workers.into_iter().zip(causes).enumerate() {
        if let Some(&next) = workers.get(i + 1) {
            sim.add_worker(WorkerBuilder::new(next));
        }
        assert_eq!(sim.runner("bomb"), Some(worker));
        last = sim.lose_worker_of(worker, cause).1;
        assert_eq!(sim.state.suspicious(&key("bomb")), i as u32 + 1);
    }
    let [Sent::Erred(C1, erred, failure)] = &last[..] else {
        panic!("expected one error, got {last:?}");
    };
    assert_eq!(erred, &key("bomb"));
    assert_eq!(
        failure.to_string(),
        "task bomb was running on 3 workers that died: w1 killed by signal SIGABRT, \
         w2 sent no heartbeat for 61.0 s, w3 exceeded its memory limit of 500 MiB (RSS 512 MiB)"
    );
}

#[test]
fn tasks_left_without_any_worker_wait_and_are_counted() {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.submit(
        C1,
        vec![TaskBuilder::new("a"), TaskBuilder::new("b").deps(&["a"])],
        &["b"],
    );
    assert_eq!(sim.state.waiting_for_worker(), 0);
    let sent = sim.remove_worker(W1);
    assert!(
        sent.is_empty(),
        "nothing errs while no worker is left: {sent:?}"
    );
    assert_eq!(sim.state_of("a"), "no-worker");
    assert_eq!(
        sim.state.waiting_for_worker(),
        1,
        "b waits for a, not for a worker"
    );
    sim.add_worker(WorkerBuilder::new(W2));
    assert_eq!(sim.runner("a"), Some(W2));
    assert_eq!(sim.state.waiting_for_worker(), 0);
}
