//! What the scheduler takes on a peer's word. A worker reports only on what it was asked:
//! claims to hold keys it was never given, to finish or fail tasks it was not running, or
//! to miss a copy it was not sent to fetch are ignored (with the reason returned for the
//! log). A client uses only its own keys: another's it can take only by submitting the same
//! task (with inputs it holds); its releases and cancels touch only its own futures.

use super::*;
use crate::scheduler::IgnoredReport;

const C3: ClientId = ClientId(3);

/// W1 runs "a" for C1; W2 is connected and idle.
fn a_running_on_w1() -> Sim {
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![]));
    sim.submit(C1, vec![TaskBuilder::new("a")], &["a"]);
    assert_eq!(sim.runner("a"), Some(W1));
    sim
}

fn not_running(worker: WorkerId, name: &str, state: &str) -> Result<(), IgnoredReport> {
    Err(IgnoredReport::NotRunning {
        worker,
        key: key(name),
        state: state.into(),
    })
}

#[test]
fn a_result_for_a_task_running_elsewhere_is_ignored_and_the_runner_keeps_it() {
    let mut sim = a_running_on_w1();
    let (checked, sent) = sim.step_with(|s, out| s.on_task_finished(W2, key("a"), 1, out));
    assert_eq!(checked, not_running(W2, "a", "processing on w1"));
    assert!(checked.unwrap_err().to_string().contains("forged"));
    assert_eq!(sent, vec![Sent::Release(W2, keys(&["a"]))]);
    assert_eq!(sim.runner("a"), Some(W1), "C1 is not told a is done");
    assert_eq!(sim.finish(W1, "a", 1), vec![Sent::InMemory(C1, key("a"))]);
}

#[test]
fn a_worker_cannot_claim_to_hold_a_key_it_was_never_given() {
    let mut sim = a_running_on_w1();
    sim.finish(W1, "a", 1);
    let (checked, sent) = sim.step_with(|s, out| s.on_task_finished(W2, key("a"), 1, out));
    assert_eq!(checked, not_running(W2, "a", "memory"));
    assert_eq!(sent, vec![Sent::Release(W2, keys(&["a"]))]);
    assert_eq!(sim.state.who_has(&key("a")), &[W1]);
    assert!(sim.state.has_what(W2).is_empty());
    let (checked, _) = sim.step_with(|s, out| s.on_task_finished(W2, key("nope"), 1, out));
    assert_eq!(checked, not_running(W2, "nope", "unknown"));
    assert_eq!(
        sim.state.task_state(&key("nope")),
        None,
        "nothing is created"
    );
}

#[test]
fn a_failure_of_a_task_running_elsewhere_is_ignored() {
    let mut sim = a_running_on_w1();
    let (checked, sent) =
        sim.step_with(|s, out| s.on_task_erred(W2, key("a"), failed(W2, "a", "forged"), out));
    assert_eq!(checked, not_running(W2, "a", "processing on w1"));
    assert!(sent.is_empty(), "C1 hears nothing: {sent:?}");
    assert_eq!(sim.runner("a"), Some(W1));
}

#[test]
fn an_unknown_worker_changes_nothing() {
    let mut sim = a_running_on_w1();
    let stranger = WorkerId(99);
    let (checked, sent) = sim.step_with(|s, out| s.on_task_finished(stranger, key("a"), 1, out));
    assert_eq!(
        checked,
        Err(IgnoredReport::UnknownWorker { worker: stranger })
    );
    assert!(sent.is_empty());
    assert_eq!(sim.runner("a"), Some(W1));
}

/// W1 holds "a" and "x"; W2 runs "b", which needs "a" only.
fn b_fetching_a_on_w2() -> Sim {
    let g = FunctionId::new("g", 7);
    let mut sim = Sim::new();
    sim.add_worker(WorkerBuilder::new(W1));
    sim.add_worker(WorkerBuilder::new(W2).functions(vec![g.clone()]));
    sim.add_worker(WorkerBuilder::new(W3).functions(vec![g.clone()]));
    let tasks = vec![TaskBuilder::new("a"), TaskBuilder::new("x")];
    sim.submit(C1, tasks, &["a", "x"]);
    sim.finish(W1, "a", 4);
    sim.finish(W1, "x", 4);
    let b = TaskBuilder::new("b").deps(&["a"]).function(g);
    sim.submit(C1, vec![b], &["b"]);
    assert_eq!(sim.runner("b"), Some(W2));
    sim
}

#[test]
fn a_worker_not_running_the_task_cannot_make_another_drop_its_copy() {
    let mut sim = b_fetching_a_on_w2();
    let (checked, sent) =
        sim.step_with(|s, out| s.on_missing_dependency(W3, key("b"), key("a"), W1, out));
    assert_eq!(checked, not_running(W3, "b", "processing on w2"));
    assert!(sent.is_empty(), "W1 is not told to drop a: {sent:?}");
    assert_eq!(sim.state.who_has(&key("a")), &[W1]);
    assert_eq!(sim.runner("b"), Some(W2));
}

#[test]
fn a_missing_key_the_task_does_not_need_is_ignored() {
    let mut sim = b_fetching_a_on_w2();
    let (checked, sent) =
        sim.step_with(|s, out| s.on_missing_dependency(W2, key("b"), key("x"), W1, out));
    assert_eq!(
        checked,
        Err(IgnoredReport::NotADependency {
            worker: W2,
            key: key("b"),
            dependency: key("x"),
        })
    );
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(sim.state.who_has(&key("x")), &[W1]);
    assert_eq!(sim.runner("b"), Some(W2));
    // The runner's true report is taken.
    let (checked, sent) =
        sim.step_with(|s, out| s.on_missing_dependency(W2, key("b"), key("a"), W1, out));
    assert_eq!(checked, Ok(()));
    assert!(releases(&sent).contains(&(W1, key("a"))), "{sent:?}");
}

#[test]
fn a_client_releases_and_cancels_only_its_own_futures() {
    let mut sim = a_running_on_w1();
    assert!(sim.releases(C2, &["a"]).is_empty());
    assert!(sim.cancel(C2, &["a"]).is_empty());
    assert_eq!(sim.runner("a"), Some(W1), "C1's task still runs");
    assert_eq!(sim.finish(W1, "a", 1), vec![Sent::InMemory(C1, key("a"))]);
    assert!(sim.releases(C2, &["a"]).is_empty());
    assert_eq!(sim.state.who_has(&key("a")), &[W1], "C1's value stays");
}

fn foreign(client: ClientId, name: &str) -> Sent {
    Sent::Lost(client, key(name), crate::scheduler::FOREIGN_KEY.into())
}

#[test]
fn a_client_cannot_want_or_read_another_clients_key_by_naming_it() {
    let mut sim = a_running_on_w1();
    sim.finish(W1, "a", 1);
    assert_eq!(sim.wants(C2, &["a"]), vec![foreign(C2, "a")]);
    let reader = TaskBuilder::new("reader").deps(&["a"]);
    let sent = sim.submit(C2, vec![reader], &["reader"]);
    let unknown = TaskFailure::UnknownDependency {
        key: key("reader"),
        dependency: key("a"),
    };
    assert_eq!(
        reports(&sent),
        vec![Sent::Erred(C2, key("reader"), unknown)]
    );
    assert!(computes(&sent).is_empty(), "nothing reads a for C2");
    // Another task under the same key is not the same computation.
    let impostor = TaskBuilder::new("a").function(FunctionId::new("g", 9));
    assert_eq!(
        sim.submit(C2, vec![impostor], &["a"]),
        vec![foreign(C2, "a")]
    );
    assert_eq!(sim.state.who_has(&key("a")), &[W1]);
}

#[test]
fn resubmitting_the_same_task_shares_its_result_but_not_inputs_the_client_lacks() {
    let mut sim = a_running_on_w1();
    sim.finish(W1, "a", 1);
    assert_eq!(
        sim.submit(C2, vec![TaskBuilder::new("a")], &["a"]),
        vec![Sent::InMemory(C2, key("a"))],
        "the same call: C2 could compute it, so it shares it"
    );
    // C1's scattered secret, and a task over it: C2 can name the task, not the secret.
    sim.scatter(C1, "secret", W1, 8);
    sim.submit(C1, vec![TaskBuilder::new("t").deps(&["secret"])], &["t"]);
    sim.finish(W1, "t", 1);
    let t = TaskBuilder::new("t").deps(&["secret"]);
    assert_eq!(sim.submit(C3, vec![t], &["t"]), vec![foreign(C3, "t")]);
    // With the secret in hand (scattered by C3 too), the same task is shared.
    sim.scatter(C3, "secret", W1, 8);
    let t = TaskBuilder::new("t").deps(&["secret"]);
    assert_eq!(
        sim.submit(C3, vec![t], &["t"]),
        vec![Sent::InMemory(C3, key("t"))]
    );
}

#[test]
fn a_client_cannot_take_a_computed_key_by_claiming_to_have_scattered_it() {
    let mut sim = a_running_on_w1();
    sim.finish(W1, "a", 1);
    assert_eq!(
        sim.scatter(C2, "a", W2, 1),
        vec![foreign(C2, "a"), Sent::Release(W2, keys(&["a"]))]
    );
    assert_eq!(sim.state.who_has(&key("a")), &[W1]);
    assert!(!sim.state.task(&key("a")).who_wants.contains(&C2));
    // Scattered data is shared by scattering the same value.
    sim.scatter(C1, "data", W1, 4);
    assert_eq!(
        sim.scatter(C2, "data", W2, 4),
        vec![Sent::InMemory(C2, key("data"))]
    );
}
