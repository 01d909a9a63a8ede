//! The vocabulary of supervision: strategies, restart types, intensity and exit reasons.
//!
//! Plain data; no I/O.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What else restarts when one child has to be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// Every child: the others are stopped (in reverse start order), then all start again.
    OneForAll,
    /// The child that exited and every child started after it.
    RestForOne,
}

/// When a child that exited is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartType {
    /// Always.
    Permanent,
    /// Only after an abnormal exit (a panic or a failure), not after a normal one.
    Transient,
    /// Never; the child is removed when it exits.
    Temporary,
}

/// At most `max_restarts` restarts within any `window`; one more and the supervisor stops
/// its children and exits abnormally, so its own supervisor decides (escalation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intensity {
    /// Restarts allowed within the window.
    pub max_restarts: u32,
    /// The sliding window.
    pub window: Duration,
}

impl Intensity {
    /// At most `max_restarts` restarts in `window`.
    pub fn new(max_restarts: u32, window: Duration) -> Self {
        Intensity {
            max_restarts,
            window,
        }
    }
}

impl Default for Intensity {
    /// 3 restarts in 5 seconds.
    fn default() -> Self {
        Intensity::new(3, Duration::from_secs(5))
    }
}

/// Why a child (or a supervisor) stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitReason {
    /// It finished its work and stopped by itself.
    Normal,
    /// Its supervisor stopped it.
    Shutdown,
    /// It panicked; the panic's message.
    Panicked(String),
    /// It stopped because something went wrong, and said what.
    Failed(String),
}

impl ExitReason {
    /// Whether a transient child is restarted after this exit.
    pub fn is_abnormal(&self) -> bool {
        matches!(self, ExitReason::Panicked(_) | ExitReason::Failed(_))
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal exit"),
            ExitReason::Shutdown => f.write_str("shut down"),
            ExitReason::Panicked(message) => write!(f, "panicked: {message}"),
            ExitReason::Failed(message) => write!(f, "failed: {message}"),
        }
    }
}
