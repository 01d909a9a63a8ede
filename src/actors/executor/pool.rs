//! The seeds' first interface: a `Pool` over an executor, whose `map` and `apply_async` give
//! [`RemoteData`] handles to values that stay on the workers until `get` brings one home or
//! `delete` drops it. A thin layer over [`Future`]; nothing here talks to the cluster itself.

use serde::de::DeserializeOwned;

use super::{Executor, Future};
use crate::function::{Arg, ArgSpec, IntoArgs, KeepAlive, RemoteFunction};
use crate::ids::TaskKey;
use crate::messages::CodecError;

/// A pool of the cluster's workers, in the style of `multiprocessing.Pool`.
///
/// ```no_run
/// # use taskforce::{remote, Executor, Pool};
/// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
/// # #[remote] fn total(xs: Vec<i64>) -> i64 { xs.iter().sum() }
/// # fn main() -> taskforce::Result<()> {
/// let pool = Pool::new(Executor::local()?);
/// let xs = pool.map(inc, 0..10)?;                 // Vec<RemoteData<i64>>, on the workers
/// assert_eq!(xs[0].get()?, 1);
/// assert_eq!(pool.apply(total, (&xs,))?, 55);    // the values move only to the summing worker
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    executor: Executor,
}

impl Pool {
    /// A pool running on `executor`'s cluster.
    pub fn new(executor: Executor) -> Self {
        Pool { executor }
    }

    /// The executor underneath, for anything the pool does not offer.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Runs `f` on every item (values or remote data); the results stay on the workers.
    pub fn map<F, A, I>(&self, f: F, items: I) -> crate::Result<Vec<RemoteData<F::Output>>>
    where
        F: RemoteFunction<Args = (A,)>,
        I: IntoIterator,
        I::Item: Arg<A>,
    {
        let futures = self.executor.map(f, items)?;
        Ok(futures.into_iter().map(RemoteData::from).collect())
    }

    /// Runs `f(args…)` on the cluster; the result stays there.
    pub fn apply_async<F, A>(&self, f: F, args: A) -> crate::Result<RemoteData<F::Output>>
    where
        F: RemoteFunction,
        A: IntoArgs<F::Args>,
    {
        self.executor.submit(f, args).map(RemoteData::from)
    }

    /// Runs `f(args…)` on the cluster and brings the result here (blocking).
    pub fn apply<F, A>(&self, f: F, args: A) -> crate::Result<F::Output>
    where
        F: RemoteFunction,
        F::Output: DeserializeOwned + 'static,
        A: IntoArgs<F::Args>,
    {
        self.apply_async(f, args)?.get()
    }
}

/// A value on the cluster, made by a [`Pool`]; usable as an argument of further calls.
#[derive(Debug)]
pub struct RemoteData<T> {
    future: Future<T>,
}

impl<T> From<Future<T>> for RemoteData<T> {
    fn from(future: Future<T>) -> Self {
        RemoteData { future }
    }
}

impl<T> RemoteData<T> {
    /// The key of the value on the cluster.
    pub fn key(&self) -> &TaskKey {
        self.future.key()
    }

    /// The future underneath.
    pub fn future(&self) -> &Future<T> {
        &self.future
    }

    /// Deletes the value from the cluster now (unless another handle on its key wants it),
    /// as a cancel does; a task still computing it is stopped.
    pub fn delete(self) -> crate::Result<()> {
        let executor = Executor {
            inner: self.future.handle.executor.clone(),
        };
        executor.cancel(std::slice::from_ref(&self.future))
    }
}

impl<T: DeserializeOwned + 'static> RemoteData<T> {
    /// Waits for the value and brings it here.
    pub fn get(&self) -> crate::Result<T> {
        self.future.result()
    }
}

impl<T> Arg<T> for &RemoteData<T> {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        (&self.future).into_spec()
    }
}

impl<T: 'static> Arg<T> for RemoteData<T> {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        self.future.into_spec()
    }

    fn into_spec_keeping(self, keep: &mut KeepAlive) -> Result<ArgSpec, CodecError> {
        self.future.into_spec_keeping(keep)
    }
}

impl<T> Arg<Vec<T>> for &Vec<RemoteData<T>> {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        let keys = self.iter().map(|data| data.key().clone()).collect();
        Ok(ArgSpec::Keys(keys))
    }
}

impl<T> Arg<Vec<T>> for &[RemoteData<T>] {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        let keys = self.iter().map(|data| data.key().clone()).collect();
        Ok(ArgSpec::Keys(keys))
    }
}
