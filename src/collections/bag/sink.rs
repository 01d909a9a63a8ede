//! Where a fused pipeline's elements end: collected into a partition, counted, tallied into a
//! frequency table, or folded into numeric accumulators. Each sink sees elements one at a
//! time and keeps only its result. Knows [`Chunk`]s only.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::chunk::{Chunk, Elem, FreqTable, NumberAcc};
use super::error::BagError;
use super::shuffle::{GroupSink, GroupSpec};
use super::word_tally::WordTally;
use crate::function::Stored;

/// What a partition task makes of its elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Terminal {
    /// Keep them (at most `limit`).
    Collect {
        /// Stop after this many.
        limit: Option<u64>,
    },
    /// Count them.
    Count,
    /// Count each distinct one.
    Frequencies,
    /// Sum, min, max and count numbers of this kind.
    Numbers(NumberKind),
    /// Split into buckets by key for a shuffle (foldby, groupby).
    Group(GroupSpec),
}

/// The numeric element types `sum`, `min`, `max` and `mean` read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NumberKind {
    /// `i64`
    I64,
    /// `i32`
    I32,
    /// `u64`
    U64,
    /// `u32`
    U32,
    /// `usize`
    Usize,
    /// `f64`
    F64,
    /// `f32`
    F32,
}

/// A consumer of pipeline elements.
pub trait Sink {
    /// Takes one element; `Break` when it wants no more.
    fn accept(&mut self, elem: Elem<'_>) -> Result<ControlFlow<()>, BagError>;
    /// Takes one borrowed string element (the same as `accept(Elem::Str(text))`, which a
    /// sink may do faster).
    fn accept_str(&mut self, text: &str) -> Result<ControlFlow<()>, BagError> {
        self.accept(Elem::Str(text))
    }
    /// The result.
    fn finish(self: Box<Self>) -> Result<Chunk, BagError>;
}

/// The sink for a terminal (an error if its functions aren't in this binary).
pub fn sink_for(terminal: &Terminal) -> Result<Box<dyn Sink>, BagError> {
    Ok(match terminal {
        Terminal::Collect { limit } => Box::new(Collect {
            strings: Vec::new(),
            values: Vec::new(),
            limit: limit.unwrap_or(u64::MAX),
        }),
        Terminal::Count => Box::new(Count(0)),
        Terminal::Frequencies => Box::new(Frequencies::default()),
        Terminal::Numbers(kind) => Box::new(Numbers {
            kind: *kind,
            acc: NumberAcc::default(),
        }),
        Terminal::Group(spec) => Box::new(GroupSink::new(spec)?),
    })
}

struct Collect {
    strings: Vec<String>,
    values: Vec<Stored>,
    limit: u64,
}

impl Sink for Collect {
    fn accept(&mut self, elem: Elem<'_>) -> Result<ControlFlow<()>, BagError> {
        if self.values.is_empty() {
            match elem.into_string() {
                Ok(text) => self.strings.push(text),
                Err(other) => {
                    // The first element that isn't text: keep order by erasing what came before.
                    self.values = self.strings.drain(..).map(super::chunk::erased).collect();
                    self.values.push(other);
                }
            }
        } else {
            self.values.push(elem.into_stored());
        }
        let len = (self.strings.len() + self.values.len()) as u64;
        Ok(if len >= self.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    }

    fn finish(self: Box<Self>) -> Result<Chunk, BagError> {
        Ok(if self.values.is_empty() {
            Chunk::Strings(self.strings)
        } else {
            Chunk::Values(self.values)
        })
    }
}

struct Count(u64);

impl Sink for Count {
    fn accept(&mut self, _: Elem<'_>) -> Result<ControlFlow<()>, BagError> {
        self.0 += 1;
        Ok(ControlFlow::Continue(()))
    }

    fn finish(self: Box<Self>) -> Result<Chunk, BagError> {
        Ok(Chunk::Count(self.0))
    }
}

#[derive(Default)]
struct Frequencies {
    words: WordTally,
    table: FreqTable,
}

impl Sink for Frequencies {
    fn accept(&mut self, elem: Elem<'_>) -> Result<ControlFlow<()>, BagError> {
        if let Some(text) = elem.as_str() {
            self.words.add(text);
        } else {
            let encoded = super::chunk::as_bincode(elem.into_stored().encode()?)?;
            let key = encoded.bytes.to_vec();
            self.table.values.entry(key).or_insert((encoded, 0)).1 += 1;
        }
        Ok(ControlFlow::Continue(()))
    }

    fn accept_str(&mut self, text: &str) -> Result<ControlFlow<()>, BagError> {
        self.words.add(text);
        Ok(ControlFlow::Continue(()))
    }

    fn finish(self: Box<Self>) -> Result<Chunk, BagError> {
        let Frequencies { words, mut table } = *self;
        words.drain_into(&mut table.strings);
        Ok(Chunk::Freqs(table))
    }
}

struct Numbers {
    kind: NumberKind,
    acc: NumberAcc,
}

impl Sink for Numbers {
    fn accept(&mut self, elem: Elem<'_>) -> Result<ControlFlow<()>, BagError> {
        let stored = elem.into_stored();
        let mismatch = |e: crate::function::ValueError| BagError::Type {
            step: "sum/min/max/mean",
            message: e.to_string(),
        };
        macro_rules! int {
            ($t:ty) => {{
                let x = *stored.read::<$t>().map_err(mismatch)? as i128;
                add_int(&mut self.acc, x);
            }};
        }
        macro_rules! float {
            ($t:ty) => {{
                let x = *stored.read::<$t>().map_err(mismatch)? as f64;
                add_float(&mut self.acc, x);
            }};
        }
        match self.kind {
            NumberKind::I64 => int!(i64),
            NumberKind::I32 => int!(i32),
            NumberKind::U64 => int!(u64),
            NumberKind::U32 => int!(u32),
            NumberKind::Usize => int!(usize),
            NumberKind::F64 => float!(f64),
            NumberKind::F32 => float!(f32),
        }
        Ok(ControlFlow::Continue(()))
    }

    fn finish(self: Box<Self>) -> Result<Chunk, BagError> {
        Ok(Chunk::Numbers(self.acc))
    }
}

fn add_int(acc: &mut NumberAcc, x: i128) {
    acc.count += 1;
    acc.int_sum += x;
    acc.float_sum += x as f64;
    acc.int_min_max = Some(match acc.int_min_max {
        Some((lo, hi)) => (lo.min(x), hi.max(x)),
        None => (x, x),
    });
    add_float_bounds(acc, x as f64);
}

fn add_float(acc: &mut NumberAcc, x: f64) {
    acc.count += 1;
    acc.float_sum += x;
    add_float_bounds(acc, x);
}

fn add_float_bounds(acc: &mut NumberAcc, x: f64) {
    acc.min = Some(acc.min.map_or(x, |m| m.min(x)));
    acc.max = Some(acc.max.map_or(x, |m| m.max(x)));
}
