//! Messages between a nanny and the center: what happened to the worker process it watches,
//! and how it ended ([`DeathCause`]), so a worker's death can be named where it matters.
//!
//! Pure data: no sockets here.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a nanny tells the center.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NannyToCenter {
    /// A worker process was started (first start or restart).
    WorkerStarted(WorkerStartedMsg),
    /// The worker process exited.
    WorkerExited(WorkerExitedMsg),
    /// The restart budget is spent; the nanny stops.
    GaveUp(GaveUpMsg),
}

/// A worker process started under a nanny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStartedMsg {
    /// Its process id.
    pub pid: u32,
    /// How many restarts came before this start.
    pub restarts: u32,
}

/// A worker process under a nanny exited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerExitedMsg {
    /// Its process id.
    pub pid: u32,
    /// How it ended.
    pub cause: DeathCause,
    /// Whether the nanny is starting a new one.
    pub restarting: bool,
}

/// How a worker ended: seen by its nanny (a signal, an exit code, a memory kill) or, when no
/// nanny reports, by the center (lost heartbeats, a closed connection).
///
/// Its `Display` is the phrase an error uses after the worker's name: "w2 killed by signal
/// SIGABRT".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeathCause {
    /// The process was killed by a signal.
    Signal {
        /// The signal's number.
        number: i32,
        /// Its name (`SIGABRT`), or the number in words when the nanny's platform has none.
        name: String,
    },
    /// The process exited by itself with this status code.
    Exited {
        /// The exit code.
        code: i32,
    },
    /// The nanny terminated it for using more memory than its limit.
    MemoryLimit {
        /// The limit, in bytes.
        limit_bytes: u64,
        /// Its resident memory when it was terminated, in bytes.
        rss_bytes: u64,
    },
    /// The center heard no heartbeat from it for this many milliseconds.
    HeartbeatsLost {
        /// How long it was silent.
        silent_ms: u64,
    },
    /// Its connection closed and nothing else is known of its end.
    ConnectionClosed {
        /// The connection's last words.
        reason: String,
    },
}

impl DeathCause {
    /// The center heard nothing for `silent`.
    pub fn heartbeats_lost(silent: Duration) -> Self {
        DeathCause::HeartbeatsLost {
            silent_ms: u64::try_from(silent.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl std::fmt::Display for DeathCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeathCause::Signal { name, .. } => write!(f, "killed by signal {name}"),
            DeathCause::Exited { code } => write!(f, "exited with status {code}"),
            DeathCause::MemoryLimit {
                limit_bytes,
                rss_bytes,
            } => write!(
                f,
                "exceeded its memory limit of {} MiB (RSS {} MiB)",
                limit_bytes >> 20,
                rss_bytes >> 20
            ),
            DeathCause::HeartbeatsLost { silent_ms } => {
                write!(
                    f,
                    "sent no heartbeat for {:.1} s",
                    *silent_ms as f64 / 1000.0
                )
            }
            DeathCause::ConnectionClosed { reason } => write!(f, "lost its connection: {reason}"),
        }
    }
}

/// A nanny giving up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaveUpMsg {
    /// How the last worker process ended.
    pub last_cause: DeathCause,
    /// Restarts counted in the budget's window when it gave up.
    pub restarts: u32,
    /// The budget's window, in milliseconds.
    pub window_ms: u64,
}

impl std::fmt::Display for GaveUpMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "its worker {} after {} restarts within {:.0} s",
            self.last_cause,
            self.restarts,
            self.window_ms as f64 / 1000.0
        )
    }
}

/// What the center tells a nanny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CenterToNanny {
    /// Kill the worker process and start a fresh one (`Executor::restart`).
    RestartWorker,
    /// The worker is retired (`Executor::retire_workers`): stop it and close, without
    /// starting another.
    Retire,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_phrases_after_a_worker_name() {
        let abort = DeathCause::Signal {
            number: 6,
            name: "SIGABRT".into(),
        };
        assert_eq!(abort.to_string(), "killed by signal SIGABRT");
        assert_eq!(
            DeathCause::Exited { code: 3 }.to_string(),
            "exited with status 3"
        );
        let memory = DeathCause::MemoryLimit {
            limit_bytes: 500 << 20,
            rss_bytes: 512 << 20,
        };
        assert_eq!(
            memory.to_string(),
            "exceeded its memory limit of 500 MiB (RSS 512 MiB)"
        );
        let silent = DeathCause::heartbeats_lost(Duration::from_millis(12_340));
        assert_eq!(silent.to_string(), "sent no heartbeat for 12.3 s");
    }

    #[test]
    fn giving_up_names_the_last_cause_and_the_budget() {
        let gave_up = GaveUpMsg {
            last_cause: DeathCause::Signal {
                number: 6,
                name: "SIGABRT".into(),
            },
            restarts: 5,
            window_ms: 60_000,
        };
        assert_eq!(
            gave_up.to_string(),
            "its worker killed by signal SIGABRT after 5 restarts within 60 s"
        );
    }

    #[test]
    fn every_message_round_trips_through_the_codec() {
        let messages = [
            NannyToCenter::WorkerExited(WorkerExitedMsg {
                pid: 7,
                cause: DeathCause::MemoryLimit {
                    limit_bytes: 1,
                    rss_bytes: 2,
                },
                restarting: true,
            }),
            NannyToCenter::GaveUp(GaveUpMsg {
                last_cause: DeathCause::Exited { code: 1 },
                restarts: 5,
                window_ms: 60_000,
            }),
        ];
        for message in messages {
            let bytes = crate::messages::codec::encode(&message).expect("encodes");
            let back: NannyToCenter = crate::messages::codec::decode(&bytes).expect("decodes");
            assert_eq!(back, message);
        }
    }
}
