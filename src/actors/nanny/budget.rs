//! The restart budget: at most N restarts within a sliding window of T (OTP's intensity),
//! each one later than the last (exponential backoff), so a worker that dies at once is not
//! restarted six times in 11 ms.
//!
//! Pure: time comes in as an argument; no actix, no clock of its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The first restart in a window waits this long (default of [`Backoff`]).
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// No restart waits longer than this (default of [`Backoff`]).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long to wait before a restart: `initial`, doubling with each restart counted in the
/// window, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first restart in a window.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: DEFAULT_INITIAL_BACKOFF,
            max: DEFAULT_MAX_BACKOFF,
        }
    }
}

impl Backoff {
    /// The delay before the `nth` restart of a window (1-based).
    pub fn delay(&self, nth: u32) -> Duration {
        let doublings = nth.saturating_sub(1).min(31);
        self.initial
            .saturating_mul(1_u32 << doublings)
            .min(self.max)
    }
}

/// What the budget says about a worker that died.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartDecision {
    /// Start a new worker after this delay.
    RestartAfter(Duration),
    /// The budget is spent: stop.
    GiveUp,
}

/// Counts restarts in a sliding window and spaces them out.
#[derive(Clone, Debug)]
pub struct RestartBudget {
    max_restarts: u32,
    window: Duration,
    backoff: Backoff,
    restarts: VecDeque<Instant>,
}

impl RestartBudget {
    /// A budget of `max_restarts` within `window`, spaced by `backoff`.
    pub fn new(max_restarts: u32, window: Duration, backoff: Backoff) -> Self {
        RestartBudget {
            max_restarts,
            window,
            backoff,
            restarts: VecDeque::new(),
        }
    }

    /// A worker died at `now`: records a restart and says after how long to start it, or
    /// that this would be one more than the budget allows.
    pub fn on_worker_died(&mut self, now: Instant) -> RestartDecision {
        while self
            .restarts
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > self.window)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() as u32 >= self.max_restarts {
            return RestartDecision::GiveUp;
        }
        self.restarts.push_back(now);
        RestartDecision::RestartAfter(self.backoff.delay(self.used()))
    }

    /// Restarts counted in the current window.
    pub fn used(&self) -> u32 {
        self.restarts.len() as u32
    }

    /// The budget's window.
    pub fn window(&self) -> Duration {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn budget(max: u32, window: Duration) -> RestartBudget {
        RestartBudget::new(max, window, Backoff::default())
    }

    #[test]
    fn allows_n_restarts_in_the_window_then_refuses() {
        let start = Instant::now();
        let mut budget = budget(3, Duration::from_secs(10));
        for i in 0..3 {
            let decision = budget.on_worker_died(start + Duration::from_secs(i));
            assert!(matches!(decision, RestartDecision::RestartAfter(_)));
        }
        let refused = budget.on_worker_died(start + Duration::from_secs(4));
        assert_eq!(refused, RestartDecision::GiveUp);
        assert_eq!(budget.used(), 3);
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let start = Instant::now();
        let mut budget = budget(2, Duration::from_secs(10));
        assert_ne!(budget.on_worker_died(start), RestartDecision::GiveUp);
        let second = start + Duration::from_secs(5);
        assert_ne!(budget.on_worker_died(second), RestartDecision::GiveUp);
        let third = start + Duration::from_secs(9);
        assert_eq!(budget.on_worker_died(third), RestartDecision::GiveUp);
        let later = start + Duration::from_secs(11);
        assert_ne!(budget.on_worker_died(later), RestartDecision::GiveUp);
        assert_eq!(budget.used(), 2);
    }

    #[test]
    fn zero_budget_never_restarts() {
        let mut budget = budget(0, Duration::from_secs(10));
        assert_eq!(
            budget.on_worker_died(Instant::now()),
            RestartDecision::GiveUp
        );
    }

    #[test]
    fn deaths_in_quick_succession_wait_longer_each_time_up_to_the_cap() {
        let start = Instant::now();
        let mut budget = RestartBudget::new(8, Duration::from_secs(60), Backoff::default());
        let delays: Vec<_> = (0..8)
            .map(|i| budget.on_worker_died(start + ms(i)))
            .collect();
        let expected: Vec<_> = [100, 200, 400, 800, 1600, 3200, 5000, 5000]
            .into_iter()
            .map(|d| RestartDecision::RestartAfter(ms(d)))
            .collect();
        assert_eq!(delays, expected);
    }

    #[test]
    fn the_backoff_starts_over_once_old_deaths_leave_the_window() {
        let start = Instant::now();
        let mut budget = RestartBudget::new(5, Duration::from_secs(10), Backoff::default());
        budget.on_worker_died(start);
        budget.on_worker_died(start + ms(1));
        let after_quiet = budget.on_worker_died(start + Duration::from_secs(30));
        assert_eq!(after_quiet, RestartDecision::RestartAfter(ms(100)));
    }

    #[test]
    fn backoff_never_overflows() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(7),
        };
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(7));
    }
}
