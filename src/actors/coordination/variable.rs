//! [`Variable`]: a named cell holding a value or a future, shared across the cluster.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{coordinate, expect_done, future_item, read_future, read_value, value_item};
use crate::messages::coordination::{CoordinationRequest, ItemKind, Primitive};
use crate::{Executor, Future};

/// A variable known by name across the cluster (dask's `distributed.Variable`): one
/// executor sets a value (any serde type, up to 1 MiB) or a future, others read it. `get`
/// waits until it is set. A future held in a variable stays alive on the cluster until the
/// variable is set to something else or deleted; each reader gets a future of its own.
///
/// ```no_run
/// use taskforce::{Executor, Variable};
///
/// # fn main() -> taskforce::Result<()> {
/// let executor = Executor::connect("127.0.0.1:8787")?;
/// let stop = Variable::new(&executor, "stop-after");
/// stop.set(&1_000_u64)?;
/// let limit: u64 = stop.get()?;              // in any executor or task
/// stop.delete()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Variable {
    executor: Executor,
    name: String,
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Variable: {:?}>", self.name)
    }
}

impl Variable {
    /// A handle on the variable `name` (unset until someone sets it).
    pub fn new(executor: &Executor, name: &str) -> Variable {
        Variable {
            executor: executor.clone(),
            name: name.to_string(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets it to `value` (replacing what it held; waiting readers get it).
    pub fn set<T: Serialize>(&self, value: &T) -> crate::Result<()> {
        let request = CoordinationRequest::SetVariable {
            name: self.name.clone(),
            item: value_item(value)?,
        };
        expect_done(&self.executor, request, "Variable::set")
    }

    /// Sets it to a future this executor holds (its key; the value stays on the cluster).
    pub fn set_future<T>(&self, future: &Future<T>) -> crate::Result<()> {
        let request = CoordinationRequest::SetVariable {
            name: self.name.clone(),
            item: future_item(future),
        };
        expect_done(&self.executor, request, "Variable::set_future")
    }

    /// Its value, waiting as long as it is unset.
    pub fn get<T: DeserializeOwned>(&self) -> crate::Result<T> {
        let reply = coordinate(
            &self.executor,
            self.get_request(ItemKind::Value, None),
            "Variable::get",
        )?;
        read_value((Primitive::Variable, &self.name), reply)
    }

    /// Its value, waiting at most `timeout` for it to be set.
    pub fn get_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> crate::Result<T> {
        let request = self.get_request(ItemKind::Value, Some(timeout));
        let reply = coordinate(&self.executor, request, "Variable::get")?;
        read_value((Primitive::Variable, &self.name), reply)
    }

    /// The future it holds, waiting as long as it is unset.
    pub fn get_future<T>(&self) -> crate::Result<Future<T>> {
        let request = self.get_request(ItemKind::Future, None);
        let reply = coordinate(&self.executor, request, "Variable::get_future")?;
        read_future(&self.executor, reply)
    }

    /// The future it holds, waiting at most `timeout` for it to be set.
    pub fn get_future_timeout<T>(&self, timeout: Duration) -> crate::Result<Future<T>> {
        let request = self.get_request(ItemKind::Future, Some(timeout));
        let reply = coordinate(&self.executor, request, "Variable::get_future")?;
        read_future(&self.executor, reply)
    }

    /// Unsets it (a future it held is released).
    pub fn delete(&self) -> crate::Result<()> {
        let request = CoordinationRequest::DeleteVariable {
            name: self.name.clone(),
        };
        expect_done(&self.executor, request, "Variable::delete")
    }

    fn get_request(&self, kind: ItemKind, timeout: Option<Duration>) -> CoordinationRequest {
        CoordinationRequest::GetVariable {
            name: self.name.clone(),
            kind,
            timeout,
        }
    }
}
