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

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives from here on is
/// never the default, process-killing one) and returns a future that resolves when one comes.
pub fn termination() -> std::io::Result<impl std::future::Future<Output = Termination>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => Termination::Interrupt,
            _ = terminate.recv() => Termination::Terminate,
        }
    })
}
