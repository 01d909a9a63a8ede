//! The worker process's supervision tree (drawn in the module docs of `worker`).
//!
//! The root restarts nothing (intensity 0): the worker actor holds the values, the running
//! tasks and the center link, which no restart can rebuild, so its exit, or its peers
//! subtree giving up, ends the process with the reason, and the nanny starts a fresh one.
//! The peers subtree (the peer service and the listener that feeds it) is one-for-one:
//! the peer service holds only connections, which peers open again.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::actor::Worker;
use super::peers::{AdmitPeer, PeerService};
use super::WorkerConfig;
use crate::actors::remote::handshake::refuse;
use crate::actors::remote::{accept_loop, SessionOptions};
use crate::actors::supervisor::{
    spawn_actor, ChildRef, ChildSpec, ExitSlot, RunningChild, StopChild, Supervisor, ViewCell,
};
use crate::messages::tree::TreeNode;
use crate::messages::Role;
use crate::supervision::{ExitReason, RestartType, Strategy};

/// Restarts of the peer service (or its listener) allowed within [`PEERS_WINDOW`]; one more
/// and the worker process exits.
pub const PEERS_MAX_RESTARTS: u32 = 3;
/// The window of [`PEERS_MAX_RESTARTS`].
pub const PEERS_WINDOW: Duration = Duration::from_secs(60);

/// Where the worker process's supervisors publish their views: the root's and the peers
/// subtree's.
#[derive(Clone, Debug, Default)]
pub struct WorkerTrees {
    root: ViewCell,
    peers: ViewCell,
}

impl WorkerTrees {
    /// The process's tree, the peers subtree's children under it, once the root started.
    pub fn node(&self) -> Option<TreeNode> {
        let mut root = self.root.get()?.tree_node();
        if let (Some(peers), Some(node)) = (self.peers.get(), root.children.get_mut(1)) {
            node.children = peers.tree_node().children;
        }
        Some(root)
    }
}

/// The root supervisor of a worker process: the worker actor, made once by `make_worker`
/// (a second start fails: its state cannot be rebuilt), then the peers subtree.
pub(super) fn root(
    config: &WorkerConfig,
    name: String,
    listener: std::net::TcpListener,
    make_worker: impl FnOnce() -> Worker + 'static,
    worker: ChildRef<Worker>,
    trees: WorkerTrees,
) -> Supervisor {
    let mut make_worker = Some(make_worker);
    let worker_ref = worker.clone();
    let worker_spec = ChildSpec::new("worker", RestartType::Permanent, move || {
        let make = make_worker
            .take()
            .ok_or_else(|| "a worker's state cannot be rebuilt in place".to_string())?;
        let (addr, running) = spawn_actor(make(), ExitSlot::default());
        worker_ref.set(addr.clone());
        Ok(running.with_stop(move || {
            addr.do_send(super::Shutdown {
                reason: "its supervisor stops it".into(),
            })
        }))
    });
    let peers = PeersParts {
        config: config.clone(),
        name,
        listener: Arc::new(listener),
        worker,
        view: trees.peers.clone(),
    };
    Supervisor::builder("worker")
        .strategy(Strategy::OneForAll)
        .intensity(0, Duration::from_secs(1))
        .publish(trees.root)
        .child(worker_spec)
        .child(ChildSpec::supervisor(
            "peers",
            RestartType::Permanent,
            move || peers.subtree(),
        ))
        .build()
}

/// What the peers subtree is made from.
struct PeersParts {
    config: WorkerConfig,
    name: String,
    listener: Arc<std::net::TcpListener>,
    worker: ChildRef<Worker>,
    view: ViewCell,
}

impl PeersParts {
    fn subtree(&self) -> Supervisor {
        let service = ChildRef::<PeerService>::default();
        Supervisor::builder("peers")
            .strategy(Strategy::OneForOne)
            .intensity(PEERS_MAX_RESTARTS, PEERS_WINDOW)
            .publish(self.view.clone())
            .child(self.service_spec(service.clone()))
            .child(self.listener_spec(service))
            .build()
    }

    fn service_spec(&self, service: ChildRef<PeerService>) -> ChildSpec {
        let worker = self.worker.clone();
        let name = self.name.clone();
        let options = SessionOptions::new(self.config.limits, self.config.bounds);
        ChildSpec::new("peer-service", RestartType::Permanent, move || {
            let worker = worker
                .get()
                .ok_or_else(|| "the worker has not started".to_string())?;
            let service_actor = PeerService::new(worker, name.clone(), options);
            let (addr, running) = spawn_actor(service_actor, ExitSlot::default());
            service.set(addr.clone());
            Ok(running.with_stop(move || addr.do_send(StopChild)))
        })
    }

    fn listener_spec(&self, service: ChildRef<PeerService>) -> ChildSpec {
        let config = self.config.clone();
        let listener = self.listener.clone();
        ChildSpec::new("listener", RestartType::Permanent, move || {
            let socket = listener
                .try_clone()
                .and_then(TcpListener::from_std)
                .map_err(|e| format!("could not reuse the listening socket: {e}"))?;
            let service = service.clone();
            let admit = move |arrival: crate::actors::remote::Arrival| match arrival.hello.role {
                Role::Peer => {
                    // Between a restart's stop and start there is no service: the peer's
                    // connection is dropped and it connects again.
                    if let Some(service) = service.get() {
                        service.do_send(AdmitPeer(arrival));
                    }
                }
                role => {
                    let reason = format!("a worker serves only peers, not {role} connections");
                    actix_rt::spawn(refuse(arrival.stream, reason));
                }
            };
            let accepting = accept_loop(
                socket,
                config.connect.token.clone(),
                config.connect.tls.clone(),
                config.handshake_timeout,
                config.bounds.max_connections,
                "worker",
                admit,
            );
            let task = actix_rt::spawn(async move {
                accepting.await;
                ExitReason::Failed("the accept loop ended".into())
            });
            Ok(RunningChild::new(task))
        })
    }
}
