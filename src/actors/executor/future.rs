//! [`Future<T>`]: a handle to a value on the cluster. Typed, cheap to clone, usable as an
//! argument of further calls; the last handle dropped releases the key.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::state::{KeyState, KeyStatus, SharedState};
use super::Inner;
use crate::function::{Arg, ArgSpec, KeepAlive};
use crate::ids::TaskKey;
use crate::messages::CodecError;
use crate::scheduler::TaskFailure;

pub(crate) struct FutureHandle {
    pub(crate) state: Arc<KeyState>,
    pub(crate) executor: Arc<Inner>,
}

impl Drop for FutureHandle {
    fn drop(&mut self) {
        self.executor.release(&self.state.key);
    }
}

/// A value being computed, or computed, on the cluster.
///
/// ```no_run
/// # use taskforce::{remote, Executor};
/// # #[remote] fn inc(x: i64) -> i64 { x + 1 }
/// # #[remote] fn add(x: i64, y: i64) -> i64 { x + y }
/// # fn main() -> taskforce::Result<()> {
/// # let executor = Executor::connect("127.0.0.1:8787")?;
/// let a = executor.submit(inc, (1,))?;      // Future<i64>
/// let b = executor.submit(add, (&a, 10))?;  // a future as an argument: no data comes home
/// assert_eq!(b.result()?, 12);
/// # Ok(()) }
/// ```
pub struct Future<T> {
    pub(crate) handle: Arc<FutureHandle>,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            handle: self.handle.clone(),
            _value: PhantomData,
        }
    }
}

impl<T> Future<T> {
    pub(crate) fn new(handle: FutureHandle) -> Self {
        Future {
            handle: Arc::new(handle),
            _value: PhantomData,
        }
    }

    /// The key of the value on the cluster.
    pub fn key(&self) -> &TaskKey {
        &self.handle.state.key
    }

    /// Whether the value is ready, or the task erred or was lost (`result` won't wait).
    pub fn done(&self) -> bool {
        self.handle.state.is_done()
    }

    /// The status word: `pending`, `finished`, `error`, `cancelled` or `lost`.
    pub fn status(&self) -> &'static str {
        self.handle.state.status().name()
    }

    /// Whether the future was cancelled (its `result` gives [`crate::Error::Cancelled`]).
    pub fn cancelled(&self) -> bool {
        matches!(self.handle.state.status(), KeyStatus::Cancelled)
    }

    pub(crate) fn state(&self) -> &Arc<KeyState> {
        &self.handle.state
    }

    /// A key cancelled, lost or cut off from the scheduler goes back to pending, so a new
    /// submission of the same call computes it again. Returns whether it did.
    pub(crate) fn revive_if_lost(&self) -> bool {
        let lost = matches!(
            self.handle.state.status(),
            KeyStatus::Cancelled | KeyStatus::Lost(_) | KeyStatus::Disconnected(_)
        );
        if lost {
            self.handle
                .executor
                .shared
                .set_status(self.key(), KeyStatus::Pending);
        }
        lost
    }
}

impl<T: DeserializeOwned + 'static> Future<T> {
    /// Waits for the value and brings it to this process. Errors of the task (a panic, an
    /// `Err`, a failed dependency) come back as [`crate::Error`] variants.
    /// Async twin: `future.await`.
    pub fn result(&self) -> crate::Result<T> {
        super::blocking::check_may_block("Future::result", "future.await")?;
        let executor = &self.handle.executor;
        executor.wait_for(std::slice::from_ref(&self.handle.state));
        let mut values = executor.fetch_values(std::slice::from_ref(&self.handle.state))?;
        Ok(values.pop().expect("one value per future"))
    }
}

impl<T: DeserializeOwned + Send + 'static> std::future::IntoFuture for Future<T> {
    type Output = crate::Result<T>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = crate::Result<T>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            std::future::poll_fn(|cx| match self.handle.state.poll_done(cx.waker()) {
                true => std::task::Poll::Ready(()),
                false => std::task::Poll::Pending,
            })
            .await;
            let executor = self.handle.executor.clone();
            let state = self.handle.state.clone();
            let mut values = executor.fetch_values_async(vec![state]).await?;
            Ok(values.pop().expect("one value per future"))
        })
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Future: status: {}, type: {}, key: {}>",
            self.status(),
            std::any::type_name::<T>(),
            self.key()
        )
    }
}

impl<T> Arg<T> for &Future<T> {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        Ok(ArgSpec::Key(self.key().clone()))
    }
}

impl<T: 'static> Arg<T> for Future<T> {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        Ok(ArgSpec::Key(self.key().clone()))
    }

    fn into_spec_keeping(self, keep: &mut KeepAlive) -> Result<ArgSpec, CodecError> {
        let spec = ArgSpec::Key(self.key().clone());
        keep.push(Box::new(self));
        Ok(spec)
    }
}

impl<T> Arg<Vec<T>> for &Vec<Future<T>> {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        Ok(ArgSpec::Keys(
            self.iter().map(|f| f.key().clone()).collect(),
        ))
    }
}

impl<T> Arg<Vec<T>> for &[Future<T>] {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        Ok(ArgSpec::Keys(
            self.iter().map(|f| f.key().clone()).collect(),
        ))
    }
}

impl<T: 'static> Arg<Vec<T>> for Vec<Future<T>> {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        Ok(ArgSpec::Keys(
            self.iter().map(|f| f.key().clone()).collect(),
        ))
    }

    fn into_spec_keeping(self, keep: &mut KeepAlive) -> Result<ArgSpec, CodecError> {
        let spec = ArgSpec::Keys(self.iter().map(|f| f.key().clone()).collect());
        keep.push(Box::new(self));
        Ok(spec)
    }
}

/// The reason of a key this executor (or the scheduler, at its request) cancelled.
pub(crate) const CANCELLED: &str = "cancelled";

/// The status of a key the scheduler reports gone for `reason`.
pub(crate) fn lost_status(reason: String) -> KeyStatus {
    match reason == CANCELLED {
        true => KeyStatus::Cancelled,
        false => KeyStatus::Lost(reason),
    }
}

/// The status of a key the scheduler reports erred. A task naming a dependency this executor
/// cancelled is cancelled too: a cancel racing a submission on another thread reaches the
/// scheduler first, which then knows the dependency no more.
pub(crate) fn erred_status(shared: &SharedState, failure: TaskFailure) -> KeyStatus {
    if let TaskFailure::UnknownDependency { dependency, .. } = &failure {
        if matches!(shared.status_of(dependency), Some(KeyStatus::Cancelled)) {
            return KeyStatus::Cancelled;
        }
    }
    KeyStatus::Erred(failure)
}

/// Fails with [`crate::Error::Cancelled`] when one of `dependencies` is a future this
/// executor holds as cancelled (dask's `submit` on a cancelled future).
pub(crate) fn check_not_cancelled(
    shared: &SharedState,
    dependencies: &[TaskKey],
) -> crate::Result<()> {
    match (dependencies.iter()).find(|d| matches!(shared.status_of(d), Some(KeyStatus::Cancelled)))
    {
        Some(dependency) => Err(crate::Error::Cancelled {
            key: dependency.clone(),
            reason: None,
        }),
        None => Ok(()),
    }
}

/// Turns a done key's status into its value or its error (for the gather path).
pub(crate) fn status_error(key: &TaskKey, status: &KeyStatus) -> Option<crate::Error> {
    match status {
        KeyStatus::Erred(failure) => Some(failure.clone().into()),
        KeyStatus::Cancelled => Some(crate::Error::Cancelled {
            key: key.clone(),
            reason: None,
        }),
        KeyStatus::Lost(reason) => Some(crate::Error::Cancelled {
            key: key.clone(),
            reason: Some(reason.clone()),
        }),
        KeyStatus::Disconnected(reason) => Some(crate::Error::ConnectionLost {
            reason: reason.clone(),
        }),
        KeyStatus::Pending | KeyStatus::Finished { .. } => None,
    }
}
