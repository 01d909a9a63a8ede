//! Tasks that cannot run or fail: undecodable, unknown function, signature mismatch, an error
//! returned, a panic — each reported once as erred, naming this worker.

use super::*;
use crate::function::CallError;
use crate::scheduler::TaskFailure;

fn erred(sent: &[Sent]) -> TaskFailure {
    match &reports(sent)[..] {
        [TaskEvent::Erred { failure, .. }] => failure.clone().into(),
        other => panic!("expected one erred report, got {other:?}"),
    }
}

#[test]
fn an_undecodable_task_errs_without_running() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a").garbage_spec()]);
    assert!(runs(&sent).is_empty());
    let TaskFailure::Failed {
        worker, message, ..
    } = erred(&sent)
    else {
        panic!("expected Failed");
    };
    assert_eq!(worker, ME);
    assert!(message.starts_with("undecodable task"), "{message}");
}

#[test]
fn an_unknown_function_errs_without_fetching() {
    let mut sim = Sim::new();
    let task = TaskBuilder::new("a")
        .function(FunctionId::new("g", 1))
        .input("x", &[W2]);
    let sent = sim.compute(vec![task]);
    assert!(fetches(&sent).is_empty());
    assert!(matches!(erred(&sent), TaskFailure::UnknownFunction { .. }));
}

#[test]
fn a_signature_mismatch_says_to_rebuild() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a").function(FunctionId::new("f", 7))]);
    let TaskFailure::Failed { message, .. } = erred(&sent) else {
        panic!("expected Failed");
    };
    assert!(message.contains("rebuild the worker"), "{message}");
}

#[test]
fn an_error_and_a_panic_are_reported_with_function_and_worker() {
    let mut sim = Sim::new();
    sim.compute(vec![TaskBuilder::new("a").order(1), TaskBuilder::new("b")]);
    let failed = CallOutcome::Failed(CallError::Failed("bad input".into()));
    let TaskFailure::Failed {
        function,
        worker,
        message,
        ..
    } = erred(&sim.done("a", failed))
    else {
        panic!("expected Failed");
    };
    assert_eq!(
        (function, worker, message.as_str()),
        (func(), ME, "bad input")
    );
    let sent = sim.done("b", CallOutcome::Panicked("boom".into()));
    assert!(matches!(
        erred(&sent),
        TaskFailure::Panicked { message, worker: ME, .. } if message == "boom"
    ));
    assert_eq!(sim.state.stored_keys(), 0);
    // An erred task is forgotten: asked again, it runs again.
    assert_eq!(
        runs(&sim.compute(vec![TaskBuilder::new("b")])),
        keys(&["b"])
    );
}
