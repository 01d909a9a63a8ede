//! The actix shells: every part of taskforce that owns a mailbox, a socket or a timer.
//!
//! Each role is an actor that translates between the network and a pure core: the
//! [`center`] (membership), the [`scheduler`] (feeds `crate::scheduler`'s state machine), the
//! [`worker`] (runs tasks, serves data), the [`nanny`] (supervises a worker process), the
//! [`executor`] (the user's API) and the [`remote`] layer (sessions, proxies, listen/connect,
//! the peer data client), and the [`supervisor`] trees they run under. Decisions belong in the cores outside this folder; code here only
//! spawns, sends and receives.

pub mod center;
pub mod coordination;
pub mod dashboard;
pub mod executor;
pub mod nanny;
pub mod remote;
pub mod scheduler;
pub mod service;
pub mod supervisor;
pub mod test_panic;
pub mod worker;

/// Log target of the center's messages (`taskforce::center`, whatever file logs them).
pub(crate) const LOG_CENTER: &str = "taskforce::center";
/// Log target of a worker's messages.
pub(crate) const LOG_WORKER: &str = "taskforce::worker";
/// Log target of a nanny's messages.
pub(crate) const LOG_NANNY: &str = "taskforce::nanny";
/// Log target of the remote layer's messages.
pub(crate) const LOG_REMOTE: &str = "taskforce::remote";
