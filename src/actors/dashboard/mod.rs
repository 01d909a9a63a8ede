//! The dashboard's HTTP shell: serves the page (assets built into the binary, nothing from a
//! CDN), a JSON snapshot, a server-sent-events feed of snapshots at a bounded rate, and
//! Prometheus metrics at `/metrics`.
//!
//! It runs on a thread of its own with its own small tokio runtime, so a browser (or a slow
//! one) never takes time from the scheduler: the scheduler only feeds the shared
//! [`DashboardModel`] under a short lock, and each snapshot is built from bounded aggregates.

mod metrics;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::dashboard::{DashboardModel, Observation, Snapshot};

pub use metrics::Metrics;
pub use server::{serve, DashboardServer, FEED_INTERVAL, MAX_CONNECTIONS, MAX_FEEDS};

/// Spans sent to the browser with each snapshot.
const STREAM_SPANS_PER_SNAPSHOT: usize = 1_500;

/// A cluster's dashboard: the model the scheduler feeds and the metrics it keeps. Cheap to
/// clone; every clone feeds the same model.
#[derive(Clone)]
pub struct Dashboard {
    shared: Arc<Shared>,
}

struct Shared {
    // A std mutex: held for one observation or one snapshot, never across an await.
    model: Mutex<DashboardModel>,
    metrics: Metrics,
    started: Instant,
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard {
            shared: Arc::new(Shared {
                model: Mutex::new(DashboardModel::default()),
                metrics: Metrics::new(),
                started: Instant::now(),
            }),
        }
    }
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dashboard")
    }
}

impl Dashboard {
    /// Takes in a batch of observations under one lock.
    pub fn observe(&self, observations: impl IntoIterator<Item = Observation>) {
        let now = self.shared.started.elapsed().as_secs_f64();
        let mut model = self.shared.model.lock().expect("dashboard model lock");
        for observation in observations {
            self.shared.metrics.observe(&observation);
            if let Some(latency) = model.observe(observation, now) {
                self.shared.metrics.task_latency(latency);
            }
        }
    }

    /// What the page shows now.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.shared.started.elapsed().as_secs_f64();
        let model = self.shared.model.lock().expect("dashboard model lock");
        model.snapshot(now, STREAM_SPANS_PER_SNAPSHOT)
    }

    /// The metrics in Prometheus's text format.
    pub fn metrics_text(&self) -> String {
        let snapshot = self.snapshot();
        self.shared.metrics.render(&snapshot)
    }

    /// Serves the dashboard on `addr` (port 0 picks one) from a thread of its own, until the
    /// returned handle is dropped.
    pub fn serve(&self, addr: SocketAddr) -> std::io::Result<DashboardServer> {
        serve(self.clone(), addr)
    }
}
