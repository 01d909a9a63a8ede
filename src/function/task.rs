//! A task as it travels to a worker ([`TaskBody`]), and the deterministic keys of pure calls.

use serde::{Deserialize, Serialize};

use super::args::ArgSpec;
use super::spec::TaskSpec;
use crate::ids::FunctionId;
use crate::ids::TaskKey;
use crate::messages::{codec, CodecError};

/// What a worker needs to run a task: the function and its arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskBody {
    /// The function to call.
    pub function: FunctionId,
    /// Its arguments, in order.
    pub args: Vec<ArgSpec>,
    /// How many times the worker runs it again after it fails (returns `Err` or panics),
    /// as dask's `retries=`; a worker's death is not a failure here (the scheduler's
    /// allowed failures cover it). Part of the spec, so the same call with other retries
    /// is another key.
    pub retries: u32,
}

impl TaskBody {
    /// Keys the task reads (each once, in first-use order).
    pub fn dependencies(&self) -> Vec<TaskKey> {
        let mut deps: Vec<TaskKey> = Vec::new();
        for key in self.args.iter().flat_map(ArgSpec::keys) {
            if !deps.contains(key) {
                deps.push(key.clone());
            }
        }
        deps
    }

    /// The opaque spec the scheduler carries.
    pub fn to_spec(&self) -> Result<TaskSpec, CodecError> {
        codec::encode(self).map(TaskSpec::from)
    }

    /// Reads a spec back.
    pub fn from_spec(spec: &TaskSpec) -> Result<Self, CodecError> {
        codec::decode(spec.as_bytes())
    }
}

/// The key of a pure call: the function's short name and a hash of the whole spec, so the
/// same call gives the same key (and is computed once).
pub fn pure_key(short_name: &str, spec: &TaskSpec) -> TaskKey {
    let hash = xxhash_rust::xxh3::xxh3_128(spec.as_bytes());
    TaskKey::from(format!("{short_name}-{hash:032x}"))
}

/// The key of an impure call: unique per call within this process (a counter) and across
/// processes (a nonce hashed once per process from its id and start time), with no system
/// call or hash per key.
pub fn fresh_key(short_name: &str) -> TaskKey {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let nonce = *NONCE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        xxhash_rust::xxh3::xxh3_64(format!("{:?}", (std::process::id(), now)).as_bytes())
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    TaskKey::from(format!("{short_name}-{nonce:016x}{count:016x}"))
}

#[cfg(test)]
mod tests {
    use super::fresh_key;

    #[test]
    fn fresh_keys_differ_and_keep_the_shape_of_pure_keys() {
        let (a, b) = (fresh_key("inc"), fresh_key("inc"));
        assert_ne!(a, b);
        for key in [&a, &b] {
            let (name, hex) = key.as_str().split_once('-').expect("name-hex");
            assert_eq!(name, "inc");
            assert_eq!(hex.len(), 32);
            assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        }
        assert_eq!(crate::dashboard::layer_of(a.as_str()), "inc");
    }
}
