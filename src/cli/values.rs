//! Parsing and checking the values of command-line flags (tokens, timeouts, sizes,
//! resources, thread counts, fractions), each refused with a message that says what was
//! expected. Pure: it starts nothing.

use std::time::Duration;

use crate::actors::worker;
use crate::messages::Token;
use crate::resources::Resources;

/// A parsed `--memory-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryLimit {
    /// The machine's total memory.
    Auto,
    /// A number of bytes.
    Bytes(u64),
}

pub(super) fn parse_token(text: &str) -> Result<Token, String> {
    Token::new(text).map_err(|e| e.to_string())
}

/// The idle timeout frees the slots of unused connections; one under 30 s would only close
/// clients between their computations (live peers are quicker to notice with
/// `--heartbeat-timeout`, on the side that connects).
const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn parse_idle_timeout(text: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if timeout < MIN_IDLE_TIMEOUT {
        return Err(
            "an idle timeout under 30s could close live peers; to notice a silent center or \
             peer sooner, use --heartbeat-timeout on the worker"
                .into(),
        );
    }
    Ok(timeout)
}

pub(super) fn parse_heartbeat_timeout(text: &str) -> Result<Duration, String> {
    crate::actors::remote::idle::parse_heartbeat_timeout(text).map_err(|e| e.to_string())
}

pub(super) fn parse_token_file(path: &str) -> Result<Token, String> {
    Token::from_file(std::path::Path::new(path)).map_err(|e| e.to_string())
}

/// A limit past this many times the machine's memory is a typo, not a plan.
const MAX_MEMORY_OVERCOMMIT: u64 = 1000;

pub(super) fn parse_resources(text: &str) -> Result<Resources, String> {
    text.parse()
        .map_err(|e: crate::resources::ResourceError| e.to_string())
}

pub(super) fn parse_memory_limit(text: &str) -> Result<MemoryLimit, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(MemoryLimit::Auto);
    }
    let bytes = parse_size::parse_size(text)
        .map_err(|e| format!("expected a size like 4GiB, 500MB or auto: {e}"))?;
    check_memory_limit(bytes, worker::config::total_memory())?;
    Ok(MemoryLimit::Bytes(bytes))
}

/// Refuses a limit of nothing, or one past a thousand times the machine's `total` memory.
pub(super) fn check_memory_limit(bytes: u64, total: u64) -> Result<(), String> {
    if bytes == 0 {
        return Err("a memory limit of 0 bytes leaves no room for any value".into());
    }
    if total > 0 && bytes / MAX_MEMORY_OVERCOMMIT > total {
        return Err(format!(
            "{} is more than {MAX_MEMORY_OVERCOMMIT} times this machine's memory ({})",
            ByteSize(bytes),
            ByteSize(total)
        ));
    }
    Ok(())
}

/// Bytes as a person reads them (binary units, one decimal).
struct ByteSize(u64);

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        match unit {
            0 => write!(f, "{} B", self.0),
            _ => write!(f, "{value:.1} {}", UNITS[unit]),
        }
    }
}

pub(super) fn parse_nthreads(text: &str) -> Result<u32, String> {
    let n: u32 = text
        .parse()
        .map_err(|_| format!("expected a whole number of threads, got {text:?}"))?;
    if n == 0 {
        return Err("a worker needs at least 1 thread to run tasks".into());
    }
    Ok(n)
}

pub(super) fn parse_fraction(text: &str) -> Result<f64, String> {
    let fraction: f64 = text
        .parse()
        .map_err(|_| format!("expected a fraction like 0.6, got {text:?}"))?;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(format!(
            "expected a fraction above 0 and at most 1, got {text}"
        ));
    }
    Ok(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limits_past_a_thousand_machines_are_refused() {
        let gib = 1 << 30;
        assert_eq!(check_memory_limit(1000 * gib, gib), Ok(()));
        assert_eq!(
            check_memory_limit(1001 * gib, gib),
            Err("1001.0 GiB is more than 1000 times this machine's memory (1.0 GiB)".into())
        );
        assert_eq!(
            check_memory_limit(0, gib),
            Err("a memory limit of 0 bytes leaves no room for any value".into())
        );
    }
}
