//! Token authentication: the challenge and response that follow the preamble, before a
//! `Hello` is read, as two small state machines (one per side).
//!
//! ```text
//! server:  Challenge { server nonce, token required? }
//! client:  Response  { client nonce, HMAC(token, "client" | both nonces) }
//! server:  Accepted  { HMAC(token, "server" | both nonces) }     or Denied { reason }
//! ```
//! Both sides prove the token (mutual), the token never crosses the wire, and a fresh nonce
//! from each side means a recorded exchange proves nothing later. Any message out of order
//! ends the exchange with an error: the caller closes the connection. A side without a token
//! sends no proof; a server without one admits clients without one (trusted networks only),
//! and a client with a token refuses a server that cannot prove it. Pure: no sockets, no
//! actors (the socket side is `crate::actors::remote::handshake`).

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::handshake::PROTOCOL_VERSION;

/// The environment variable that carries the cluster's token, read by the CLI and by
/// `Executor::connect`, and set by nannies and local clusters for their workers.
pub const TOKEN_ENV: &str = "TASKFORCE_TOKEN";
/// The environment variable naming a file that holds the token (read when [`TOKEN_ENV`] is
/// not set).
pub const TOKEN_FILE_ENV: &str = "TASKFORCE_TOKEN_FILE";

/// Bytes of a nonce and of a proof.
pub const NONCE_LEN: usize = 32;

/// A fresh random value, one per side per connection.
pub type Nonce = [u8; NONCE_LEN];
/// An HMAC-SHA256 over both nonces.
pub type Proof = [u8; 32];

/// The cluster's shared secret. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// A token that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is empty (or only whitespace).
    #[error("the token is empty")]
    Empty,
    /// The token file could not be read.
    #[error("cannot read the token file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The token file holds nothing but whitespace.
    #[error("the token file {path} is empty")]
    EmptyFile {
        /// The file.
        path: std::path::PathBuf,
    },
    /// Other users may read the token file, so the secret is not one.
    #[error(
        "the token file {path} can be read by other users (mode {mode:o}); make it private: \
         chmod 600 {path}"
    )]
    WorldReadable {
        /// The file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl Token {
    /// A token from its text (surrounding whitespace is dropped, so a file's newline is).
    pub fn new(text: &str) -> Result<Token, TokenError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        Ok(Token(text.into()))
    }

    /// The token in [`TOKEN_ENV`], if it is set and not empty.
    pub fn from_env() -> Option<Token> {
        std::env::var(TOKEN_ENV)
            .ok()
            .and_then(|t| Token::new(&t).ok())
    }

    /// The token in the file at `path` (surrounding whitespace dropped). Refused if the file
    /// is missing, empty, or readable by other users.
    pub fn from_file(path: &std::path::Path) -> Result<Token, TokenError> {
        let unreadable = |e: std::io::Error| TokenError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(unreadable)?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o004 != 0 {
                let path = path.to_owned();
                return Err(TokenError::WorldReadable { path, mode });
            }
        }
        Token::new(&text).map_err(|_| TokenError::EmptyFile {
            path: path.to_owned(),
        })
    }

    /// The token in [`TOKEN_ENV`] or else in the file named by [`TOKEN_FILE_ENV`]; `None` if
    /// neither is set, an error if the file cannot give a token.
    pub fn from_env_or_file() -> Result<Option<Token>, TokenError> {
        if let Some(token) = Token::from_env() {
            return Ok(Some(token));
        }
        match std::env::var_os(TOKEN_FILE_ENV).filter(|v| !v.is_empty()) {
            Some(path) => Token::from_file(std::path::Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }

    /// A new random token (256 bits, hex), for a cluster that makes its own.
    pub fn generate() -> Token {
        let bytes = random_nonce();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Token(hex.into())
    }

    /// The token's text, to hand to a child process (by environment, never argv).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A fresh random nonce from the operating system.
pub fn random_nonce() -> Nonce {
    let mut nonce = [0_u8; NONCE_LEN];
    getrandom::fill(&mut nonce).expect("the operating system's random source is available");
    nonce
}

/// One message of the authentication exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMessage {
    /// Server: its nonce, and whether it requires a token.
    Challenge {
        /// The server's nonce.
        nonce: Nonce,
        /// Whether the server holds a token (and so requires one).
        token_required: bool,
    },
    /// Client: its nonce and its proof (none without a token).
    Response {
        /// The client's nonce.
        nonce: Nonce,
        /// HMAC over both nonces, if the client has a token.
        proof: Option<Proof>,
    },
    /// Server: the client is admitted; the server's proof (none without a token).
    Accepted {
        /// HMAC over both nonces, if the server has a token.
        proof: Option<Proof>,
    },
    /// Server: authentication failed; the connection closes.
    Denied {
        /// Why, for the client's error.
        reason: String,
    },
}

impl AuthMessage {
    fn name(&self) -> &'static str {
        match self {
            AuthMessage::Challenge { .. } => "Challenge",
            AuthMessage::Response { .. } => "Response",
            AuthMessage::Accepted { .. } => "Accepted",
            AuthMessage::Denied { .. } => "Denied",
        }
    }
}

/// Why authentication failed. Every variant ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Server: the client sent no proof but the cluster requires a token.
    #[error(
        "authentication failed: this cluster requires a token and none was given (set \
         TASKFORCE_TOKEN or pass --token)"
    )]
    MissingToken,
    /// Server: the client's proof is not of our token.
    #[error("authentication failed: wrong token")]
    WrongToken,
    /// Client: the server requires no token, so it cannot prove it holds ours.
    #[error(
        "authentication failed: the server has no token, so it cannot prove it belongs to \
         this cluster (connect without a token, or give the server the token)"
    )]
    ServerHasNoToken,
    /// Client: the server's proof is not of our token.
    #[error("authentication failed: the server proved a different token")]
    ServerWrongToken,
    /// Client: the server denied us, and said why.
    #[error("{0}")]
    Denied(String),
    /// Either side: a message out of order.
    #[error("authentication failed: unexpected {got} (expected {expected})")]
    Unexpected {
        /// What came.
        got: &'static str,
        /// What the state machine waited for.
        expected: &'static str,
    },
}

impl AuthError {
    /// Whether the peer should be told [`AuthMessage::Denied`] (a token problem), rather
    /// than the connection just closing.
    pub fn is_denial(&self) -> bool {
        matches!(self, AuthError::MissingToken | AuthError::WrongToken)
    }
}

fn proof(token: &Token, label: &[u8], server: &Nonce, client: &Nonce) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(token.0.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(label);
    mac.update(&PROTOCOL_VERSION.to_le_bytes());
    mac.update(server);
    mac.update(client);
    mac
}

const CLIENT_LABEL: &[u8] = b"taskforce client proof";
const SERVER_LABEL: &[u8] = b"taskforce server proof";

/// Checks `given` against the proof of `token` in constant time.
fn verify(token: &Token, label: &[u8], server: &Nonce, client: &Nonce, given: &Proof) -> bool {
    proof(token, label, server, client)
        .verify_slice(given)
        .is_ok()
}

fn make(token: &Token, label: &[u8], server: &Nonce, client: &Nonce) -> Proof {
    proof(token, label, server, client)
        .finalize()
        .into_bytes()
        .into()
}

/// The server's side: challenge, then check the response.
#[derive(Debug)]
pub struct ServerAuth {
    token: Option<Token>,
    nonce: Nonce,
    done: bool,
}

impl ServerAuth {
    /// A server holding `token` (or none), and the challenge to send first.
    pub fn new(token: Option<Token>, nonce: Nonce) -> (ServerAuth, AuthMessage) {
        let challenge = AuthMessage::Challenge {
            nonce,
            token_required: token.is_some(),
        };
        let auth = ServerAuth {
            token,
            nonce,
            done: false,
        };
        (auth, challenge)
    }

    /// Checks the client's response; returns the `Accepted` to send.
    pub fn on_message(&mut self, message: AuthMessage) -> Result<AuthMessage, AuthError> {
        let AuthMessage::Response { nonce, proof } = message else {
            return Err(AuthError::Unexpected {
                got: message.name(),
                expected: "Response",
            });
        };
        if self.done {
            return Err(AuthError::Unexpected {
                got: "Response",
                expected: "nothing more",
            });
        }
        self.done = true;
        let Some(token) = &self.token else {
            return Ok(AuthMessage::Accepted { proof: None });
        };
        let given = proof.ok_or(AuthError::MissingToken)?;
        if !verify(token, CLIENT_LABEL, &self.nonce, &nonce, &given) {
            return Err(AuthError::WrongToken);
        }
        let ours = make(token, SERVER_LABEL, &self.nonce, &nonce);
        Ok(AuthMessage::Accepted { proof: Some(ours) })
    }
}

/// The client's side: answer the challenge, then check the server's proof.
#[derive(Debug)]
pub struct ClientAuth {
    token: Option<Token>,
    nonce: Nonce,
    /// The server's nonce, once its challenge has come.
    server_nonce: Option<Nonce>,
}

impl ClientAuth {
    /// A client holding `token` (or none).
    pub fn new(token: Option<Token>, nonce: Nonce) -> ClientAuth {
        ClientAuth {
            token,
            nonce,
            server_nonce: None,
        }
    }

    /// Takes the server's next message: `Some(response)` to send after the challenge,
    /// `None` once the server has proved the token (or, without tokens, admitted us).
    pub fn on_message(&mut self, message: AuthMessage) -> Result<Option<AuthMessage>, AuthError> {
        match (message, self.server_nonce) {
            (AuthMessage::Denied { reason }, _) => Err(AuthError::Denied(reason)),
            (
                AuthMessage::Challenge {
                    nonce,
                    token_required,
                },
                None,
            ) => self.on_challenge(nonce, token_required).map(Some),
            (AuthMessage::Accepted { proof }, Some(server)) => self.on_accepted(server, proof),
            (other, state) => Err(AuthError::Unexpected {
                got: other.name(),
                expected: if state.is_none() {
                    "Challenge"
                } else {
                    "Accepted"
                },
            }),
        }
    }

    fn on_challenge(
        &mut self,
        server: Nonce,
        token_required: bool,
    ) -> Result<AuthMessage, AuthError> {
        // Without a token where one is required, the response goes anyway (without proof):
        // the server then names the missing token to us and in its own log.
        if self.token.is_some() && !token_required {
            return Err(AuthError::ServerHasNoToken);
        }
        self.server_nonce = Some(server);
        let proof = self
            .token
            .as_ref()
            .map(|token| make(token, CLIENT_LABEL, &server, &self.nonce));
        Ok(AuthMessage::Response {
            nonce: self.nonce,
            proof,
        })
    }

    fn on_accepted(
        &mut self,
        server: Nonce,
        proof: Option<Proof>,
    ) -> Result<Option<AuthMessage>, AuthError> {
        match (&self.token, proof) {
            (None, None) => Ok(None),
            (Some(token), Some(given)) => {
                if verify(token, SERVER_LABEL, &server, &self.nonce, &given) {
                    Ok(None)
                } else {
                    Err(AuthError::ServerWrongToken)
                }
            }
            (Some(_), None) => Err(AuthError::ServerWrongToken),
            (None, Some(_)) => Err(AuthError::ServerHasNoToken),
        }
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
