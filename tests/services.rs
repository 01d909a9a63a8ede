//! Services on a local cluster (the test binary serves as its workers): typed calls, order,
//! a panic and its restart, intensity exceeded, groups restarted together, a handle passed
//! to a task, lookup by name, timers, stop, and the hosting worker killed with SIGKILL
//! during calls.

mod support;

use support::check;

use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use serde::{Deserialize, Serialize};
use taskforce::{remote, LocalCluster, Restart, ServiceError, ServiceHandle};

#[taskforce::service]
#[derive(Default, Serialize, Deserialize)]
struct Counter {
    n: u64,
    log: Vec<u64>,
}

#[taskforce::service]
impl Counter {
    pub fn increment(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    pub fn get(&self) -> u64 {
        self.n
    }

    pub fn append(&mut self, x: u64) {
        self.log.push(x);
    }

    pub fn log(&self) -> Vec<u64> {
        self.log.clone()
    }

    pub fn boom(&mut self, why: String) -> u64 {
        panic!("{why}")
    }
}

#[taskforce::service]
#[derive(Default, Serialize, Deserialize)]
struct Clock {
    ticks: u64,
}

#[taskforce::service]
impl Clock {
    #[init]
    fn start(&mut self, context: &mut taskforce::service::ServiceContext<Self>) {
        context.every(Duration::from_millis(10), |clock| clock.ticks += 1);
    }

    pub fn ticks(&self) -> u64 {
        self.ticks
    }
}

/// A stage of a pipeline: counts what it saw since it (re)started.
#[taskforce::service]
#[derive(Default, Serialize, Deserialize)]
struct Stage {
    seen: u64,
}

#[taskforce::service]
impl Stage {
    pub fn take(&mut self, x: i64) -> i64 {
        self.seen += 1;
        x * 2
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }

    pub fn crash(&mut self) {
        panic!("stage crashed")
    }
}

#[remote]
fn bump(counter: ServiceHandle<Counter>, by: u64) -> u64 {
    counter.call(Increment(by)).expect("a call from a worker")
}

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
}

/// Runs `body` on a thread and fails if it takes longer than `limit` (a hang is a bug).
fn within(
    limit: Duration,
    body: impl FnOnce() -> Result<(), Failed> + Send + 'static,
) -> Result<(), Failed> {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(body());
    });
    outcome
        .recv_timeout(limit)
        .map_err(|_| Failed::from(format!("no answer within {limit:?}: a call hangs")))?
}

fn policy() -> Restart {
    Restart::one_for_one().max_restarts(5, Duration::from_secs(60))
}

fn typed_calls_in_order() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let counter = executor.spawn_service::<Counter>(policy())?;
    check(counter.call(Increment(3))? == 3, "3 after one increment")?;
    check(counter.call(Increment(4))? == 7, "7 after two")?;
    let pending: Vec<_> = (0..2000)
        .map(|x| counter.submit(Append(x)))
        .collect::<Result<_, _>>()?;
    for reply in pending {
        reply.result()?;
    }
    let log = counter.call(Log)?;
    check(
        log == (0..2000).collect::<Vec<u64>>(),
        "appends in call order",
    )?;
    let clone = counter.clone();
    check(clone.call(Get)? == 7, "a clone reaches the same service")
}

fn panic_fails_the_call_and_restarts_from_the_checkpoint() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let kept = executor.spawn_service::<Counter>(policy().checkpoint_every(1))?;
    let lost = executor.spawn_service::<Counter>(policy())?;
    for service in [&kept, &lost] {
        service.call(Increment(5))?;
        match service.call(Boom("bad input".into())) {
            Err(taskforce::Error::Service(ServiceError::Panicked {
                message, method, ..
            })) => {
                check(message == "bad input", "the panic's message")?;
                check(method == "boom", "the method named")?;
            }
            other => return Err(format!("expected Panicked, got {other:?}").into()),
        }
    }
    check(kept.call(Get)? == 5, "restarted from its checkpoint")?;
    check(
        lost.call(Get)? == 0,
        "no checkpoint: restarted from the initial state",
    )
}

/// With `checkpoint_interval`, changed state is checkpointed within the interval: a panic
/// some intervals after a change restarts from the changed state.
fn checkpoint_interval_keeps_changed_state() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let policy = Restart::one_for_one()
        .max_restarts(1000, Duration::from_secs(60))
        .checkpoint_interval(Duration::from_millis(20));
    let counter = executor.spawn_service::<Counter>(policy)?;
    counter.call(Increment(7))?;
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(40));
        let _ = counter.call(Boom("restart".into()));
        match counter.call(Get)? {
            7 => return Ok(()),
            0 => counter.call(Increment(7)).map(drop)?, // restarted before its checkpoint
            n => return Err(format!("restarted at {n}").into()),
        }
        check(
            started.elapsed() < Duration::from_secs(30),
            "a checkpoint is taken",
        )?;
    }
}

fn past_intensity_the_service_failed_with_its_cause() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let policy = Restart::one_for_one().max_restarts(2, Duration::from_secs(60));
    let counter = executor.spawn_service::<Counter>(policy)?;
    for i in 0..3 {
        let outcome = counter.call(Boom(format!("boom {i}")));
        check(
            matches!(
                outcome,
                Err(taskforce::Error::Service(ServiceError::Panicked { .. }))
            ),
            &format!("each panic fails its call: {outcome:?}"),
        )?;
    }
    match counter.call(Get) {
        Err(taskforce::Error::Service(ServiceError::Failed { cause, .. })) => check(
            cause.contains("boom 2") && cause.contains("restart intensity"),
            &format!("the cause names the last panic: {cause}"),
        )?,
        other => return Err(format!("expected Failed, got {other:?}").into()),
    }
    // The worker's tree keeps the group that gave up, its service's last exit the panic.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let drawn = taskforce::messages::tree::render(&executor.cluster_info()?.tree);
        let group = drawn.lines().any(|l| l.contains("── service group svc-"));
        let gave_up = drawn
            .lines()
            .any(|l| l.contains("gave up: ") && l.contains("boom 2"));
        let member = drawn
            .lines()
            .any(|l| l.contains("Counter)") && l.contains("restarts=2") && l.contains("boom 2"));
        if group && gave_up && member {
            return Ok(());
        }
        check(
            Instant::now() < deadline,
            &format!("the tree never showed the failed group:\n{drawn}"),
        )?;
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn group_restarts_together() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    for (policy, reader_kept) in [
        (Restart::one_for_all(), false),
        (Restart::rest_for_one(), true),
    ] {
        let mut group = executor.service_group(policy.max_restarts(5, Duration::from_secs(60)));
        let reader = group.add(Stage::default())?;
        let transformer = group.add(Stage::default())?;
        let sink = group.add(Stage::default())?;
        group.spawn()?;
        for x in 0..10 {
            let y = transformer.call(Take(reader.call(Take(x))?))?;
            sink.call(Take(y))?;
        }
        check(
            matches!(
                transformer.call(Crash),
                Err(taskforce::Error::Service(ServiceError::Panicked { .. }))
            ),
            "the crash fails its call",
        )?;
        let after = (
            reader.call(Seen)?,
            transformer.call(Seen)?,
            sink.call(Seen)?,
        );
        let expected = (if reader_kept { 10 } else { 0 }, 0, 0);
        check(
            after == expected,
            &format!("{policy:?}: {after:?} != {expected:?}"),
        )?;
    }
    Ok(())
}

fn handle_as_task_argument_and_lookup_by_name() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let counter = executor.spawn_named_service("tally", Counter::default(), policy())?;
    let futures: Vec<_> = (0..4)
        .map(|_| executor.submit_impure(bump, (counter.clone(), 10_u64)))
        .collect::<Result<_, _>>()?;
    for future in &futures {
        future.result()?;
    }
    check(counter.call(Get)? == 40, "four tasks called the service")?;
    let other = cluster.executor()?;
    let found = other.service::<Counter>("tally")?;
    check(
        found.call(Increment(2))? == 42,
        "found by name from another executor",
    )?;
    check(
        matches!(
            other.service::<Counter>("nobody"),
            Err(taskforce::Error::Service(ServiceError::NotFound { .. }))
        ),
        "an unknown name is NotFound",
    )
}

fn timers_run_and_stop_stops() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let clock = executor.spawn_service::<Clock>(policy())?;
    let started = Instant::now();
    while clock.call(Ticks)? < 3 {
        check(
            started.elapsed() < Duration::from_secs(30),
            "the timer ticks",
        )?;
        std::thread::sleep(Duration::from_millis(10));
    }
    clock.stop()?;
    check(
        matches!(
            clock.call(Ticks),
            Err(taskforce::Error::Service(ServiceError::Stopped { .. }))
        ),
        "calls after stop say Stopped",
    )
}

/// An unnamed service stops when the spawning executor drops its last handle; a copy that
/// travelled (serialized, as in a task argument) does not keep it alive, and says Stopped.
fn last_handle_dropped_stops_an_unnamed_service() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let counter = executor.spawn_service::<Counter>(policy())?;
    counter.call(Increment(1))?;
    let bytes = taskforce::messages::codec::encode(&counter)?;
    let travelled: ServiceHandle<Counter> = taskforce::messages::codec::decode(&bytes)?;
    check(travelled.call(Get)? == 1, "the travelled copy reaches it")?;
    drop(counter);
    let started = Instant::now();
    loop {
        match travelled.call(Get) {
            Err(taskforce::Error::Service(ServiceError::Stopped { .. })) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("expected Stopped, got {e}").into()),
        }
        check(started.elapsed() < Duration::from_secs(30), "it stops")?;
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A handle found by name from another executor finds its service again after its worker
/// was killed and its owner moved it.
fn a_handle_found_by_name_follows_a_move() -> Result<(), Failed> {
    let cluster = cluster(2);
    let owner = cluster.executor()?;
    owner.wait_for_workers(2, Duration::from_secs(60))?;
    let policy = policy().checkpoint_every(1);
    let counter = owner.spawn_named_service("moving", Counter::default(), policy)?;
    counter.call(Increment(5))?;
    let other = cluster.executor()?;
    let found = other.service::<Counter>("moving")?;
    let host = found.host().ok_or("found on a worker")?;
    let pid = owner
        .cluster_info()?
        .workers
        .iter()
        .find(|w| w.addr == host)
        .map(|w| w.pid)
        .ok_or("the host is a worker")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let started = Instant::now();
    loop {
        match found.call(Get) {
            Ok(n) => return check(n == 5, &format!("resumed at 5, not {n}")),
            Err(taskforce::Error::Service(ServiceError::ServiceRestarted { .. })) => {}
            Err(e) => return Err(format!("expected it back, got {e}").into()),
        }
        check(started.elapsed() < Duration::from_secs(60), "found again")?;
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_the_hosting_worker_during_calls() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    executor.wait_for_workers(2, Duration::from_secs(60))?;
    let counter = executor.spawn_service::<Counter>(policy().checkpoint_every(1))?;
    let host = counter.host().ok_or("placed")?;
    let pid = executor
        .cluster_info()?
        .workers
        .iter()
        .find(|w| w.addr == host)
        .map(|w| w.pid)
        .ok_or("the host is a worker")?;
    let caller = counter.clone();
    let calls = std::thread::spawn(move || {
        let (mut last_ok, mut restarted) = (0, 0);
        for i in 0..10_000 {
            match caller.call(Increment(1)) {
                Ok(n) => last_ok = last_ok.max(n),
                Err(taskforce::Error::Service(ServiceError::ServiceRestarted { .. })) => {
                    restarted += 1
                }
                Err(e) => return Err(format!("call {i}: {e}")),
            }
        }
        Ok((last_ok, restarted))
    });
    while counter.call(Get)? < 200 {
        std::thread::sleep(Duration::from_millis(5));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let (last_ok, restarted) = calls.join().map_err(|_| "the caller panicked")??;
    let now = counter.call(Get)?;
    eprintln!("last ok {last_ok}, restarted {restarted}, now {now}");
    check(counter.host() != Some(host), "it runs on another worker")?;
    check(
        now >= 10_000 - restarted - 1 && now <= 10_000,
        &format!("resumed from its checkpoint: {now} after {last_ok} acknowledged"),
    )
}

#[path = "../examples/services.rs"]
mod example;

/// The walkthrough of `examples/services.rs`, run here so CI runs it.
fn services_example() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    executor.wait_for_workers(2, Duration::from_secs(60))?;
    example::run(&executor)?;
    Ok(())
}

fn main() {
    if support::serve_role_if_asked() {
        return;
    }
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let long = Duration::from_secs(240);
    let tests = vec![
        (
            "typed_calls_in_order",
            typed_calls_in_order as fn() -> Result<(), Failed>,
        ),
        (
            "panic_fails_the_call_and_restarts_from_the_checkpoint",
            panic_fails_the_call_and_restarts_from_the_checkpoint,
        ),
        (
            "past_intensity_the_service_failed_with_its_cause",
            past_intensity_the_service_failed_with_its_cause,
        ),
        ("group_restarts_together", group_restarts_together),
        (
            "handle_as_task_argument_and_lookup_by_name",
            handle_as_task_argument_and_lookup_by_name,
        ),
        ("timers_run_and_stop_stops", timers_run_and_stop_stops),
        (
            "kill_the_hosting_worker_during_calls",
            kill_the_hosting_worker_during_calls,
        ),
        ("services_example", services_example),
        (
            "checkpoint_interval_keeps_changed_state",
            checkpoint_interval_keeps_changed_state,
        ),
        (
            "a_handle_found_by_name_follows_a_move",
            a_handle_found_by_name_follows_a_move,
        ),
        (
            "last_handle_dropped_stops_an_unnamed_service",
            last_handle_dropped_stops_an_unnamed_service,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| Trial::test(name, move || within(long, test)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
