//! Services: user types that live on a worker as supervised actors and answer typed calls.
//!
//! This is the pure half: the traits `#[taskforce::service]` implements ([`Service`],
//! [`ServiceMethods`], [`ServiceMessage`]), the restart and checkpoint policy ([`Restart`]),
//! the link-time registry that lets a worker build a service by name, the erased form a host
//! runs ([`HostedService`]) and the errors a call can end with. No actix, no tokio, no
//! sockets: the host, the client and the handles are `crate::actors::service`.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[taskforce::service]
//! #[derive(Default, Serialize, Deserialize)]
//! struct Counter { n: u64 }
//!
//! #[taskforce::service]
//! impl Counter {
//!     pub fn increment(&mut self, by: u64) -> u64 { self.n += by; self.n }
//!     pub fn get(&self) -> u64 { self.n }
//! }
//!
//! // The macro made one message type per public method, with the method's reply type:
//! use taskforce::service::ServiceMessage;
//! fn reply_of<M: ServiceMessage<Counter>>(_: &M) -> &'static str { std::any::type_name::<M::Reply>() }
//! assert_eq!(reply_of(&Increment(3)), "u64");
//! ```
//!
//! A message of the wrong argument type, a reply read as the wrong type, or a message of
//! another service does not compile:
//!
//! ```compile_fail,E0308
//! # use serde::{Deserialize, Serialize};
//! # #[taskforce::service] #[derive(Default, Serialize, Deserialize)] struct Counter { n: u64 }
//! # #[taskforce::service] impl Counter { pub fn increment(&mut self, by: u64) -> u64 { self.n += by; self.n } }
//! let _ = Increment("three");
//! ```
//!
//! ```compile_fail,E0308
//! # use serde::{Deserialize, Serialize};
//! # #[taskforce::service] #[derive(Default, Serialize, Deserialize)] struct Counter { n: u64 }
//! # #[taskforce::service] impl Counter { pub fn increment(&mut self, by: u64) -> u64 { self.n += by; self.n } }
//! fn read(counter: &taskforce::ServiceHandle<Counter>) -> taskforce::Result<String> {
//!     let text: String = counter.call(Increment(3))?; // the reply is a u64
//!     Ok(text)
//! }
//! ```
//!
//! ```compile_fail,E0277
//! # use serde::{Deserialize, Serialize};
//! # #[taskforce::service] #[derive(Default, Serialize, Deserialize)] struct Counter { n: u64 }
//! # #[taskforce::service] impl Counter { pub fn increment(&mut self, by: u64) -> u64 { self.n += by; self.n } }
//! # #[taskforce::service] #[derive(Default, Serialize, Deserialize)] struct Sink { seen: u64 }
//! # #[taskforce::service] impl Sink { pub fn put(&mut self, _x: u64) { self.seen += 1 } }
//! fn wrong(sink: &taskforce::ServiceHandle<Sink>) -> taskforce::Result<u64> {
//!     sink.call(Increment(3)) // a Counter message sent to a Sink
//! }
//! ```

mod error;
mod hosted;
mod policy;
mod registry;

pub use error::{CallFailure, ServiceError};
pub use hosted::{HostedService, ServiceContext};
pub use policy::{CheckpointPolicy, Restart};
pub use registry::{lookup_service, ServiceRegistration};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A type that can live on the cluster as a service. Implemented by `#[taskforce::service]`
/// on the type itself (the stable name) and on its `impl` block ([`ServiceMethods`]).
pub trait Service: ServiceMethods + Serialize + DeserializeOwned + Send + 'static {
    /// The name workers know it by (its module path and type name).
    const KIND: &'static str;
}

/// A service's methods as the host calls them: by number, on encoded arguments.
pub trait ServiceMethods: Sized {
    /// Calls method `method` on `args` (the encoded message), returning the encoded reply.
    fn dispatch(&mut self, method: u32, args: &[u8]) -> Result<Vec<u8>, CallFailure>;

    /// Called at every (re)start, before the first call: registers timers.
    fn init(&mut self, _context: &mut ServiceContext<Self>) {}

    /// A hash of the methods' names, argument types and reply types: a handle and a host
    /// built from different versions of the type refuse each other.
    fn signature() -> u64;
}

/// A call to method `METHOD` of service `S`, answered with a `Reply`. `#[taskforce::service]`
/// makes one such type per public method (`increment(by)` gives `Increment(pub by)`), so the
/// compiler checks the arguments and the reply's type of every call.
pub trait ServiceMessage<S>: Serialize + Send + 'static {
    /// What the method returns.
    type Reply: DeserializeOwned + Send + 'static;
    /// The method's number in its `impl` block.
    const METHOD: u32;
    /// The method's name, for errors.
    const NAME: &'static str;
}

/// Items the `#[taskforce::service]` expansion refers to. Not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use super::registry::make_hosted;
    pub use crate::function::__private::signature_hash;
    pub use crate::messages::codec::{decode, encode};
    pub use inventory;
    pub use serde;

    /// Decodes a call's message, or says why it could not.
    pub fn read_message<M: serde::de::DeserializeOwned>(
        bytes: &[u8],
    ) -> Result<M, super::CallFailure> {
        decode(bytes).map_err(|e| super::CallFailure::BadArguments(e.to_string()))
    }

    /// Encodes a method's reply.
    pub fn write_reply<R: serde::Serialize>(reply: &R) -> Result<Vec<u8>, super::CallFailure> {
        encode(reply).map_err(|e| super::CallFailure::BadArguments(e.to_string()))
    }
}
