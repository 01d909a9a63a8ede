//! Client side of a connection: connect, handshake, and retry with backoff while the server
//! is not up yet.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::warn;

use super::bounds::LinkBounds;
use super::handshake::{client_handshake, HandshakeError};
use super::session::SessionOptions;
use super::stream::{client_failure, secure_client, split_scheme, LinkStream};
use super::tls::Tls;
use crate::messages::{FrameLimits, Hello, Token};

/// How a client connects and how patiently it retries.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Time allowed for TCP connect plus handshake, per attempt (default 10 s).
    pub attempt_timeout: Duration,
    /// First wait between attempts (default 100 ms); doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (default 2 s).
    pub max_backoff: Duration,
    /// Stop retrying after this long; `None` retries forever (default `None`).
    pub give_up_after: Option<Duration>,
    /// Frame limits of the session after the handshake (the handshake has its own, small
    /// ones: `HANDSHAKE_LIMITS`).
    pub limits: FrameLimits,
    /// The cluster's token, proved to the server (which must prove it back); `None` connects
    /// only to servers without one (default `None`).
    pub token: Option<Token>,
    /// Bounds of the session after the handshake (its listener cap is unused here). Its
    /// `idle_timeout` is the heartbeat deadline of the connections made with these options:
    /// the other end (the center, a peer) is declared lost when nothing, not even a
    /// keepalive, comes from it for this long (default
    /// [`super::idle::DEFAULT_HEARTBEAT_TIMEOUT`], 30 s; see [`ConnectOptions::heartbeat_timeout`]).
    pub bounds: LinkBounds,
    /// How long an executor tries to reach its center again after losing it, keeping its
    /// futures (default 60 s); `None` fails its pending futures at once.
    pub reconnect_for: Option<Duration>,
    /// TLS for every connection made with these options; `None` connects in plain TCP,
    /// except to a `tls://` address, which gets [`Tls::encrypt_only`] (default `None`).
    pub tls: Option<Tls>,
}

impl ConnectOptions {
    /// These options with the cluster's token.
    pub fn with_token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// These options with `deadline` as the heartbeat timeout: a center or peer reached
    /// with them that sends nothing, not even a keepalive, for this long is declared lost
    /// (what follows is what follows its closing the connection). Keep it at
    /// [`super::idle::MIN_HEARTBEAT_TIMEOUT`] or more: live peers send a keepalive every
    /// [`super::idle::KEEPALIVE_EVERY`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskforce::remote::ConnectOptions;
    /// let options = ConnectOptions::default().heartbeat_timeout(Duration::from_secs(10));
    /// assert_eq!(options.bounds.idle_timeout, Duration::from_secs(10));
    /// ```
    pub fn heartbeat_timeout(mut self, deadline: Duration) -> Self {
        self.bounds.idle_timeout = deadline;
        self
    }

    /// The options of a session on a connection made with these options.
    pub fn session_options(&self) -> SessionOptions {
        SessionOptions::new(self.limits, self.bounds)
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            attempt_timeout: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            give_up_after: None,
            reconnect_for: Some(Duration::from_secs(60)),
            limits: FrameLimits::default(),
            token: None,
            bounds: LinkBounds {
                idle_timeout: super::idle::DEFAULT_HEARTBEAT_TIMEOUT,
                ..LinkBounds::default()
            },
            tls: None,
        }
    }
}

/// An established, handshaken connection.
#[derive(Debug)]
pub struct Connected {
    /// The connection (plain or TLS), positioned after the handshake.
    pub stream: LinkStream,
    /// The id the server gave us.
    pub id: u32,
    /// The server's name.
    pub server_name: String,
}

/// One attempt: TCP connect, TLS if the options or a `tls://` address ask for it, then the
/// handshake.
pub async fn connect_once(
    addr: &str,
    hello: &Hello,
    options: &ConnectOptions,
) -> Result<Connected, HandshakeError> {
    let (addr, tls_scheme) = split_scheme(addr);
    let tls = match (&options.tls, tls_scheme) {
        (Some(tls), _) => Some(tls.clone()),
        (None, true) => Some(Tls::encrypt_only()),
        (None, false) => None,
    };
    let attempt = async {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut stream = match &tls {
            Some(tls) => secure_client(tcp, addr, tls).await?,
            None => LinkStream::Plain(tcp),
        };
        let shaken = client_handshake(
            &mut stream,
            hello,
            options.token.as_ref(),
            options.attempt_timeout,
        )
        .await;
        let (id, server_name) = match shaken {
            // TLS 1.3 servers check our certificate after we think TLS is done: their
            // refusal arrives as our first read fails.
            Err(HandshakeError::Io(e)) if stream.is_tls() => Err(client_failure(addr, e)),
            other => other,
        }?;
        Ok(Connected {
            stream,
            id,
            server_name,
        })
    };
    tokio::time::timeout(options.attempt_timeout, attempt)
        .await
        .map_err(|_| HandshakeError::Timeout(options.attempt_timeout))?
}

/// Connects, retrying transient failures with exponential backoff for at most
/// `options.give_up_after` (forever if `None`), each retry logged at warn with the address
/// and the error. A refusal or a version mismatch is returned at once: retrying can't fix it.
pub async fn connect_with_backoff(
    addr: &str,
    hello: &Hello,
    options: &ConnectOptions,
) -> Result<Connected, HandshakeError> {
    let deadline = options
        .give_up_after
        .map(|limit| tokio::time::Instant::now() + limit);
    connect_until(addr, hello, options, deadline, |error, retry_in| {
        warn!(target: crate::actors::LOG_REMOTE, %addr, ?retry_in, "{addr} unreachable: {error}; retrying");
    })
    .await
}

/// Connects to `addr`, retrying transient failures until `deadline` (forever if `None`);
/// `on_retry` hears each failure and the wait before the next attempt (for the caller's
/// log). The deadline is kept exactly: the last wait and the last attempt are cut short, so
/// the attempt gives up when the time is up, not a backoff step early or late.
/// A refusal or a version mismatch is returned at once: retrying can't fix it.
pub async fn connect_until(
    addr: &str,
    hello: &Hello,
    options: &ConnectOptions,
    deadline: Option<Instant>,
    mut on_retry: impl FnMut(&HandshakeError, Duration),
) -> Result<Connected, HandshakeError> {
    let mut wait = options.initial_backoff;
    loop {
        let mut attempt_options = options.clone();
        if let Some(at) = deadline {
            let left = at.saturating_duration_since(Instant::now());
            attempt_options.attempt_timeout = attempt_options.attempt_timeout.min(left);
        }
        let error = match connect_once(addr, hello, &attempt_options).await {
            Ok(connected) => return Ok(connected),
            Err(e) if !e.is_transient() => return Err(e),
            Err(e) => e,
        };
        let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(error);
        }
        let pause = left.map_or(wait, |left| wait.min(left));
        on_retry(&error, pause);
        tokio::time::sleep(pause).await;
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Err(error);
        }
        wait = (wait * 2).min(options.max_backoff);
    }
}
