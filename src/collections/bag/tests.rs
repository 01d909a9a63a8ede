//! Bag pipelines on local threads against std iterators over generated files.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use super::*;
use crate::remote;
use crate::threaded::Threaded;

#[remote]
fn contains_python(line: &str) -> bool {
    line.contains("python")
}

#[remote]
fn contains_word(line: &str, word: &str) -> bool {
    line.contains(word)
}

/// A predicate the pipeline can only call through the erased entry.
#[remote]
fn long_line(line: String) -> bool {
    line.len() > 20
}

#[remote]
fn line_len(line: &str) -> u64 {
    line.len() as u64
}

#[remote]
fn is_even(x: i64) -> bool {
    x % 2 == 0
}

#[remote]
fn digits(x: i64) -> Vec<i64> {
    x.to_string().bytes().map(|b| (b - b'0') as i64).collect()
}

const WORDS: [&str; 7] = ["python", "rust", "dask", "bag", "graph", "task", "Python"];

fn corpus(name: &str, files: usize, lines: usize) -> (PathBuf, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("tf-bag-t-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = Vec::new();
    let mut state = 0x2545_f491_u64;
    for f in 0..files {
        let mut text = String::new();
        for _ in 0..lines {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = 1 + (state % 6) as usize;
            let line: Vec<&str> = (0..n)
                .map(|i| WORDS[((state >> (i * 5)) % 7) as usize])
                .collect();
            let line = line.join(" ");
            text.push_str(&line);
            text.push('\n');
            all.push(line);
        }
        if f == 0 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            std::fs::write(dir.join(format!("lines_{f}.txt.gz")), gz.finish().unwrap()).unwrap();
        } else {
            std::fs::write(dir.join(format!("lines_{f}.txt")), text).unwrap();
        }
    }
    (dir, all)
}

fn runner() -> Threaded {
    Threaded::new(2)
}

#[test]
fn counts_match_std_on_plain_and_gzip_files_in_small_blocks() {
    let (dir, lines) = corpus("count", 4, 300);
    let options = TextOptions {
        block_size: 997,
        lossy: false,
    };
    let bag = Bag::read_text_with(&format!("{}/lines_*", dir.display()), &options).unwrap();
    assert!(bag.npartitions() > 4);
    let expected = lines.iter().filter(|l| l.contains("python")).count() as u64;
    assert_eq!(bag.count().compute(&runner()).unwrap(), lines.len() as u64);
    assert_eq!(
        bag.filter(contains_python)
            .count()
            .compute(&runner())
            .unwrap(),
        expected
    );
    let bound = bag.filter(contains_word.bind(("python".to_string(),)));
    assert_eq!(bound.count().compute(&runner()).unwrap(), expected);
    let long = lines.iter().filter(|l| l.len() > 20).count() as u64;
    assert_eq!(
        bag.filter(long_line).count().compute(&runner()).unwrap(),
        long
    );
    let mut all = bag.compute(&runner()).unwrap();
    let mut sorted = lines.clone();
    all.sort();
    sorted.sort();
    assert_eq!(all, sorted);
}

#[test]
fn frequencies_and_topk_match_a_single_process_count() {
    let (dir, lines) = corpus("freq", 3, 400);
    let bag = Bag::read_text(&format!("{}/lines_*", dir.display())).unwrap();
    let mut expected: HashMap<String, u64> = HashMap::new();
    for word in lines.iter().flat_map(|l| l.split_whitespace()) {
        *expected.entry(word.to_lowercase()).or_default() += 1;
    }
    let words = bag.flat_map(split_words).map(lowercase);
    let freqs: HashMap<String, u64> = words
        .frequencies()
        .compute(&runner())
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(freqs, expected);
    let mut ranked: Vec<(String, u64)> = expected.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(3);
    assert_eq!(
        words.frequencies().topk(3).compute(&runner()).unwrap(),
        ranked
    );
}

#[test]
fn topk_breaks_ties_by_value() {
    let bag = Bag::from_sequence(["b", "a", "c", "a", "b", "d"].map(String::from), 3);
    let top = bag.frequencies().topk(3).compute(&runner()).unwrap();
    assert_eq!(
        top,
        [
            ("a".to_string(), 2),
            ("b".to_string(), 2),
            ("c".to_string(), 1)
        ]
    );
}

#[test]
fn numbers_through_erased_steps() {
    let bag = Bag::from_sequence(0..1000_i64, 7);
    let r = runner();
    assert_eq!(
        bag.filter(is_even).sum().compute(&r).unwrap(),
        (0..1000).filter(|x| x % 2 == 0).sum::<i64>()
    );
    assert_eq!(bag.min().compute(&r).unwrap(), 0);
    assert_eq!(bag.max().compute(&r).unwrap(), 999);
    assert_eq!(bag.mean().compute(&r).unwrap(), 499.5);
    let expected: Vec<i64> = (0..1000_i64)
        .flat_map(|x| {
            x.to_string()
                .bytes()
                .map(|b| (b - b'0') as i64)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(bag.flat_map(digits).compute(&r).unwrap(), expected);
    let freqs: HashMap<i64, u64> = bag
        .flat_map(digits)
        .frequencies()
        .compute(&r)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        freqs[&0],
        expected.iter().filter(|d| **d == 0).count() as u64
    );
    assert_eq!(bag.take(5, &r).unwrap(), [0, 1, 2, 3, 4]);
    let lens = Bag::from_sequence(["ab".to_string(), "cde".to_string()], 2).map(line_len);
    assert_eq!(lens.sum().compute(&r).unwrap(), 5);
    assert_eq!(
        Bag::<i64>::from_sequence(Vec::new(), 3)
            .count()
            .compute(&r)
            .unwrap(),
        0
    );
}

#[test]
fn errors_name_the_pattern_the_file_and_the_offset() {
    let (dir, _) = corpus("errors", 1, 5);
    let err = Bag::read_text(&format!("{}/nothing_*.txt", dir.display())).unwrap_err();
    assert!(err.to_string().contains("nothing_*.txt"), "{err}");
    std::fs::write(dir.join("bad.txt"), b"fine\nnot \xc3( fine\n").unwrap();
    let bag = Bag::read_text(&format!("{}/bad.txt", dir.display())).unwrap();
    let err = bag.count().compute(&runner()).unwrap_err().to_string();
    assert!(err.contains("bad.txt") && err.contains("byte 9"), "{err}");
    let lossy = TextOptions {
        lossy: true,
        ..TextOptions::default()
    };
    let bag = Bag::read_text_with(&format!("{}/bad.txt", dir.display()), &lossy).unwrap();
    assert_eq!(bag.count().compute(&runner()).unwrap(), 2);
    std::fs::write(
        dir.join("corrupt.gz"),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage",
    )
    .unwrap();
    let bag = Bag::read_text(&format!("{}/corrupt.gz", dir.display())).unwrap();
    let err = bag.count().compute(&runner()).unwrap_err().to_string();
    assert!(err.contains("corrupt.gz"), "{err}");
    let gone = dir.join("gone.txt");
    std::fs::write(&gone, b"x\n").unwrap();
    let bag = Bag::read_text(&gone.display().to_string()).unwrap();
    std::fs::remove_file(&gone).unwrap();
    let err = bag.count().compute(&runner()).unwrap_err().to_string();
    assert!(
        err.contains("gone.txt") && err.contains("No such file"),
        "{err}"
    );
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

#[remote]
fn last_digit(x: i64) -> i64 {
    x % 10
}

#[test]
fn foldby_and_groupby_shuffle_across_partitions() {
    let (dir, lines) = corpus("group", 3, 200);
    let words = Bag::read_text(&format!("{}/lines_*", dir.display()))
        .unwrap()
        .flat_map(split_words);
    let mut expected: HashMap<u64, u64> = HashMap::new();
    for word in lines.iter().flat_map(|l| l.split_whitespace()) {
        *expected.entry(word.len() as u64).or_default() += 1;
    }
    let folded = words.foldby(word_len, count_one, 0_u64, add_u64);
    assert_eq!(folded.npartitions(), 3);
    let got: HashMap<u64, u64> = folded.compute(&runner()).unwrap().into_iter().collect();
    assert_eq!(got, expected);

    let numbers = Bag::from_sequence(0..500_i64, 4);
    let mut groups = numbers.groupby(last_digit).compute(&runner()).unwrap();
    assert_eq!(groups.len(), 10);
    groups.sort();
    for (digit, mut values) in groups {
        values.sort();
        let expected: Vec<i64> = (0..500).filter(|x| x % 10 == digit).collect();
        assert_eq!(values, expected);
    }
}

#[remote]
fn longest(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .max_by_key(String::len)
        .into_iter()
        .collect()
}

#[remote]
fn add_i64(a: i64, b: i64) -> i64 {
    a + b
}

#[remote]
fn sum_list(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[test]
fn partition_functions_fold_reduction_distinct_repartition() {
    let r = runner();
    let numbers = Bag::from_sequence(1..=100_i64, 6).split_every(2);
    assert_eq!(
        numbers.fold(add_i64, 0_i64, add_i64).compute(&r).unwrap(),
        5050
    );
    assert_eq!(
        numbers.reduction(sum_list, sum_list).compute(&r).unwrap(),
        5050
    );
    let words = Bag::from_sequence(["b", "a", "b", "c", "a"].map(String::from), 2);
    assert_eq!(words.distinct().compute(&r).unwrap(), ["a", "b", "c"]);
    let mut seen = numbers.flat_map(digits).distinct().compute(&r).unwrap();
    seen.sort();
    assert_eq!(seen, (0..10).collect::<Vec<i64>>());
    for n in [1, 4, 6, 13] {
        let re = numbers.repartition(n);
        assert_eq!(re.npartitions(), n);
        assert_eq!(re.compute(&r).unwrap(), (1..=100).collect::<Vec<i64>>());
    }
    let lines = Bag::from_sequence(["a", "abc", "ab", "abcd"].map(String::from), 2);
    assert_eq!(
        lines.map_partitions(longest).compute(&r).unwrap(),
        ["abc", "abcd"]
    );
}

#[test]
fn textfiles_round_trip_with_gzip_and_zstd_input() {
    let r = runner();
    let (dir, lines) = corpus("write", 2, 100);
    let bag = Bag::read_text(&format!("{}/lines_*", dir.display())).unwrap();
    let out = dir.join("out");
    let pattern = format!("{}/part-*.txt.gz", out.display());
    assert_eq!(
        bag.to_textfiles(&pattern).compute(&r).unwrap(),
        lines.len() as u64
    );
    let back = Bag::read_text(&pattern).unwrap();
    assert_eq!(back.npartitions(), 2);
    assert_eq!(back.compute(&r).unwrap(), lines);
    let text = lines.join("\n") + "\n";
    let zst = ruzstd::encoding::compress_to_vec(
        text.as_bytes(),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    std::fs::write(dir.join("all.zst"), zst).unwrap();
    let zst = Bag::read_text(&format!("{}/all.zst", dir.display())).unwrap();
    assert_eq!(zst.compute(&r).unwrap(), lines);
}

#[remote]
fn text_len(line: String) -> usize {
    line.len()
}

#[remote]
fn negate(x: i64) -> i64 {
    -x
}

#[test]
fn topk_by_ranks_by_key_with_stable_ties() {
    let r = runner();
    let lines = Bag::from_sequence(["bb", "a", "cc", "ddd", "e"].map(String::from), 3);
    assert_eq!(
        lines.topk_by(3, text_len).compute(&r).unwrap(),
        ["ddd", "bb", "cc"]
    );
    let numbers = Bag::from_sequence(0..50_i64, 4);
    assert_eq!(numbers.topk_by(2, negate).compute(&r).unwrap(), [0, 1]);
}

#[test]
fn pluck_takes_components_of_pairs_from_their_encoding() {
    let r = runner();
    let words = Bag::from_sequence(["b", "a", "b"].map(String::from), 2);
    let mut keys = words.frequencies().pluck::<0>().compute(&r).unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    let mut counts = words.frequencies().pluck::<1>().compute(&r).unwrap();
    counts.sort();
    assert_eq!(counts, [1, 2]);
    let pairs = Bag::from_sequence([(300_i64, 1.5_f64), (-2, 2.5), (7, -1.0)], 2);
    assert_eq!(pairs.pluck::<0>().compute(&r).unwrap(), [300, -2, 7]);
    assert_eq!(pairs.pluck::<1>().compute(&r).unwrap(), [1.5, 2.5, -1.0]);
    let nested = Bag::from_sequence([("k".to_string(), vec![1_u64, 2])], 1);
    assert_eq!(nested.pluck::<1>().compute(&r).unwrap(), [vec![1, 2]]);
    let groups = Bag::from_sequence(0..20_i64, 3)
        .groupby(last_digit)
        .pluck::<0>();
    assert_eq!(groups.count().compute(&r).unwrap(), 10);
}
