//! Typed identifiers shared by every layer: workers, clients (executors), task keys and
//! remote functions.
//!
//! Depends on nothing else in the crate, so the wire, the pure state machines and the
//! actors can all name the same things.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The fast hash map used across the crate.
pub type Map<K, V> = rustc_hash::FxHashMap<K, V>;
/// The fast hash set used across the crate.
pub type Set<K> = rustc_hash::FxHashSet<K>;

/// A worker as the center numbers it: unique for the lifetime of one center process.
/// A worker that reconnects gets a new id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkerId(pub u32);

/// An executor (client) connected to the scheduler, numbered by the center.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientId(pub u32);

/// The name of a piece of data on the cluster: a task's output or a scattered value.
///
/// Keys are strings (`"inc-8bca9d…"`, `"('x', 3)"`); cloning one is a reference-count bump.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskKey(Arc<str>);

impl TaskKey {
    /// Makes a key from its string form.
    pub fn new(name: impl AsRef<str>) -> Self {
        TaskKey(Arc::from(name.as_ref()))
    }

    /// The key's string form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TaskKey {
    fn from(name: &str) -> Self {
        TaskKey::new(name)
    }
}

impl From<String> for TaskKey {
    fn from(name: String) -> Self {
        TaskKey(Arc::from(name))
    }
}

impl fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A remote function as a worker advertises it: its registered name and a hash of its
/// signature. A task may only run on a worker advertising exactly the same id (name and hash).
///
/// ```
/// use taskforce::ids::FunctionId;
/// let inc = FunctionId::new("inc", 0x5eed);
/// assert_eq!(inc.to_string(), "inc#0000000000005eed");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FunctionId {
    /// The name the function was registered under.
    pub name: Arc<str>,
    /// A hash of the function's signature, so two builds with different argument types
    /// never run each other's tasks.
    pub signature: u64,
}

impl FunctionId {
    /// Makes a function id from its registered name and signature hash.
    pub fn new(name: impl AsRef<str>, signature: u64) -> Self {
        FunctionId {
            name: Arc::from(name.as_ref()),
            signature,
        }
    }
}

impl fmt::Display for FunctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{:016x}", self.name, self.signature)
    }
}

impl fmt::Debug for FunctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
