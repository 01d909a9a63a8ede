//! Kernels that see a whole partition or a list of partial results at once: `map_partitions`,
//! `fold`, `reduction`, `distinct`, `repartition` and writing text files. Each calls user
//! functions through their erased entries (a partition is one call, not one per element).
//! Knows the function registry and [`Chunk`]s; nothing of graphs or where it runs.

use std::io::Write;
use std::sync::Arc;

use super::chunk::{erased, Chunk, Elem};
use super::error::BagError;
use super::pipeline::split_list;
use super::sink::{sink_for, Terminal};
use super::source::Compression;
use crate::function::{lookup, ArgReader, ArgSlot, EncodedValue, Stored, Value};
use crate::ids::FunctionId;
use crate::remote;

fn invoke(function: &FunctionId, args: Vec<ArgSlot>) -> Result<Arc<dyn Value>, BagError> {
    let problem = |problem| BagError::Function {
        function: function.name.to_string(),
        problem,
    };
    let (registration, signature) = lookup(&function.name).ok_or_else(|| problem("missing"))?;
    if signature != function.signature {
        return Err(problem("of another signature"));
    }
    (registration.invoke)(&ArgReader::new(&args)).map_err(|e| BagError::Type {
        step: "partition function",
        message: format!("{}: {e}", function.name),
    })
}

/// The elements of a chunk as erased values (text is boxed, one allocation per line).
fn stored_elements(chunk: &Chunk) -> Result<Vec<Stored>, BagError> {
    match chunk {
        Chunk::Strings(items) => Ok(items.iter().map(|s| erased(s.clone())).collect()),
        Chunk::Values(items) => Ok(items.clone()),
        other => Err(BagError::Type {
            step: "partition function",
            message: format!("expected elements, found {}", other.kind()),
        }),
    }
}

fn bound_slots(bound: &[EncodedValue]) -> impl Iterator<Item = ArgSlot> + '_ {
    bound
        .iter()
        .map(|v| ArgSlot::One(Stored::Encoded(Arc::new(v.clone()))))
}

/// `f(partition)`, its `Vec` output as the new partition.
#[remote(name = "taskforce.bag.map_partition")]
pub fn map_partition(
    input: &Chunk,
    function: crate::ids::FunctionId,
    bound: Vec<EncodedValue>,
) -> Result<Chunk, BagError> {
    let mut args = vec![ArgSlot::List(stored_elements(input)?)];
    args.extend(bound_slots(&bound));
    let output = invoke(&function, args)?;
    let mut sink = sink_for(&Terminal::Collect { limit: None })?;
    for item in split_list(output)? {
        let _ = sink.accept(item)?;
    }
    sink.finish()
}

/// `f(list)` where the list is every element of every part (`reduction`'s steps, and the
/// `combine` of `fold` with a two-argument function applied left to right).
#[remote(name = "taskforce.bag.reduce_parts")]
pub fn reduce_parts(
    parts: Vec<Chunk>,
    function: crate::ids::FunctionId,
    pairwise: bool,
) -> Result<Chunk, BagError> {
    let mut items = Vec::new();
    for part in &parts {
        items.extend(stored_elements(part)?);
    }
    let out = if pairwise {
        let mut items = items.into_iter();
        let Some(mut acc) = items.next() else {
            return Ok(Chunk::Values(Vec::new()));
        };
        for item in items {
            acc = Stored::Object(invoke(
                &function,
                vec![ArgSlot::One(acc), ArgSlot::One(item)],
            )?);
        }
        acc
    } else {
        Stored::Object(invoke(&function, vec![ArgSlot::List(items)])?)
    };
    Ok(Chunk::Values(vec![out]))
}

/// `binop(acc, x)` over a partition's elements from `initial`.
#[remote(name = "taskforce.bag.fold_partition")]
pub fn fold_partition(
    input: &Chunk,
    binop: crate::ids::FunctionId,
    initial: EncodedValue,
) -> Result<Chunk, BagError> {
    let mut acc = Stored::Encoded(Arc::new(initial));
    for item in stored_elements(input)? {
        acc = Stored::Object(invoke(&binop, vec![ArgSlot::One(acc), ArgSlot::One(item)])?);
    }
    Ok(Chunk::Values(vec![acc]))
}

/// The distinct elements of a frequency table.
#[remote(name = "taskforce.bag.distinct")]
pub fn distinct(table: &Chunk) -> Result<Chunk, BagError> {
    let Chunk::Freqs(table) = table else {
        return Err(BagError::Type {
            step: "distinct",
            message: format!("expected a frequency table, found {}", table.kind()),
        });
    };
    if table.values.is_empty() {
        let mut keys: Vec<String> = table.strings.keys().cloned().collect();
        keys.sort();
        return Ok(Chunk::Strings(keys));
    }
    let mut out: Vec<Stored> = table.strings.keys().map(|s| erased(s.clone())).collect();
    out.extend(
        table
            .values
            .values()
            .map(|(v, _)| Stored::Encoded(Arc::new(v.clone()))),
    );
    Ok(Chunk::Values(out))
}

/// Piece `index` of `pieces` near-equal slices of a partition.
#[remote(name = "taskforce.bag.slice_partition")]
pub fn slice_partition(input: &Chunk, index: u64, pieces: u64) -> Result<Chunk, BagError> {
    let len = input.element_count().unwrap_or(0);
    let pieces = pieces.max(1) as usize;
    let (start, end) = (
        len * index as usize / pieces,
        len * (index as usize + 1) / pieces,
    );
    match input {
        Chunk::Strings(items) => Ok(Chunk::Strings(items[start..end].to_vec())),
        Chunk::Values(items) => Ok(Chunk::Values(items[start..end].to_vec())),
        other => Err(BagError::Type {
            step: "repartition",
            message: format!("expected elements, found {}", other.kind()),
        }),
    }
}

/// Writes a partition's text elements as lines of `path` (gzip'd for `.gz`); gives the count.
#[remote(name = "taskforce.bag.write_text")]
pub fn write_text(input: &Chunk, path: &str) -> Result<Chunk, BagError> {
    let io = |source| BagError::Unreadable {
        path: path.to_string(),
        source,
    };
    if let Some(parent) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let mut gzip = None;
    let mut plain = None;
    let out: &mut dyn Write = match Compression::of(std::path::Path::new(path)) {
        Compression::Gzip => gzip.insert(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        )),
        _ => plain.insert(file),
    };
    let mut lines = 0_u64;
    let mut write_line = |text: &str| -> Result<(), BagError> {
        out.write_all(text.as_bytes()).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        lines += 1;
        Ok(())
    };
    match input {
        Chunk::Strings(items) => items.iter().try_for_each(|s| write_line(s))?,
        Chunk::Values(items) => {
            for item in items {
                let elem = Elem::Obj(item.clone());
                let text = elem.as_str().ok_or_else(|| BagError::Type {
                    step: "to_textfiles",
                    message: "elements must be strings".into(),
                })?;
                write_line(text)?;
            }
        }
        other => {
            return Err(BagError::Type {
                step: "to_textfiles",
                message: format!("expected text, found {}", other.kind()),
            })
        }
    }

    // Finish explicitly: a gzip trailer written on drop would lose its error.
    if let Some(gzip) = gzip {
        gzip.finish().map_err(io)?.flush().map_err(io)?;
    }
    if let Some(mut plain) = plain {
        plain.flush().map_err(io)?;
    }
    Ok(Chunk::Count(lines))
}

/// A key function's result as a number to rank by.
fn rank_of(value: &dyn Value, function: &FunctionId) -> Result<f64, BagError> {
    let any = value.as_any();
    macro_rules! try_numbers {
        ($($t:ty),*) => {$(
            if let Some(x) = any.downcast_ref::<$t>() {
                return Ok(*x as f64);
            }
        )*};
    }
    try_numbers!(i64, u64, i32, u32, usize, f64, f32);
    Err(BagError::Type {
        step: "topk_by",
        message: format!(
            "{} returned {}, not a number",
            function.name,
            value.type_name()
        ),
    })
}

/// The `k` elements of the parts with the largest `key(x)`, largest first; ties by the
/// element's text (or encoding), so the order is stable.
#[remote(name = "taskforce.bag.topk_by")]
pub fn topk_by(parts: Vec<Chunk>, k: u64, key: crate::ids::FunctionId) -> Result<Chunk, BagError> {
    let mut ranked: Vec<(f64, Vec<u8>, Stored)> = Vec::new();
    let mut all_text = true;
    for part in &parts {
        all_text &= matches!(part, Chunk::Strings(_));
        for item in stored_elements(part)? {
            let rank = rank_of(
                invoke(&key, vec![ArgSlot::One(item.clone())])?.as_ref(),
                &key,
            )?;
            let tie = super::chunk::as_bincode(item.encode()?)?.bytes.to_vec();
            ranked.push((rank, tie, item));
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    ranked.truncate(k as usize);
    let items = ranked.into_iter().map(|(_, _, item)| item);
    if all_text {
        let text = items
            .map(|item| {
                Elem::Obj(item).into_string().map_err(|_| BagError::Type {
                    step: "topk_by",
                    message: "expected text".into(),
                })
            })
            .collect::<Result<_, _>>()?;
        return Ok(Chunk::Strings(text));
    }
    Ok(Chunk::Values(items.collect()))
}
