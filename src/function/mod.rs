//! Remote functions and the values they pass: the registry `#[remote]` fills, typed handles,
//! arguments, and the erased values workers keep.
//!
//! Nothing here touches the network; workers and executors use it on either side of the wire.

pub mod args;
pub mod boundary;
pub mod handle;
pub mod registry;
pub mod spec;
pub mod task;
pub mod value;

pub use args::{ArgReader, ArgSlot, ArgSpec, CallError, Stored};
pub use boundary::{Call, CallOutcome};
pub use handle::{Arg, Bound, IntoArgs, KeepAlive, RemoteFunction, SplitTail};
pub use registry::{function_ids, lookup, Registration};
pub use spec::TaskSpec;
pub use task::TaskBody;
pub use value::{decode_value, encode_value, encode_value_owned, EncodedValue, Value, ValueError};

/// Items the `#[remote]` macro's expansion refers to. Not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use super::args::{ListOfValues, ListProbe, NotAList};
    pub use super::registry::signature_hash;
    pub use crate::ids::FunctionId;
    pub use inventory;
}
