//! The seed walkthroughs on an embedded local cluster: futures, a map and a sum, the binary
//! tree reduction of arrays that stay on the workers, and the seed's sum of 1000 random
//! arrays of 1e6 numbers as a hand-built task graph, as delayed calls, and on local threads;
//! then an Array, a Bag and a supervised service.
//!
//! `cargo run --release --example quickstart`

use std::time::Instant;

use taskforce::graph::{key, task, Graph};
use taskforce::threaded::Threaded;
use taskforce::{delayed, remote, Executor};

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[remote]
fn sum_all(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// A deterministic "random" array: the same seed gives the same numbers on any worker.
#[remote]
fn random_array(seed: u64, len: usize) -> Vec<f64> {
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
fn add_arrays(x: &[f64], y: &[f64]) -> Vec<f64> {
    x.iter().zip(y).map(|(a, b)| a + b).collect()
}

#[remote]
fn array_sum(x: &[f64]) -> f64 {
    x.iter().sum()
}

#[remote]
fn sum_floats(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

/// The seed's graph: `('x', i)` random arrays, `('sum', i)` their sums, and `'total'`.
fn seed_graph(chunks: u64, len: usize) -> Graph {
    let mut dsk = Graph::new();
    for i in 0..chunks {
        dsk.insert(key!("x", i), task!(random_array, i, len));
        dsk.insert(key!("sum", i), task!(array_sum, key!("x", i)));
    }
    let sums: Vec<_> = (0..chunks).map(|i| key!("sum", i)).collect();
    dsk.insert("total", task!(sum_floats, sums));
    dsk
}

fn main() -> taskforce::Result<()> {
    let started = Instant::now();
    let executor = Executor::local()?;
    let info = executor.cluster_info()?;
    println!(
        "local cluster: {} workers ready in {:.2?}",
        info.workers.len(),
        started.elapsed()
    );

    let step = Instant::now();
    let a = executor.submit(inc, (1,))?;
    let b = executor.submit(inc, (100,))?;
    let c = executor.submit(add, (&a, &b))?;
    println!(
        "inc(1) + inc(100) = {} ({:.2?})",
        c.result()?,
        step.elapsed()
    );

    let step = Instant::now();
    let xs = executor.map(inc, 0..1000)?;
    let total = executor.submit(sum_all, (&xs,))?;
    println!(
        "sum(map(inc, 0..1000)) = {} ({:.2?})",
        total.result()?,
        step.elapsed()
    );

    let step = Instant::now();
    let mut layer = executor.map(random_array.bind((1_000_000,)), 0..16_u64)?;
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|pair| executor.submit(add_arrays, (&pair[0], &pair[1])))
            .collect::<taskforce::Result<Vec<_>>>()?;
    }
    let tree_total = executor.submit(array_sum, (&layer[0],))?.result()?;
    println!(
        "tree reduction of 16 arrays of 1e6 random numbers: sum = {tree_total:.1} (expected about 8.0e6) ({:.2?})",
        step.elapsed()
    );

    let step = Instant::now();
    let dsk = seed_graph(1000, 1_000_000);
    let graph_total: f64 = executor.get(&dsk, "total")?;
    println!(
        "graph of 1000 random arrays of 1e6 numbers, summed on the cluster: {graph_total:.1} (expected about 5.0e8) ({:.2?})",
        step.elapsed()
    );

    let step = Instant::now();
    let sums: Vec<_> = (0..100_u64)
        .map(|i| delayed(array_sum, (&delayed(random_array, (i, 1_000_000_usize)),)))
        .collect();
    let delayed_total = delayed(sum_floats, (&sums,));
    let on_cluster = delayed_total.compute(&executor)?;
    println!(
        "the same as delayed calls (first 100 arrays) on the cluster: {on_cluster:.1} ({:.2?})",
        step.elapsed()
    );
    let step = Instant::now();
    let on_threads = delayed_total.compute(&Threaded::default())?;
    println!(
        "... and on local threads, no cluster: {on_threads:.1} (equal: {}) ({:.2?})",
        on_threads == on_cluster,
        step.elapsed()
    );

    drop((a, b, c, xs, total, layer));
    array_walkthrough(&executor)?;
    bag_walkthrough(&executor)?;
    service_walkthrough(&executor)?;
    println!("done in {:.2?}", started.elapsed());
    Ok(())
}

/// A supervised service: a counter living on a worker, called directly (not through the
/// scheduler), checkpointed after every call so a restart resumes from its count.
/// `examples/services.rs` kills workers under services and restarts a group.
#[taskforce::service]
#[derive(Default, serde::Serialize, serde::Deserialize)]
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
}

fn service_walkthrough(executor: &Executor) -> taskforce::Result<()> {
    let step = Instant::now();
    let policy = taskforce::Restart::one_for_one()
        .max_restarts(5, std::time::Duration::from_secs(60))
        .checkpoint_every(1);
    let counter = executor.spawn_service::<Counter>(policy)?;
    let first = counter.call(Increment(3))?;
    let replies: Vec<_> = (0..1000)
        .map(|_| counter.submit(Increment(1)))
        .collect::<Result<_, _>>()?;
    let mut last = first;
    for reply in replies {
        last = reply.result()?;
    }
    println!(
        "service on worker {}: increment(3) = {first}, then 1000 pipelined increments -> {last} ({:.2?})",
        counter.host().map_or("?".to_string(), |addr| addr.to_string()),
        step.elapsed()
    );
    counter.stop()?;
    Ok(())
}

/// Chunked arrays: lazy expressions lowered to task graphs, computed on the cluster or on
/// local threads.
fn array_walkthrough(executor: &Executor) -> taskforce::Result<()> {
    use taskforce::collections::Array;

    let step = Instant::now();
    let x = Array::random(&[1_000_000 * 1000], &[1_000_000]); // lazy, 1000 blocks
    let total: f64 = x.sum().compute(executor)?; // one task per block, then a tree
    println!(
        "Array::random(1e9, chunks 1e6).sum() = {total:.1} (expected about 5.0e8) ({:.2?})",
        step.elapsed()
    );

    let step = Instant::now();
    let y = Array::random(&[4_000, 4_000], &[1_000, 1_000]);
    let centered = &y - &y.mean_axis(1); // numpy broadcasting, fused into one task per block
    let spread = centered.std().compute(executor)?;
    let on_threads = centered.std().compute(&Threaded::default())?;
    println!(
        "std of y - y.mean_axis(1) over 4000x4000: {spread:.6} on the cluster, {on_threads:.6} on threads ({:.2?})",
        step.elapsed()
    );
    Ok(())
}

#[remote]
fn contains_word(line: &str, word: &str) -> bool {
    line.contains(word)
}

/// A Bag over a small generated corpus in a temp dir: one partition per file (the `.gz` one
/// decompressed), lines read by the workers, the steps fused into one task per file.
fn bag_walkthrough(executor: &Executor) -> taskforce::Result<()> {
    use std::io::Write as _;
    use taskforce::collections::bag::{lowercase, split_words};
    use taskforce::collections::Bag;

    let dir = std::env::temp_dir().join(format!("taskforce-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let words = ["Python", "rust", "python", "dask", "bag", "graph"];
    for file in 0..4_usize {
        let text: String = (0..2500_usize)
            .map(|i| {
                format!(
                    "{} {} line {i}\n",
                    words[(i * 7 + file) % 6],
                    words[(i + file) % 6]
                )
            })
            .collect();
        if file == 0 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes())?;
            std::fs::write(dir.join("lines_0.txt.gz"), gz.finish()?)?;
        } else {
            std::fs::write(dir.join(format!("lines_{file}.txt")), text)?;
        }
    }

    let step = Instant::now();
    let lines = Bag::read_text(&format!("{}/lines_*", dir.display()))?;
    let python = lines.filter(contains_word.bind(("python".to_string(),)));
    let n = python.count().compute(executor)?;
    let top = lines
        .flat_map(split_words)
        .map(lowercase)
        .frequencies()
        .topk(3)
        .compute(executor)?;
    println!(
        "bag of {} files: {n} lines contain \"python\"; top words {top:?} ({:.2?})",
        lines.npartitions(),
        step.elapsed()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
