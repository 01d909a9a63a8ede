//! Coordination primitives on a real cluster: a center and two workers started from this
//! test binary (so the workers carry the tasks below), executors connected over TCP on
//! 127.0.0.1. Locks exclude across executors, a semaphore lease comes free when its holder's
//! worker is killed with SIGKILL, queues and variables carry values and futures from one
//! executor to another, and an event set from inside a task releases a waiter.
//!
//! A custom test main (libtest-mimic) lets the same binary serve as center and workers.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use support::{check, started_at, Proc};
use taskforce::coordination::CoordinationError;
use taskforce::{remote, Error, Event, Executor, Lock, Queue, Semaphore, Variable};

/// Long enough for anything on a loaded 2-core machine; waits end as soon as they can.
const WAIT: Duration = Duration::from_secs(60);

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// Connects to `center`, takes a lease of the one-lease semaphore `name` (leases valid for
/// `lease_ms` without a refresh), says which process holds it (variable `NAME-holder`),
/// and keeps it until the process dies.
#[remote]
fn hold_lease(center: String, name: String, lease_ms: u64) -> Result<u32, String> {
    let executor = Executor::connect(&center).map_err(|e| e.to_string())?;
    let lease_timeout = Duration::from_millis(lease_ms);
    let semaphore = Semaphore::with_lease_timeout(&executor, &name, 1, lease_timeout);
    semaphore.acquire().map_err(|e| e.to_string())?;
    let pid = std::process::id();
    let holder = Variable::new(&executor, &format!("{name}-holder"));
    holder.set(&pid).map_err(|e| e.to_string())?;
    let never = Event::new(&executor, &format!("{name}-never"));
    never.wait().map_err(|e| e.to_string())?;
    Ok(pid)
}

/// Connects to `center`, waits until variable `NAME-armed` is set, then sets event `name`.
#[remote]
fn set_event(center: String, name: String) -> Result<bool, String> {
    let executor = Executor::connect(&center).map_err(|e| e.to_string())?;
    let armed = Variable::new(&executor, &format!("{name}-armed"));
    let _: bool = armed.get_timeout(WAIT).map_err(|e| e.to_string())?;
    Event::new(&executor, &name)
        .set()
        .map_err(|e| e.to_string())?;
    Ok(true)
}

/// A center whose tasks fail at their first worker death (so a killed holder's task is not
/// run again), and two workers of two threads, all of this binary.
fn cluster() -> (Proc, String, Vec<Proc>) {
    let exe = std::env::current_exe().expect("the test binary");
    let args = [
        "center",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dashboard-port",
        "0",
        "--allowed-failures",
        "0",
    ];
    let center = Proc::start_program(&exe, "center", &args);
    let addr = started_at(&center.wait_for("Start center at "));
    let workers = ["w1", "w2"]
        .iter()
        .map(|name| {
            let args = ["worker", &addr, "--host", "127.0.0.1", "--nthreads", "2"];
            let worker = Proc::start_program(&exe, name, &args);
            worker.wait_for("Registered with center at");
            worker
        })
        .collect();
    (center, addr, workers)
}

fn is_timeout(result: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(
        result,
        Err(Error::Coordination(CoordinationError::Timeout { .. }))
    )
}

fn lock_excludes_across_two_executors() -> Result<(), Failed> {
    let (_center, addr, _workers) = cluster();
    let executors = [Executor::connect(&addr)?, Executor::connect(&addr)?];
    let inside = Arc::new(AtomicU32::new(0));
    let entries = Arc::new(AtomicU32::new(0));
    let mut threads = Vec::new();
    for executor in &executors {
        for _ in 0..2 {
            let (executor, inside, entries) = (executor.clone(), inside.clone(), entries.clone());
            threads.push(std::thread::spawn(move || -> Result<(), String> {
                let lock = Lock::new(&executor, "ledger");
                for _ in 0..5 {
                    let guard = lock.lock().map_err(|e| e.to_string())?;
                    if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                        return Err("two holders at once".into());
                    }
                    entries.fetch_add(1, Ordering::SeqCst);
                    // a round trip to the center inside the critical section
                    if !lock.locked().map_err(|e| e.to_string())? {
                        return Err("held but not locked".into());
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                }
                Ok(())
            }));
        }
    }
    for thread in threads {
        thread.join().expect("a locking thread")?;
    }
    check(
        entries.load(Ordering::SeqCst) == 20,
        "every thread entered 5 times",
    )?;

    let (a, b) = (
        Lock::new(&executors[0], "db"),
        Lock::new(&executors[1], "db"),
    );
    a.acquire_timeout(WAIT)?;
    check(!b.try_acquire()?, "b cannot take a lock a holds")?;
    let timed_out = b.acquire_timeout(Duration::from_millis(200));
    check(
        is_timeout(&timed_out),
        &format!("b's acquire times out: {timed_out:?}"),
    )?;
    let message = timed_out.unwrap_err().to_string();
    check(
        message.starts_with("lock \"db\": acquire timed out after "),
        &message,
    )?;
    let not_held = b.release();
    check(
        matches!(
            not_held,
            Err(Error::Coordination(CoordinationError::NotHeld { .. }))
        ),
        &format!("b releases a lock it does not hold: {not_held:?}"),
    )?;
    check(
        matches!(
            a.acquire(),
            Err(Error::Coordination(CoordinationError::AlreadyHeld { .. }))
        ),
        "a lock is not reentrant",
    )?;
    // a's executor goes away while holding the lock: b gets it
    let waiting = std::thread::spawn(move || b.acquire_timeout(WAIT));
    drop(a);
    let [first, _] = executors;
    drop(first);
    waiting.join().expect("b's thread")?;
    Ok(())
}

fn semaphore_lease_freed_when_its_holders_worker_is_killed() -> Result<(), Failed> {
    let (_center, addr, _workers) = cluster();
    let executor = Executor::connect(&addr)?;
    let name = "database";
    let lease_ms = 30_000; // the default: the lease comes free by the closed connection
    let holding = executor.submit(hold_lease, (addr.clone(), name.to_string(), lease_ms))?;
    let holder: u32 = Variable::new(&executor, &format!("{name}-holder")).get_timeout(WAIT)?;
    let semaphore = Semaphore::new(&executor, name, 1);
    check(semaphore.value()? == 1, "the task holds the one lease")?;
    check(
        !semaphore.try_acquire()?,
        "no lease is free while the task holds it",
    )?;
    check(
        executor
            .cluster_info()?
            .workers
            .iter()
            .any(|w| w.pid == holder),
        "the holder is a worker process",
    )?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(holder as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    semaphore.acquire_timeout(WAIT)?;
    check(semaphore.value()? == 1, "the lease is ours now")?;
    check(
        holding.result().is_err(),
        "the holding task failed with its worker",
    )?;
    semaphore.release()?;
    check(semaphore.value()? == 0, "released")?;
    let again = semaphore.release();
    check(
        matches!(
            again,
            Err(Error::Coordination(CoordinationError::NotHeld { .. }))
        ),
        &format!("a second release fails: {again:?}"),
    )?;
    Ok(())
}

/// A holder that hangs with its connection open (its worker stopped with SIGSTOP) stops
/// refreshing its lease, which expires after the lease timeout.
fn semaphore_lease_expires_when_its_holder_hangs() -> Result<(), Failed> {
    let (_center, addr, _workers) = cluster();
    let executor = Executor::connect(&addr)?;
    let (name, lease_ms) = ("printer", 1_000);
    let _holding = executor.submit(hold_lease, (addr.clone(), name.to_string(), lease_ms))?;
    let holder: u32 = Variable::new(&executor, &format!("{name}-holder")).get_timeout(WAIT)?;
    let lease_timeout = Duration::from_millis(lease_ms);
    let semaphore = Semaphore::with_lease_timeout(&executor, name, 1, lease_timeout);
    check(!semaphore.try_acquire()?, "the task holds the one lease")?;
    let pid = nix::unistd::Pid::from_raw(holder as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP)?;
    let acquired = semaphore.acquire_timeout(WAIT);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)?;
    acquired?;
    check(semaphore.value()? == 1, "the lease is ours now")?;
    Ok(())
}

fn queue_carries_values_and_futures_across_executors() -> Result<(), Failed> {
    let (_center, addr, _workers) = cluster();
    let (a, b) = (Executor::connect(&addr)?, Executor::connect(&addr)?);
    let (qa, qb) = (
        Queue::with_maxsize(&a, "jobs", 2),
        Queue::with_maxsize(&b, "jobs", 2),
    );
    let empty = qb.get_timeout::<i64>(Duration::from_millis(200));
    check(
        is_timeout(&empty),
        &format!("an empty queue times out: {empty:?}"),
    )?;
    // a get waiting in b is answered by a's put
    let waiting = {
        let qb = qb.clone();
        std::thread::spawn(move || qb.get_timeout::<String>(WAIT))
    };
    qa.put(&"first".to_string())?;
    check(
        waiting.join().expect("the getter")? == "first",
        "the waiting get got the put",
    )?;
    qa.put(&1_i64)?;
    qa.put(&2_i64)?;
    let full = qa.put_timeout(&3_i64, Duration::from_millis(200));
    check(
        is_timeout(&full),
        &format!("a full queue refuses after the timeout: {full:?}"),
    )?;
    check(qb.len()? == 2, "two items queued")?;
    let wrong = qb.get_future::<i64>();
    check(
        matches!(
            wrong,
            Err(Error::Coordination(CoordinationError::WrongItem { .. }))
        ),
        &format!("a value is not taken as a future: {wrong:?}"),
    )?;
    check(qb.get::<i64>()? == 1 && qb.get::<i64>()? == 2, "in order")?;
    // a future: the value stays on the cluster while only the queue holds it
    let future = a.submit(inc, (41,))?;
    qa.put_future(&future)?;
    drop(future);
    let taken = qb.get_future_timeout::<i64>(WAIT)?;
    check(taken.result()? == 42, "the future's value reaches b")?;
    check(qb.is_empty()?, "nothing left")?;
    let conflict = Queue::with_maxsize(&b, "other", 5);
    conflict.put(&0_u8)?;
    let other = Queue::with_maxsize(&a, "other", 6).put(&0_u8);
    check(
        matches!(
            other,
            Err(Error::Coordination(CoordinationError::Conflict { .. }))
        ),
        &format!("another bound on a queue in use is refused: {other:?}"),
    )?;
    Ok(())
}

fn event_wait_is_released_by_a_set_from_a_task() -> Result<(), Failed> {
    let (_center, addr, _workers) = cluster();
    let executor = Executor::connect(&addr)?;
    let event = Event::new(&executor, "inputs-ready");
    check(!event.is_set()?, "clear at first")?;
    let early = event.wait_timeout(Duration::from_millis(200));
    check(
        is_timeout(&early),
        &format!("a wait on a clear event times out: {early:?}"),
    )?;
    let setter = executor.submit(set_event, (addr.clone(), "inputs-ready".to_string()))?;
    Variable::new(&executor, "inputs-ready-armed").set(&true)?;
    event.wait_timeout(WAIT)?;
    check(event.is_set()?, "set by the task")?;
    check(setter.result()?, "the task returned")?;
    event.wait_timeout(Duration::ZERO)?;
    event.clear()?;
    let cleared = event.wait_timeout(Duration::from_millis(100));
    check(
        is_timeout(&cleared),
        &format!("cleared: waits again: {cleared:?}"),
    )?;
    Ok(())
}

fn variable_set_by_one_executor_is_read_by_another() -> Result<(), Failed> {
    let (_center, addr, _workers) = cluster();
    let (a, b) = (Executor::connect(&addr)?, Executor::connect(&addr)?);
    let (va, vb) = (Variable::new(&a, "config"), Variable::new(&b, "config"));
    let unset = vb.get_timeout::<String>(Duration::from_millis(200));
    check(
        is_timeout(&unset),
        &format!("an unset variable times out: {unset:?}"),
    )?;
    va.set(&("threshold".to_string(), 7_u32))?;
    check(
        vb.get::<(String, u32)>()? == ("threshold".to_string(), 7),
        "b reads what a set",
    )?;
    let future = a.submit(inc, (9,))?;
    va.set_future(&future)?;
    drop(future);
    let read = vb.get_future::<i64>()?;
    check(read.result()? == 10, "b reads a's future")?;
    let undecodable = vb.get::<i64>();
    check(
        matches!(
            undecodable,
            Err(Error::Coordination(CoordinationError::WrongItem { .. }))
        ),
        &format!("a future is not read as a value: {undecodable:?}"),
    )?;
    va.delete()?;
    let deleted = vb.get_timeout::<i64>(Duration::from_millis(100));
    check(
        is_timeout(&deleted),
        &format!("deleted: unset again: {deleted:?}"),
    )?;
    check(read.result()? == 10, "b's future outlives the variable")?;
    Ok(())
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "lock_excludes_across_two_executors",
            lock_excludes_across_two_executors,
        ),
        Trial::test(
            "semaphore_lease_freed_when_its_holders_worker_is_killed",
            semaphore_lease_freed_when_its_holders_worker_is_killed,
        ),
        Trial::test(
            "semaphore_lease_expires_when_its_holder_hangs",
            semaphore_lease_expires_when_its_holder_hangs,
        ),
        Trial::test(
            "queue_carries_values_and_futures_across_executors",
            queue_carries_values_and_futures_across_executors,
        ),
        Trial::test(
            "event_wait_is_released_by_a_set_from_a_task",
            event_wait_is_released_by_a_set_from_a_task,
        ),
        Trial::test(
            "variable_set_by_one_executor_is_read_by_another",
            variable_set_by_one_executor_is_read_by_another,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
