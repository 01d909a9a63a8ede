//! When a session's peer counts as idle, and the keepalives that keep a live one from looking
//! so: the policy of [`super::bounds`]' idle bound, as a small clock the session ticks.
//!
//! A session that has sent nothing for [`KEEPALIVE_EVERY`] (or a quarter of its own idle
//! period, if shorter) sends a keepalive (an envelope with an empty header and no frames,
//! which no message encodes to). The peer's idle period is not known here, so one shorter
//! than three keepalive periods may close a live peer: keep it at 30 s or more. A session that
//! has received nothing, keepalives included, for the whole idle period closes. So two live
//! ends never time out however quiet their owners are (an executor between computations,
//! an unused peer link), and a connection whose other end only holds the socket does.
//! Knows no actor and no socket.

use std::time::{Duration, Instant};

use crate::messages::Envelope;

/// Default idle period: generous, since a live peer sends keepalives long before it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest a live session stays silent.
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);

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

    /// Something arrived.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
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
    fn keepalives_are_told_from_messages() {
        use bytes::Bytes;
        assert!(is_keepalive(&keepalive()));
        assert!(!is_keepalive(&Envelope::new(Bytes::from_static(b"x"))));
    }
}
