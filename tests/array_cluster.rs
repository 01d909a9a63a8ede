//! Arrays on a real local cluster (2 single-thread workers; worker processes re-run this test
//! binary): the same expressions as on the threaded scheduler, persist, and a worker killed
//! with SIGKILL while an array computation runs.

use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use ndarray::ArrayD;
use taskforce::collections::Array;
use taskforce::messages::executor_link::ClusterSnapshot;
use taskforce::threaded::Threaded;
use taskforce::{Executor, LocalCluster};

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
}

fn wait_for_cluster(
    executor: &Executor,
    condition: impl Fn(&ClusterSnapshot) -> bool,
) -> Result<ClusterSnapshot, Failed> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = executor.cluster_info()?;
        if condition(&info) {
            return Ok(info);
        }
        if Instant::now() > deadline {
            return Err(format!("cluster never reached the condition: {info:#?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn same(a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<(), Failed> {
    let close = a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())));
    if close {
        Ok(())
    } else {
        Err(format!("arrays differ: {a:?} vs {b:?}").into())
    }
}

fn expressions_match_the_threaded_scheduler() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let threads = Threaded::new(2);
    let x = Array::random_seeded(&[37, 23], &[10, 7], 11);
    let arrays = [
        x.clone(),
        &x - &x.mean_axis(0),
        ((&x * 3.0) - 1.0).abs().sqrt(),
        x.var_axis(1),
        x.sum_axis(0),
    ];
    for array in &arrays {
        same(&array.compute(&executor)?, &array.compute(&threads)?)?;
    }
    for scalar in [x.sum(), x.max(), x.min()] {
        assert_eq!(scalar.compute(&executor)?, scalar.compute(&threads)?);
    }
    let var = (x.var().compute(&executor)?, x.var().compute(&threads)?);
    assert!((var.0 - var.1).abs() < 1e-12, "{var:?}");
    assert_eq!(
        x.argmax().compute(&executor)?,
        x.argmax().compute(&threads)?
    );
    let ints = Array::<i64>::arange(0.0, 1000.0, 1.0, 64);
    assert_eq!((&ints * 2).sum().compute(&executor)?, 999_000);
    Ok(())
}

fn persisted_arrays_stay_and_recompute_when_a_worker_dies() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let x = Array::random_seeded(&[40_000], &[2_000], 5);
    let expected = x.sum().compute(&Threaded::new(2))?;
    let kept = (&x * 2.0).persist(&executor)?;
    assert_eq!(kept.keys().len(), 20);
    let info = wait_for_cluster(&executor, |c| {
        c.workers.iter().map(|w| w.keys_in_memory).sum::<u64>() >= 20
    })?;
    let total = kept.sum().compute(&executor)?;
    assert!(
        (total - 2.0 * expected).abs() < 1e-6,
        "{total} vs {}",
        2.0 * expected
    );
    let victim = info
        .workers
        .iter()
        .find(|w| w.keys_in_memory > 0)
        .ok_or("no worker holds a block")?;
    let victim_id = victim.id;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim.pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    wait_for_cluster(&executor, |c| c.workers.iter().all(|w| w.id != victim_id))?;
    let again = kept.sum().compute(&executor)?;
    assert!((again - total).abs() < 1e-6, "{again} vs {total}");
    Ok(())
}

fn a_worker_killed_mid_computation_still_gives_the_answer() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let x = Array::random_seeded(&[400, 4_000], &[20, 4_000], 9);
    let expression = (&x - &x.mean_axis(0)).abs().sum();
    let expected = expression.compute(&Threaded::new(2))?;
    let running = {
        let expression = expression.clone();
        let executor = cluster.executor()?;
        std::thread::spawn(move || -> taskforce::Result<f64> { expression.compute(&executor) })
    };
    // Kill as soon as some worker holds a piece of this computation; should it all finish
    // first (a fast machine), kill a worker anyway: the computation below must then run on
    // what is left, and the first answer must still be right.
    let info = wait_for_cluster(&executor, |c| {
        running.is_finished() || c.workers.iter().any(|w| w.keys_in_memory > 0)
    })?;
    let victim = info
        .workers
        .iter()
        .max_by_key(|w| w.keys_in_memory)
        .ok_or("no worker")?;
    let victim_id = victim.id;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim.pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let got = running
        .join()
        .map_err(|_| "the computing thread panicked")??;
    assert!(
        (got - expected).abs() <= 1e-9 * expected.abs(),
        "{got} vs {expected}"
    );
    wait_for_cluster(&executor, |c| c.workers.iter().all(|w| w.id != victim_id))?;
    let again = expression.compute(&executor)?;
    assert!(
        (again - expected).abs() <= 1e-9 * expected.abs(),
        "{again} vs {expected}"
    );
    Ok(())
}

fn main() {
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "expressions_match_the_threaded_scheduler",
            expressions_match_the_threaded_scheduler,
        ),
        Trial::test(
            "persisted_arrays_stay_and_recompute_when_a_worker_dies",
            persisted_arrays_stay_and_recompute_when_a_worker_dies,
        ),
        Trial::test(
            "a_worker_killed_mid_computation_still_gives_the_answer",
            a_worker_killed_mid_computation_still_gives_the_answer,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
