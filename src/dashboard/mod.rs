//! What the dashboard shows, as a pure model: the scheduler's shell feeds it
//! [`Observation`]s; the HTTP shell (`crate::actors::dashboard`) asks it for a bounded
//! [`Snapshot`] a few times a second and pushes that to browsers.
//!
//! Aggregated, never per task on the way out: progress is counted per function, the graph per
//! layer (a key's name without its index or hash), the task stream (bars per worker thread,
//! from the workers' activity reports) and the event log are rings of fixed size, workers
//! are panels with rates worked out between two reports (`workers.rs`), messages a fixed
//! array of counts (`messages.rs`). So a snapshot costs the same for a graph of ten tasks or
//! of a million.
//!
//! No I/O, no clock of its own (time comes in with each observation), no actix or tokio.

mod layers;
mod messages;
mod model;
mod snapshot;
mod workers;

#[cfg(test)]
mod tests;

pub use layers::layer_of;
pub use messages::{MessageCounts, MessageKind};
pub use model::{DashboardModel, Observation, TaskPhase};
pub use snapshot::{
    Counts, EventLine, FunctionProgress, LayerView, Snapshot, TaskSpan, WorkerPanel,
};
