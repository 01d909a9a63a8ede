//! A service as its host runs it, type-erased: calls by method number on encoded messages,
//! timers, and its state encoded for a checkpoint.

use std::time::Duration;

use super::{CallFailure, Service};
use crate::messages::codec::{self, CodecError};

/// A timer: its period and what it runs.
type Timer<S> = (Duration, fn(&mut S));

/// What a service's `#[init]` method may set up at each (re)start.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # use std::time::Duration;
/// #[taskforce::service]
/// #[derive(Default, Serialize, Deserialize)]
/// struct Clock { ticks: u64 }
///
/// #[taskforce::service]
/// impl Clock {
///     #[init]
///     fn start(&mut self, context: &mut taskforce::service::ServiceContext<Self>) {
///         context.every(Duration::from_millis(100), |clock| clock.ticks += 1);
///     }
///     pub fn ticks(&self) -> u64 { self.ticks }
/// }
/// ```
pub struct ServiceContext<S> {
    timers: Vec<Timer<S>>,
}

impl<S> ServiceContext<S> {
    /// Runs `tick` on the service every `period` while it lives (a background loop in
    /// steps: each tick runs between calls, never beside one).
    pub fn every(&mut self, period: Duration, tick: fn(&mut S)) {
        self.timers
            .push((period.max(Duration::from_millis(1)), tick));
    }
}

/// A service instance behind a uniform face, as the host runs it.
pub trait HostedService: Send {
    /// Calls method `method` with an encoded message.
    fn call(&mut self, method: u32, args: &[u8]) -> Result<Vec<u8>, CallFailure>;
    /// The periods of the timers its `#[init]` set up.
    fn timer_periods(&self) -> Vec<Duration>;
    /// Runs timer `index`.
    fn tick(&mut self, index: usize);
    /// The state, encoded for a checkpoint.
    fn checkpoint(&self) -> Result<Vec<u8>, CodecError>;
}

struct Hosted<S> {
    state: S,
    timers: Vec<Timer<S>>,
}

impl<S: Service> HostedService for Hosted<S> {
    fn call(&mut self, method: u32, args: &[u8]) -> Result<Vec<u8>, CallFailure> {
        self.state.dispatch(method, args)
    }

    fn timer_periods(&self) -> Vec<Duration> {
        self.timers.iter().map(|(period, _)| *period).collect()
    }

    fn tick(&mut self, index: usize) {
        if let Some((_, tick)) = self.timers.get(index) {
            tick(&mut self.state);
        }
    }

    fn checkpoint(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(&self.state)
    }
}

/// Builds a service of type `S` from its encoded state and runs its `#[init]`.
pub(super) fn host<S: Service>(state: &[u8]) -> Result<Box<dyn HostedService>, CodecError> {
    let mut state: S = codec::decode(state)?;
    let mut context = ServiceContext { timers: Vec::new() };
    state.init(&mut context);
    Ok(Box::new(Hosted {
        state,
        timers: context.timers,
    }))
}
