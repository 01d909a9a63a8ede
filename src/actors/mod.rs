//! The actix shells: every part of taskforce that owns a mailbox, a socket or a timer.
//!
//! Each role is an actor that translates between the network and a pure core: the
//! [`center`] (membership), the [`scheduler`] (feeds `crate::scheduler`'s state machine), the
//! [`worker`] (runs tasks, serves data), the [`nanny`] (supervises a worker process), the
//! [`executor`] (the user's API) and the [`remote`] layer (sessions, proxies, listen/connect,
//! the peer data client), and the [`supervisor`] trees they run under. Decisions belong in the cores outside this folder; code here only
//! spawns, sends and receives.

pub mod center;
pub mod executor;
pub mod nanny;
pub mod remote;
pub mod scheduler;
pub mod supervisor;
pub mod worker;
