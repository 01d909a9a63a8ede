//! Where a service is, as the handles of one process see it: shared by every clone of a
//! handle and, for services this process spawned, kept current by their owner.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::owner::WorkerList;
use crate::actors::remote::ConnectOptions;

use crate::messages::service_link::ServiceId;

/// Where calls for a service go now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// On the worker at this address.
    At(SocketAddr),
    /// Its owner is starting it (again) somewhere: calls wait for the new place.
    Moving,
    /// Not known here (a handle received from elsewhere whose host went away): the next call
    /// asks the known workers.
    Unknown,
    /// Past its restart intensity, with the last cause.
    Failed(String),
    /// Stopped.
    Stopped,
}

/// One service as this process's handles know it.
pub(crate) struct Target {
    pub(crate) id: ServiceId,
    /// Its name, or its type's name, for errors and logs.
    pub(crate) label: String,
    pub(crate) kind: &'static str,
    pub(crate) signature: u64,
    /// Whether this process spawned it (its owner moves it; others look it up).
    pub(crate) owned: bool,
    location: Mutex<Location>,
    /// How to connect to its cluster's workers.
    pub(crate) options: Arc<ConnectOptions>,
    /// Workers to ask when the location is unknown.
    candidates: Mutex<Vec<SocketAddr>>,
    /// How to ask the scheduler for the workers now (handles found by name), when the known
    /// ones do not host it.
    pub(crate) refresh: Option<WorkerList>,
}

impl Target {
    pub(crate) fn new(
        id: ServiceId,
        label: String,
        (kind, signature): (&'static str, u64),
        owned: bool,
        location: Location,
        (candidates, options): (Vec<SocketAddr>, Arc<ConnectOptions>),
    ) -> Self {
        Target {
            id,
            label,
            kind,
            signature,
            owned,
            location: Mutex::new(location),
            candidates: Mutex::new(candidates),
            options,
            refresh: None,
        }
    }

    /// This target with a way to refresh its candidates.
    pub(crate) fn with_refresh(mut self, refresh: WorkerList) -> Self {
        self.refresh = Some(refresh);
        self
    }

    pub(crate) fn location(&self) -> Location {
        self.location.lock().expect("location lock").clone()
    }

    pub(crate) fn set_location(&self, location: Location) {
        *self.location.lock().expect("location lock") = location;
    }

    /// Forgets the host `lost` (a handle from elsewhere): the next call looks the service up.
    pub(crate) fn lost_host(&self, lost: SocketAddr) {
        let mut location = self.location.lock().expect("location lock");
        if *location == Location::At(lost) && !self.owned {
            *location = Location::Unknown;
        }
    }

    pub(crate) fn candidates(&self) -> Vec<SocketAddr> {
        self.candidates.lock().expect("candidates lock").clone()
    }

    pub(crate) fn set_candidates(&self, workers: Vec<SocketAddr>) {
        *self.candidates.lock().expect("candidates lock") = workers;
    }
}
