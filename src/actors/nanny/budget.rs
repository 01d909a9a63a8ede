//! The restart budget: at most N restarts within a sliding window of T (OTP's intensity).
//!
//! Pure: time comes in as an argument.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Counts restarts in a sliding window.
#[derive(Clone, Debug)]
pub struct RestartBudget {
    max_restarts: u32,
    window: Duration,
    restarts: VecDeque<Instant>,
}

impl RestartBudget {
    /// A budget of `max_restarts` within `window`.
    pub fn new(max_restarts: u32, window: Duration) -> Self {
        RestartBudget {
            max_restarts,
            window,
            restarts: VecDeque::new(),
        }
    }

    /// Records a restart at `now`; returns false if that is one more than the budget allows.
    pub fn try_restart(&mut self, now: Instant) -> bool {
        while self
            .restarts
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > self.window)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() as u32 >= self.max_restarts {
            return false;
        }
        self.restarts.push_back(now);
        true
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

    #[test]
    fn allows_n_restarts_in_the_window_then_refuses() {
        let start = Instant::now();
        let mut budget = RestartBudget::new(3, Duration::from_secs(10));
        for i in 0..3 {
            assert!(budget.try_restart(start + Duration::from_secs(i)));
        }
        assert!(!budget.try_restart(start + Duration::from_secs(4)));
        assert_eq!(budget.used(), 3);
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let start = Instant::now();
        let mut budget = RestartBudget::new(2, Duration::from_secs(10));
        assert!(budget.try_restart(start));
        assert!(budget.try_restart(start + Duration::from_secs(5)));
        assert!(!budget.try_restart(start + Duration::from_secs(9)));
        assert!(budget.try_restart(start + Duration::from_secs(11)));
        assert_eq!(budget.used(), 2);
    }

    #[test]
    fn zero_budget_never_restarts() {
        let mut budget = RestartBudget::new(0, Duration::from_secs(10));
        assert!(!budget.try_restart(Instant::now()));
    }
}
