//! Deterministic names for collection layers: the same operation on the same inputs gets the
//! same name in any process (as dask's `tokenize`), so equal expressions share keys.
//!
//! Depends on serde and the function layer's value encoding only.

use serde::Serialize;

/// `prefix-<hash>`, the hash taken over the operation's parameters and its inputs' names.
/// Parameters that can't be encoded fall back to their `Debug` text.
pub fn token<P: Serialize + std::fmt::Debug + 'static>(
    prefix: &str,
    params: &P,
    inputs: &[&str],
) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(prefix.as_bytes());
    match crate::function::encode_value(params) {
        Ok(encoded) => hasher.update(&encoded.bytes),
        Err(_) => hasher.update(format!("{params:?}").as_bytes()),
    }
    for input in inputs {
        hasher.update(&(input.len() as u64).to_le_bytes());
        hasher.update(input.as_bytes());
    }
    format!("{prefix}-{:032x}", hasher.digest128())
}

/// A seed no other call in any process is likely to draw (for unseeded random collections).
pub fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_operations_get_equal_names() {
        let a = token("add", &(1_u64, 2.5_f64), &["x-1", "y-2"]);
        assert_eq!(a, token("add", &(1_u64, 2.5_f64), &["x-1", "y-2"]));
        assert_ne!(a, token("add", &(1_u64, 2.5_f64), &["x-1", "y-3"]));
        assert_ne!(a, token("sub", &(1_u64, 2.5_f64), &["x-1", "y-2"]));
        assert!(a.starts_with("add-"));
        assert_ne!(fresh_seed(), fresh_seed());
    }
}
