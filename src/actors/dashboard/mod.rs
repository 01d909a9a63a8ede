//! The dashboard's HTTP shell: serves the page (assets built into the binary, nothing from a
//! CDN), a JSON snapshot, a server-sent-events feed of snapshots at a bounded rate, and
//! Prometheus metrics at `/metrics`.
//!
//! It runs on threads of its own, so neither the aggregation nor a browser (or a slow one)
//! takes time from the scheduler: the scheduler only pushes each event's observations into a
//! bounded channel (see [`aggregator`]), a thread of the dashboard folds them into the shared
//! [`DashboardModel`](crate::dashboard::DashboardModel), and each snapshot is built from
//! bounded aggregates.

mod access;
mod aggregator;
mod metrics;
mod server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::actors::center::ClusterTrees;
use crate::dashboard::{Observation, Snapshot};
use crate::messages::Token;

pub use access::link_with_token;
pub use aggregator::BACKLOG_BATCHES;
pub use metrics::Metrics;
pub use server::{serve, DashboardServer, FEED_INTERVAL, MAX_CONNECTIONS, MAX_FEEDS};

/// Spans sent to the browser with each snapshot.
const STREAM_SPANS_PER_SNAPSHOT: usize = 1_500;

/// A cluster's dashboard: the model the scheduler feeds and the metrics it keeps. Cheap to
/// clone; every clone feeds the same model, and its aggregator thread ends with the last one.
#[derive(Clone)]
pub struct Dashboard {
    feed: Arc<aggregator::Feed>,
    trees: Option<ClusterTrees>,
    /// Live event feeds (browsers watching) now.
    watching: Arc<AtomicU64>,
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard {
            feed: Arc::new(aggregator::Feed::start()),
            trees: None,
            watching: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dashboard")
    }
}

impl Dashboard {
    /// Hands a batch of observations, made now, to the aggregator; never waits (at the bound
    /// of [`BACKLOG_BATCHES`] the batch is dropped and counted).
    pub fn observe(&self, observations: impl IntoIterator<Item = Observation>) {
        self.feed.send(observations.into_iter().collect());
    }

    /// Shows the cluster's supervision trees, as `trees` holds them, in each snapshot.
    pub fn with_trees(mut self, trees: ClusterTrees) -> Self {
        self.trees = Some(trees);
        self
    }

    /// What the page shows now, with every batch observed before this call folded in.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = self.feed.aggregate().snapshot(STREAM_SPANS_PER_SNAPSHOT);
        if let Some(trees) = &self.trees {
            snapshot.tree = trees.snapshot();
        }
        snapshot
    }

    /// Observation batches dropped because the aggregator fell behind.
    pub fn dropped_batches(&self) -> u64 {
        self.feed.aggregate().dropped()
    }

    /// The metrics in Prometheus's text format.
    pub fn metrics_text(&self) -> String {
        let snapshot = self.snapshot();
        let metrics = &self.feed.aggregate().metrics;
        metrics.set_feeds(self.feeds_open());
        metrics.render(&snapshot)
    }

    /// Live event feeds open now (browsers watching the page).
    pub fn feeds_open(&self) -> u64 {
        self.watching.load(Ordering::Relaxed)
    }

    /// Counts a feed open until the returned guard is dropped.
    fn watched(&self) -> Watching {
        self.watching.fetch_add(1, Ordering::Relaxed);
        Watching(self.watching.clone())
    }

    /// Serves the dashboard on `addr` (port 0 picks one) from a thread of its own, until the
    /// returned handle is dropped.
    pub fn serve(&self, addr: SocketAddr) -> std::io::Result<DashboardServer> {
        serve(self.clone(), addr, None)
    }

    /// As [`Dashboard::serve`], but only to those who show `token` (`?token=`, the cookie
    /// that sets, or `Authorization: Bearer`); everyone else gets `401` and a login form.
    pub fn serve_with_token(
        &self,
        addr: SocketAddr,
        token: Option<Token>,
    ) -> std::io::Result<DashboardServer> {
        serve(self.clone(), addr, token)
    }
}

/// One open event feed, counted in [`Dashboard::feeds_open`] until dropped.
struct Watching(Arc<AtomicU64>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
