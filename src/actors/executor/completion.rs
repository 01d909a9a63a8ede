//! More of [`AsCompleted`]: futures added while it runs, done futures taken in batches,
//! and values yielded with their futures (dask's `as_completed(...).add`, `.batches()`,
//! `with_results=True`).

use std::collections::VecDeque;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::wait::AsCompleted;
use super::Future;

impl<T> AsCompleted<T> {
    /// Adds a future to those still awaited (also while iterating).
    pub fn add(&mut self, future: Future<T>) {
        self.pending.push_back(future);
    }

    /// How many futures have not been yielded yet.
    pub fn remaining(&self) -> usize {
        self.pending.len()
    }

    /// Blocks until at least one future is done, then takes every done one, in the order
    /// they were added; empty once none is left.
    pub fn next_batch(&mut self) -> Vec<Future<T>> {
        let Some(front) = self.pending.front() else {
            return Vec::new();
        };
        let executor = Arc::clone(&front.handle.executor);
        executor
            .shared
            .wait_until(|| self.pending.iter().any(Future::done));
        let (done, left): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(Future::done);
        self.pending = left;
        done.into()
    }

    /// Yields each future with its outcome (value or error) as it finishes.
    pub fn with_results(self) -> WithResults<T> {
        WithResults { futures: self }
    }
}

/// The iterator of [`AsCompleted::with_results`].
pub struct WithResults<T> {
    futures: AsCompleted<T>,
}

impl<T> WithResults<T> {
    /// Adds a future to those still awaited (also while iterating).
    pub fn add(&mut self, future: Future<T>) {
        self.futures.add(future);
    }
}

impl<T: DeserializeOwned + 'static> Iterator for WithResults<T> {
    type Item = (Future<T>, crate::Result<T>);

    fn next(&mut self) -> Option<Self::Item> {
        let future = self.futures.next()?;
        let result = future.result();
        Some((future, result))
    }
}
