//! Tasks that submit tasks (dask's `worker_client`, `get_client`, `secede`, `rejoin`): what
//! a remote function running on a worker can reach, namely an executor for the cluster it
//! runs on ([`worker_executor`]), and its thread's slot in the worker's pool ([`secede`],
//! [`rejoin`]).
//!
//! A task that blocks on the cluster from inside a task thread would hold one of the
//! worker's `nthreads` slots while it waits, and with enough such tasks every slot waits on
//! work queued behind them: a deadlock. So every blocking wait of an [`Executor`] made on
//! a task thread secedes for its duration (the thread no longer counts against
//! `nthreads`; the pool starts the next queued task, on a new thread if none is idle) and
//! rejoins when the wait ends (taking a slot again, before queued tasks, once one is free).
//!
//! ```no_run
//! use taskforce::remote;
//!
//! #[remote]
//! fn fib(n: u64) -> taskforce::Result<u64> {
//!     if n < 2 {
//!         return Ok(n);
//!     }
//!     let executor = taskforce::worker_executor()?;   // this worker's cluster, cached
//!     let a = executor.submit(fib, (n - 1,))?;
//!     let b = executor.submit(fib, (n - 2,))?;
//!     Ok(a.result()? + b.result()?)                   // waits seceded, then rejoins
//! }
//! ```
//!
//! This file holds the per-thread state (which pool, whether in a task, whether seceded)
//! and the process's cached executor; the slot accounting is the pool's (`pool.rs`).

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::{Arc, Mutex};

use super::pool::PoolShared;
use crate::actors::executor::{Executor, CONNECT_TIMEOUT};
use crate::actors::remote::ConnectOptions;
use crate::ids::TaskKey;

/// The cluster a worker's tasks reach through [`worker_executor`]: its center's address
/// and how the worker connects to it (token, TLS).
#[derive(Clone, Debug)]
pub struct TaskCluster {
    /// The center's address as the worker was given it (`HOST:PORT` or `tls://HOST:PORT`).
    pub center: String,
    /// The worker's connect options (its token and TLS settings).
    pub connect: ConnectOptions,
}

thread_local! {
    /// The pool of this task thread (unset on every other thread).
    static POOL: OnceCell<Arc<PoolShared>> = const { OnceCell::new() };
    /// Whether a task is running on this thread now.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    /// Whether the running task gave its slot back.
    static SECEDED: Cell<bool> = const { Cell::new(false) };
    /// The running task's key, until the worker has heard that it seceded (once per run).
    static UNREPORTED: RefCell<Option<TaskKey>> = const { RefCell::new(None) };
}

/// The executor of this process's tasks, by the center it is connected to. A std `Mutex`
/// held while connecting, so tasks starting together make one connection, not one each.
static WORKER_EXECUTOR: Mutex<Option<(String, Executor)>> = Mutex::new(None);

/// Marks the calling thread as one of `pool`'s task threads.
pub(super) fn enter_task_thread(pool: Arc<PoolShared>) {
    POOL.with(|cell| {
        let _ = cell.set(pool);
    });
}

/// Runs one task on this task thread; returns its outcome and whether the task was still
/// seceded when it ended (then its thread holds no slot).
pub(super) fn run_task<T>(key: &TaskKey, task: impl FnOnce() -> T) -> (T, bool) {
    IN_TASK.with(|in_task| in_task.set(true));
    SECEDED.with(|seceded| seceded.set(false));
    UNREPORTED.with(|unreported| *unreported.borrow_mut() = Some(key.clone()));
    let outcome = task();
    IN_TASK.with(|in_task| in_task.set(false));
    UNREPORTED.with(|unreported| unreported.borrow_mut().take());
    (outcome, SECEDED.with(|seceded| seceded.replace(false)))
}

/// The pool of the task running on this thread, if one is.
fn current_pool() -> Option<Arc<PoolShared>> {
    if !IN_TASK.with(Cell::get) {
        return None;
    }
    POOL.with(|cell| cell.get().cloned())
}

fn not_in_task(call: &'static str) -> crate::Error {
    crate::Error::NotInTask { call }
}

/// An executor for the cluster the calling task runs on, connected with the worker's token
/// and TLS settings, so it works on a secured cluster too. Made at the first call in a
/// worker process and shared by every later task there (clones of one [`Executor`]).
///
/// Only a task running on a worker (a `#[remote]` function the cluster called) has one:
/// anywhere else this fails with [`crate::Error::NotInTask`]; connect with
/// [`Executor::connect`] there. It also fails as `connect` does when the center cannot
/// be reached within [`CONNECT_TIMEOUT`].
///
/// Blocking calls made with it from the task's thread (`result`, `gather`, `wait`, …)
/// secede for as long as they wait and rejoin after (see [`secede`]), so tasks that wait
/// on tasks they submitted do not deadlock the worker's threads. Threads a task starts
/// itself are not task threads: their waits do not secede.
///
/// Futures made in a task live as long as their handles, as anywhere: those dropped when
/// the task returns (the usual case) are released, and the cluster forgets what nothing
/// else needs, as dask does with a `worker_client`'s futures. To hand a result to the
/// caller, return the value (gather it inside the task); a future kept past the task (in a
/// static, say) keeps its key alive until it is dropped or the worker process ends.
///
/// ```no_run
/// use taskforce::remote;
///
/// #[remote]
/// fn inc(x: i64) -> i64 { x + 1 }
///
/// #[remote]
/// fn sum_of_incs(n: i64) -> taskforce::Result<i64> {
///     let executor = taskforce::worker_executor()?;
///     let futures = executor.map(inc, 0..n)?;
///     Ok(executor.gather(&futures)?.into_iter().sum())
/// }
/// ```
pub fn worker_executor() -> crate::Result<Executor> {
    let pool = current_pool().ok_or(not_in_task("worker_executor"))?;
    let cluster = &pool.cluster;
    let cached = |slot: &Option<(String, Executor)>| {
        let (center, executor) = slot.as_ref()?;
        (*center == cluster.center).then(|| executor.clone())
    };
    if let Some(executor) = cached(&lock_cached()) {
        return Ok(executor);
    }
    // Seceded while connecting and while waiting for another task that connects: a task
    // holding a slot must never wait on one that needs a slot to finish.
    let seceded = secede_while_waiting();
    let mut slot = lock_cached();
    let executor = match cached(&slot) {
        Some(executor) => executor,
        None => {
            let options = ConnectOptions {
                give_up_after: Some(CONNECT_TIMEOUT),
                ..cluster.connect.clone()
            };
            let executor = Executor::connect_with(&cluster.center, options)?;
            *slot = Some((cluster.center.clone(), executor.clone()));
            executor
        }
    };
    // Only now rejoin: rejoining may wait for a slot, and other tasks may wait for this lock.
    drop(slot);
    drop(seceded);
    Ok(executor)
}

fn lock_cached() -> std::sync::MutexGuard<'static, Option<(String, Executor)>> {
    WORKER_EXECUTOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Gives the calling task's slot in its worker's pool back (dask's `secede`): the task
/// keeps running, but no longer counts against the worker's `nthreads`, so the worker starts
/// its next queued task meanwhile (on a new thread if none is idle, up to
/// [`super::pool::MAX_SECEDED_THREADS`] extra). Seceding twice is the same as once.
///
/// Executor calls that wait secede by themselves; call this before a long wait of another
/// kind (a lock, a socket) that should not hold a slot. A task still seceded when it
/// returns just ends; [`rejoin`] takes the slot again.
///
/// Fails with [`crate::Error::NotInTask`] outside a task running on a worker.
///
/// ```no_run
/// # fn wait_for_a_signal() {}
/// #[taskforce::remote]
/// fn waits_for_something(x: i64) -> taskforce::Result<i64> {
///     taskforce::secede()?;        // the worker may start another task meanwhile
///     wait_for_a_signal();
///     taskforce::rejoin()?;        // waits for a free slot, then goes on computing
///     Ok(x)
/// }
/// ```
pub fn secede() -> crate::Result<()> {
    let pool = current_pool().ok_or(not_in_task("secede"))?;
    if !SECEDED.with(|seceded| seceded.replace(true)) {
        give_slot_back(&pool);
    }
    Ok(())
}

/// Gives the running task's slot back; the first time in a run, the worker hears of it
/// too (and tells the scheduler, which then stops counting the task against the worker's
/// saturation, as dask does for a long-running task: rejoining does not undo that).
fn give_slot_back(pool: &Arc<PoolShared>) {
    pool.secede();
    if let Some(key) = UNREPORTED.with(|unreported| unreported.borrow_mut().take()) {
        pool.report_seceded(key);
    }
}

/// Takes a slot in the worker's pool again after [`secede`] (dask's `rejoin`), waiting until
/// one is free; seceded tasks rejoining go before queued tasks. Without a `secede` before,
/// it does nothing. Fails with [`crate::Error::NotInTask`] outside a task running on a
/// worker.
pub fn rejoin() -> crate::Result<()> {
    let pool = current_pool().ok_or(not_in_task("rejoin"))?;
    if SECEDED.with(|seceded| seceded.replace(false)) {
        pool.rejoin();
    }
    Ok(())
}

/// Seceded for the length of one wait (made by [`secede_while_waiting`]); rejoins when
/// dropped, even while unwinding. Does nothing off a task thread or when the task had
/// seceded already.
#[must_use = "the wait is seceded only while this lives"]
pub(crate) struct SecededWait {
    pool: Option<Arc<PoolShared>>,
}

/// Secedes the calling task, if this thread runs one that holds a slot, until the returned
/// guard drops. The executor's blocking waits call this just before they block; the guard
/// must be dropped with no lock held that a task's progress needs (rejoining may wait).
pub(crate) fn secede_while_waiting() -> SecededWait {
    let pool = current_pool().filter(|_| !SECEDED.with(|seceded| seceded.replace(true)));
    if let Some(pool) = &pool {
        give_slot_back(pool);
    }
    SecededWait { pool }
}

impl Drop for SecededWait {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            SECEDED.with(|seceded| seceded.set(false));
            pool.rejoin();
        }
    }
}
