//! Dask-style task graphs end to end without a cluster: `key!` and `task!`, validation,
//! culling, ordering, and running on the local threaded scheduler (values, memory, errors).

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize, Serializer};
use taskforce::function::{ArgSpec, RemoteFunction};
use taskforce::graph::{key, task, Graph, GraphError};
use taskforce::ids::TaskKey;
use taskforce::threaded::{self, Threaded};
use taskforce::Error;

/// Deterministic pseudo-random numbers in [0, 1) (splitmix64).
#[taskforce::remote]
fn random_chunk(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as f64 / u64::MAX as f64
        })
        .collect()
}

#[taskforce::remote]
fn sum_chunk(x: &[f64]) -> f64 {
    x.iter().sum()
}

#[taskforce::remote]
fn sum_all(xs: Vec<f64>) -> f64 {
    xs.iter().sum()
}

#[taskforce::remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[taskforce::remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[taskforce::remote]
fn contains_word(line: &str, word: &str) -> bool {
    line.contains(word)
}

static COUNTED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[taskforce::remote]
fn counted_inc(x: i64) -> i64 {
    COUNTED_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[taskforce::remote]
fn explode(x: i64) -> i64 {
    panic!("exploded on {x}")
}

/// A value whose encoding always fails.
#[derive(Clone, Debug, Deserialize)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refuses to be encoded"))
    }
}

#[taskforce::remote]
fn takes_unencodable(value: Unencodable) -> usize {
    std::mem::size_of_val(&value)
}

const CHUNKS: u64 = 1000;
const CHUNK_LEN: usize = 4096;

/// The seed graph: `('x', i)` random chunks, `('sum', i)` their sums, `total` the sum of sums.
fn seed_graph() -> Graph {
    let mut dsk = Graph::new();
    for i in 0..CHUNKS {
        dsk.insert(key!("x", i), task!(random_chunk, i, CHUNK_LEN));
        dsk.insert(key!("sum", i), task!(sum_chunk, key!("x", i)));
    }
    let sums: Vec<TaskKey> = (0..CHUNKS).map(|i| key!("sum", i)).collect();
    dsk.insert("total", task!(sum_all, sums));
    dsk
}

fn type_of(spec: &ArgSpec) -> &str {
    match spec {
        ArgSpec::Value(value) => &value.type_name,
        other => panic!("expected a literal, got {other:?}"),
    }
}

#[test]
fn keys_are_strings_or_python_tuples() {
    assert_eq!(key!("x"), TaskKey::from("x"));
    assert_eq!(key!("x").as_str(), "x");
    assert_eq!(key!("x", 3).as_str(), "('x', 3)");
    assert_eq!(key!("x", 3_u8), key!("x", 3_i128));
    assert_eq!(key!("x", 1, "y", 2_usize).as_str(), "('x', 1, 'y', 2)");
    let mut dsk = Graph::new();
    dsk.insert("x", task!(inc, 1));
    dsk.insert(key!("y", 0), task!(inc, key!("x")));
    assert!(dsk.contains(&key!("x")) && dsk.contains(&TaskKey::from("('y', 0)")));
    assert_eq!(dsk.len(), 2);
}

#[test]
fn task_arguments_dispatch_on_their_types() {
    let t = task!(random_chunk, 7, 1_000);
    assert_eq!(
        (type_of(&t.args()[0]), type_of(&t.args()[1])),
        ("u64", "usize")
    );
    assert_eq!(t.short_name(), "random_chunk");
    assert_eq!(t.function(), random_chunk.function_id());

    let t = task!(add, key!("a"), 2);
    assert_eq!(t.args()[0], ArgSpec::Key(key!("a")));
    assert_eq!(type_of(&t.args()[1]), "i64");

    let keys = vec![key!("s", 0), key!("s", 1)];
    for t in [
        task!(sum_all, keys.clone()),
        task!(sum_all, &keys),
        task!(sum_all, &keys[..]),
        task!(sum_all, [key!("s", 0), key!("s", 1)]),
    ] {
        assert_eq!(t.args(), [ArgSpec::Keys(keys.clone())]);
        assert_eq!(t.dependencies(), keys);
    }
    let literal = task!(sum_all, vec![1.0, 2.0]);
    assert_eq!(type_of(&literal.args()[0]), "alloc::vec::Vec<f64>");

    let line = task!(contains_word, "not a key", "python");
    assert_eq!(type_of(&line.args()[0]), "alloc::string::String");
    assert!(line.dependencies().is_empty());

    let has_python = contains_word.bind(("python",));
    let t = task!(has_python, key!("line", 3));
    assert_eq!(t.args().len(), 2);
    assert_eq!(t.args()[0], ArgSpec::Key(key!("line", 3)));
    assert_eq!(type_of(&t.args()[1]), "alloc::string::String");
    assert_eq!(t.function(), contains_word.function_id());
}

#[test]
fn validation_names_the_keys_at_fault() {
    let mut dsk = Graph::new();
    dsk.insert("a", task!(inc, key!("c")));
    dsk.insert("b", task!(inc, key!("a")));
    dsk.insert("c", task!(inc, key!("b")));
    dsk.insert("d", task!(add, key!("a"), key!("missing")));
    let err = dsk.validate(&[key!("b")], &|_| false).unwrap_err();
    assert!(
        matches!(&err, GraphError::MissingDependency { key, needed_by }
            if key.as_str() == "missing" && needed_by.as_str() == "d"),
        "{err}"
    );
    let known = |key: &TaskKey| key.as_str() == "missing";
    let err = dsk.validate(&[key!("b")], &known).unwrap_err();
    let GraphError::Cycle { keys } = &err else {
        panic!("expected a cycle, got {err}");
    };
    assert_eq!(keys, &[key!("a"), key!("c"), key!("b")]);
    assert_eq!(err.to_string(), "dependency cycle: a -> c -> b -> a");
    let err = dsk.validate(&[key!("nope")], &known).unwrap_err();
    assert!(matches!(&err, GraphError::UnknownOutput { key } if key.as_str() == "nope"));
    assert!(err.to_string().contains("nope"));
}

#[test]
fn encoding_errors_surface_at_validation_not_as_panics() {
    let mut dsk = Graph::new();
    dsk.insert("bad", task!(takes_unencodable, Unencodable));
    let err = dsk.validate(&[key!("bad")], &|_| false).unwrap_err();
    assert!(
        matches!(&err, GraphError::Codec { key, .. } if key.as_str() == "bad"),
        "{err}"
    );
    let err = threaded::get::<usize, _>(&dsk, "bad").unwrap_err();
    assert!(matches!(err, Error::Codec(_)), "{err}");
}

#[test]
fn culling_keeps_only_what_the_outputs_need() {
    let dsk = seed_graph();
    let culled = dsk.cull(&[key!("sum", 3), key!("x", 5)]);
    let mut keys: Vec<&str> = culled.keys().map(TaskKey::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["('sum', 3)", "('x', 3)", "('x', 5)"]);
    assert_eq!(dsk.cull(&[key!("total")]).len(), dsk.len());
}

#[test]
fn the_order_finishes_each_chunk_before_the_next() {
    let order = seed_graph().order(&[key!("total")]);
    let mut ranked: Vec<(i64, TaskKey)> = order.into_iter().map(|(k, p)| (p, k)).collect();
    ranked.sort();
    let ranked: Vec<TaskKey> = ranked.into_iter().map(|(_, key)| key).collect();
    let mut expected: Vec<TaskKey> = (0..CHUNKS)
        .flat_map(|i| [key!("x", i), key!("sum", i)])
        .collect();
    expected.push(key!("total"));
    assert_eq!(ranked, expected);
}

#[test]
fn the_seed_graph_runs_locally_and_matches_the_plain_computation() {
    let sums: Vec<f64> = (0..CHUNKS)
        .map(|i| sum_chunk(&random_chunk(i, CHUNK_LEN)))
        .collect();
    let expected = sum_all(sums);
    let dsk = seed_graph();
    let total: f64 = threaded::get(&dsk, "total").unwrap();
    assert_eq!(total, expected);
    let [x0, total]: [f64; 2] = Threaded::new(2)
        .get(&dsk, [key!("sum", 0), key!("total")])
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        (x0, total),
        (sum_chunk(&random_chunk(0, CHUNK_LEN)), expected)
    );
}

#[test]
fn the_seed_graph_holds_few_chunks_at_once() {
    let dsk = seed_graph();
    let chunk_bytes = (CHUNK_LEN * 8) as u64;
    for nthreads in [1, 2, 4] {
        let (_, stats) = Threaded::new(nthreads)
            .run_with_stats(&dsk, &[key!("total")])
            .unwrap();
        assert_eq!(stats.tasks_run, 2 * CHUNKS as usize + 1);
        // Every sum waits for `total`; beyond those, only a few chunks are ever held.
        let chunks_held = stats.peak_values - CHUNKS as usize;
        assert!(
            chunks_held <= 2 * nthreads + 2,
            "{nthreads} threads: {stats:?}"
        );
        let bound = (2 * nthreads as u64 + 2) * chunk_bytes + CHUNKS * 16;
        assert!(stats.peak_bytes <= bound, "{nthreads} threads: {stats:?}");
    }
}

#[test]
fn a_panic_comes_back_as_panicked_with_its_message() {
    let mut dsk = Graph::new();
    dsk.insert("boom", task!(explode, 42));
    let err = threaded::get::<i64, _>(&dsk, "boom").unwrap_err();
    let Error::Panicked {
        function,
        key,
        message,
        ..
    } = &err
    else {
        panic!("expected a panic, got {err}");
    };
    assert_eq!(function, &*explode.function_id().name);
    assert_eq!((key.as_str(), message.as_str()), ("boom", "exploded on 42"));
    assert!(err.to_string().contains("exploded on 42"));
}

#[test]
fn dependents_of_a_failed_task_do_not_run() {
    let mut dsk = Graph::new();
    dsk.insert("boom", task!(explode, 1));
    dsk.insert("after", task!(counted_inc, key!("boom")));
    dsk.insert("out", task!(add, key!("after"), 1));
    let err = Threaded::new(2).get::<i64, _>(&dsk, "out").unwrap_err();
    let Error::DependencyFailed {
        key,
        root_key,
        cause,
    } = &err
    else {
        panic!("expected a dependency failure, got {err}");
    };
    assert_eq!((key.as_str(), root_key.as_str()), ("out", "boom"));
    assert!(cause.to_string().contains("exploded on 1"), "{cause}");
    assert_eq!(COUNTED_RUNS.load(Ordering::SeqCst), 0);
}
