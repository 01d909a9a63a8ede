//! `Executor::run`: a registered function called once on every connected worker, as dask's
//! `Client.run`, with the results collected per worker address.
//!
//! Built on restrictions: one impure task per worker, strictly restricted to that worker's
//! address, so it goes through the scheduler like any task (and needs no message of its
//! own). Executor-side only: no sockets here beyond the executor's own calls.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::options::SubmitOptions;
use super::Executor;
use crate::function::{IntoArgs, RemoteFunction};

/// How often `run` checks that the workers it waits on are still connected.
const MEMBERSHIP_CHECK: Duration = Duration::from_millis(500);

impl Executor {
    /// Calls `f(args…)` once on every worker connected now and returns each result by the
    /// worker's address (dask's `Client.run`). The calls run in the workers' task threads,
    /// as tasks with a fresh key each, so they queue behind what the worker is running.
    ///
    /// With no worker connected the result is empty. If a worker leaves before its call
    /// finished, `run` fails with [`Error::WorkerLeft`](crate::Error::WorkerLeft) naming it;
    /// an error or panic of `f` on any worker fails it with that error.
    ///
    /// ```no_run
    /// # use taskforce::{remote, Executor};
    /// #[remote]
    /// fn threads_of(prefix: String) -> String {
    ///     format!("{prefix}{}", std::thread::available_parallelism().map_or(1, |n| n.get()))
    /// }
    /// # fn main() -> taskforce::Result<()> {
    /// # let executor = Executor::connect("127.0.0.1:8787")?;
    /// for (worker, cores) in executor.run(threads_of, ("cores: ".to_string(),))? {
    ///     println!("{worker}: {cores}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn run<F, A>(&self, f: F, args: A) -> crate::Result<BTreeMap<SocketAddr, F::Output>>
    where
        F: RemoteFunction,
        A: IntoArgs<F::Args> + Clone,
    {
        let workers: Vec<SocketAddr> = self
            .cluster_info()?
            .workers
            .iter()
            .map(|w| w.addr)
            .collect();
        let mut calls = Vec::with_capacity(workers.len());
        for addr in &workers {
            let options = SubmitOptions::new().impure().workers([addr.to_string()]);
            calls.push(self.submit_with(f.clone(), args.clone(), options)?);
        }
        while let Err(crate::Error::Timeout { .. }) = super::wait_timeout(&calls, MEMBERSHIP_CHECK)
        {
            let connected = self.cluster_info()?;
            let gone = workers.iter().zip(&calls).find(|(addr, call)| {
                !call.done() && !connected.workers.iter().any(|w| w.addr == **addr)
            });
            if let Some((addr, _)) = gone {
                return Err(crate::Error::WorkerLeft {
                    worker: addr.to_string(),
                    operation: format!("run({})", f.short_name()),
                });
            }
        }
        let results = self.gather(&calls)?;
        Ok(workers.into_iter().zip(results).collect())
    }
}
