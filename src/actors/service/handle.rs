//! [`ServiceHandle`]: the typed, cheap-to-clone, serializable handle to a service, and
//! [`CallFuture`], the answer of a call made without waiting.

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::oneshot;

use super::client::{client, connect_options, Call};
use super::owner::StopGroup;
use super::target::{Location, Target};
use crate::actors::executor::{check_may_block, wait_for_reply};
use crate::messages::codec;
use crate::messages::service_link::{FromServiceHost, ServiceId};
use crate::service::{CallFailure, Service, ServiceError, ServiceMessage};

/// Stops an unnamed group when the last handle of this process to any of its members drops.
pub(crate) struct StopOnDrop(pub(crate) ServiceId);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        client().0.do_send(StopGroup {
            group: self.0,
            done: None,
        });
    }
}

/// A typed handle to a service on the cluster.
///
/// `call` sends a message and waits for the reply (`call_async` is its async twin); `submit`
/// sends it and returns a [`CallFuture`] at once, so calls pipeline. Calls made through the handles of one process
/// reach the service in the order they were made. Cloning is an `Arc` clone. A handle is
/// serializable, so it can be an argument of a remote function, which calls the service from
/// its worker. A handle that came from elsewhere (or [`Executor::service`] by name) does not
/// keep the service alive; the handles of the executor that spawned an unnamed service do:
/// when the last of them drops, the service stops.
///
/// [`Executor::service`]: crate::Executor::service
pub struct ServiceHandle<S> {
    pub(crate) target: Arc<Target>,
    pub(crate) keep: Option<Arc<StopOnDrop>>,
    pub(crate) _service: PhantomData<fn() -> S>,
}

impl<S> Clone for ServiceHandle<S> {
    fn clone(&self) -> Self {
        ServiceHandle {
            target: self.target.clone(),
            keep: self.keep.clone(),
            _service: PhantomData,
        }
    }
}

impl<S> fmt::Debug for ServiceHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<ServiceHandle: {} ({} {}), {:?}>",
            self.target.label,
            self.target.kind,
            self.target.id,
            self.target.location()
        )
    }
}

impl<S: Service> ServiceHandle<S> {
    /// Sends `message` and waits for the method's reply.
    ///
    /// Errors: [`ServiceError::Panicked`] when the method panicked (the service restarts),
    /// [`ServiceError::ServiceRestarted`] when the call was in flight while the service
    /// restarted or its worker died, [`ServiceError::Failed`] (with the last cause) once the
    /// service is past its restart intensity.
    ///
    /// On the thread of a current-thread tokio runtime this fails with
    /// [`crate::Error::BlockingInAsync`]: await [`ServiceHandle::call_async`] there.
    pub fn call<M: ServiceMessage<S>>(&self, message: M) -> crate::Result<M::Reply> {
        check_may_block("ServiceHandle::call", "call_async(..).await")?;
        self.submit(message)?.result()
    }

    /// [`ServiceHandle::call`] without blocking the calling task: sends `message` and
    /// resolves to the method's reply, with the same errors.
    ///
    /// ```no_run
    /// # use serde::{Deserialize, Serialize};
    /// # use taskforce::{Executor, Restart};
    /// # #[taskforce::service]
    /// # #[derive(Default, Serialize, Deserialize)]
    /// # struct Counter { n: u64 }
    /// # #[taskforce::service]
    /// # impl Counter {
    /// #     pub fn increment(&mut self, by: u64) -> u64 { self.n += by; self.n }
    /// # }
    /// # async fn run(executor: Executor) -> taskforce::Result<()> {
    /// let counter = executor.spawn_service_async::<Counter>(Restart::one_for_one()).await?;
    /// assert_eq!(counter.call_async(Increment(3)).await?, 3);
    /// # Ok(()) }
    /// ```
    pub async fn call_async<M: ServiceMessage<S>>(&self, message: M) -> crate::Result<M::Reply>
    where
        M::Reply: Send + 'static,
    {
        self.submit(message)?.await
    }

    /// Sends `message` without waiting; the reply comes through the returned future. Blocks
    /// only when this process already has `MAX_CALLS_IN_FLIGHT` calls in flight.
    pub fn submit<M: ServiceMessage<S>>(&self, message: M) -> crate::Result<CallFuture<M::Reply>> {
        let args = codec::encode(&message)?;
        let (answer, reply) = oneshot::channel();
        let (client, in_flight) = client();
        client.do_send(Call {
            target: self.target.clone(),
            method: M::METHOD,
            args: args.into(),
            answer,
            permit: in_flight.acquire(),
        });
        Ok(CallFuture {
            reply,
            service: self.target.label.clone(),
            method: M::NAME,
            _reply: PhantomData,
        })
    }

    /// Stops the service (its whole group), children in reverse start order; calls after
    /// this fail with [`ServiceError::Stopped`].
    ///
    /// On the thread of a current-thread tokio runtime this fails with
    /// [`crate::Error::BlockingInAsync`]: await [`ServiceHandle::stop_async`] there.
    pub fn stop(&self) -> crate::Result<()> {
        check_may_block("ServiceHandle::stop", "stop_async().await")?;
        self.stopped(wait_for_reply(self.send_stop()))
    }

    /// [`ServiceHandle::stop`] without blocking the calling task.
    pub async fn stop_async(&self) -> crate::Result<()> {
        let reply = self.send_stop().await;
        self.stopped(reply)
    }

    fn send_stop(&self) -> oneshot::Receiver<Result<FromServiceHost, CallFailure>> {
        let (done, reply) = oneshot::channel();
        client().0.do_send(StopGroup {
            group: self.group(),
            done: Some(done),
        });
        reply
    }

    fn stopped(
        &self,
        reply: Result<Result<FromServiceHost, CallFailure>, oneshot::error::RecvError>,
    ) -> crate::Result<()> {
        match reply {
            Ok(Ok(_)) | Err(_) => Ok(()),
            Ok(Err(failure)) => {
                Err(ServiceError::from_failure(&self.target.label, "stop", failure).into())
            }
        }
    }

    /// The service's id on the cluster.
    pub fn id(&self) -> ServiceId {
        self.target.id
    }

    /// The worker it runs on, as far as this process knows.
    pub fn host(&self) -> Option<SocketAddr> {
        match self.target.location() {
            Location::At(host) => Some(host),
            _ => None,
        }
    }

    fn group(&self) -> ServiceId {
        self.keep.as_ref().map_or(self.target.id, |keep| keep.0)
    }
}

/// The reply of a call made with [`ServiceHandle::submit`]: `result()` waits for it
/// blocking the thread, `.await` without blocking.
pub struct CallFuture<T> {
    reply: oneshot::Receiver<Result<FromServiceHost, CallFailure>>,
    service: String,
    method: &'static str,
    _reply: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> CallFuture<T> {
    /// Waits for the reply, blocking this thread. Works on any thread, a multi-thread
    /// runtime's or `spawn_blocking`'s included; on the thread of a current-thread tokio
    /// runtime it fails with [`crate::Error::BlockingInAsync`]: `.await` the call future
    /// there (it is `IntoFuture`).
    pub fn result(self) -> crate::Result<T> {
        check_may_block("CallFuture::result", "call_future.await")?;
        let outcome = wait_for_reply(self.reply);
        read_reply(&self.service, self.method, outcome)
    }
}

impl<T: DeserializeOwned + Send + 'static> std::future::IntoFuture for CallFuture<T> {
    type Output = crate::Result<T>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = crate::Result<T>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let outcome = self.reply.await;
            read_reply(&self.service, self.method, outcome)
        })
    }
}

fn read_reply<T: DeserializeOwned>(
    service: &str,
    method: &'static str,
    outcome: Result<Result<FromServiceHost, CallFailure>, oneshot::error::RecvError>,
) -> crate::Result<T> {
    let failure = match outcome {
        Ok(Ok(FromServiceHost::Reply(Ok(bytes)))) => {
            return codec::decode(&bytes).map_err(|e| {
                let reason = format!("the reply does not decode: {e}");
                ServiceError::Mismatch {
                    service: service.to_string(),
                    method,
                    reason,
                }
                .into()
            })
        }
        Ok(Ok(FromServiceHost::Reply(Err(failure)))) | Ok(Err(failure)) => failure,
        Ok(Ok(other)) => CallFailure::BadArguments(format!("unexpected answer {other:?}")),
        Err(_) => CallFailure::Restarted("the service client stopped".into()),
    };
    Err(ServiceError::from_failure(service, method, failure).into())
}

/// A handle as it travels: enough to find the service again from any process.
#[derive(Serialize, Deserialize)]
struct HandleOnWire {
    id: ServiceId,
    label: String,
    signature: u64,
    host: Option<SocketAddr>,
    candidates: Vec<SocketAddr>,
}

impl<S: Service> Serialize for ServiceHandle<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        HandleOnWire {
            id: self.target.id,
            label: self.target.label.clone(),
            signature: self.target.signature,
            host: self.host(),
            candidates: self.target.candidates(),
        }
        .serialize(serializer)
    }
}

impl<'de, S: Service> Deserialize<'de> for ServiceHandle<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = HandleOnWire::deserialize(deserializer)?;
        if wire.signature != S::signature() {
            return Err(serde::de::Error::custom(format!(
                "a handle to {} does not fit {} as built here",
                wire.label,
                S::KIND
            )));
        }
        let location = wire.host.map_or(Location::Unknown, Location::At);
        let target = Target::new(
            wire.id,
            wire.label,
            (S::KIND, wire.signature),
            false,
            location,
            (wire.candidates, connect_options(None)),
        );
        Ok(ServiceHandle {
            target: Arc::new(target),
            keep: None,
            _service: PhantomData,
        })
    }
}
