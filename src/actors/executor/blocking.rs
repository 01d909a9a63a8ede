//! Where the executor's blocking calls may block: which thread is calling (plain, a tokio
//! runtime's worker, the thread that drives a current-thread runtime), how a reply is waited
//! for without tokio's `blocking_recv` (which panics inside any runtime), and how work that
//! must run outside a runtime is moved to a thread of its own.
//!
//! This module knows tokio's runtime context and nothing of the executor's state; a wait on a
//! worker's task thread secedes through `worker::in_task`.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

thread_local! {
    /// Set while `connect`/`local` run: they block briefly on threads of their own making,
    /// so they may be called anywhere, even on a current-thread runtime.
    static BLOCKING_PERMITTED: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread drives a current-thread tokio runtime (blocking it would stall every
/// task of that runtime). A `spawn_blocking` thread of such a runtime does not: tokio gives
/// it no worker index.
fn drives_current_thread_runtime() -> bool {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
        && tokio::runtime::worker_index().is_some()
}

/// Whether this thread is inside a tokio runtime's context (a worker, a `block_on`, a
/// `spawn_blocking` thread).
pub(crate) fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// Refuses a blocking `call` on the thread of a current-thread runtime with
/// [`crate::Error::BlockingInAsync`], naming its async twin `instead`.
pub(crate) fn check_may_block(call: &'static str, instead: &'static str) -> crate::Result<()> {
    if drives_current_thread_runtime() && !BLOCKING_PERMITTED.with(Cell::get) {
        return Err(crate::Error::BlockingInAsync { call, instead });
    }
    Ok(())
}

/// Runs `work` with blocking permitted on this thread (restored afterwards, even on panic).
pub(crate) fn permit_blocking<T>(work: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            BLOCKING_PERMITTED.with(|permitted| permitted.set(self.0));
        }
    }
    let _restore = Restore(BLOCKING_PERMITTED.with(|permitted| permitted.replace(true)));
    work()
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Blocks this thread until `reply` (a oneshot answer from the executor's actor) is ready.
/// Unlike `blocking_recv` this works on any thread, a runtime's included; the actor runs on
/// a thread of its own, so waiting here cannot starve it.
pub(crate) fn wait_for_reply<F: Future>(reply: F) -> F::Output {
    // Unconstrained: inside a task, tokio's cooperative budget would otherwise run out after
    // a number of polls and answer `Pending` forever, since this loop never yields to it.
    let mut reply = pin!(tokio::task::unconstrained(reply));
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    if let Poll::Ready(answer) = reply.as_mut().poll(&mut context) {
        return answer;
    }
    // A task on a worker gives its slot back while it waits (see `worker::in_task`).
    let _seceded = crate::actors::worker::in_task::secede_while_waiting();
    loop {
        std::thread::park();
        if let Poll::Ready(answer) = reply.as_mut().poll(&mut context) {
            return answer;
        }
    }
}

/// Runs `work` outside any tokio runtime: on this thread when it is in none, else on a
/// dedicated thread named `name`, joined before returning (a panic there is resumed here).
pub(crate) fn outside_runtime<T: Send>(name: &str, work: impl FnOnce() -> T + Send) -> T {
    if !in_runtime() {
        return work();
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn_scoped(scope, work)
            .expect("a thread to run outside the tokio runtime");
        match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Runs the blocking `work` on a new thread and awaits its result, so a task of any async
/// runtime waits without holding its thread.
pub(crate) async fn on_own_thread<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> crate::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = done.send(work());
        })?;
    result.await.unwrap_or_else(|_| {
        Err(crate::Error::ConnectionLost {
            reason: format!("the thread running `{name}` stopped before answering"),
        })
    })
}

/// Resolves after `duration`, under any async runtime: a short-lived thread sleeps and then
/// wakes the task (one thread per timed wait; the timed twins are calls a user makes, not
/// per-task machinery). An error starting the thread resolves at once.
pub(crate) async fn sleep(duration: std::time::Duration) {
    let (done, slept) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("taskforce-timer".into())
        .spawn(move || {
            std::thread::sleep(duration);
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = slept.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocking_call_is_refused_only_where_it_would_stall_a_runtime() {
        assert!(check_may_block("gather", "gather_async").is_ok());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let refused = check_may_block("gather", "gather_async");
            assert!(matches!(
                refused,
                Err(crate::Error::BlockingInAsync {
                    call: "gather",
                    instead: "gather_async"
                })
            ));
            assert!(permit_blocking(|| check_may_block("gather", "gather_async")).is_ok());
            let on_pool = tokio::task::spawn_blocking(|| check_may_block("x", "x_async"));
            assert!(on_pool.await.expect("joined").is_ok());
        });
    }

    #[test]
    fn a_reply_is_waited_for_inside_a_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            for round in 0..1000 {
                let (send, answer) = tokio::sync::oneshot::channel();
                std::thread::spawn(move || send.send(round));
                assert_eq!(wait_for_reply(answer), Ok(round));
            }
            let name = outside_runtime("probe", || std::thread::current().name().map(String::from));
            assert_eq!(name.as_deref(), Some("probe"));
        });
    }
}
