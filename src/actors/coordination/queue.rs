//! [`Queue`]: a named, bounded FIFO of values and futures shared across the cluster.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{
    coordinate, expect_count, expect_done, future_item, read_future, read_value, value_item,
};
use crate::messages::coordination::{CoordinationRequest, Item, ItemKind, Primitive};
use crate::{Executor, Future};

/// A queue known by name across the cluster (dask's `distributed.Queue`): executors and
/// tasks put values (any serde type, up to 1 MiB each) or futures, and get them in order.
///
/// Bounded: `put` waits while the queue holds `maxsize` items (100,000 for
/// [`Queue::new`]); `get` waits while it is empty; both take timeouts and then fail with
/// `CoordinationError::Timeout`. A future in the queue keeps its value alive on the cluster
/// until someone gets it; the getter receives a future of its own for the same key. An item
/// of the other kind than asked for (`get` where a future is next) is left in place and the
/// call fails with `CoordinationError::WrongItem`. The bound belongs to the queue while it
/// holds items: a put with another `maxsize` then fails with `CoordinationError::Conflict`.
/// An empty queue nobody waits on is forgotten.
///
/// ```no_run
/// use std::time::Duration;
/// use taskforce::{remote, Executor, Queue};
///
/// #[remote]
/// fn inc(x: i64) -> i64 { x + 1 }
///
/// # fn main() -> taskforce::Result<()> {
/// let executor = Executor::connect("127.0.0.1:8787")?;
/// let queue = Queue::with_maxsize(&executor, "results", 100);
/// queue.put(&41_i64)?;
/// queue.put_future(&executor.submit(inc, (1,))?)?;
/// let value: i64 = queue.get_timeout(Duration::from_secs(5))?;
/// let future = queue.get_future::<i64>()?;      // the value stays on the cluster
/// assert_eq!((value, future.result()?), (41, 2));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Queue {
    executor: Executor,
    name: String,
    maxsize: u32,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Queue: {:?}, maxsize {}>", self.name, self.maxsize)
    }
}

impl Queue {
    /// A handle on the queue `name`, bounded at 100,000 items.
    pub fn new(executor: &Executor, name: &str) -> Queue {
        Self::with_maxsize(executor, name, 0)
    }

    /// A handle on the queue `name` holding at most `maxsize` items (0: 100,000, which is
    /// also the largest bound).
    pub fn with_maxsize(executor: &Executor, name: &str, maxsize: u32) -> Queue {
        Queue {
            executor: executor.clone(),
            name: name.to_string(),
            maxsize,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends `value`, waiting as long as the queue is full.
    pub fn put<T: Serialize>(&self, value: &T) -> crate::Result<()> {
        self.put_item(value_item(value)?, None)
    }

    /// Appends `value`, waiting at most `timeout` for room.
    pub fn put_timeout<T: Serialize>(&self, value: &T, timeout: Duration) -> crate::Result<()> {
        self.put_item(value_item(value)?, Some(timeout))
    }

    /// Appends a future (its key; the value stays where it is), waiting as long as the
    /// queue is full. Only a future this executor holds can be put.
    pub fn put_future<T>(&self, future: &Future<T>) -> crate::Result<()> {
        self.put_item(future_item(future), None)
    }

    /// Takes the oldest item, a value, waiting as long as the queue is empty.
    pub fn get<T: DeserializeOwned>(&self) -> crate::Result<T> {
        let reply = coordinate(
            &self.executor,
            self.get_request(ItemKind::Value, None),
            "Queue::get",
        )?;
        read_value((Primitive::Queue, &self.name), reply)
    }

    /// Takes the oldest item, a value, waiting at most `timeout`.
    pub fn get_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> crate::Result<T> {
        let request = self.get_request(ItemKind::Value, Some(timeout));
        let reply = coordinate(&self.executor, request, "Queue::get")?;
        read_value((Primitive::Queue, &self.name), reply)
    }

    /// Takes the oldest item, a future, waiting as long as the queue is empty.
    pub fn get_future<T>(&self) -> crate::Result<Future<T>> {
        let request = self.get_request(ItemKind::Future, None);
        let reply = coordinate(&self.executor, request, "Queue::get_future")?;
        read_future(&self.executor, reply)
    }

    /// Takes the oldest item, a future, waiting at most `timeout`.
    pub fn get_future_timeout<T>(&self, timeout: Duration) -> crate::Result<Future<T>> {
        let request = self.get_request(ItemKind::Future, Some(timeout));
        let reply = coordinate(&self.executor, request, "Queue::get_future")?;
        read_future(&self.executor, reply)
    }

    /// How many items it holds now.
    pub fn len(&self) -> crate::Result<u64> {
        let request = CoordinationRequest::QueueLen {
            name: self.name.clone(),
        };
        expect_count(&self.executor, request, "Queue::len")
    }

    /// Whether it holds no item now.
    pub fn is_empty(&self) -> crate::Result<bool> {
        Ok(self.len()? == 0)
    }

    fn put_item(&self, item: Item, timeout: Option<Duration>) -> crate::Result<()> {
        let request = CoordinationRequest::Put {
            name: self.name.clone(),
            item,
            maxsize: self.maxsize,
            timeout,
        };
        expect_done(&self.executor, request, "Queue::put")
    }

    fn get_request(&self, kind: ItemKind, timeout: Option<Duration>) -> CoordinationRequest {
        CoordinationRequest::Get {
            name: self.name.clone(),
            kind,
            timeout,
        }
    }
}
