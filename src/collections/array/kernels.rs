//! The built-in kernels of arrays: `#[remote]` functions with stable names
//! (`taskforce.array.*`), linked into the stock `taskforce` binary and every program that
//! uses the crate, so any worker can run any array graph.
//!
//! Each kernel is a thin call into the pure block arithmetic of the sibling modules.

use serde::{Deserialize, Serialize};

use super::block::Block;
use super::program::{evaluate, BlockInfo, Program};
use super::reduce_math::{self, ReduceSpec};

/// What a blockwise task does: run a program over its inputs, then maybe reduce the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The element-wise program.
    pub program: Program,
    /// The reduction applied to the program's result (its partial is the task's value).
    pub reduce: Option<ReduceSpec>,
}

fn run_plan(plan: &Plan, info: &BlockInfo, inputs: &[&Block]) -> Result<Block, String> {
    let block = evaluate(&plan.program, info, inputs)?;
    match &plan.reduce {
        None => Ok(block),
        Some(spec) => reduce_math::partial(spec, info, &block),
    }
}

/// A block computed from no input (creation: random, full, arange).
#[crate::remote(name = "taskforce.array.blockwise0")]
pub fn blockwise0(plan: &Plan, info: &BlockInfo) -> Result<Block, String> {
    run_plan(plan, info, &[])
}

/// A block computed from one input block.
#[crate::remote(name = "taskforce.array.blockwise1")]
pub fn blockwise1(plan: &Plan, info: &BlockInfo, a: &Block) -> Result<Block, String> {
    run_plan(plan, info, &[a])
}

/// A block computed from two input blocks.
#[crate::remote(name = "taskforce.array.blockwise2")]
pub fn blockwise2(plan: &Plan, info: &BlockInfo, a: &Block, b: &Block) -> Result<Block, String> {
    run_plan(plan, info, &[a, b])
}

/// A block computed from three input blocks.
#[crate::remote(name = "taskforce.array.blockwise3")]
pub fn blockwise3(
    plan: &Plan,
    info: &BlockInfo,
    a: &Block,
    b: &Block,
    c: &Block,
) -> Result<Block, String> {
    run_plan(plan, info, &[a, b, c])
}

/// Several partials of a reduction combined into one.
#[crate::remote(name = "taskforce.array.combine")]
pub fn combine(spec: &ReduceSpec, parts: Vec<Block>) -> Result<Block, String> {
    reduce_math::combine(spec, parts)
}

/// The final value of a reduction from its last partial.
#[crate::remote(name = "taskforce.array.finish")]
pub fn finish(spec: &ReduceSpec, part: &Block) -> Result<Block, String> {
    reduce_math::finish(spec, part.clone())
}

/// A block given in the graph itself (from an `ndarray` array).
#[crate::remote(name = "taskforce.array.identity")]
pub fn identity(block: Block) -> Block {
    block
}
