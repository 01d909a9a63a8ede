//! Bag: a lazy, partitioned collection of serde values, lowered to task graphs — text and
//! record pipelines over many files, as `dask.bag`.
//!
//! ```no_run
//! use taskforce::collections::Bag;
//! use taskforce::collections::bag::split_words;
//! use taskforce::{remote, threaded::Threaded};
//!
//! #[remote]
//! fn contains_word(line: &str, word: &str) -> bool { line.contains(word) }
//!
//! let runner = Threaded::default();                 // or an Executor
//! let lines = Bag::read_text("data/lines_*.txt")?;  // one partition per file (or block)
//! let n = lines.filter(contains_word.bind(("python".to_string(),))).count().compute(&runner)?;
//! let top = lines.flat_map(split_words).frequencies().topk(10).compute(&runner)?;
//! # Ok::<(), taskforce::Error>(())
//! ```
//!
//! Element-wise steps (`map`, `filter`, `flat_map`) are only recorded; each partition runs
//! them fused in one task that reads its block of the file itself, so the program never
//! reads the data and no step's output is kept between steps. Aggregations reduce
//! per-partition results in a tree (`split_every` at a time).
//!
//! Builds graphs only: depends on `crate::graph`, `crate::function` and the
//! [`Runner`](crate::Runner) trait, never on actors or sockets.

mod aggregate;
mod chunk;
mod decode;
mod error;
mod frequencies;
mod futures;
mod grouping;
mod item;
mod kernels;
mod lazy;
mod partitionwise;
mod pipeline;
mod pluck;
mod reshape;
mod shuffle;
mod sink;
mod source;
#[cfg(test)]
mod tests;
mod word_tally;

pub use chunk::{Chunk, FreqTable, NumberAcc};
pub use decode::Number;
pub use error::BagError;
pub use kernels::{contains, lowercase, names, split_words, trim, Plan};
pub use lazy::{Bag, Item};
pub use pipeline::{Step, StepKind};
pub use pluck::Layout;
pub use reshape::Pluck;
pub use shuffle::{Bucket, Encodings, GroupSpec};
pub use sink::{NumberKind, Terminal};
pub use source::{Compression, TextBlock, TextOptions, DEFAULT_BLOCK_SIZE};
