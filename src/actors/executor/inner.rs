//! The part of an executor that futures share: the actor's address, the key states, and the
//! ways to wait for keys and bring their values home.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use actix::Addr;
use serde::de::DeserializeOwned;

use super::actor::{ExecutorActor, Gather, Gathered, ReleaseKey, Shutdown, ToScheduler};
use super::future::status_error;
use super::reconnect::QueueSlot;
use super::state::{KeyState, KeyStatus, SharedState};
use crate::function::{decode_value, EncodedValue};
use crate::ids::{Map, TaskKey};
use crate::messages::executor_link::ExecutorToScheduler;

/// How often a gather is retried after a holder failed.
const GATHER_RETRIES: usize = 3;
/// How long a retry waits for news of the failed keys.
const RETRY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) struct Inner {
    pub(crate) shared: Arc<SharedState>,
    pub(crate) actor: Addr<ExecutorActor>,
    /// The send queue of the link to the scheduler, which the user's threads wait on
    /// (replaced when the executor reconnects).
    pub(crate) scheduler_queue: QueueSlot,
    pub(crate) center: String,
    order: AtomicI64,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The embedded cluster this executor started, stopped after the executor closes.
    pub(crate) local_cluster: Mutex<Option<crate::LocalCluster>>,
    /// The frame limits of this executor's links (taken to be the scheduler's too): a task
    /// whose header would break them fails at submit instead of being dropped on the way.
    limits: std::sync::OnceLock<crate::messages::FrameLimits>,
    /// Done callbacks not run yet, and the thread that runs them.
    pub(crate) callbacks: super::callbacks::DoneCallbacks,
}

/// What must happen to bring some keys' values home.
struct GatherPlan {
    ready: Map<TaskKey, EncodedValue>,
    requests: Vec<(SocketAddr, Vec<TaskKey>)>,
}

/// Where one key's value comes from, as its status says.
enum Source {
    /// It came with the report.
    Inline(EncodedValue),
    /// The holder to ask on this attempt (`None`: no holder is left).
    Holder(Option<SocketAddr>),
    /// It is not done (any more).
    Pending,
}

impl Source {
    fn of(status: &KeyStatus, attempt: usize) -> Self {
        match status {
            KeyStatus::Finished {
                inline: Some(value),
                ..
            } => Source::Inline(value.clone()),
            KeyStatus::Finished { holders, .. } => {
                Source::Holder(holders.get(attempt % holders.len().max(1)).copied())
            }
            _ => Source::Pending,
        }
    }
}

impl Inner {
    pub(crate) fn new(
        shared: Arc<SharedState>,
        (actor, scheduler_queue): (Addr<ExecutorActor>, QueueSlot),
        center: String,
        thread: JoinHandle<()>,
    ) -> Self {
        Inner {
            shared,
            actor,
            scheduler_queue,
            center,
            order: AtomicI64::new(0),
            thread: Mutex::new(Some(thread)),
            local_cluster: Mutex::new(None),
            limits: std::sync::OnceLock::new(),
            callbacks: Default::default(),
        }
    }

    /// Sets the links' frame limits (once, right after connecting).
    pub(crate) fn set_limits(&self, limits: crate::messages::FrameLimits) {
        let _ = self.limits.set(limits);
    }

    /// The links' frame limits (the defaults until set).
    pub(crate) fn limits(&self) -> crate::messages::FrameLimits {
        self.limits.get().copied().unwrap_or_default()
    }

    /// Sends `message` to the scheduler, first waiting (blocking this thread) until the
    /// link's send queue is under its bound: this is where an executor that submits faster
    /// than the scheduler reads is slowed (bounds.rs). A message on its way from this thread
    /// to the session is counted once the session takes it, microseconds later.
    pub(crate) fn to_scheduler(&self, message: ExecutorToScheduler) {
        self.wait_for_room();
        self.actor.do_send(ToScheduler(message));
    }

    /// Blocks until the current link's send queue is under its bound. The slot's lock is
    /// held only to clone the queue's handle, never while waiting.
    pub(crate) fn wait_for_room(&self) {
        let queue = self
            .scheduler_queue
            .read()
            .expect("queue slot lock")
            .clone();
        queue.wait_for_room_blocking();
    }

    /// The next submission-order number (lower runs first).
    pub(crate) fn next_order(&self, count: usize) -> i64 {
        self.order.fetch_add(count as i64, Ordering::Relaxed)
    }

    /// A future handle on `key` was dropped.
    pub(crate) fn release(&self, key: &TaskKey) {
        if self.shared.release(key) {
            self.actor.do_send(ReleaseKey(key.clone()));
        }
    }

    /// Blocks until every one of `states` is done.
    /// A key counted as done can turn pending again (its worker was lost and it is being
    /// recomputed), so the final check looks at every key.
    pub(crate) fn wait_for(&self, states: &[Arc<KeyState>]) {
        loop {
            let mut done = 0;
            self.shared.wait_until(|| {
                while done < states.len() && states[done].is_done() {
                    done += 1;
                }
                done == states.len()
            });
            if states.iter().all(|state| state.is_done()) {
                return;
            }
        }
    }

    /// Where to fetch each value from; `None` if a key went back to pending meanwhile.
    /// Each key is asked of one of its holders, a different one on each `attempt`.
    fn plan(&self, states: &[Arc<KeyState>], attempt: usize) -> crate::Result<Option<GatherPlan>> {
        let mut ready = Map::default();
        let mut by_holder: Map<SocketAddr, Vec<TaskKey>> = Map::default();
        for state in states {
            // Read under the status lock: cloning the whole status would copy its holders.
            let source = state.with_status(|status| match status_error(&state.key, status) {
                Some(error) => Err(error),
                None => Ok(Source::of(status, attempt)),
            })?;
            match source {
                Source::Inline(value) => {
                    ready.insert(state.key.clone(), value);
                }
                Source::Holder(Some(addr)) => {
                    by_holder.entry(addr).or_default().push(state.key.clone())
                }
                Source::Holder(None) => {
                    return Err(crate::Error::ConnectionLost {
                        reason: format!("no worker holds {} any more", state.key),
                    })
                }
                Source::Pending => return Ok(None),
            }
        }
        Ok(Some(GatherPlan {
            ready,
            requests: by_holder.into_iter().collect(),
        }))
    }

    fn in_order(
        states: &[Arc<KeyState>],
        values: Map<TaskKey, EncodedValue>,
    ) -> crate::Result<Vec<EncodedValue>> {
        states
            .iter()
            .map(|state| {
                values
                    .get(&state.key)
                    .cloned()
                    .ok_or_else(|| crate::Error::ConnectionLost {
                        reason: format!("the value of {} did not arrive", state.key),
                    })
            })
            .collect()
    }

    fn decode_all<T: DeserializeOwned + 'static>(
        states: &[Arc<KeyState>],
        values: Vec<EncodedValue>,
    ) -> crate::Result<Vec<T>> {
        states
            .iter()
            .zip(values)
            .map(|(state, value)| {
                decode_value::<T>(&value).map_err(|source| crate::Error::Value {
                    key: state.key.clone(),
                    source,
                })
            })
            .collect()
    }

    /// Brings the values of done keys home (blocking), in the order given. A holder that
    /// fails (a worker just lost) is retried once the scheduler says where the value is now.
    pub(crate) fn fetch_values<T: DeserializeOwned + 'static>(
        &self,
        states: &[Arc<KeyState>],
    ) -> crate::Result<Vec<T>> {
        Self::decode_all(states, self.fetch_encoded(states)?)
    }

    /// Brings the values of done keys home (blocking), undecoded, in the order given.
    pub(crate) fn fetch_encoded(
        &self,
        states: &[Arc<KeyState>],
    ) -> crate::Result<Vec<EncodedValue>> {
        let mut attempt = 0;
        loop {
            self.wait_for(states);
            let versions: Vec<u64> = states.iter().map(|s| s.version()).collect();
            let Some(plan) = self.plan(states, attempt)? else {
                continue;
            };
            match self.try_fetch(states, plan) {
                Err(
                    error @ (crate::Error::ConnectionLost { .. }
                    | crate::Error::Timeout { .. }
                    | crate::Error::Protocol { .. }),
                ) if attempt < GATHER_RETRIES => {
                    attempt += 1;
                    if states.iter().any(has_other_holders) {
                        continue;
                    }
                    let changed = self.shared.wait_until_for(RETRY_WAIT, || {
                        states.iter().zip(&versions).any(|(s, v)| s.version() != *v)
                    });
                    if !changed {
                        // The last failure names the address tried and where it came from.
                        return Err(crate::Error::ConnectionLost {
                            reason: format!(
                                "the workers holding the values are unreachable ({error})"
                            ),
                        });
                    }
                }
                result => return result,
            }
        }
    }

    fn try_fetch(
        &self,
        states: &[Arc<KeyState>],
        mut plan: GatherPlan,
    ) -> crate::Result<Vec<EncodedValue>> {
        if !plan.requests.is_empty() {
            let (reply, answer) = tokio::sync::oneshot::channel::<Gathered>();
            self.actor.do_send(Gather {
                requests: plan.requests,
                reply,
            });
            plan.ready.extend(
                super::blocking::wait_for_reply(answer).unwrap_or_else(|_| Err(stopped()))?,
            );
        }
        Self::in_order(states, plan.ready)
    }

    /// Brings the values of done keys home without blocking the thread, in the order given.
    pub(crate) async fn fetch_values_async<T: DeserializeOwned + 'static>(
        self: Arc<Self>,
        states: Vec<Arc<KeyState>>,
    ) -> crate::Result<Vec<T>> {
        let values = self.fetch_encoded_async(&states).await?;
        Self::decode_all(&states, values)
    }

    /// [`Self::fetch_encoded`] without blocking: the same retries when a holder fails, the
    /// waits awaited instead of blocked on.
    pub(crate) async fn fetch_encoded_async(
        &self,
        states: &[Arc<KeyState>],
    ) -> crate::Result<Vec<EncodedValue>> {
        let mut attempt = 0;
        loop {
            super::asynchronous::all_done(states).await;
            let versions: Vec<u64> = states.iter().map(|s| s.version()).collect();
            let Some(plan) = self.plan(states, attempt)? else {
                continue;
            };
            match self.try_fetch_async(states, plan).await {
                Err(
                    crate::Error::ConnectionLost { .. }
                    | crate::Error::Timeout { .. }
                    | crate::Error::Protocol { .. },
                ) if attempt < GATHER_RETRIES => {
                    attempt += 1;
                    if states.iter().any(has_other_holders) {
                        continue;
                    }
                    let changed = std::future::poll_fn(|cx| {
                        let now = states.iter().map(|s| s.poll_version(cx.waker()));
                        match now.zip(&versions).any(|(now, then)| now != *then) {
                            true => std::task::Poll::Ready(()),
                            false => std::task::Poll::Pending,
                        }
                    });
                    if super::async_waits::within(RETRY_WAIT, changed)
                        .await
                        .is_none()
                    {
                        return Err(crate::Error::ConnectionLost {
                            reason: "the workers holding the values are unreachable".into(),
                        });
                    }
                }
                result => return result,
            }
        }
    }

    async fn try_fetch_async(
        &self,
        states: &[Arc<KeyState>],
        mut plan: GatherPlan,
    ) -> crate::Result<Vec<EncodedValue>> {
        if !plan.requests.is_empty() {
            let (reply, answer) = tokio::sync::oneshot::channel::<Gathered>();
            self.actor.do_send(Gather {
                requests: plan.requests,
                reply,
            });
            plan.ready
                .extend(answer.await.unwrap_or_else(|_| Err(stopped()))?);
        }
        Self::in_order(states, plan.ready)
    }
}

/// Whether a finished key has more than one holder to ask.
fn has_other_holders(state: &Arc<KeyState>) -> bool {
    state.with_status(
        |status| matches!(status, KeyStatus::Finished { holders, .. } if holders.len() > 1),
    )
}

fn stopped() -> crate::Error {
    crate::Error::ConnectionLost {
        reason: "the executor stopped".into(),
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.actor.do_send(Shutdown);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        let cluster = self.local_cluster.lock().ok().and_then(|mut c| c.take());
        let close = move || {
            if let Some(thread) = thread {
                if thread.thread().id() != std::thread::current().id() {
                    let _ = thread.join();
                }
            }
            drop(cluster);
        };
        // Inside an async runtime the close (joining the actor's thread, stopping a local
        // cluster's workers: up to seconds) must not hold the runtime's thread: it finishes on
        // a thread of its own. Should the process exit first, the kernel still stops the
        // workers (their parent-death signal).
        if super::blocking::in_runtime() {
            let spawned = std::thread::Builder::new()
                .name("taskforce-executor-close".into())
                .spawn(close);
            if let Err(error) = spawned {
                tracing::warn!(target: super::actor::LOG_TARGET, %error, "Could not close the executor in the background");
            }
        } else {
            close();
        }
    }
}
