//! How a service is supervised: its restart strategy and intensity, and when its state is
//! checkpointed. Plain data that travels to the hosting worker.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::supervision::{Intensity, Strategy};

/// When a service's state is serialized and kept off its worker, so a restart resumes from
/// it. With neither bound, nothing is checkpointed and a restart starts from the initial
/// state (as Ray's and dask's actors do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPolicy {
    /// After every this many calls.
    pub every_calls: Option<u64>,
    /// At most this long after a call changed it.
    pub every: Option<Duration>,
}

impl CheckpointPolicy {
    /// Whether any checkpoint is taken.
    pub fn is_enabled(&self) -> bool {
        self.every_calls.is_some() || self.every.is_some()
    }
}

/// A service's (or a group's) restart policy: strategy, intensity and checkpoints.
///
/// ```
/// use std::time::Duration;
/// use taskforce::Restart;
/// let policy = Restart::one_for_one().max_restarts(5, Duration::from_secs(60)).checkpoint_every(100);
/// assert_eq!(policy.intensity.max_restarts, 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restart {
    /// What restarts with a member that has to (for a single service, only itself).
    pub strategy: Strategy,
    /// At most this many restarts in this window; past it the service is `Failed`.
    pub intensity: Intensity,
    /// When state is checkpointed.
    pub checkpoint: CheckpointPolicy,
}

impl Restart {
    /// Only the member that failed restarts (the policy of a single service).
    pub fn one_for_one() -> Self {
        Self::with_strategy(Strategy::OneForOne)
    }

    /// Every member of the group restarts when one fails.
    pub fn one_for_all() -> Self {
        Self::with_strategy(Strategy::OneForAll)
    }

    /// The member that failed and every member added after it restart.
    pub fn rest_for_one() -> Self {
        Self::with_strategy(Strategy::RestForOne)
    }

    fn with_strategy(strategy: Strategy) -> Self {
        Restart {
            strategy,
            intensity: Intensity::default(),
            checkpoint: CheckpointPolicy::default(),
        }
    }

    /// At most `max_restarts` restarts in `window` (default 3 in 5 s).
    pub fn max_restarts(mut self, max_restarts: u32, window: Duration) -> Self {
        self.intensity = Intensity::new(max_restarts, window);
        self
    }

    /// Checkpoints the state after every `calls` calls.
    pub fn checkpoint_every(mut self, calls: u64) -> Self {
        self.checkpoint.every_calls = Some(calls.max(1));
        self
    }

    /// Checkpoints changed state at most `interval` after the change.
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.checkpoint.every = Some(interval);
        self
    }
}

impl Default for Restart {
    /// One-for-one, 3 restarts in 5 s, no checkpoints.
    fn default() -> Self {
        Restart::one_for_one()
    }
}
