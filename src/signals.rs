//! Waiting for the signals that ask a process to stop (SIGINT, SIGTERM).
//!
//! Must be called inside a tokio runtime (an actix system is one).

use tokio::signal::unix::{signal, SignalKind};

/// Which termination signal arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Termination::Interrupt => "SIGINT",
            Termination::Terminate => "SIGTERM",
        })
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn termination() -> Termination {
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = interrupt.recv() => Termination::Interrupt,
        _ = terminate.recv() => Termination::Terminate,
    }
}
