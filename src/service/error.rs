//! What a service call can end with: [`CallFailure`] on the wire, [`ServiceError`] for the
//! caller (which names the service and the method).

use serde::{Deserialize, Serialize};

/// Why a call did not return a reply, as the host (or the caller's side) says it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CallFailure {
    /// The method panicked; the service restarts by its policy.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The service restarted (or its worker died) while the call was in flight.
    #[error("the service restarted while the call was in flight: {0}")]
    Restarted(String),
    /// The service is past its restart intensity and stays down; the last cause.
    #[error("the service failed: {0}")]
    Failed(String),
    /// The service was stopped.
    #[error("the service was stopped")]
    Stopped,
    /// The host does not run this service (any more).
    #[error("no such service on this worker")]
    NoSuchService,
    /// The message's method number is not one of the service's methods.
    #[error("no method number {0}")]
    NoSuchMethod(u32),
    /// The message or the reply did not (de)code: the two sides were built differently.
    #[error("bad message: {0}")]
    BadArguments(String),
}

/// A service call or placement failed. Matchable: `Panicked`, `Restarted` and `Unreachable`
/// may succeed on retry (the service restarts), `Failed` and `Stopped` will not.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The method panicked; this call failed and the service restarts by its policy.
    #[error("service {service}: {method} panicked: {message}")]
    Panicked {
        /// The service's name.
        service: String,
        /// The method.
        method: &'static str,
        /// The panic message.
        message: String,
    },
    /// The call was in flight when the service restarted or its worker died.
    #[error("service {service}: {method} was in flight when the service restarted ({reason})")]
    ServiceRestarted {
        /// The service's name.
        service: String,
        /// The method.
        method: &'static str,
        /// What happened.
        reason: String,
    },
    /// The service is past its restart intensity and stays down.
    #[error("service {service} failed: {cause}")]
    Failed {
        /// The service's name.
        service: String,
        /// The last cause ("restart intensity exceeded (...): panicked: boom").
        cause: String,
    },
    /// The service was stopped.
    #[error("service {service} was stopped")]
    Stopped {
        /// The service's name.
        service: String,
    },
    /// No worker hosts a service of this name.
    #[error("no service named {name} on the cluster")]
    NotFound {
        /// The name looked for.
        name: String,
    },
    /// No worker could start the service.
    #[error("could not place service {service}: {reason}")]
    Placement {
        /// The service's name.
        service: String,
        /// Why.
        reason: String,
    },
    /// The host could not be reached, or the reply did not come in time.
    #[error("service {service}: {reason}")]
    Unreachable {
        /// The service's name.
        service: String,
        /// Why.
        reason: String,
    },
    /// The call and the host disagree on the message (built from different code).
    #[error("service {service}: {method}: {reason}")]
    Mismatch {
        /// The service's name.
        service: String,
        /// The method.
        method: &'static str,
        /// What did not fit.
        reason: String,
    },
}

impl ServiceError {
    /// The caller's error for a call of `method` on `service` that failed with `failure`.
    pub fn from_failure(service: &str, method: &'static str, failure: CallFailure) -> Self {
        let service = service.to_string();
        match failure {
            CallFailure::Panicked(message) => ServiceError::Panicked {
                service,
                method,
                message,
            },
            CallFailure::Restarted(reason) => ServiceError::ServiceRestarted {
                service,
                method,
                reason,
            },
            CallFailure::Failed(cause) => ServiceError::Failed { service, cause },
            CallFailure::Stopped => ServiceError::Stopped { service },
            CallFailure::NoSuchService => ServiceError::ServiceRestarted {
                service,
                method,
                reason: "the worker no longer hosts it".into(),
            },
            other => ServiceError::Mismatch {
                service,
                method,
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_become_errors_naming_service_and_method() {
        let panicked =
            ServiceError::from_failure("counter", "boom", CallFailure::Panicked("bad".into()));
        assert_eq!(panicked.to_string(), "service counter: boom panicked: bad");
        let failed =
            ServiceError::from_failure("counter", "get", CallFailure::Failed("last: boom".into()));
        assert!(matches!(failed, ServiceError::Failed { ref cause, .. } if cause == "last: boom"));
        let gone = ServiceError::from_failure("counter", "get", CallFailure::NoSuchService);
        assert!(matches!(gone, ServiceError::ServiceRestarted { .. }));
    }
}
