//! The link-time registry of service types (inventory): kind → how to build one, so any
//! binary that links a service can host it.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{HostedService, Service};
use crate::messages::codec::CodecError;

/// Builds a hosted service from its encoded state.
pub type MakeHosted = fn(&[u8]) -> Result<Box<dyn HostedService>, CodecError>;

/// One service type as the registry knows it (submitted by `#[taskforce::service]`).
pub struct ServiceRegistration {
    /// Its stable name ([`Service::KIND`]).
    pub kind: &'static str,
    /// Its signature hash ([`super::ServiceMethods::signature`]).
    pub signature: fn() -> u64,
    /// Builds one from its encoded state.
    pub make: MakeHosted,
}

inventory::collect!(ServiceRegistration);

/// The builder of `S` that the registration of `S` carries.
pub fn make_hosted<S: Service>(state: &[u8]) -> Result<Box<dyn HostedService>, CodecError> {
    super::hosted::host::<S>(state)
}

/// The registered service type called `kind`.
pub fn lookup_service(kind: &str) -> Option<&'static ServiceRegistration> {
    static TABLE: OnceLock<HashMap<&'static str, &'static ServiceRegistration>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            inventory::iter::<ServiceRegistration>
                .into_iter()
                .map(|registration| (registration.kind, registration))
                .collect()
        })
        .get(kind)
        .copied()
}
