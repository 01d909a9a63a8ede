//! What the worker did since its last activity report: spans of its task threads, its
//! fetches from peers and its spills, kept in a bounded ring until the next heartbeat turns
//! them into an [`ActivityMsg`]; plus the bytes it served and its CPU time.
//!
//! Only the worker actor touches it (task threads hand their times back in `JobDone`), so
//! there is no lock. No sockets here.

use std::collections::VecDeque;
use std::time::Instant;

use crate::messages::activity::{ActivityMsg, SpanKind, SpanMsg, MAX_SPANS_PER_REPORT};

/// The worker's record of finished work, drained at each report.
#[derive(Debug, Default)]
pub struct ActivityLog {
    /// Spans finished since the last report, oldest first. At [`MAX_SPANS_PER_REPORT`] the
    /// oldest is dropped and counted in `dropped`: a report stays bounded however many tiny
    /// tasks ran in between.
    spans: VecDeque<(SpanKind, Instant, Instant)>,
    dropped: u32,
    bytes_out: u64,
}

impl ActivityLog {
    /// Notes a piece of work that ran from `started` to `stopped`.
    pub fn record(&mut self, kind: SpanKind, started: Instant, stopped: Instant) {
        if self.spans.len() == MAX_SPANS_PER_REPORT {
            self.spans.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.spans.push_back((kind, started, stopped));
    }

    /// Notes `nbytes` of values sent to a peer or an executor.
    pub fn served(&mut self, nbytes: u64) {
        self.bytes_out += nbytes;
    }

    /// The report of what happened since the last one, made at `now`; starts a new period.
    pub fn report(&mut self, now: Instant, bytes_in: u64, paused: bool) -> ActivityMsg {
        let ago = |at: Instant| now.saturating_duration_since(at).as_micros() as u64;
        let spans = self
            .spans
            .drain(..)
            .map(|(kind, started, stopped)| SpanMsg {
                kind,
                started_us_ago: ago(started),
                stopped_us_ago: ago(stopped),
            })
            .collect();
        ActivityMsg {
            cpu_seconds: cpu_seconds(),
            bytes_in,
            bytes_out: self.bytes_out,
            paused,
            spans,
            dropped_spans: std::mem::take(&mut self.dropped),
        }
    }
}

/// CPU seconds (user and system) this process used so far; 0 if the system will not say.
pub fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given, which points to
    // zeroed memory of that type; we read it only when the call reports success.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_report_carries_the_spans_since_the_last_and_bounds_them() {
        let mut log = ActivityLog::default();
        let t0 = Instant::now();
        let spill = SpanKind::Spill { nbytes: 10 };
        for _ in 0..MAX_SPANS_PER_REPORT + 3 {
            log.record(spill.clone(), t0, t0 + Duration::from_millis(2));
        }
        log.served(100);
        let now = t0 + Duration::from_millis(5);
        let report = log.report(now, 7, true);
        assert_eq!(report.spans.len(), MAX_SPANS_PER_REPORT);
        assert_eq!(report.dropped_spans, 3);
        assert_eq!(report.spans[0].started_us_ago, 5_000);
        assert_eq!(report.spans[0].stopped_us_ago, 3_000);
        assert_eq!(
            (report.bytes_in, report.bytes_out, report.paused),
            (7, 100, true)
        );
        assert!(report.cpu_seconds > 0.0, "this test used some CPU");
        let next = log.report(now, 7, false);
        assert!(next.spans.is_empty() && next.dropped_spans == 0);
        assert_eq!(next.bytes_out, 100, "bytes out are a running total");
    }
}
