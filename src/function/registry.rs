//! The link-time registry of remote functions (inventory): name → how to call it.
//!
//! `#[remote]` submits one [`Registration`] per function; any binary that links the function
//! can look it up by name and run it. Knows no network.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::args::{ArgReader, CallError};
use super::value::Value;
use crate::ids::FunctionId;

/// Runs a registered function on resolved arguments.
pub type Invoke = fn(&ArgReader<'_>) -> Result<Arc<dyn Value>, CallError>;

/// One remote function as the registry knows it.
pub struct Registration {
    /// Its stable name (module path and function name, or `#[remote(name = …)]`).
    pub name: &'static str,
    /// Computes its signature hash (from the concrete argument and result types).
    pub signature: fn() -> u64,
    /// Calls it.
    pub invoke: Invoke,
    /// The function itself as a typed `fn` pointer (`fn(&str) -> bool`, …) behind `Any`, so
    /// a kernel that knows the signature calls it per element without boxing arguments or
    /// results (the Bag's fused pipelines do).
    pub local: fn() -> &'static (dyn std::any::Any + Send + Sync),
}

inventory::collect!(Registration);

struct Table {
    by_name: HashMap<&'static str, (&'static Registration, u64)>,
    ids: Vec<FunctionId>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut by_name = HashMap::new();
        for registration in inventory::iter::<Registration> {
            let hash = (registration.signature)();
            if by_name
                .insert(registration.name, (registration, hash))
                .is_some()
            {
                tracing::warn!(
                    function = registration.name,
                    "two remote functions share one name; give one #[remote(name = \"...\")]"
                );
            }
        }
        let mut ids: Vec<FunctionId> = by_name
            .values()
            .map(|(r, hash)| FunctionId::new(r.name, *hash))
            .collect();
        ids.sort();
        Table { by_name, ids }
    })
}

/// The registered function called `name`, with its signature hash.
pub fn lookup(name: &str) -> Option<(&'static Registration, u64)> {
    table().by_name.get(name).copied()
}

/// Every function this binary can run (what a worker advertises).
pub fn function_ids() -> &'static [FunctionId] {
    &table().ids
}

/// The signature hash of a function with these argument and result type names.
pub fn signature_hash(arg_types: &[&str], output: &str) -> u64 {
    let text = format!("({}) -> {output}", arg_types.join(", "));
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}
