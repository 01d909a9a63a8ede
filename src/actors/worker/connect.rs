//! The worker's way to its center: attempts with backoff, each failure logged at warn with
//! the address and the OS error, and a deadline (the death timeout) kept to the attempt: the
//! last wait and the last attempt are cut short so the worker gives up when the time is up.

use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use super::actor::LOG_TARGET;
use crate::actors::remote::connect::connect_once;
use crate::actors::remote::handshake::HandshakeError;
use crate::actors::remote::{ConnectOptions, Connected};
use crate::messages::Hello;

/// Connects to `center`, retrying transient failures until `deadline` (forever if `None`).
/// A refusal or a version mismatch is returned at once: retrying can't fix it.
pub(super) async fn connect_until(
    center: &str,
    hello: &Hello,
    options: &ConnectOptions,
    deadline: Option<Instant>,
) -> Result<Connected, HandshakeError> {
    let mut wait = options.initial_backoff;
    loop {
        let mut attempt_options = options.clone();
        if let Some(at) = deadline {
            let left = at.saturating_duration_since(Instant::now());
            attempt_options.attempt_timeout = attempt_options.attempt_timeout.min(left);
        }
        let error = match connect_once(center, hello, &attempt_options).await {
            Ok(connected) => return Ok(connected),
            Err(e) if !e.is_transient() => return Err(e),
            Err(e) => e,
        };
        let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(error);
        }
        let pause = left.map_or(wait, |left| wait.min(left));
        warn!(target: LOG_TARGET, retry_in = ?pause, "Center at {center} unreachable: {error}; retrying");
        tokio::time::sleep(pause).await;
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Err(error);
        }
        wait = (wait * 2).min(options.max_backoff);
    }
}
