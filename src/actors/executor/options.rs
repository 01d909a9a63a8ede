//! How one submission runs: dask's `pure=` and `retries=` keywords as a small builder,
//! passed to [`Executor::submit_with`](super::Executor::submit_with) and
//! [`Executor::map_with`](super::Executor::map_with).
//!
//! Plain data: no actors, no sockets.

/// Options of `submit_with` / `map_with`. The default is what `submit` and `map` do: a pure
/// call (its key is a hash of the call) run once.
///
/// ```no_run
/// # use taskforce::{remote, Executor, SubmitOptions};
/// # #[remote] fn fetch_page(n: u32) -> String { n.to_string() }
/// # fn main() -> taskforce::Result<()> {
/// # let executor = Executor::connect("127.0.0.1:8787")?;
/// // a flaky function: the worker runs it up to 4 times before the error comes back
/// let page = executor.submit_with(fetch_page, (3,), SubmitOptions::new().retries(3))?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmitOptions {
    pub(super) pure: bool,
    pub(super) retries: u32,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            pure: true,
            retries: 0,
        }
    }
}

impl SubmitOptions {
    /// A pure call, run once (the defaults).
    pub fn new() -> Self {
        Self::default()
    }

    /// After the function fails (returns `Err` or panics), the worker runs it again, up to
    /// `retries` more times; when every attempt failed, the error says "failed after N
    /// attempts". A worker's death is not retried here: the center's allowed failures
    /// cover it. The count is part of the call, so the same call with another count is
    /// another key.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// A fresh key per call, as dask's `pure=False` (for random data).
    pub fn impure(mut self) -> Self {
        self.pure = false;
        self
    }
}
