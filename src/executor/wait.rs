//! Waiting on many futures: [`wait`] for all of them, [`as_completed`] in finishing order.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Future;

/// Blocks until every future is done (finished, erred or lost). Errors of the tasks are not
/// raised here; `result()` gives them.
pub fn wait<T>(futures: &[Future<T>]) -> crate::Result<()> {
    let Some(first) = futures.first() else {
        return Ok(());
    };
    let states: Vec<_> = futures.iter().map(|f| f.state().clone()).collect();
    first.handle.executor.wait_for(&states);
    Ok(())
}

/// Yields the futures in the order they finish.
///
/// ```ignore
/// for future in taskforce::as_completed(futures) {
///     println!("{}", future.result()?);
/// }
/// ```
pub fn as_completed<T>(futures: impl IntoIterator<Item = Future<T>>) -> AsCompleted<T> {
    AsCompleted {
        pending: futures.into_iter().collect(),
    }
}

/// The iterator of [`as_completed`].
pub struct AsCompleted<T> {
    pending: VecDeque<Future<T>>,
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Future<T>;

    fn next(&mut self) -> Option<Future<T>> {
        let executor = Arc::clone(&self.pending.front()?.handle.executor);
        let mut found = None;
        executor.shared.wait_until(|| {
            found = self.pending.iter().position(Future::done);
            found.is_some()
        });
        self.pending.remove(found.expect("a done future"))
    }
}
