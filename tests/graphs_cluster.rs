//! Task graphs and delayed values on a real local cluster, against the same computations on
//! the local threaded scheduler. Worker processes re-run this test binary.

use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use taskforce::graph::{key, task, Graph, GraphError};
use taskforce::scheduler::SchedulerConfig;
use taskforce::threaded::{self, Threaded};
use taskforce::{delayed, remote, Error, LocalCluster};

#[remote]
fn random_chunk(seed: u64, len: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1_u64 << 53) as f64
        })
        .collect()
}

#[remote]
fn sum_chunk(x: &[f64]) -> f64 {
    x.iter().sum()
}

#[remote]
fn sum_all(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn seed_graph(chunks: u64, len: usize) -> Graph {
    let mut dsk = Graph::new();
    for i in 0..chunks {
        dsk.insert(key!("x", i), task!(random_chunk, i, len));
        dsk.insert(key!("sum", i), task!(sum_chunk, key!("x", i)));
    }
    let sums: Vec<_> = (0..chunks).map(|i| key!("sum", i)).collect();
    dsk.insert("total", task!(sum_all, sums));
    dsk
}

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
}

fn seed_graph_gives_the_same_total_on_cluster_and_threads() -> Result<(), Failed> {
    let dsk = seed_graph(1000, 10_000);
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let on_cluster: f64 = executor.get(&dsk, "total")?;
    let on_threads: f64 = threaded::get(&dsk, "total")?;
    assert_eq!(on_cluster, on_threads);
    let expected: f64 = (0..1000)
        .map(|i| random_chunk(i, 10_000).iter().sum::<f64>())
        .sum();
    assert_eq!(on_cluster, expected);
    let both: Vec<f64> = executor.get(&dsk, [key!("sum", 3), key!("sum", 7)])?;
    assert_eq!(
        both,
        threaded::get::<f64, _>(&dsk, [key!("sum", 3), key!("sum", 7)])?
    );
    Ok(())
}

fn delayed_matches_the_graph_on_both_runners() -> Result<(), Failed> {
    let sums: Vec<_> = (0..50_u64)
        .map(|i| delayed(sum_chunk, (&delayed(random_chunk, (i, 1000_usize)),)))
        .collect();
    let total = delayed(sum_all, (&sums,));
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let on_cluster = total.compute(&executor)?;
    let on_threads = total.compute(&Threaded::default())?;
    let from_graph: f64 = threaded::get(&seed_graph(50, 1000), "total")?;
    assert_eq!(on_cluster, on_threads);
    assert_eq!(on_cluster, from_graph);
    let a = delayed(inc, (1,));
    let c = delayed(add, (&a, &a));
    assert_eq!(c.compute(&executor)?, 4);
    let kept = c.persist(&executor)?;
    assert_eq!(kept.result()?, 4);
    let started = executor.compute(&delayed(add, (&c, 10)))?;
    assert_eq!(started.result()?, 14);
    Ok(())
}

fn futures_mix_into_graphs() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let base = executor.submit(inc, (10,))?;
    let mut dsk = Graph::new();
    dsk.insert("plus", task!(add, &base, 5));
    let plus: i64 = executor.get(&dsk, "plus")?;
    assert_eq!(plus, 16);
    Ok(())
}

fn invalid_graphs_fail_before_running() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let mut cycle = Graph::new();
    cycle.insert("a", task!(inc, key!("b")));
    cycle.insert("b", task!(inc, key!("a")));
    match executor.get::<i64, _>(&cycle, "a") {
        Err(Error::Graph(GraphError::Cycle { keys })) => assert_eq!(keys.len(), 2),
        other => return Err(format!("expected a cycle error, got {other:?}").into()),
    }
    let mut missing = Graph::new();
    missing.insert("a", task!(inc, key!("nowhere")));
    match executor.get::<i64, _>(&missing, "a") {
        Err(Error::Graph(GraphError::MissingDependency { key, .. })) => {
            assert_eq!(key.as_str(), "nowhere")
        }
        other => return Err(format!("expected a missing-key error, got {other:?}").into()),
    }
    match executor.get::<i64, _>(&missing, "zzz") {
        Err(Error::Graph(GraphError::UnknownOutput { key })) => assert_eq!(key.as_str(), "zzz"),
        other => return Err(format!("expected an unknown-output error, got {other:?}").into()),
    }
    Ok(())
}

/// 100 chunks of 8 MB (800 MB of intermediates) through workers limited to 80 MB each:
/// ordering and release keep what each worker holds within the scheduler's window of root
/// tasks in flight, whatever the graph's size (past 60% of the limit values go to disk).
fn graph_ten_times_the_memory_limit_completes() -> Result<(), Failed> {
    let limit: u64 = 80_000_000;
    let cluster = LocalCluster::builder()
        .workers(2)
        .threads_per_worker(1)
        .memory_limit(limit)
        .start()?;
    let executor = cluster.executor()?;
    let dsk = seed_graph(100, 1_000_000);
    let total: f64 = executor.get(&dsk, "total")?;
    assert!((total - 50_000_000.0).abs() < 100_000.0, "total {total}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        let info = executor.cluster_info()?;
        if info.workers.iter().all(|w| w.peak_stored_bytes > 0) {
            break info;
        }
        if Instant::now() > deadline {
            return Err(format!("workers never reported a peak: {info:#?}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for worker in &info.workers {
        eprintln!(
            "worker {} peak {} bytes (limit {limit})",
            worker.name, worker.peak_stored_bytes
        );
        // However slow the round trips (a loaded machine), a worker holds at most the root
        // tasks the scheduler lets it have in flight (its saturation window) plus their small
        // sums: far below the 800 MB the graph makes, which is freed as it goes.
        let window = SchedulerConfig::default().saturation(1) as u64;
        assert!(
            worker.peak_stored_bytes <= window * 8_000_000 + 1_000_000,
            "peak {} of {}",
            worker.peak_stored_bytes,
            worker.name
        );
    }
    Ok(())
}

fn main() {
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "seed_graph_gives_the_same_total_on_cluster_and_threads",
            seed_graph_gives_the_same_total_on_cluster_and_threads,
        ),
        Trial::test(
            "delayed_matches_the_graph_on_both_runners",
            delayed_matches_the_graph_on_both_runners,
        ),
        Trial::test("futures_mix_into_graphs", futures_mix_into_graphs),
        Trial::test(
            "invalid_graphs_fail_before_running",
            invalid_graphs_fail_before_running,
        ),
        Trial::test(
            "graph_ten_times_the_memory_limit_completes",
            graph_ten_times_the_memory_limit_completes,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
