//! Services on a local cluster: a counter that checkpoints every call, and a small pipeline
//! (reader → transformer → sink) supervised as one group. A panic in the transformer
//! restarts the whole group; then the worker under the counter is killed with SIGKILL and
//! the counter comes back on another worker from its checkpoint, and so does the pipeline
//! when its worker is killed.
//!
//! ```text
//! cargo run --release --example services
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use taskforce::{Executor, LocalCluster, Restart, ServiceError, ServiceHandle};

/// Counts.
#[taskforce::service]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    n: u64,
}

#[taskforce::service]
impl Counter {
    /// Adds `by`; the new count.
    pub fn increment(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.n
    }
}

/// One stage of the pipeline: `role` says what it does with a number.
#[taskforce::service]
#[derive(Default, Serialize, Deserialize)]
pub struct Stage {
    role: String,
    /// What it has seen (the reader: the next number; the sink: the sum).
    value: i64,
    /// How many times it started (counted by its `#[init]`, kept in its checkpoint).
    starts: u32,
}

#[taskforce::service]
impl Stage {
    #[init]
    fn start(&mut self, _context: &mut taskforce::service::ServiceContext<Self>) {
        self.starts += 1;
    }

    /// Reader: the next number. Transformer: its square (a negative number is a bug that
    /// panics). Sink: adds it; the sum.
    pub fn push(&mut self, x: i64) -> i64 {
        match self.role.as_str() {
            "reader" => {
                self.value += 1;
                self.value
            }
            "transformer" => {
                assert!(x >= 0, "the transformer can't take {x}");
                x * x
            }
            _ => {
                self.value += x;
                self.value
            }
        }
    }

    /// How many times it started.
    pub fn starts(&self) -> u32 {
        self.starts
    }
}

fn stage(role: &str) -> Stage {
    Stage {
        role: role.into(),
        ..Stage::default()
    }
}

/// The pipeline's handles.
pub struct Pipeline {
    reader: ServiceHandle<Stage>,
    transformer: ServiceHandle<Stage>,
    sink: ServiceHandle<Stage>,
}

impl Pipeline {
    /// Moves `n` numbers from the reader through the transformer into the sink; the sum.
    fn pump(&self, n: usize) -> taskforce::Result<i64> {
        let mut sum = 0;
        for _ in 0..n {
            let x = again(|| self.reader.call(Push(0)))?;
            let y = again(|| self.transformer.call(Push(x)))?;
            sum = again(|| self.sink.call(Push(y)))?;
        }
        Ok(sum)
    }

    fn starts(&self) -> taskforce::Result<[u32; 3]> {
        Ok([
            again(|| self.reader.call(Starts))?,
            again(|| self.transformer.call(Starts))?,
            again(|| self.sink.call(Starts))?,
        ])
    }
}

/// Runs `call` again while it fails because its service was restarting (a call made while
/// the caller had not yet heard of a lost worker fails so; it was not carried out).
fn again<T>(call: impl Fn() -> taskforce::Result<T>) -> taskforce::Result<T> {
    for _ in 0..10 {
        match call() {
            Err(taskforce::Error::Service(ServiceError::ServiceRestarted { reason, .. })) => {
                println!("  (a call met the restart: {reason}; again)");
            }
            outcome => return outcome,
        }
    }
    call()
}

/// Kills the worker process at `host` with SIGKILL.
fn kill_worker(executor: &Executor, host: std::net::SocketAddr) -> taskforce::Result<()> {
    let info = executor.cluster_info()?;
    let worker = info.workers.iter().find(|w| w.addr == host);
    let pid = worker.map(|w| w.pid).expect("the host is a worker");
    println!("killing worker {host} (pid {pid}) with SIGKILL");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the worker");
    Ok(())
}

/// The whole walkthrough; returns what it checked (tests run it too).
pub fn run(executor: &Executor) -> taskforce::Result<()> {
    let policy = Restart::one_for_one()
        .max_restarts(5, Duration::from_secs(60))
        .checkpoint_every(1);
    let counter = executor.spawn_service::<Counter>(policy)?;
    for _ in 0..100 {
        counter.call(Increment(1))?;
    }
    println!("counter at {} on {:?}", counter.call(Get)?, counter.host());

    let mut group = executor.service_group(Restart::one_for_all().checkpoint_every(1));
    let pipeline = Pipeline {
        reader: group.add(stage("reader"))?,
        transformer: group.add(stage("transformer"))?,
        sink: group.add(stage("sink"))?,
    };
    group.spawn()?;
    let sum = pipeline.pump(10)?;
    assert_eq!(sum, (1..=10).map(|x| x * x).sum::<i64>());
    println!("pipeline sum {sum}; starts {:?}", pipeline.starts()?);

    let crash = pipeline.transformer.call(Push(-1));
    println!("a bad item: {}", crash.expect_err("the transformer panics"));
    let starts = pipeline.starts()?;
    println!("the group restarted together, from its checkpoints: starts {starts:?}");
    assert_eq!(starts, [2, 2, 2]);

    kill_worker(executor, counter.host().expect("placed"))?;
    let after = again(|| counter.call(Get))?;
    println!("counter back at {after} on {:?}", counter.host());
    assert_eq!(after, 100);

    kill_worker(executor, pipeline.reader.host().expect("placed"))?;
    let sum = pipeline.pump(10)?;
    println!(
        "pipeline sum {sum} on {:?}; starts {:?}",
        pipeline.reader.host(),
        pipeline.starts()?
    );
    assert_eq!(sum, (1..=20).map(|x| x * x).sum::<i64>());
    Ok(())
}

#[allow(dead_code)] // the tests include this file for `run` alone
fn main() -> taskforce::Result<()> {
    let executor = Executor::local_with(LocalCluster::builder().workers(2).threads_per_worker(1))?;
    executor.wait_for_workers(2, Duration::from_secs(60))?;
    run(&executor)
}
