//! The Bag workloads of dask's `bench_bag.py` on its corpus (16 files, 1,000,000 lines; made
//! by `gen_bagdata.py`, found in `$BAGDATA`), on a local cluster of 2 single-thread workers:
//! `read_text(...).filter(contains_python).count()` and
//! `read_text(...).flat_map(split_words).frequencies().topk(10)`, beside a single-process
//! two-thread scan of the same files (read each file, count lines containing "python" with
//! memchr's substring finder). Prints one JSON line per measurement.
//!
//! With `--big DIR`, it also writes a ~1 GiB corpus to DIR (16 files of 64 MiB made of the
//! small corpus's lines; not kept in the repository), runs both pipelines and a groupby of every line by its first word over it on two
//! workers with `--memory-limit 1GiB` (none with `BAG_BENCH_NO_LIMIT=1`), and reports each
//! worker's peak resident memory.
//!
//! `BAGDATA=/tmp/bagdata cargo run --release --example bench_bag [-- --runs 5 --big /tmp/bag1g]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use taskforce::collections::bag::split_words;
use taskforce::collections::Bag;
use taskforce::remote;

mod support;
use support::arg;

#[remote]
fn contains_python(line: &str) -> bool {
    line.contains("python")
}

#[remote]
fn first_word(line: String) -> String {
    line.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[remote]
fn group_size(group: (String, Vec<String>)) -> u64 {
    group.1.len() as u64
}

fn median(mut secs: Vec<f64>) -> f64 {
    secs.sort_by(f64::total_cmp);
    secs[secs.len() / 2]
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the corpus folder ($BAGDATA)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

/// Lines containing "python" in the files, on two threads, without taskforce.
fn scan(files: &[PathBuf]) -> u64 {
    let finder = memchr::memmem::Finder::new("python");
    std::thread::scope(|scope| {
        let halves: Vec<_> = files
            .chunks(files.len().div_ceil(2))
            .map(|half| {
                let finder = &finder;
                scope.spawn(move || {
                    let mut count = 0_u64;
                    for file in half {
                        let bytes = std::fs::read(file).unwrap();
                        for line in bytes.split(|b| *b == b'\n') {
                            count += u64::from(finder.find(line).is_some());
                        }
                    }
                    count
                })
            })
            .collect();
        halves.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

/// Waits until the cluster holds no task (results of the last run released), as dask's
/// bench does between runs, so every run computes afresh.
fn wait_idle(executor: &taskforce::Executor) -> taskforce::Result<()> {
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while executor.cluster_info()?.tasks > 0 && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

/// Peak resident memory of a process (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of each worker process (not its nanny), in MiB.
fn worker_peaks(executor: &taskforce::Executor) -> taskforce::Result<Vec<f64>> {
    let info = executor.cluster_info()?;
    Ok(info.workers.iter().map(|w| peak_rss_mib(w.pid)).collect())
}

/// Writes 16 files of 64 MiB from the small corpus's files (once).
fn write_big_corpus(small: &[PathBuf], dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let source: Vec<u8> = small
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    for i in 0..16 {
        let path = dir.join(format!("big-{i:02}.txt"));
        if path.metadata().is_ok_and(|m| m.len() >= 64 << 20) {
            continue;
        }
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut written = 0;
        for line in source.split_inclusive(|b| *b == b'\n').cycle() {
            if written >= 64 << 20 {
                break;
            }
            std::io::Write::write_all(&mut out, line)?;
            written += line.len();
        }
    }
    Ok(())
}

/// Both pipelines over the big corpus on two workers limited to 1 GiB each.
fn big_corpus_memory(dir: &Path) -> taskforce::Result<()> {
    let limit = 1_u64 << 30;
    let mut builder = support::two_single_thread_workers();
    if std::env::var_os("BAG_BENCH_NO_LIMIT").is_none() {
        builder = builder.memory_limit(limit);
    }
    let cluster = builder.start()?;
    let executor = cluster.executor()?;
    let lines = Bag::read_text(&format!("{}/big-*.txt", dir.display()))?;
    let started = Instant::now();
    let n = lines.filter(contains_python).count().compute(&executor)?;
    let n_lines = lines.count().compute(&executor)?;
    let count_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let top = lines
        .flat_map(split_words)
        .frequencies()
        .topk(3)
        .compute(&executor)?;
    let freq_secs = started.elapsed().as_secs_f64();
    // A real shuffle of every line: 1 GiB of groups spread over the two workers, more
    // than their memory target, so they spill.
    let started = Instant::now();
    let grouped = lines
        .groupby(first_word)
        .map(group_size)
        .sum()
        .compute(&executor)?;
    let groupby_secs = started.elapsed().as_secs_f64();
    assert_eq!(grouped, n_lines, "every line in one group");
    let peaks = worker_peaks(&executor)?;
    for w in executor.cluster_info()?.workers {
        eprintln!(
            "worker {} pid {}: memory limit {} MiB, peak stored {} MiB",
            w.name,
            w.pid,
            w.memory_limit >> 20,
            w.peak_stored_bytes >> 20
        );
    }
    println!(
        "{{\"bench\": \"bag_big_corpus\", \"system\": \"taskforce\", \"partitions\": {}, \"count\": {n}, \"count_s\": {count_secs:.3}, \"frequencies_s\": {freq_secs:.3}, \"groupby_s\": {groupby_secs:.3}, \"top3\": {}, \"memory_limit_mib\": 1024, \"peak_worker_rss_mib\": {peaks:?}}}",
        lines.npartitions(),
        top_json(&top)
    );
    Ok(())
}

/// Words and counts as a JSON array of pairs (the corpus is ASCII words, so Rust's string
/// escaping is JSON's).
fn top_json<N: std::fmt::Display>(top: &[(String, N)]) -> String {
    let pairs: Vec<String> = top
        .iter()
        .map(|(word, n)| format!("[{word:?}, {n}]"))
        .collect();
    format!("[{}]", pairs.join(", "))
}

fn report(bench: &str, secs: Vec<f64>, extra: &str) {
    println!(
        "{{\"bench\": \"{bench}\", \"system\": \"taskforce\", \"median_s\": {:.4}, \"runs\": {:?}, {extra}}}",
        median(secs.clone()),
        secs.iter().map(|s| (s * 1e4).round() / 1e4).collect::<Vec<_>>()
    );
}

fn main() -> taskforce::Result<()> {
    taskforce::local::serve_if_local_worker();
    let runs = arg("--runs", 5);
    let dir = PathBuf::from(
        std::env::var("BAGDATA")
            .unwrap_or_else(|_| std::env::temp_dir().join("bagdata").display().to_string()),
    );
    let pattern = format!("{}/*.txt", dir.display());
    let cluster = support::two_single_thread_workers().start()?;
    let executor = cluster.executor()?;
    let lines = Bag::read_text(&pattern)?;

    let count = lines.filter(contains_python).count();
    let warm = count.compute(&executor)?;
    let mut secs = Vec::new();
    for _ in 0..runs {
        wait_idle(&executor)?;
        let started = Instant::now();
        assert_eq!(count.compute(&executor)?, warm);
        secs.push(started.elapsed().as_secs_f64());
    }
    report("bag_filter_count", secs, &format!("\"count\": {warm}"));

    let threads = taskforce::threaded::Threaded::new(2);
    let mut secs = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        assert_eq!(count.compute(&threads)?, warm);
        secs.push(started.elapsed().as_secs_f64());
    }
    report(
        "bag_filter_count_threaded",
        secs,
        &format!("\"count\": {warm}"),
    );

    let top = lines.flat_map(split_words).frequencies().topk(10);
    let warm = top.compute(&executor)?;
    let mut secs = Vec::new();
    for _ in 0..runs {
        wait_idle(&executor)?;
        let started = Instant::now();
        assert_eq!(top.compute(&executor)?, warm);
        secs.push(started.elapsed().as_secs_f64());
    }
    report(
        "bag_frequencies",
        secs,
        &format!("\"top3\": {}", top_json(&warm[..3.min(warm.len())])),
    );

    let files = files(&dir);
    let warm = scan(&files);
    let mut secs = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        assert_eq!(scan(&files), warm);
        secs.push(started.elapsed().as_secs_f64());
    }
    report("scan_filter_count", secs, &format!("\"count\": {warm}"));
    let peaks = worker_peaks(&executor)?;
    println!("{{\"bench\": \"bag_workers\", \"peak_worker_rss_mib\": {peaks:?}}}");
    drop(executor);
    drop(cluster);

    let args: Vec<String> = std::env::args().collect();
    if let Some(big) = args
        .iter()
        .position(|a| a == "--big")
        .and_then(|i| args.get(i + 1))
    {
        let big = PathBuf::from(big);
        write_big_corpus(&files, &big)?;
        big_corpus_memory(&big)?;
    }
    Ok(())
}
