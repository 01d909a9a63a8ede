//! Fetching and placing values on a worker as a peer (used by workers for task inputs and by
//! executors for gather and scatter): connect, ask, and turn frames back into values. Every
//! request waits for room in the link's send queue before it is sent (see [`super::bounds`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::actors::remote::{
    connect::connect_once, ConnectOptions, Remote, RemoteError, Session, SessionEvent,
};
use crate::function::EncodedValue;
use crate::ids::TaskKey;
use crate::messages::peer_link::{join_value, split_value, PeerToWorker, WorkerToPeer};
use crate::messages::{FrameError, Hello, Role};

/// A connection to a worker's peer port.
pub type PeerLink = Remote<PeerToWorker, WorkerToPeer>;

/// How long a data request may take before the holder is considered unreachable.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(300);

/// Why values could not be fetched or placed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerError {
    /// Could not connect to the holder at the address it advertised when it registered with
    /// the center (which told us); the words say so, and how a worker changes it.
    #[error(
        "could not connect to {addr}, the address that worker advertised when it registered \
         with the center (if other hosts cannot reach it, start the worker with --host or \
         --contact-address set to an address they can): {reason}"
    )]
    Connect {
        /// The holder.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The request failed on an established connection.
    #[error("request to {addr} failed: {source}")]
    Request {
        /// The holder.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: RemoteError,
    },
    /// The holder cannot send the value of `key`: it is larger than one message may be.
    #[error("{addr} cannot send {key}: {source}")]
    TooLarge {
        /// The holder.
        addr: SocketAddr,
        /// The key asked for.
        key: TaskKey,
        /// The size and the limit.
        #[source]
        source: Arc<FrameError>,
    },
    /// The holder answered something else than asked.
    #[error("{addr} answered with an unexpected message")]
    Protocol {
        /// The holder.
        addr: SocketAddr,
    },
}

impl PeerError {
    /// The crate-level error, keeping this one as the source of a timeout or a protocol
    /// violation.
    pub fn into_error(self) -> crate::Error {
        let operation = match &self {
            PeerError::Connect { addr, .. }
            | PeerError::Request { addr, .. }
            | PeerError::Protocol { addr } => format!("a data request to {addr}"),
            PeerError::TooLarge { addr, key, .. } => format!("the value of {key} from {addr}"),
        };
        match self {
            PeerError::Request {
                source: RemoteError::Timeout(_),
                ..
            } => crate::Error::Timeout {
                operation,
                source: Box::new(self),
            },
            PeerError::Request {
                source: RemoteError::TooLarge { source, .. },
                ..
            }
            | PeerError::TooLarge { source, .. } => crate::Error::MessageTooLarge {
                operation,
                source: Box::new(source),
            },
            PeerError::Protocol { .. }
            | PeerError::Request {
                source: RemoteError::Protocol { .. },
                ..
            } => crate::Error::Protocol {
                operation,
                source: Box::new(self),
            },
            other => crate::Error::ConnectionLost {
                reason: other.to_string(),
            },
        }
    }
}

/// Connects to the worker at `addr` as a peer; the session reports to `owner`.
pub async fn connect_peer(
    addr: SocketAddr,
    name: String,
    owner: actix::Recipient<SessionEvent<WorkerToPeer>>,
    options: &ConnectOptions,
) -> Result<PeerLink, PeerError> {
    let hello = Hello {
        role: Role::Peer,
        name,
        listen_addr: None,
        nthreads: 0,
        memory_limit: 0,
        pid: std::process::id(),
        functions: Vec::new(),
        resources: Default::default(),
    };
    // A holder that does not answer within the heartbeat deadline is as silent as one that
    // stops answering: the fetch fails over (another holder, or recomputation) in that time.
    let options = &ConnectOptions {
        attempt_timeout: options.attempt_timeout.min(options.bounds.idle_timeout),
        ..options.clone()
    };
    let connected = connect_once(&addr.to_string(), &hello, options)
        .await
        .map_err(|e| PeerError::Connect {
            addr,
            reason: e.to_string(),
        })?;
    Ok(Session::open(
        connected.stream,
        owner,
        options.session_options(),
        None,
    ))
}

/// Waits for room in the link's send queue, as long as a request may take: a holder that
/// reads nothing for that long is as unreachable as one that does not answer.
async fn room_on(link: &PeerLink, addr: SocketAddr) -> Result<(), PeerError> {
    tokio::time::timeout(DATA_TIMEOUT, link.wait_for_room())
        .await
        .map_err(|_| PeerError::Request {
            addr,
            source: RemoteError::Timeout(DATA_TIMEOUT),
        })
}

/// What a holder sent back for a `GetData`.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Values found.
    pub values: Vec<(TaskKey, EncodedValue)>,
    /// Keys the holder does not have.
    pub missing: Vec<TaskKey>,
}

/// Asks `link` (connected to `addr`) for the values of `keys`. A holder answers as many as
/// fit in one message (the rest it leaves unanswered), so this asks again for the rest
/// until every key is found or missing.
pub async fn get_data(
    link: &PeerLink,
    addr: SocketAddr,
    mut keys: Vec<TaskKey>,
) -> Result<Fetched, PeerError> {
    let mut fetched = Fetched::default();
    while !keys.is_empty() {
        let part = get_data_once(link, addr, keys.clone()).await?;
        let answered: crate::ids::Set<&TaskKey> = part
            .values
            .iter()
            .map(|(key, _)| key)
            .chain(&part.missing)
            .collect();
        if answered.is_empty() {
            return Err(PeerError::Protocol { addr });
        }
        keys.retain(|key| !answered.contains(key));
        fetched.values.extend(part.values);
        fetched.missing.extend(part.missing);
    }
    Ok(fetched)
}

async fn get_data_once(
    link: &PeerLink,
    addr: SocketAddr,
    keys: Vec<TaskKey>,
) -> Result<Fetched, PeerError> {
    room_on(link, addr).await?;
    let reply = link
        .ask(PeerToWorker::GetData(keys), DATA_TIMEOUT)
        .await
        .map_err(|source| PeerError::Request { addr, source })?;
    let (found, missing) = match reply.body {
        WorkerToPeer::Data { found, missing } => (found, missing),
        WorkerToPeer::TooLarge { key, nbytes, max } => {
            return Err(PeerError::TooLarge {
                addr,
                key,
                source: Arc::new(FrameError::MessageTooLarge { len: nbytes, max }),
            })
        }
        WorkerToPeer::Stored(_) | WorkerToPeer::Service(..) => {
            return Err(PeerError::Protocol { addr })
        }
    };
    if found.len() != reply.frames.len() {
        return Err(PeerError::Protocol { addr });
    }
    let values = found
        .into_iter()
        .zip(reply.frames)
        .map(|((key, meta), bytes)| (key, join_value(meta, bytes)))
        .collect();
    Ok(Fetched { values, missing })
}

/// Places values on the worker behind `link`; returns their sizes.
pub async fn put_data(
    link: &PeerLink,
    addr: SocketAddr,
    values: Vec<(TaskKey, EncodedValue)>,
) -> Result<Vec<u64>, PeerError> {
    let (metas, frames): (Vec<_>, Vec<_>) = values
        .into_iter()
        .map(|(key, value)| {
            let (meta, bytes) = split_value(value);
            ((key, meta), bytes)
        })
        .unzip();
    room_on(link, addr).await?;
    let reply = link
        .ask_with_frames(PeerToWorker::PutData(metas), frames, DATA_TIMEOUT)
        .await
        .map_err(|source| PeerError::Request { addr, source })?;
    match reply.body {
        WorkerToPeer::Stored(sizes) => Ok(sizes),
        WorkerToPeer::Data { .. } | WorkerToPeer::TooLarge { .. } | WorkerToPeer::Service(..) => {
            Err(PeerError::Protocol { addr })
        }
    }
}
