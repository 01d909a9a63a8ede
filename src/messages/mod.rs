//! The wire: per-link message enums, the handshake, framing, and the one codec.
//!
//! Pure data and bytes: nothing here opens a socket or knows an actor. `crate::actors::remote`
//! moves these over TCP.

pub mod activity;
pub mod auth;
pub mod center_link;
pub mod codec;
pub mod coordination;
pub mod executor_link;
pub mod frame;
pub mod handshake;
pub mod nanny_link;
pub mod packet;
pub mod peer_link;
pub mod service_link;
pub mod tasks;
pub mod tree;

pub use auth::{Token, TokenError, TOKEN_ENV, TOKEN_FILE_ENV};
pub use codec::CodecError;
pub use frame::{Envelope, FrameError, FrameLimits};
pub use handshake::{Hello, HelloReply, Role, HANDSHAKE_LIMITS, PROTOCOL_VERSION};
pub use packet::{Packet, Tag};
