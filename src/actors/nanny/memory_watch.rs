//! The nanny's watch on its worker's memory: it samples the child's resident memory from
//! `/proc` at a bounded rate and says when the child is past the terminate fraction of its
//! limit, so the nanny kills it (as dask's nanny does past 95%).
//!
//! Reads `/proc` only; no actix, and no signal of its own (the nanny sends it).

use std::time::Duration;

use crate::messages::nanny_link::DeathCause;

/// How often the nanny samples its child's memory: often enough that a task touching
/// gigabytes a second overshoots the threshold by a few hundred MiB at most, rarely enough
/// that the reads cost nothing.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Dask's fraction of the limit past which the nanny terminates its worker.
pub const DEFAULT_TERMINATE_FRACTION: f64 = 0.95;

/// A memory limit the nanny enforces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryWatch {
    /// The worker's limit, in bytes.
    pub limit: u64,
    /// Fraction of `limit` past which the worker process is killed.
    pub terminate: f64,
}

impl MemoryWatch {
    /// Resident memory above which the worker is killed.
    pub fn threshold(&self) -> u64 {
        (self.limit as f64 * self.terminate) as u64
    }

    /// The cause to report when a sample of `rss` bytes is past the threshold, else `None`.
    pub fn check(&self, rss: u64) -> Option<DeathCause> {
        (rss > self.threshold()).then_some(DeathCause::MemoryLimit {
            limit_bytes: self.limit,
            rss_bytes: rss,
        })
    }
}

/// Resident memory of process `pid` in bytes (`VmRSS` of `/proc/PID/status`), or `None`
/// when the process is gone or `/proc` cannot be read.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sample_past_the_fraction_kills() {
        let watch = MemoryWatch {
            limit: 500 << 20,
            terminate: DEFAULT_TERMINATE_FRACTION,
        };
        assert_eq!(watch.check(475 << 20), None);
        let cause = watch.check(512 << 20).expect("past 95%");
        assert_eq!(
            cause.to_string(),
            "exceeded its memory limit of 500 MiB (RSS 512 MiB)"
        );
    }

    #[test]
    fn this_process_has_a_resident_size() {
        let rss = rss_of(std::process::id()).expect("/proc of this process");
        assert!(rss > 1 << 20, "{rss} bytes");
        assert_eq!(rss_of(u32::MAX), None);
    }
}
