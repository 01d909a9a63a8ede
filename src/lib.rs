//! taskforce: a distributed task runtime in the spirit of Dask's `distributed`.
//!
//! A center (with the scheduler) coordinates workers that run tasks and keep their results in
//! memory; executors in user programs submit work and get futures back. Every role is an
//! actix actor; actors in other processes are reached through [`mod@remote`] proxies over TCP.
//!
//! ```no_run
//! use taskforce::{remote, Executor};
//!
//! #[remote]
//! fn inc(x: i64) -> i64 { x + 1 }
//!
//! #[remote]
//! fn add(x: i64, y: i64) -> i64 { x + y }
//!
//! fn main() -> taskforce::Result<()> {
//!     let executor = Executor::local()?;          // a center and workers on this machine
//!     let a = executor.submit(inc, (1,))?;
//!     let b = executor.submit(add, (&a, 10))?;   // a future as an argument
//!     assert_eq!(b.result()?, 12);
//!     Ok(())
//! }
//! ```
//!
//! - futures: [`Executor`] (`submit`, `map`, `scatter`, `gather`, `cancel`, `restart`),
//!   [`Future`], [`wait`], [`as_completed`], [`progress`];
//! - task graphs: [`graph`] (`Graph`, `key!`, `task!`), [`Executor::get`], [`threaded::get`]
//!   for local threads, and [`delayed()`] for graphs built from calls; [`Runner`] is what
//!   runs them;
//! - clusters: `taskforce center` / `taskforce worker ADDR` ([`cli`]), or the embedded
//!   [`LocalCluster`];
//! - async programs: [`macro@main`] (`#[taskforce::main]`, serving the cluster roles before
//!   it builds a tokio runtime), and an `_async` twin of every call that waits
//!   (`gather_async`, `future.await`, [`as_completed_stream`], `compute_async` through
//!   [`AsyncRunner`], a service's `call_async`, ...).
//!
//! # Serving your own functions
//!
//! Workers run functions their binary links. A program with its own `#[remote]` functions
//! serves as its own worker by handing the `center`/`worker` subcommands to [`cli::main`];
//! `Executor::local()` re-runs the current executable as its workers and needs nothing more.
//!
//! Integration tests do the same with a test binary of their own (`harness = false` in
//! `Cargo.toml`, e.g. with `libtest-mimic`): call [`local::serve_if_local_worker`] first in
//! `main`, so that when the test's [`LocalCluster`] re-runs the binary as a worker it serves
//! instead of running the tests.
//!
//! ```no_run
//! // first thing in the test binary's `main`:
//! taskforce::local::serve_if_local_worker();   // in a worker child: serves, then exits
//! // ... then run the tests, which start `taskforce::LocalCluster`s
//! ```
#![warn(missing_docs)]

extern crate self as taskforce;

pub use taskforce_macros::{main, remote, service};

pub mod actors;
pub mod cli;
pub mod collections;
pub mod coordination;
pub mod dashboard;
pub mod delayed;
pub mod entry;
mod error;
pub mod function;
pub mod graph;
pub mod ids;
pub mod local;
pub mod messages;
pub mod resources;
pub mod runner;
pub mod scheduler;
pub mod service;
pub mod signals;
pub mod supervision;
pub mod testing;
pub mod threaded;
pub mod worker_core;

pub use actors::{center, executor, nanny, remote, worker};

pub use actors::coordination::{Event, Lock, Queue, Semaphore, Variable};
pub use actors::worker::in_task::{rejoin, secede, worker_executor};

pub use actors::service::{CallFuture, ServiceGroup, ServiceHandle};
pub use delayed::{delayed, Delayed};
pub use error::{Error, Result};
pub use executor::{
    as_completed, fire_and_forget, progress, wait, wait_first, wait_timeout, Executor, Future,
    Pool, RemoteData, SubmitOptions, Waited,
};
pub use executor::{
    as_completed_stream, progress_async, wait_async, wait_first_async, wait_timeout_async,
};
pub use local::LocalCluster;
pub use messages::executor_link::MoveReport;
pub use runner::{AsyncRunner, Lazy, Runner};
pub use service::{Restart, ServiceError};
