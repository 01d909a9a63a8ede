//! Bag pipelines on real clusters, against std iterators over generated files: this test
//! binary as center and workers (so its own `#[remote]` predicates run there), the stock
//! `taskforce` binary as center and two workers (built-in kernels only), the same pipelines on
//! local threads, and a worker killed with SIGKILL in the middle of a groupby.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use support::{started_at, Proc};
use taskforce::collections::bag::{contains, split_words};
use taskforce::collections::Bag;
use taskforce::threaded::Threaded;
use taskforce::{remote, Executor, LocalCluster, Runner};

#[remote]
fn contains_python(line: &str) -> bool {
    line.contains("python")
}

#[remote]
fn contains_word(line: &str, word: &str) -> bool {
    line.contains(word)
}

#[remote]
fn first_word(line: String) -> String {
    line.split_whitespace().next().unwrap_or("").to_string()
}

#[remote]
fn word_len(word: String) -> u64 {
    word.len() as u64
}

#[remote]
fn count_one(acc: u64, _word: String) -> u64 {
    acc + 1
}

#[remote]
fn add_u64(a: u64, b: u64) -> u64 {
    a + b
}

/// A key function slow enough that a kill lands in the middle of the shuffle.
#[remote]
fn slow_key(x: i64) -> i64 {
    std::thread::sleep(Duration::from_micros(1500));
    x % 7
}

const WORDS: [&str; 8] = [
    "python", "rust", "dask", "bag", "graph", "task", "Python", "bags",
];

/// Files of pseudo-random lines (the first gzip'd) and their lines.
fn corpus(name: &str, files: usize, lines: usize) -> (PathBuf, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("tf-bag-c-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = Vec::new();
    let mut state = 0x9e37_79b9_u64;
    for f in 0..files {
        let mut text = String::new();
        for _ in 0..lines {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = 1 + (state % 7) as usize;
            let words: Vec<&str> = (0..n)
                .map(|i| WORDS[((state >> (i * 4)) % 8) as usize])
                .collect();
            let line = words.join(" ");
            text.push_str(&line);
            text.push('\n');
            all.push(line);
        }
        if f == 0 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            std::fs::write(dir.join(format!("part_{f}.txt.gz")), gz.finish().unwrap()).unwrap();
        } else {
            std::fs::write(dir.join(format!("part_{f}.txt")), text).unwrap();
        }
    }
    (dir, all)
}

fn word_counts(lines: &[String]) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for word in lines.iter().flat_map(|l| l.split_whitespace()) {
        *counts.entry(word.to_string()).or_default() += 1;
    }
    counts
}

fn top10(counts: &HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut ranked: Vec<(String, u64)> = counts.clone().into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(10);
    ranked
}

/// Every pipeline of the test on `runner`, checked against std.
fn pipelines_match_std<R: Runner>(runner: &R, name: &str) -> Result<(), Failed> {
    let (dir, lines) = corpus(name, 5, 2000);
    let bag = Bag::read_text(&format!("{}/part_*", dir.display()))?;
    let pythons = lines.iter().filter(|l| l.contains("python")).count() as u64;
    assert_eq!(bag.count().compute(runner)?, lines.len() as u64);
    assert_eq!(
        bag.filter(contains_python).count().compute(runner)?,
        pythons
    );
    let bound = bag.filter(contains_word.bind(("python".to_string(),)));
    assert_eq!(bound.count().compute(runner)?, pythons);
    let counts = word_counts(&lines);
    let words = bag.flat_map(split_words);
    let freqs: HashMap<String, u64> = words.frequencies().compute(runner)?.into_iter().collect();
    assert_eq!(freqs, counts);
    assert_eq!(
        words.frequencies().topk(10).compute(runner)?,
        top10(&counts)
    );
    let mut by_len: HashMap<u64, u64> = HashMap::new();
    for (word, n) in &counts {
        *by_len.entry(word.len() as u64).or_default() += n;
    }
    let folded = words
        .foldby(word_len, count_one, 0_u64, add_u64)
        .compute(runner)?;
    assert_eq!(folded.into_iter().collect::<HashMap<_, _>>(), by_len);
    let groups = bag.groupby(first_word).compute(runner)?;
    let mut expected: HashMap<String, usize> = HashMap::new();
    for line in &lines {
        *expected
            .entry(line.split_whitespace().next().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let got: HashMap<String, usize> = groups.into_iter().map(|(k, v)| (k, v.len())).collect();
    assert_eq!(got, expected);
    let distinct_firsts = bag.map(first_word).frequencies().count().compute(runner)?;
    assert_eq!(distinct_firsts, expected.len() as u64);
    Ok(())
}

fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::builder()
        .workers(workers)
        .threads_per_worker(1)
        .start()
        .expect("local cluster starts")
}

fn user_predicates_on_a_local_cluster() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    pipelines_match_std(&executor, "local")?;
    // A shuffle moves buckets worker to worker (the counters come with heartbeats).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = executor.cluster_info()?;
        if info.workers.iter().map(|w| w.peer_bytes_in).sum::<u64>() > 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("no bytes moved between workers: {info:#?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn same_pipelines_on_threads() -> Result<(), Failed> {
    pipelines_match_std(&Threaded::new(2), "threads")
}

fn errors_leave_the_cluster_serving() -> Result<(), Failed> {
    let cluster = cluster(1);
    let executor = cluster.executor()?;
    let (dir, lines) = corpus("errors", 2, 50);
    let missing = Bag::read_text(&format!("{}/nope_*.txt", dir.display())).unwrap_err();
    assert!(missing.to_string().contains("nope_*.txt"), "{missing}");
    std::fs::write(dir.join("part_9.txt"), b"good\nbad \xff byte\n")?;
    let bag = Bag::read_text(&format!("{}/part_*", dir.display()))?;
    let err = bag.count().compute(&executor).unwrap_err().to_string();
    assert!(
        err.contains("part_9.txt") && err.contains("byte 9"),
        "{err}"
    );
    std::fs::write(dir.join("part_9.txt"), b"\x1f\x8b\x08\x00 not gzip")?;
    std::fs::rename(dir.join("part_9.txt"), dir.join("part_9.txt.gz"))?;
    let bag = Bag::read_text(&format!("{}/part_*", dir.display()))?;
    let err = bag.count().compute(&executor).unwrap_err().to_string();
    assert!(err.contains("part_9.txt.gz"), "{err}");
    std::fs::remove_file(dir.join("part_9.txt.gz"))?;
    let bag = Bag::read_text(&format!("{}/part_*", dir.display()))?;
    assert_eq!(bag.count().compute(&executor)?, lines.len() as u64);
    let remote_lines = executor.scatter_one(lines.clone())?;
    let from_futures = Bag::from_futures(&[remote_lines]);
    assert_eq!(
        from_futures
            .filter(contains_python)
            .count()
            .compute(&executor)?,
        lines.iter().filter(|l| l.contains("python")).count() as u64
    );
    let persisted = bag.filter(contains_python).persist(&executor)?;
    let pythons = lines.iter().filter(|l| l.contains("python")).count() as u64;
    assert_eq!(persisted.count().compute(&executor)?, pythons);
    assert_eq!(persisted.take(3, &executor)?.len(), 3.min(pythons as usize));
    Ok(())
}

/// The stock binary as center and two workers; the program uses the built-in kernels.
fn stock_binary_center_and_two_workers() -> Result<(), Failed> {
    let (dir, lines) = corpus("stock", 4, 3000);
    let bin = std::path::Path::new(support::taskforce_bin());
    let center = Proc::start_program(
        bin,
        "center",
        &["center", "--host", "127.0.0.1", "--port", "0"],
    );
    let addr = started_at(&center.wait_for("Start center at "));
    let mut workers = Vec::new();
    for name in ["w1", "w2"] {
        let args = ["worker", &addr, "--host", "127.0.0.1", "--nthreads", "1"];
        let worker = Proc::start_program(bin, name, &args);
        worker.wait_for("Registered with center at");
        workers.push(worker);
    }
    let executor = Executor::connect(&addr)?;
    let bag = Bag::read_text(&format!("{}/part_*", dir.display()))?;
    let pythons = lines.iter().filter(|l| l.contains("python")).count() as u64;
    let n = bag
        .filter(contains.bind(("python".to_string(),)))
        .count()
        .compute(&executor)?;
    assert_eq!(n, pythons);
    let top = bag
        .flat_map(split_words)
        .frequencies()
        .topk(10)
        .compute(&executor)?;
    assert_eq!(top, top10(&word_counts(&lines)));
    // The stock workers don't have this program's predicate: the task says which is missing.
    let err = bag
        .filter(contains_python)
        .count()
        .compute(&executor)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("contains_python") && err.contains("missing"),
        "{err}"
    );
    assert_eq!(bag.count().compute(&executor)?, lines.len() as u64);
    Ok(())
}

fn killed_worker_during_groupby_still_gives_the_answer() -> Result<(), Failed> {
    let cluster = cluster(2);
    let executor = cluster.executor()?;
    let bag = Bag::from_sequence(0..2000_i64, 8);
    let groups = bag.groupby(slow_key);
    let pids = cluster.worker_pids();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        let pid = nix::unistd::Pid::from_raw(pids[0] as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).is_ok()
    });
    let started = Instant::now();
    let mut got = groups.compute(&executor)?;
    assert!(killer.join().unwrap(), "the kill was delivered");
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(700),
        "finished before the kill: {took:?}"
    );
    eprintln!("groupby with a kill took {took:?}");
    got.sort();
    assert_eq!(got.len(), 7);
    for (k, mut values) in got {
        values.sort();
        assert_eq!(
            values,
            (0..2000).filter(|x| x % 7 == k).collect::<Vec<i64>>()
        );
    }
    Ok(())
}

fn main() {
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some("center" | "worker")
    ) {
        taskforce::cli::main().expect("cli");
        return;
    }
    taskforce::local::serve_if_local_worker();
    let args = Arguments::from_args();
    let tests = vec![
        Trial::test(
            "user_predicates_on_a_local_cluster",
            user_predicates_on_a_local_cluster,
        ),
        Trial::test("same_pipelines_on_threads", same_pipelines_on_threads),
        Trial::test(
            "errors_leave_the_cluster_serving",
            errors_leave_the_cluster_serving,
        ),
        Trial::test(
            "stock_binary_center_and_two_workers",
            stock_binary_center_and_two_workers,
        ),
        Trial::test(
            "killed_worker_during_groupby_still_gives_the_answer",
            killed_worker_during_groupby_still_gives_the_answer,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
