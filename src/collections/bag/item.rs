//! [`Item`]: a lazy value computed from a bag (a count, a sum, a fold). Runs its graph on any
//! [`Runner`] and turns the resulting chunk into the program's type.

use std::any::Any;
use std::sync::Arc;

use super::chunk::Chunk;
use super::error::BagError;
use super::lazy::chunk_of;
use crate::graph::Graph;
use crate::ids::TaskKey;
use crate::runner::{AsyncRunner, Runner};

/// A lazy value computed from a bag (a count, a sum, …); nothing runs until `compute`.
pub struct Item<V> {
    pub(super) built: Result<(Graph, TaskKey), Arc<BagError>>,
    pub(super) decode: fn(Chunk) -> Result<V, BagError>,
    pub(super) keep: Arc<Vec<Box<dyn Any + Send + Sync>>>,
}

impl<V> Item<V> {
    pub(super) fn new(
        graph: Graph,
        key: TaskKey,
        decode: fn(Chunk) -> Result<V, BagError>,
        keep: Arc<Vec<Box<dyn Any + Send + Sync>>>,
    ) -> Self {
        Item {
            built: Ok((graph, key)),
            decode,
            keep,
        }
    }

    pub(super) fn from_result(
        built: Result<Item<V>, BagError>,
        keep: Arc<Vec<Box<dyn Any + Send + Sync>>>,
    ) -> Self {
        built.unwrap_or_else(|error| Item {
            built: Err(Arc::new(error)),
            decode: |_| {
                Err(BagError::Type {
                    step: "build",
                    message: "not built".into(),
                })
            },
            keep,
        })
    }

    /// Runs the graph on `runner` (an `Executor` or `threaded::Threaded`) and returns the value.
    pub fn compute<R: Runner>(&self, runner: &R) -> crate::Result<V> {
        let (graph, key) = self.built.as_ref().map_err(|e| BagError::Type {
            step: "build",
            message: e.to_string(),
        })?;
        let stored = runner.run_graph(graph, std::slice::from_ref(key))?;
        let _alive = &self.keep;
        Ok((self.decode)(chunk_of(&stored[0])?)?)
    }

    /// [`Item::compute`] without blocking the calling task (an `Executor` or
    /// `threaded::Threaded`, as an [`AsyncRunner`]).
    pub async fn compute_async<R: AsyncRunner>(&self, runner: &R) -> crate::Result<V> {
        let (graph, key) = self.to_graph()?;
        let stored = runner.run_graph_async(graph, vec![key]).await?;
        let _alive = &self.keep;
        Ok((self.decode)(chunk_of(&stored[0])?)?)
    }

    /// The graph and the key of the value.
    pub fn to_graph(&self) -> crate::Result<(Graph, TaskKey)> {
        self.built.clone().map_err(|e| {
            BagError::Type {
                step: "build",
                message: e.to_string(),
            }
            .into()
        })
    }
}
