//! What `#[taskforce::main]` expands to: serving the cluster role a process was started for,
//! which must happen before any async runtime exists in it, and then a tokio runtime for the
//! program's `async fn main`.
//!
//! The right order is the whole point: a local cluster's workers re-run the user's program
//! as `<program> worker ADDR …`, and a worker runs an actix system of its own, which cannot
//! start inside a runtime's thread. The attribute makes the order impossible to get wrong;
//! without it, the same two lines by hand:
//!
//! ```no_run
//! fn main() -> taskforce::Result<()> {
//!     taskforce::entry::serve_role_if_asked();              // 1. a center/worker serves here
//!     taskforce::entry::block_on(taskforce::entry::Flavor::CurrentThread, async {
//!         let executor = taskforce::Executor::local_async().await?;   // 2. the program
//!         Ok(())
//!     })
//! }
//! ```
//!
//! This module knows the command line's role words and tokio's runtime builder, nothing of
//! the executor.

use std::future::Future;

/// Which tokio runtime `#[taskforce::main]` builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// One thread runs every task: blocking calls on it are refused with
    /// [`crate::Error::BlockingInAsync`]; await the async twins there.
    CurrentThread,
    /// A pool of worker threads (`None`: one per core, tokio's default).
    MultiThread {
        /// How many worker threads.
        worker_threads: Option<usize>,
    },
}

/// When this process was started as `center …` or `worker …` (the first argument; a local
/// cluster starts its workers so), serves that role through [`crate::cli::main`] and exits
/// the process (status 0, or 1 after printing `error: …`); otherwise returns at once.
///
/// Call it first in `main`, before any async runtime is built (`#[taskforce::main]` does).
/// It works inside a runtime too (the role then runs on a thread of its own), but a program
/// that built its runtime first has paid for it in every worker.
pub fn serve_role_if_asked() {
    if !matches!(
        std::env::args().nth(1).as_deref(),
        Some("center" | "worker")
    ) {
        return;
    }
    let code = match crate::cli::main() {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    };
    std::process::exit(code);
}

/// Builds a tokio runtime of `flavor` (every driver enabled) and runs `body` to completion
/// on it; the runtime is dropped afterwards.
///
/// # Panics
/// When the runtime cannot be built (the OS refused a thread or an event queue), as
/// `#[tokio::main]` does: there is no program to run without it.
pub fn block_on<T, F: Future<Output = T>>(flavor: Flavor, body: F) -> T {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread { worker_threads } => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(threads) = worker_threads {
                builder.worker_threads(threads.max(1));
            }
            builder
        }
    };
    let runtime = builder.enable_all().build().unwrap_or_else(|error| {
        panic!("taskforce::main could not build its tokio runtime: {error}")
    });
    runtime.block_on(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::runtime::{Handle, RuntimeFlavor};

    #[test]
    fn block_on_builds_the_flavor_asked_for() {
        let flavor = || async { Handle::current().runtime_flavor() };
        assert_eq!(
            block_on(Flavor::CurrentThread, flavor()),
            RuntimeFlavor::CurrentThread
        );
        let multi = Flavor::MultiThread {
            worker_threads: Some(1),
        };
        assert_eq!(block_on(multi, flavor()), RuntimeFlavor::MultiThread);
    }
}
