//! Waiting on many futures: [`wait`] for all of them, [`as_completed`] in finishing order.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Future;

/// Blocks until every future is done (finished, erred or lost). Errors of the tasks are not
/// raised here; `result()` gives them.
/// Async twin: [`super::wait_async`].
pub fn wait<T>(futures: &[Future<T>]) -> crate::Result<()> {
    super::blocking::check_may_block("wait", "wait_async(..).await")?;
    let Some(first) = futures.first() else {
        return Ok(());
    };
    let states: Vec<_> = futures.iter().map(|f| f.state().clone()).collect();
    first.handle.executor.wait_for(&states);
    Ok(())
}

/// Yields the futures in the order they finish.
///
/// ```no_run
/// # use taskforce::{remote, Executor};
/// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
/// # #[remote] fn add(x: i64, y: i64) -> i64 { x + y }
/// # fn main() -> taskforce::Result<()> {
/// # let executor = Executor::connect("127.0.0.1:8787")?;
/// let futures = executor.map(inc, 0..10)?;
/// for future in taskforce::as_completed(futures) {
///     println!("{}", future.result()?);
/// }
/// # Ok(()) }
/// ```
pub fn as_completed<T>(futures: impl IntoIterator<Item = Future<T>>) -> AsCompleted<T> {
    AsCompleted {
        pending: futures.into_iter().collect(),
    }
}

/// The iterator of [`as_completed`].
pub struct AsCompleted<T> {
    pub(super) pending: VecDeque<Future<T>>,
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
