//! Messages between a service's callers and owner and the worker that hosts it. They ride on
//! the peer link (`PeerToWorker::Service`, `WorkerToPeer::Service`), so a call goes straight
//! to the hosting worker and never through the scheduler.
//!
//! Pure data: no sockets here.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::service::{CallFailure, Restart};
use crate::supervision::ExitReason;

/// A service's number on the cluster (random, chosen by the executor that spawned it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceId(pub u64);

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "svc-{:016x}", self.0)
    }
}

/// What a caller or the owner asks of a hosting worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToServiceHost {
    /// Start a group of services under one supervisor (a request: `Started` or `Refused`).
    Start(StartGroup),
    /// Call a method (a request: `Reply`); the body is the encoded message.
    Call {
        /// The service.
        service: ServiceId,
        /// The method's number.
        method: u32,
        /// The encoded message.
        args: Bytes,
    },
    /// Stop a group, children in reverse start order (a request: `Stopped`).
    Stop(ServiceId),
    /// Which service this worker hosts by this name or id (a request: `Found`).
    Find(FindService),
}

/// How to look a service up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FindService {
    /// By the name it was spawned with.
    Name(String),
    /// By its id.
    Id(ServiceId),
}

/// A group of services to start together on one worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartGroup {
    /// The group's id (a single service's group has the service's id).
    pub group: ServiceId,
    /// Its restart and checkpoint policy.
    pub policy: Restart,
    /// The members in start order.
    pub members: Vec<MemberSpec>,
}

/// One service of a [`StartGroup`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpec {
    /// Its id.
    pub id: ServiceId,
    /// The name it can be looked up by, if any.
    pub name: Option<String>,
    /// Its registered type ([`crate::service::Service::KIND`]).
    pub kind: String,
    /// Its signature hash, checked against the worker's build.
    pub signature: u64,
    /// The state to start from (its initial state or its last checkpoint).
    pub state: Bytes,
}

/// What a hosting worker answers or reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromServiceHost {
    /// The group started.
    Started,
    /// The group could not start here, and why.
    Refused(String),
    /// A call's outcome: the encoded reply or why there is none.
    Reply(Result<Bytes, CallFailure>),
    /// The group was stopped.
    Stopped,
    /// The answer to `Find`.
    Found(Option<FoundService>),
    /// A member's state after a checkpoint (told to the owner, unasked).
    Checkpoint {
        /// The member.
        service: ServiceId,
        /// Its encoded state.
        state: Bytes,
    },
    /// A group's supervisor gave up (past its intensity), or the group stopped (told to the
    /// owner, unasked).
    GroupExited {
        /// The group.
        group: ServiceId,
        /// Why.
        reason: ExitReason,
    },
}

/// A service a worker hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundService {
    /// Its id.
    pub id: ServiceId,
    /// Its registered type.
    pub kind: String,
    /// Its signature hash.
    pub signature: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::codec;
    use crate::messages::peer_link::{PeerToWorker, WorkerToPeer};

    fn round_trip<T>(value: T)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
    {
        let bytes = codec::encode(&value).expect("encodes");
        assert_eq!(codec::decode::<T>(&bytes).expect("decodes"), value);
    }

    #[test]
    fn requests_and_answers_round_trip() {
        let start = StartGroup {
            group: ServiceId(7),
            policy: Restart::rest_for_one().checkpoint_every(10),
            members: vec![MemberSpec {
                id: ServiceId(7),
                name: Some("tally".into()),
                kind: "app::Counter".into(),
                signature: 42,
                state: Bytes::from_static(&[1, 2, 3]),
            }],
        };
        round_trip(PeerToWorker::Service(1, ToServiceHost::Start(start)));
        round_trip(PeerToWorker::Service(
            2,
            ToServiceHost::Call {
                service: ServiceId(7),
                method: 3,
                args: Bytes::from_static(b"x"),
            },
        ));
        round_trip(PeerToWorker::Service(
            3,
            ToServiceHost::Find(FindService::Name("tally".into())),
        ));
        round_trip(WorkerToPeer::Service(
            2,
            FromServiceHost::Reply(Err(CallFailure::Panicked("boom".into()))),
        ));
        round_trip(WorkerToPeer::Service(
            0,
            FromServiceHost::GroupExited {
                group: ServiceId(7),
                reason: ExitReason::Failed("intensity".into()),
            },
        ));
    }

    #[test]
    fn a_call_header_is_small() {
        let call = PeerToWorker::Service(
            1_000_000,
            ToServiceHost::Call {
                service: ServiceId(u64::MAX),
                method: 1,
                args: Bytes::from_static(&[3]),
            },
        );
        let bytes = codec::encode(&call).expect("encodes");
        assert!(bytes.len() <= 24, "{} bytes", bytes.len());
    }
}
