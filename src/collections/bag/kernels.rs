//! The Bag's built-in kernels, `#[remote]` functions with stable `taskforce.bag.*` names so
//! any binary linking taskforce runs them: the fused pipeline over a text block or a chunk,
//! the combine step of tree reductions, topk, and the text kernels users pass to map,
//! flat_map and filter (split into words, lowercase, trim, contains a word).

use super::chunk::Chunk;
use super::error::BagError;
use super::pipeline::{run_chunk, Pipeline, Step};
use super::sink::{sink_for, Terminal};
use super::source::TextBlock;
use crate::remote;

/// The stable names of the built-in kernels.
pub mod names {
    /// [`split_words`](super::split_words).
    pub const SPLIT_WORDS: &str = "taskforce.bag.split_words";
    /// [`lowercase`](super::lowercase).
    pub const LOWERCASE: &str = "taskforce.bag.lowercase";
    /// [`trim`](super::trim).
    pub const TRIM: &str = "taskforce.bag.trim";
}

/// What a partition task runs: the fused steps and what to make of their output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// Element-wise steps, fused.
    pub steps: Vec<Step>,
    /// What to make of the elements.
    pub terminal: Terminal,
    /// Type name of `(element, u64)` for the input, used when a frequency table is read as
    /// elements.
    pub pair_type: String,
}

/// Reads a text block and runs the plan over its lines, which are never collected unless
/// the plan collects them.
#[remote(name = "taskforce.bag.read_pipeline")]
pub fn read_pipeline(block: &TextBlock, plan: &Plan) -> Result<Chunk, BagError> {
    let pipeline = Pipeline::new(&plan.steps)?;
    let mut sink = sink_for(&plan.terminal)?;
    block.for_each_line(|line| pipeline.push(0, super::chunk::Elem::Str(line), sink.as_mut()))?;
    sink.finish()
}

/// Runs the plan over a chunk in memory (a literal partition, or an upstream task's).
#[remote(name = "taskforce.bag.chunk_pipeline")]
pub fn chunk_pipeline(input: &Chunk, plan: &Plan) -> Result<Chunk, BagError> {
    let pipeline = Pipeline::new(&plan.steps)?;
    let mut sink = sink_for(&plan.terminal)?;
    run_chunk(&pipeline, input, &plan.pair_type, sink.as_mut())?;
    sink.finish()
}

/// One level of a tree reduction: counts add, tables and accumulators merge, partitions
/// concatenate (up to `limit` elements).
#[remote(name = "taskforce.bag.combine")]
pub fn combine(parts: Vec<Chunk>, limit: Option<u64>) -> Result<Chunk, BagError> {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Ok(Chunk::Strings(Vec::new()));
    };
    let mismatch = |a: &Chunk, b: &Chunk| BagError::Type {
        step: "combine",
        message: format!("can't combine {} with {}", a.kind(), b.kind()),
    };
    let mut acc = first;
    for part in parts {
        acc = match (acc, part) {
            (Chunk::Count(a), Chunk::Count(b)) => Chunk::Count(a + b),
            (Chunk::Freqs(mut a), Chunk::Freqs(b)) => {
                a.merge(b);
                Chunk::Freqs(a)
            }
            (Chunk::Numbers(mut a), Chunk::Numbers(b)) => {
                a.merge(&b);
                Chunk::Numbers(a)
            }
            (Chunk::Strings(mut a), Chunk::Strings(b)) => {
                a.extend(b);
                Chunk::Strings(a)
            }
            (
                a @ (Chunk::Strings(_) | Chunk::Values(_)),
                b @ (Chunk::Strings(_) | Chunk::Values(_)),
            ) => Chunk::Values(erase(a).into_iter().chain(erase(b)).collect()),
            (a, b) => return Err(mismatch(&a, &b)),
        };
    }
    if let (Some(limit), Some(len)) = (limit, acc.element_count()) {
        if len as u64 > limit {
            acc = truncate(acc, limit as usize);
        }
    }
    Ok(acc)
}

fn erase(chunk: Chunk) -> Vec<crate::function::Stored> {
    match chunk {
        Chunk::Strings(items) => items.into_iter().map(super::chunk::erased).collect(),
        Chunk::Values(items) => items,
        _ => Vec::new(),
    }
}

fn truncate(chunk: Chunk, limit: usize) -> Chunk {
    match chunk {
        Chunk::Strings(mut items) => {
            items.truncate(limit);
            Chunk::Strings(items)
        }
        Chunk::Values(mut items) => {
            items.truncate(limit);
            Chunk::Values(items)
        }
        other => other,
    }
}

/// The `k` most frequent entries of frequency tables (or of earlier topk outputs), ranked.
#[remote(name = "taskforce.bag.topk")]
pub fn topk(parts: Vec<Chunk>, k: u64, pair_type: &str) -> Result<Chunk, BagError> {
    super::frequencies::topk(&parts, k, pair_type)
}

/// Splits a line into words on Unicode whitespace (run natively inside fused pipelines: the
/// words are borrowed from the line).
#[remote(name = "taskforce.bag.split_words")]
pub fn split_words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// The text in lower case.
#[remote(name = "taskforce.bag.lowercase")]
pub fn lowercase(text: &str) -> String {
    text.to_lowercase()
}

/// The text without leading and trailing whitespace.
#[remote(name = "taskforce.bag.trim")]
pub fn trim(text: &str) -> String {
    text.trim().to_owned()
}

/// Whether the text contains `word` (bind the word: `contains.bind(("python".to_string(),))`).
#[remote(name = "taskforce.bag.contains")]
pub fn contains(text: &str, word: &str) -> bool {
    text.contains(word)
}

/// One bucket of a shuffle's split partition (runs where the split is).
#[remote(name = "taskforce.bag.shuffle_bucket")]
pub fn shuffle_bucket(split: &Chunk, index: u64) -> Result<Chunk, BagError> {
    super::shuffle::pick(split, index as usize)
}

/// One output partition of a shuffle from its bucket of every input: `(key, acc)` pairs
/// folded with `combine` (foldby), or `(key, values)` pairs (groupby).
#[remote(name = "taskforce.bag.shuffle_merge")]
pub fn shuffle_merge(
    buckets: Vec<Chunk>,
    combine_with: Option<(crate::ids::FunctionId, String)>,
    pair_type: &str,
) -> Result<Chunk, BagError> {
    super::shuffle::merge(&buckets, combine_with.as_ref(), pair_type)
}
