//! Supervision as Erlang/OTP defines it, as a pure state machine: which children to stop and
//! start when one exits, by strategy (one-for-one, one-for-all, rest-for-one), restart type
//! (permanent, transient, temporary) and restart intensity (at most `max_restarts` in
//! `window`; beyond that the supervisor gives up and escalates to its parent).
//!
//! No actix, no tokio, no clock of its own: time comes in as an argument, so intensity is
//! tested with an injected clock. The actix shell that starts real actors and catches their
//! panics is `crate::actors::supervisor`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use taskforce::supervision::{ChildInfo, Command, ExitReason, Intensity, RestartType, Strategy, SupervisorCore};
//!
//! let children = vec![ChildInfo::new("reader", RestartType::Permanent), ChildInfo::new("sink", RestartType::Permanent)];
//! let mut core = SupervisorCore::new(Strategy::OneForOne, Intensity::new(3, Duration::from_secs(5)), children);
//! let start = Instant::now();
//! assert_eq!(core.start_all(), vec![Command::Start(0), Command::Start(1)]);
//! let commands = core.on_child_exited(0, ExitReason::Panicked("boom".into()), start);
//! assert_eq!(commands, vec![Command::Start(0)]);
//! ```

mod core;
mod types;

#[cfg(test)]
mod tests;

pub use self::core::{ChildInfo, ChildStatus, Command, SupervisorCore};
pub use types::{ExitReason, Intensity, RestartType, Strategy};
