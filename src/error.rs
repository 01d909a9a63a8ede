//! The crate's top-level error: what a user of the library or the CLI can get back.
//!
//! Each variant says whether retrying can help.

use std::time::Duration;

use crate::remote::handshake::HandshakeError;

/// Errors of the taskforce runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listening socket could not be opened (port taken, bad host). Retrying won't help
    /// until the port is free.
    #[error("could not listen: {0}")]
    Bind(#[source] std::io::Error),
    /// Could not connect to, or was refused by, a peer. Transient causes were already retried.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// What went wrong.
        #[source]
        source: HandshakeError,
    },
    /// A child process (a worker under a nanny) could not be started.
    #[error("could not start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A nanny's worker died more often than its restart budget allows.
    #[error("worker process died {restarts} times within {window:?}; giving up")]
    RestartBudgetSpent {
        /// Restarts counted within the window.
        restarts: u32,
        /// The window.
        window: Duration,
    },
    /// The center stayed unreachable for longer than the worker's death timeout.
    #[error("center at {addr} unreachable for {waited:?}")]
    CenterUnreachable {
        /// The center's address.
        addr: String,
        /// How long the worker waited.
        waited: Duration,
    },
    /// Any other I/O failure.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
