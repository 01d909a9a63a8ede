//! The worker's decisions as a pure state machine: which tasks wait for which inputs, which
//! inputs are fetched from which peer, what runs, what is kept in memory, what is reported to
//! the scheduler, and what is forgotten when the center is lost.
//!
//! Events in ([`WorkerState::on_compute`], [`WorkerState::on_fetched`],
//! [`WorkerState::on_fetch_failed`], [`WorkerState::on_job_done`],
//! [`WorkerState::on_release`], [`WorkerState::on_put`], [`WorkerState::on_center_lost`],
//! [`WorkerState::on_registered`], [`WorkerState::on_acquire`], [`WorkerState::on_steal`]), commands out through a [`WorkerOutbox`] (run a job,
//! fetch keys from a peer, report a task event). The worker actor
//! (`crate::actors::worker`) only feeds it and performs what it says.
//!
//! Must not depend on actix, tokio, sockets or the actors; it has no clock of its own.

mod compute;
mod copies;
mod events;
mod fetch;
mod memory;
mod outbox;
mod sanity;
mod state;
mod steal;
pub mod store;

#[cfg(test)]
mod tests;

pub use events::INLINE_BYTES;
pub use memory::MemoryPolicy;
pub use outbox::{FetchId, FetchOrder, Job, WorkerCommand, WorkerOutbox};
pub use state::{registered_function, FunctionLookup, WorkerState};
pub use store::DataStore;
