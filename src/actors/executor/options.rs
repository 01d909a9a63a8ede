//! How one submission runs: dask's `pure=`, `retries=`, `workers=`,
//! `allow_other_workers=` and `resources=` keywords as a small builder, passed to [`Executor::submit_with`](super::Executor::submit_with) and
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
///
/// Where a task may run:
///
/// ```no_run
/// # use taskforce::{remote, Executor, SubmitOptions};
/// # #[remote] fn train(n: u32) -> u32 { n }
/// # fn main() -> taskforce::Result<()> {
/// # let executor = Executor::connect("127.0.0.1:8787")?;
/// // only on a worker started with `--resources "GPU=1"` (or more), one GPU held per task
/// let model = executor.submit_with(train, (1,), SubmitOptions::new().resources([("GPU", 1.0)]))?;
/// // only on the worker named gpu-box (`--name gpu-box`) or listening at that address
/// let pinned = executor.submit_with(train, (2,), SubmitOptions::new().workers(["gpu-box"]))?;
/// // preferably there, elsewhere when it is busy
/// let either = executor.submit_with(train, (3,), SubmitOptions::new().workers(["gpu-box"]).loose())?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SubmitOptions {
    pub(super) pure: bool,
    pub(super) retries: u32,
    pub(super) workers: Vec<String>,
    pub(super) loose: bool,
    pub(super) resources: Vec<(String, f64)>,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            pure: true,
            retries: 0,
            workers: Vec::new(),
            loose: false,
            resources: Vec::new(),
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

    /// Runs the task only on these workers, each named by its `--name` or its address
    /// (`"10.0.0.7:40123"`), as dask's `workers=`. While none of them is connected the task
    /// waits (it shows in `cluster_info().unplaceable` and the center logs it once). With
    /// [`loose`](Self::loose) they are only preferred. Like dask, restrictions are not part
    /// of the key: a pure call already submitted keeps where it was placed.
    pub fn workers<S: Into<String>>(mut self, workers: impl IntoIterator<Item = S>) -> Self {
        self.workers = workers.into_iter().map(Into::into).collect();
        self
    }

    /// The [`workers`](Self::workers) are a preference, not a restriction: the task runs
    /// elsewhere when none of them can take it (dask's `allow_other_workers=True`).
    pub fn loose(mut self) -> Self {
        self.loose = true;
        self
    }

    /// Abstract resources the task holds while it runs, as dask's `resources=`: it runs
    /// only on a worker started with at least these (`taskforce worker --resources
    /// "GPU=2"`) and only while they are free there, so a worker with `GPU=1` runs one
    /// `GPU=1` task at a time. Amounts must be positive; a name no connected worker offers
    /// fails the submission with [`Error::Resources`](crate::Error::Resources).
    pub fn resources<S: Into<String>>(
        mut self,
        resources: impl IntoIterator<Item = (S, f64)>,
    ) -> Self {
        self.resources = resources
            .into_iter()
            .map(|(name, amount)| (name.into(), amount))
            .collect();
        self
    }

    /// The restrictions as they travel, checked; `None` when nothing is restricted.
    pub(super) fn restrictions(
        &self,
    ) -> Result<Option<crate::messages::tasks::RestrictionsMsg>, crate::resources::ResourceError>
    {
        let resources = crate::resources::Resources::from_pairs(self.resources.iter().cloned())?;
        if self.workers.is_empty() && resources.is_empty() {
            return Ok(None);
        }
        Ok(Some(crate::messages::tasks::RestrictionsMsg {
            workers: self.workers.clone(),
            loose: self.loose,
            resources,
        }))
    }
}
