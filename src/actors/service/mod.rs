//! Services on the cluster: user types made services with `#[taskforce::service]`, placed
//! on a worker under a supervisor and called directly there (never through the scheduler).
//!
//! ```text
//!  executor process                        hosting worker
//!  ServiceHandle ─┐                        Worker actor ── ServiceHost (table, routes calls)
//!  CallFuture     │ Call                        │                 │ do_send, in order
//!                 ▼                             │                 ▼
//!  ServiceClient (own thread) ── peer link ─────┘   service thread: Supervisor per group
//!   owner: checkpoints, moves groups                              └ ServiceInstance per member
//! ```
//!
//! - A call is numbered by the caller's [`client`] and told on its peer link to the host, so
//!   the calls of one process are handled in order; the answer comes back on the same link.
//! - On the host ([`host`]), each group runs under a [`Supervisor`] with the group's
//!   strategy and intensity on a thread of its own. A panicking method fails its call with
//!   `Panicked` and exits its [`instance`] abnormally; the supervisor starts it again from
//!   its last checkpoint, and calls that arrive meanwhile wait for the new instance. Calls
//!   still in the old instance's mailbox fail `Restarted`. Past the intensity every member
//!   is `Failed` with the cause, and the owner is told.
//! - The process that spawned a group ([`owner`]) keeps its last checkpoints. When the link
//!   to its worker closes, calls in flight fail `Restarted`, the move counts against the
//!   group's intensity, and the group starts on another worker from its checkpoints; calls
//!   made meanwhile wait for it.
//!
//! What this module must not do: decide supervision (that is `crate::supervision`) or name
//! a user type (that is the macro's registry in `crate::service`).
//!
//! [`Supervisor`]: crate::actors::supervisor::Supervisor

mod client;
mod handle;
mod host;
mod instance;
mod owner;
mod spawn;
mod target;

pub use client::MAX_CALLS_IN_FLIGHT;
pub(crate) use client::{connect_options, use_connect_options};
pub use handle::{CallFuture, ServiceHandle};
pub use host::ServiceHost;
pub use spawn::ServiceGroup;

/// Logs of services appear under this target.
pub(crate) const LOG_TARGET: &str = "taskforce::service";
