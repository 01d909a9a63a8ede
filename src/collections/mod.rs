//! Collections that lower to task graphs: [`array`](mod@array) (chunked n-dimensional arrays on ndarray)
//! and [`bag`] (partitioned sequences of serde values, text pipelines over many files).
//!
//! Collections only build graphs: they depend on `crate::graph`, `crate::function` and the
//! [`Runner`](crate::Runner) trait, never on actors, messages or sockets. Their built-in
//! kernels are `#[remote]` functions with explicit stable names (`taskforce.array.*`,
//! `taskforce.bag.*`), so any binary that links taskforce can run them.

pub mod array;
pub mod bag;
mod token;

pub use array::Array;
pub use bag::Bag;
