//! The worker's way to its center: attempts with backoff, each failure logged at warn with
//! the address and the OS error, and a deadline (the death timeout) kept exactly by
//! [`crate::actors::remote::connect::connect_until`].

use tokio::time::Instant;
use tracing::warn;

use super::actor::LOG_TARGET;
use crate::actors::remote::connect::connect_until as connect_by;
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
    connect_by(center, hello, options, deadline, |error, pause| {
        warn!(target: LOG_TARGET, retry_in = ?pause, "Center at {center} unreachable: {error}; retrying");
    })
    .await
}
