//! The task boundary: calling a registered function on resolved arguments, with a panic
//! caught and turned into an outcome. Worker threads and the threaded scheduler both call
//! through here, so a panic means the same thing on a cluster and on local threads.
//!
//! Knows nothing of queues, threads or where the outcome goes next.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::registry::Invoke;
use super::{ArgReader, ArgSlot, CallError, Value};

/// A function ready to run: what to call and its resolved arguments.
pub struct Call {
    /// The function.
    pub invoke: Invoke,
    /// Its resolved arguments.
    pub args: Vec<ArgSlot>,
    /// Runs again after a failure (an `Err` or a panic) this many times at most.
    pub retries: u32,
}

/// How a call ended.
#[derive(Debug)]
pub enum CallOutcome {
    /// It returned a value.
    Value(Arc<dyn Value>),
    /// It returned `Err` or could not read its arguments.
    Failed(CallError),
    /// It panicked; the panic's message.
    Panicked(String),
}

impl Call {
    /// Runs the call, turning a panic into [`CallOutcome::Panicked`]; after a failure, runs
    /// it again up to `retries` times. When every attempt failed, the last failure's message
    /// says how many there were: "failed after 4 attempts: …".
    pub fn run(self) -> CallOutcome {
        let attempts = self.retries.saturating_add(1);
        for _ in 1..attempts {
            match self.attempt() {
                CallOutcome::Value(value) => return CallOutcome::Value(value),
                CallOutcome::Failed(_) | CallOutcome::Panicked(_) => continue,
            }
        }
        match self.attempt() {
            CallOutcome::Failed(error) if attempts > 1 => {
                CallOutcome::Failed(CallError::Failed(after_attempts(attempts, error)))
            }
            CallOutcome::Panicked(message) if attempts > 1 => {
                CallOutcome::Panicked(after_attempts(attempts, message))
            }
            outcome => outcome,
        }
    }

    fn attempt(&self) -> CallOutcome {
        let reader = ArgReader::new(&self.args);
        match catch_unwind(AssertUnwindSafe(|| (self.invoke)(&reader))) {
            Ok(Ok(value)) => CallOutcome::Value(value),
            Ok(Err(error)) => CallOutcome::Failed(error),
            Err(payload) => CallOutcome::Panicked(panic_message(payload.as_ref())),
        }
    }
}

fn after_attempts(attempts: u32, last: impl std::fmt::Display) -> String {
    format!("failed after {attempts} attempts: {last}")
}

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    static CALLS_UNTIL_SUCCESS: AtomicU32 = AtomicU32::new(0);

    /// Fails (an `Err` then a panic, alternately) until `CALLS_UNTIL_SUCCESS` runs out.
    fn flaky(_: &ArgReader<'_>) -> Result<Arc<dyn Value>, CallError> {
        match CALLS_UNTIL_SUCCESS.fetch_sub(1, Ordering::SeqCst) {
            0 => {
                CALLS_UNTIL_SUCCESS.store(0, Ordering::SeqCst);
                Ok(Arc::new(7_i64))
            }
            n if n % 2 == 0 => Err(CallError::Failed(format!("flaky, {n} to go"))),
            n => panic!("flaky, {n} to go"),
        }
    }

    fn call(retries: u32) -> Call {
        Call {
            invoke: flaky,
            args: Vec::new(),
            retries,
        }
    }

    // One test, so the counter has one user.
    #[test]
    fn retries_run_again_and_say_how_many_attempts_failed() {
        CALLS_UNTIL_SUCCESS.store(3, Ordering::SeqCst);
        match call(3).run() {
            CallOutcome::Value(value) => assert_eq!(value.as_any().downcast_ref(), Some(&7_i64)),
            other => panic!("expected the fourth attempt to succeed, got {other:?}"),
        }
        CALLS_UNTIL_SUCCESS.store(4, Ordering::SeqCst);
        match call(3).run() {
            CallOutcome::Panicked(message) => {
                assert_eq!(message, "failed after 4 attempts: flaky, 1 to go")
            }
            other => panic!("expected four failures, got {other:?}"),
        }
        CALLS_UNTIL_SUCCESS.store(1, Ordering::SeqCst);
        match call(0).run() {
            CallOutcome::Panicked(message) => assert_eq!(message, "flaky, 1 to go"),
            other => panic!("expected one plain failure, got {other:?}"),
        }
    }
}
