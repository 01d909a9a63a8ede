//! The executor: the user's handle on a cluster, in the style of `concurrent.futures`.
//!
//! `submit`, `map`, `scatter`, `gather`, `cancel`, `restart`; futures as arguments keep data
//! on the workers. The network side runs as an actor on a thread of its own; the methods here
//! block the calling thread only where they say so.

mod actor;
mod async_graphs;
mod async_waits;
mod asynchronous;
mod blocking;
mod callbacks;
mod cluster_ops;
mod completion;
mod future;
mod graphs;
mod inner;
mod options;
mod pool;
mod progress;
mod reconnect;
mod run_everywhere;
mod scatter;
mod state;
mod submissions;
mod submit;
mod wait;
mod waiting;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tracing::warn;

pub use async_waits::{progress_async, wait_first_async, wait_timeout_async};
pub use asynchronous::{as_completed_stream, wait_async, AsCompletedStream};
pub use callbacks::fire_and_forget;
pub use completion::WithResults;
pub use future::Future;
pub use options::SubmitOptions;
pub use pool::{Pool, RemoteData};
pub use progress::progress;
pub use scatter::LARGE_ARGUMENT_BYTES;
pub use state::KeyStatus;
pub use wait::{as_completed, wait, AsCompleted};
pub use waiting::{wait_first, wait_timeout, Waited};

pub(crate) use blocking::{
    check_may_block, in_runtime, on_own_thread, outside_runtime, permit_blocking, wait_for_reply,
};

use actor::{AskScheduler, ExecutorActor};
pub(crate) use inner::Inner;
use state::SharedState;

use crate::actors::remote::{
    connect::connect_until, AtSendBound, ConnectOptions, ProtocolViolation, Session,
};
use crate::ids::ClientId;
use crate::messages::executor_link::{ClusterSnapshot, ExecutorToScheduler, SchedulerToExecutor};
use crate::messages::Hello;

/// How long `connect` keeps trying to reach the center (default 20 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a request to the scheduler may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to a cluster, from which work is submitted. Cheap to clone; the connection
/// closes when the last clone and the last future are dropped.
#[derive(Clone)]
pub struct Executor {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let workers = self
            .inner
            .shared
            .cluster
            .read()
            .map_or(0, |c| c.workers.len());
        write!(
            f,
            "<Executor: center={}, client={}, workers={workers}>",
            self.inner.center,
            self.inner.shared.client()
        )
    }
}

impl Executor {
    /// Connects to the center at `addr` (`HOST:PORT`), retrying for up to 20 s while it is
    /// not up yet. A center that then sends nothing, not even a keepalive, for 30 s (or
    /// `TASKFORCE_HEARTBEAT_TIMEOUT`, e.g. `10s`) is lost: the executor reconnects, or its
    /// futures fail with [`crate::Error::ConnectionLost`] (see
    /// [`ConnectOptions::heartbeat_timeout`]).
    /// The cluster's token, if it has one, is read from `TASKFORCE_TOKEN` (or the
    /// file named by `TASKFORCE_TOKEN_FILE`); pass it
    /// explicitly with [`Executor::connect_with`] and [`ConnectOptions::with_token`]. TLS is
    /// used for every link when `addr` is `tls://HOST:PORT` or `TASKFORCE_TLS_CERT`,
    /// `TASKFORCE_TLS_KEY` and `TASKFORCE_TLS_CA` name files (see [`crate::remote::tls`]).
    ///
    /// ```no_run
    /// let executor = taskforce::Executor::connect("127.0.0.1:8787")?;
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn connect(addr: &str) -> crate::Result<Executor> {
        let tls = crate::actors::remote::Tls::from_env()
            .map_err(|e| crate::Error::TlsSetup(Box::new(e)))?;
        let mut options = ConnectOptions {
            give_up_after: Some(CONNECT_TIMEOUT),
            token: crate::messages::Token::from_env_or_file()?,
            tls,
            ..ConnectOptions::default()
        };
        if let Some(deadline) = heartbeat_timeout_from_env()? {
            options = options.heartbeat_timeout(deadline);
        }
        Self::connect_with(addr, options)
    }

    /// Starts an embedded cluster on this machine (a center in this process, one worker
    /// process per core up to 4, each re-running this executable) and connects to it. The
    /// cluster stops when the executor and its futures are dropped.
    ///
    /// ```no_run
    /// let executor = taskforce::Executor::local()?;
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn local() -> crate::Result<Executor> {
        Self::local_with(crate::LocalCluster::builder())
    }

    /// Like [`Executor::local`] with explicit settings.
    ///
    /// Like `connect`, this works on any thread, a tokio runtime's included (it blocks that
    /// thread while the cluster starts); in async code prefer [`Executor::local_async`].
    pub fn local_with(builder: crate::local::LocalClusterBuilder) -> crate::Result<Executor> {
        crate::local::serve_if_local_worker();
        blocking::permit_blocking(|| {
            let cluster = builder.start()?;
            let executor = cluster.executor()?;
            *executor.inner.local_cluster.lock().expect("cluster lock") = Some(cluster);
            Ok(executor)
        })
    }

    /// The URL of the cluster's dashboard (live task stream, progress, workers, graph,
    /// events; Prometheus metrics at `/metrics` beside it), when this executor knows one.
    pub fn dashboard_link(&self) -> Option<String> {
        let cluster = self.inner.local_cluster.lock().expect("cluster lock");
        if let Some(link) = cluster.as_ref().and_then(|c| c.dashboard_link()) {
            return Some(link.to_string());
        }
        drop(cluster);
        let link = self.cluster_info().ok().and_then(|info| info.dashboard)?;
        // The scheduler reports the link without the token; this executor adds the one it holds.
        let options = crate::actors::service::connect_options(Some(&self.inner.center));
        Some(match &options.token {
            Some(token) => crate::actors::dashboard::link_with_token(&link, token),
            None => link,
        })
    }

    /// Process ids of the worker processes (nannies) of the embedded cluster this executor
    /// started, if it started one.
    pub fn local_worker_pids(&self) -> Vec<u32> {
        let cluster = self.inner.local_cluster.lock().expect("cluster lock");
        cluster
            .as_ref()
            .map(crate::LocalCluster::worker_pids)
            .unwrap_or_default()
    }

    /// Connects with explicit connection options.
    /// A `tls://` address without TLS in `options` encrypts every link without checking
    /// certificates ([`crate::remote::Tls::encrypt_only`]).
    ///
    /// Works on any thread, a tokio runtime's included (it blocks that thread while it
    /// connects); in async code prefer [`Executor::connect_with_async`].
    pub fn connect_with(addr: &str, mut options: ConnectOptions) -> crate::Result<Executor> {
        if crate::actors::remote::stream::split_scheme(addr).1 && options.tls.is_none() {
            options.tls = Some(crate::actors::remote::Tls::encrypt_only());
        }
        blocking::permit_blocking(|| Self::connect_blocking(addr, options))
    }

    fn connect_blocking(addr: &str, options: ConnectOptions) -> crate::Result<Executor> {
        crate::actors::service::use_connect_options(addr, &options);
        let shared = Arc::new(SharedState::default());
        let (started, startup) = std::sync::mpsc::channel();
        let center = addr.to_string();
        let thread_shared = shared.clone();
        let limits = options.limits;
        let thread = std::thread::Builder::new()
            .name("taskforce-executor".into())
            .spawn(move || run_executor_thread(center, options, thread_shared, started))?;
        let (actor, client, scheduler_queue) = match startup.recv() {
            Ok(Ok(started)) => started,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(crate::Error::ConnectionLost {
                    reason: "the executor thread stopped while connecting".into(),
                });
            }
        };
        shared.set_client(client);
        let inner = Arc::new(Inner::new(
            shared,
            (actor, scheduler_queue),
            addr.to_string(),
            thread,
        ));
        inner.set_limits(limits);
        let executor = Executor { inner };
        executor.cluster_info()?;
        Ok(executor)
    }

    /// The cluster as the scheduler sees it now: workers, their threads, memory and keys.
    ///
    /// On the thread of a current-thread tokio runtime this fails with
    /// [`crate::Error::BlockingInAsync`]: await [`Executor::cluster_info_async`] there.
    pub fn cluster_info(&self) -> crate::Result<ClusterSnapshot> {
        blocking::check_may_block("cluster_info", "cluster_info_async(..).await")?;
        match self
            .inner
            .ask(ExecutorToScheduler::ClusterInfo, REQUEST_TIMEOUT)?
        {
            SchedulerToExecutor::Cluster(snapshot) => {
                *self.inner.shared.cluster.write().expect("cluster lock") = snapshot.clone();
                Ok(snapshot)
            }
            other => Err(crate::Error::Protocol {
                operation: "a cluster-info request to the scheduler".into(),
                source: Box::new(ProtocolViolation::Unexpected(format!("{other:?}"))),
            }),
        }
    }

    /// Waits until at least `n` workers are connected, at most `timeout`; then fails with
    /// [`crate::Error::WorkersMissing`] ("only 0 of 2 workers arrived after 5.0s").
    /// Async twin: [`Executor::wait_for_workers_async`].
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> crate::Result<ClusterSnapshot> {
        blocking::check_may_block("wait_for_workers", "wait_for_workers_async(..).await")?;
        let started = std::time::Instant::now();
        loop {
            let snapshot = self.cluster_info()?;
            if snapshot.workers.len() >= n {
                return Ok(snapshot);
            }
            if started.elapsed() >= timeout {
                return Err(crate::Error::WorkersMissing {
                    arrived: snapshot.workers.len(),
                    wanted: n,
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Restarts every worker through its nanny and forgets every key: all futures become
    /// lost. Returns once the new workers have joined.
    ///
    /// A cluster started without `--allow-restart` refuses this with
    /// [`crate::Error::Refused`] and does nothing (`Executor::local()` allows it).
    ///
    /// Async twin: [`Executor::restart_async`].
    pub fn restart(&self) -> crate::Result<()> {
        blocking::check_may_block("restart", "restart_async(..).await")?;
        match self
            .inner
            .ask(ExecutorToScheduler::Restart, Duration::from_secs(120))?
        {
            SchedulerToExecutor::Refused { operation, reason } => {
                Err(crate::Error::Refused { operation, reason })
            }
            _ => Ok(()),
        }
    }

    /// This executor's id at the scheduler.
    pub fn client_id(&self) -> ClientId {
        self.inner.shared.client()
    }
}

/// The heartbeat timeout `TASKFORCE_HEARTBEAT_TIMEOUT` names, if it is set.
fn heartbeat_timeout_from_env() -> crate::Result<Option<Duration>> {
    use crate::actors::remote::idle::{parse_heartbeat_timeout, HEARTBEAT_TIMEOUT_ENV};
    let Ok(text) = std::env::var(HEARTBEAT_TIMEOUT_ENV) else {
        return Ok(None);
    };
    parse_heartbeat_timeout(&text)
        .map(Some)
        .map_err(|source| crate::Error::HeartbeatTimeout {
            variable: HEARTBEAT_TIMEOUT_ENV,
            source: Box::new(source),
        })
}

type Started = crate::Result<(Addr<ExecutorActor>, ClientId, reconnect::QueueSlot)>;

/// Connects to the center, logging each retry (address, OS error) at warn; after
/// `options.give_up_after` the error names the address, the time waited and the last error.
async fn connect_to_center(
    center: &str,
    hello: &Hello,
    options: &ConnectOptions,
) -> crate::Result<crate::actors::remote::Connected> {
    let started = tokio::time::Instant::now();
    let deadline = options.give_up_after.map(|limit| started + limit);
    let log_retry = |error: &crate::messages::handshake::HandshakeError, pause: Duration| {
        warn!(target: actor::LOG_TARGET, retry_in = ?pause, "Center at {center} unreachable: {error}; retrying");
    };
    match connect_until(center, hello, options, deadline, log_retry).await {
        Ok(connected) => Ok(connected),
        Err(source) if source.is_transient() && deadline.is_some() => {
            Err(crate::Error::ConnectTimedOut {
                addr: center.to_string(),
                waited: started.elapsed(),
                source,
            })
        }
        Err(source) => Err(crate::Error::Connect {
            addr: center.to_string(),
            source,
        }),
    }
}

fn run_executor_thread(
    center: String,
    options: ConnectOptions,
    shared: Arc<SharedState>,
    started: std::sync::mpsc::Sender<Started>,
) {
    let system = System::new();
    let name = format!("executor-{}", std::process::id());
    let hello = reconnect::executor_hello(&name);
    let connected = match system.block_on(connect_to_center(&center, &hello, &options)) {
        Ok(connected) => connected,
        Err(error) => {
            let _ = started.send(Err(error));
            return;
        }
    };
    let client = ClientId(connected.id);
    // The user's threads wait for room before they send (bounds.rs, policy `Wait`): the
    // scheduler slows this executor by not reading it, never by closing its link.
    let session_options = crate::actors::remote::SessionOptions {
        at_send_bound: AtSendBound::Wait,
        ..options.session_options()
    };
    let (queue_sender, queue) = std::sync::mpsc::channel();
    let actor_center = center.clone();
    let actor = system.block_on(async move {
        ExecutorActor::create(move |ctx| {
            let link = Session::open(
                connected.stream,
                ctx.address().recipient(),
                session_options,
                None,
            );
            let queue = link.known_send_queue().expect("opened with its queue");
            let send_queue = Arc::new(std::sync::RwLock::new(queue));
            let _ = queue_sender.send(send_queue.clone());
            ExecutorActor {
                shared,
                scheduler: Some(link),
                peers: Default::default(),
                options,
                name,
                releases: Vec::new(),
                lost: None,
                center: actor_center,
                submissions: Default::default(),
                reconnecting: None,
                send_queue,
            }
        })
    });
    let queue = queue.recv().expect("the actor was created");
    if started.send(Ok((actor, client, queue))).is_err() {
        return;
    }
    let _ = system.run();
}

impl Inner {
    /// Sends `request` and waits for its answer, at most `timeout`.
    pub(crate) fn ask(
        &self,
        request: ExecutorToScheduler,
        timeout: Duration,
    ) -> crate::Result<SchedulerToExecutor> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.wait_for_room();
        self.actor.do_send(AskScheduler {
            request,
            timeout,
            reply,
        });
        match blocking::wait_for_reply(answer) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(e.into_error("a request to the scheduler")),
            Err(_) => Err(crate::Error::ConnectionLost {
                reason: "the executor stopped".into(),
            }),
        }
    }
}
