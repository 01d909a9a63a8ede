//! Test-only: makes one runtime actor panic on purpose, so tests can check that the
//! supervision tree recovers (see the trees in `center`, `worker` and `nanny`).
//!
//! Set [`TEST_PANIC_ENV`] to `SITE:after=N` (several separated by commas) in a process's
//! environment and the actor at `SITE` panics while handling its `N`th message, once per
//! process. Sites: `scheduler` (task events the scheduler handles), `peer-service` (messages
//! a worker's peer service handles), `worker` (messages from the center a worker actor
//! handles), and `session/TYPE` (envelopes received by sessions whose incoming message
//! type is `TYPE`, e.g. `session/WorkerToCenter` for the center's sessions
//! with workers). **For tests only**: nothing in a real deployment sets it. Without the
//! variable every check is one load of an initialised `OnceLock`. A nanny passes the
//! variable to its first worker process only, so the fresh one shows the recovery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms injected panics (test-only).
pub const TEST_PANIC_ENV: &str = "TASKFORCE_TEST_PANIC";

/// One armed site: panics when its count reaches `after`.
struct Armed {
    site: String,
    after: u64,
    seen: AtomicU64,
}

fn armed() -> &'static [Armed] {
    static ARMED: OnceLock<Vec<Armed>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var(TEST_PANIC_ENV)
            .map(|spec| parse(&spec))
            .unwrap_or_default()
    })
}

/// `SITE:after=N,...`; entries that do not parse are ignored (this is a test hook).
fn parse(spec: &str) -> Vec<Armed> {
    spec.split(',')
        .filter_map(|entry| {
            let (site, count) = entry.trim().split_once(":after=")?;
            Some(Armed {
                site: site.to_string(),
                after: count.parse().ok()?,
                seen: AtomicU64::new(0),
            })
        })
        .collect()
}

/// Counts one message at `site`, and panics if it is the armed one.
pub(crate) fn tick(site: &str) {
    for armed in armed().iter().filter(|armed| armed.site == site) {
        let seen = armed.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if seen == armed.after {
            panic!("injected test panic at {site} (message {seen})");
        }
    }
}

/// Counts one envelope received by a session whose incoming messages are `Rx`.
pub(crate) fn tick_session<Rx>() {
    if armed().is_empty() {
        return;
    }
    let name = std::any::type_name::<Rx>();
    let short = name.rsplit("::").next().unwrap_or(name);
    tick(&format!("session/{short}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_arms_each_site_with_its_count() {
        let armed = parse("scheduler:after=100, session/WorkerToCenter:after=3,junk");
        let sites: Vec<(&str, u64)> = armed.iter().map(|a| (a.site.as_str(), a.after)).collect();
        assert_eq!(
            sites,
            vec![("scheduler", 100), ("session/WorkerToCenter", 3)]
        );
    }
}
