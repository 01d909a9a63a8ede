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
    /// Runs the call, turning a panic into [`CallOutcome::Panicked`].
    pub fn run(self) -> CallOutcome {
        let Call { invoke, args } = self;
        match catch_unwind(AssertUnwindSafe(|| invoke(&ArgReader::new(&args)))) {
            Ok(Ok(value)) => CallOutcome::Value(value),
            Ok(Err(error)) => CallOutcome::Failed(error),
            Err(payload) => CallOutcome::Panicked(panic_message(payload.as_ref())),
        }
    }
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
