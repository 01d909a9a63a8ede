//! taskforce: a distributed task runtime in the spirit of Dask's `distributed`.
//!
//! A center (with the scheduler) coordinates workers that run tasks and keep their results in
//! memory; executors in user programs submit work and get futures back. Every role is an
//! actix actor; actors in other processes are reached through [`remote`] proxies over TCP.
#![warn(missing_docs)]

extern crate self as taskforce;

pub use taskforce_macros::remote;

pub mod center;
pub mod cli;
pub mod delayed;
mod error;
pub mod executor;
pub mod function;
pub mod graph;
pub mod ids;
pub mod local;
pub mod messages;
pub mod nanny;
pub mod remote;
pub mod runner;
pub mod scheduler;
pub mod signals;
pub mod threaded;
pub mod worker;

pub use delayed::{delayed, Delayed};
pub use error::{Error, Result};
pub use executor::{as_completed, progress, wait, Executor, Future};
pub use local::LocalCluster;
pub use runner::{Lazy, Runner};
