//! When a session's peer counts as idle or silent, and the keepalives that keep a live one from
//! looking so: the policy of [`super::bounds`]' idle bound, as a small clock the session ticks.
//!
//! A session that has sent nothing for [`KEEPALIVE_EVERY`] (or a quarter of its own idle
//! period, if shorter) sends a keepalive (an envelope with an empty header and no frames,
//! which no message encodes to): these are the application-level heartbeats of every link.
//! The peer's idle period is not known here, so one shorter than a few keepalive periods may
//! close a live peer: keep it at [`MIN_HEARTBEAT_TIMEOUT`] or more. A session that has
//! received nothing, not a byte, keepalives included, for the whole idle period closes. So
//! two live ends never time out however quiet their owners are (an executor between
//! computations, an unused peer link), and a connection whose other end only holds the socket,
//! or whose host went silent (powered off, cut off without a reset), does.
//!
//! The same clock serves two purposes, with two periods:
//! - on the side that accepted a connection (the center's and a worker's listeners), the
//!   idle timeout ([`DEFAULT_IDLE_TIMEOUT`], `--idle-timeout`) frees the slots of clients that
//!   hold connections they never use;
//! - on the side that opened it (worker, nanny and executor to the center, a worker to a
//!   peer it fetches from), the heartbeat timeout ([`DEFAULT_HEARTBEAT_TIMEOUT`],
//!   `--heartbeat-timeout`) is the deadline after which a silent center or peer is declared
//!   lost: the session closes, and its owner does what it does when the peer closes.
//!
//! Knows no actor and no socket.

use std::time::{Duration, Instant};

use crate::messages::Envelope;

/// Default idle period of accepted connections: generous, since a live peer sends keepalives
/// long before it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default deadline after which a connection this process opened (to the center, to a peer)
/// is declared lost when nothing comes from the other end: 30 s, as Dask's
/// `distributed.comm.timeouts.tcp`.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest heartbeat timeout allowed: five keepalive periods, so a live peer that ticks
/// late (a busy thread) is not taken for a silent one.
pub const MIN_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a live session stays silent (a keepalive goes out after this long without
/// anything sent; ticks run this often, so the gap the peer sees is under twice this).
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(1);

/// The variable an executor reads its heartbeat timeout from (as `--heartbeat-timeout` of
/// `taskforce worker` also does), e.g. `TASKFORCE_HEARTBEAT_TIMEOUT=10s`.
pub const HEARTBEAT_TIMEOUT_ENV: &str = "TASKFORCE_HEARTBEAT_TIMEOUT";

/// A heartbeat timeout given as text could not be used (fix the text; retrying won't help).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatTimeoutError {
    /// Not a duration.
    #[error("expected a duration like 30s or 2m, got {text:?}: {reason}")]
    Unreadable {
        /// What was given.
        text: String,
        /// Why it does not read as a duration.
        reason: String,
    },
    /// Shorter than [`MIN_HEARTBEAT_TIMEOUT`].
    #[error(
        "a heartbeat timeout of {got:?} could close live peers (they send a keepalive every \
         {KEEPALIVE_EVERY:?}); give at least {MIN_HEARTBEAT_TIMEOUT:?}"
    )]
    TooShort {
        /// What was given.
        got: Duration,
    },
}

/// Reads a heartbeat timeout (`30s`, `2m`, `1m 30s`), at least [`MIN_HEARTBEAT_TIMEOUT`].
///
/// ```
/// use std::time::Duration;
/// use taskforce::remote::idle::parse_heartbeat_timeout;
/// assert_eq!(parse_heartbeat_timeout("10s"), Ok(Duration::from_secs(10)));
/// assert!(parse_heartbeat_timeout("1s").is_err());
/// ```
pub fn parse_heartbeat_timeout(text: &str) -> Result<Duration, HeartbeatTimeoutError> {
    let got =
        humantime::parse_duration(text.trim()).map_err(|e| HeartbeatTimeoutError::Unreadable {
            text: text.into(),
            reason: e.to_string(),
        })?;
    if got < MIN_HEARTBEAT_TIMEOUT {
        return Err(HeartbeatTimeoutError::TooShort { got });
    }
    Ok(got)
}

/// What a session does at a tick of its liveness clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Nothing.
    Quiet,
    /// Send a keepalive: nothing has gone out for a while.
    Keepalive,
    /// Close: nothing has come in for the idle period.
    Idle,
}

/// A session's liveness clock.
#[derive(Debug)]
pub struct Liveness {
    timeout: Duration,
    last_heard: Instant,
    last_sent: Instant,
}

impl Liveness {
    /// A clock for a session that has just opened.
    pub fn new(timeout: Duration, now: Instant) -> Self {
        Liveness {
            timeout,
            last_heard: now,
            last_sent: now,
        }
    }

    /// How often the session should tick (and at most how long it stays silent).
    pub fn period(&self) -> Duration {
        (self.timeout / 4)
            .min(KEEPALIVE_EVERY)
            .max(Duration::from_millis(10))
    }

    /// Something arrived at `at` (never moves the clock back).
    pub fn heard(&mut self, at: Instant) {
        self.last_heard = self.last_heard.max(at);
    }

    /// Something was queued to send.
    pub fn sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// The tick at `now`. While `reading_paused` (our owner is behind, so we are not reading
    /// the peer), silence is ours, not the peer's: it does not count.
    pub fn tick(&mut self, now: Instant, reading_paused: bool) -> Tick {
        if reading_paused {
            self.last_heard = now;
        }
        if now.duration_since(self.last_heard) >= self.timeout {
            return Tick::Idle;
        }
        if now.duration_since(self.last_sent) >= self.period() {
            self.last_sent = now;
            return Tick::Keepalive;
        }
        Tick::Quiet
    }

    /// The idle period.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The keepalive envelope.
pub fn keepalive() -> Envelope {
    Envelope::default()
}

/// Whether `envelope` is a keepalive (no message encodes to an empty header).
pub fn is_keepalive(envelope: &Envelope) -> bool {
    envelope.header.is_empty() && envelope.frames.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_ends_send_keepalives_and_silent_peers_go_idle() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut clock = Liveness::new(Duration::from_millis(400), start);
        assert_eq!(clock.period(), Duration::from_millis(100));
        assert_eq!(clock.tick(at(50), false), Tick::Quiet);
        assert_eq!(clock.tick(at(100), false), Tick::Keepalive);
        assert_eq!(clock.tick(at(150), false), Tick::Quiet);
        clock.heard(at(300));
        assert_eq!(clock.tick(at(650), false), Tick::Keepalive);
        assert_eq!(clock.tick(at(700), false), Tick::Idle);
    }

    #[test]
    fn silence_while_we_do_not_read_is_not_idleness() {
        let start = Instant::now();
        let mut clock = Liveness::new(Duration::from_millis(400), start);
        let later = start + Duration::from_secs(10);
        assert_ne!(clock.tick(later, true), Tick::Idle);
        assert_eq!(
            clock.tick(later + Duration::from_millis(399), false),
            Tick::Keepalive
        );
        assert_eq!(
            clock.tick(later + Duration::from_millis(400), false),
            Tick::Idle
        );
    }

    #[test]
    fn heartbeat_timeouts_are_read_and_short_ones_refused() {
        assert_eq!(parse_heartbeat_timeout(" 1m "), Ok(Duration::from_secs(60)));
        let short = parse_heartbeat_timeout("2s").unwrap_err();
        assert_eq!(
            short,
            HeartbeatTimeoutError::TooShort {
                got: Duration::from_secs(2)
            }
        );
        assert!(short.to_string().contains("give at least 5s"), "{short}");
        assert!(matches!(
            parse_heartbeat_timeout("soon"),
            Err(HeartbeatTimeoutError::Unreadable { .. })
        ));
    }

    #[test]
    fn keepalives_are_told_from_messages() {
        use bytes::Bytes;
        assert!(is_keepalive(&keepalive()));
        assert!(!is_keepalive(&Envelope::new(Bytes::from_static(b"x"))));
    }
}
