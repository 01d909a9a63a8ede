//! Many independent tasks over a small pool, driven to memory and released: correctness
//! at scale (timings belong in a bench).

use std::collections::VecDeque;

use super::*;

#[test]
fn hundred_thousand_independent_tasks_run_and_release() {
    const N: usize = 100_000;
    let mut state = SchedulerState::new(test_config());
    let mut out = RecordingOutbox::default();
    state.on_worker_added(W1, 2, vec![func()], &mut out);
    state.on_worker_added(W2, 2, vec![func()], &mut out);
    let tasks: Vec<NewTask> = (0..N)
        .map(|i| TaskBuilder::new(&format!("t-{i}")).order(i as i64).build())
        .collect();
    let wanted: Vec<TaskKey> = tasks.iter().map(|task| task.key.clone()).collect();
    state.on_update_graph(C1, tasks, wanted.clone(), &mut out);
    state.sanity_check();
    assert_eq!(
        state.queued_count(),
        N - 12,
        "2 workers x (2 threads x 2 + 2)"
    );

    let mut running: VecDeque<(WorkerId, TaskKey)> = VecDeque::new();
    let mut in_memory = 0;
    let mut checks = 0;
    loop {
        for sent in out.sent.drain(..) {
            match sent {
                Sent::Compute(worker, task) => running.push_back((worker, task.key)),
                Sent::InMemory(C1, _) => in_memory += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        let Some((worker, key)) = running.pop_front() else {
            break;
        };
        state
            .on_task_finished(worker, key, 8, &mut out)
            .expect("the worker was asked to run it");
        if in_memory % 25_000 == 0 && in_memory / 25_000 > checks {
            checks += 1;
            state.sanity_check();
        }
    }
    assert_eq!(in_memory, N);
    assert_eq!(state.keys_in_memory(), N);
    state.sanity_check();

    state.on_client_releases(C1, wanted, &mut out);
    let released: usize = releases(&out.sent).len();
    assert_eq!(released, N);
    assert_eq!(state.task_count(), 0);
    assert_eq!(state.keys_in_memory(), 0);
    state.sanity_check();
}
