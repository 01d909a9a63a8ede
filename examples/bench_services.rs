//! Service call speed on a local cluster of 2 single-thread workers, beside the task
//! roundtrip measured in the same run: a synchronous call's roundtrip (`call`), one
//! `submit→result` of a trivial remote function, and pipelined calls per second to one
//! service (`submit` many, then read every reply).
//!
//! `cargo run --release --example bench_services [-- --roundtrips 2000 --pipelined 200000]`

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use taskforce::{remote, Restart};

mod support;
use support::arg;

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

/// The service under test: one trivial method.
#[taskforce::service]
#[derive(Default, Serialize, Deserialize)]
struct Tally {
    n: u64,
}

#[taskforce::service]
impl Tally {
    pub fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let roundtrips = arg("--roundtrips", 2000);
    let pipelined = arg("--pipelined", 200_000);
    let cluster = support::two_single_thread_workers()
        .dashboard(false)
        .start()?;
    let executor = cluster.executor()?;
    executor.wait_for_workers(2, Duration::from_secs(60))?;
    let tally = executor.spawn_service::<Tally>(Restart::one_for_one())?;

    // Warm both paths (connections, code, allocator).
    for i in 0..200 {
        tally.call(Add(1))?;
        executor.submit_impure(inc, (i,))?.result()?;
    }

    let mut task = Vec::with_capacity(roundtrips);
    let mut call = Vec::with_capacity(roundtrips);
    for i in 0..roundtrips {
        let started = Instant::now();
        executor.submit_impure(inc, (i as i64,))?.result()?;
        task.push(started.elapsed());
        let started = Instant::now();
        tally.call(Add(1))?;
        call.push(started.elapsed());
    }
    let (task, call) = (median(task), median(call));
    println!("submit→result roundtrip (median of {roundtrips}): {task:?}");
    println!(
        "service call roundtrip  (median of {roundtrips}): {call:?} ({:.2}× the task roundtrip)",
        call.as_secs_f64() / task.as_secs_f64()
    );

    let started = Instant::now();
    let replies: Vec<_> = (0..pipelined)
        .map(|_| tally.submit(Add(1)))
        .collect::<Result<_, _>>()?;
    let mut last = 0;
    for reply in replies {
        last = reply.result()?;
    }
    let elapsed = started.elapsed();
    println!(
        "pipelined calls: {pipelined} in {elapsed:?} = {:.0} calls/s (count now {last})",
        pipelined as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
