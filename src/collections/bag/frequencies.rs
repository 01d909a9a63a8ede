//! Frequency tables as `(value, count)` elements, and ranking them (`topk`): by count,
//! largest first, ties by the value (text order for strings, encoded bytes otherwise), so
//! the order is the same on every run. Knows [`Chunk`]s only.

use std::sync::Arc;

use super::chunk::{erased, Chunk, FreqTable};
use super::error::BagError;
use crate::function::{EncodedValue, Stored};
use crate::messages::codec;

/// The bincode bytes of `(value, count)` from the value's bytes, as the pair type encodes.
pub fn pair_bytes(value: &[u8], count: u64) -> Result<Vec<u8>, BagError> {
    let mut bytes = value.to_vec();
    bytes.extend_from_slice(&codec::encode(&count)?);
    Ok(bytes)
}

/// The table's entries as erased `(value, count)` elements of type `pair_type`.
pub fn pairs(table: &FreqTable, pair_type: &str) -> Result<Vec<Stored>, BagError> {
    let mut out: Vec<Stored> = table
        .strings
        .iter()
        .map(|(s, n)| erased((s.clone(), *n)))
        .collect();
    let type_name: Arc<str> = Arc::from(pair_type);
    for (value, n) in table.values.values() {
        out.push(Stored::Encoded(Arc::new(EncodedValue {
            type_name: type_name.clone(),
            bytes: pair_bytes(&value.bytes, *n)?.into(),
            raw: false,
        })));
    }
    Ok(out)
}

/// Merges the tables and keeps the `k` most frequent entries, ranked.
pub fn topk(parts: &[Chunk], k: u64, pair_type: &str) -> Result<Chunk, BagError> {
    let mut table = FreqTable::default();
    for part in parts {
        match part {
            Chunk::Freqs(t) => table.merge(t.clone()),
            Chunk::Values(items) => merge_pairs(&mut table, items)?,
            other => {
                return Err(BagError::Type {
                    step: "topk",
                    message: format!("expected (value, count) pairs, found {}", other.kind()),
                })
            }
        }
    }
    let k = k as usize;
    let mut strings: Vec<(String, u64)> = table.strings.into_iter().collect();
    let mut values: Vec<(Vec<u8>, EncodedValue, u64)> = table
        .values
        .into_iter()
        .map(|(key, (v, n))| (key, v, n))
        .collect();
    let by_rank = |a: u64, b: u64| b.cmp(&a);
    if values.is_empty() {
        rank_top(&mut strings, k, |a, b| {
            by_rank(a.1, b.1).then_with(|| a.0.cmp(&b.0))
        });
        return Ok(Chunk::Values(strings.into_iter().map(erased).collect()));
    }
    rank_top(&mut values, k, |a, b| {
        by_rank(a.2, b.2).then_with(|| a.0.cmp(&b.0))
    });
    let type_name: Arc<str> = Arc::from(pair_type);
    let items = values
        .into_iter()
        .map(|(key, _, n)| {
            Ok(Stored::Encoded(Arc::new(EncodedValue {
                type_name: type_name.clone(),
                bytes: pair_bytes(&key, n)?.into(),
                raw: false,
            })))
        })
        .collect::<Result<_, BagError>>()?;
    Ok(Chunk::Values(items))
}

/// Sorts the `k` first elements by `order` and drops the rest.
fn rank_top<T>(items: &mut Vec<T>, k: usize, order: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if items.len() > k && k > 0 {
        items.select_nth_unstable_by(k - 1, &order);
    }
    items.truncate(k);
    items.sort_by(order);
}

/// Adds `(String, u64)` pairs (the ranked output of an earlier topk) back into a table.
fn merge_pairs(table: &mut FreqTable, items: &[Stored]) -> Result<(), BagError> {
    for item in items {
        let (s, n) = item
            .read::<(String, u64)>()
            .map_err(|e| BagError::Type {
                step: "topk",
                message: e.to_string(),
            })?
            .into_owned();
        *table.strings.entry(s).or_insert(0) += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_ranks_by_count_then_value() {
        let mut table = FreqTable::default();
        for (w, n) in [("b", 2), ("a", 2), ("c", 5), ("d", 1)] {
            table.strings.insert(w.to_string(), n);
        }
        let Chunk::Values(top) = topk(&[Chunk::Freqs(table)], 3, "").unwrap() else {
            panic!("values")
        };
        let top: Vec<(String, u64)> = top
            .iter()
            .map(|s| s.read::<(String, u64)>().unwrap().into_owned())
            .collect();
        assert_eq!(top, [("c".into(), 5), ("a".into(), 2), ("b".into(), 2)]);
    }

    #[test]
    fn pairs_of_encoded_values_decode_as_the_pair_type() {
        let mut table = FreqTable::default();
        let v = crate::function::encode_value(&7_i64).unwrap();
        table.values.insert(v.bytes.to_vec(), (v, 3));
        let name = std::any::type_name::<(i64, u64)>();
        let items = pairs(&table, name).unwrap();
        assert_eq!(*items[0].read::<(i64, u64)>().unwrap(), (7, 3));
    }
}
