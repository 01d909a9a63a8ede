//! Unit tests of the threaded scheduler on small graphs of the test functions in
//! `graph::testing`.

use super::Threaded;
use crate::graph::testing::{add, boom, checked_half, inc, reads, sum_all};
use crate::graph::{key, task, Graph};
use crate::ids::{TaskKey, WorkerId};
use crate::Error;

fn chain(len: i64) -> Graph {
    let mut graph = Graph::new();
    graph.insert(key!("c", 0), task!(inc, 0));
    for i in 1..len {
        graph.insert(key!("c", i), task!(inc, key!("c", i - 1)));
    }
    graph
}

#[test]
fn values_come_back_in_the_order_asked() {
    let mut graph = chain(5);
    graph.insert("sum", task!(add, key!("c", 4), key!("c", 0)));
    for nthreads in [1, 3] {
        let threaded = Threaded::new(nthreads);
        let out: Vec<i64> = threaded
            .get(&graph, [key!("sum"), key!("c", 2), key!("sum")])
            .unwrap();
        assert_eq!(out, vec![6, 3, 6]);
        assert_eq!(threaded.get::<i64, _>(&graph, "sum").unwrap(), 6);
    }
}

#[test]
fn intermediates_are_dropped_once_read() {
    let (_, stats) = Threaded::new(2)
        .run_with_stats(&chain(100), &[key!("c", 99)])
        .unwrap();
    assert_eq!(stats.tasks_run, 100);
    assert!(stats.peak_values <= 2, "{stats:?}");
    assert!(stats.peak_bytes <= 2 * 8, "{stats:?}");
}

#[test]
fn only_what_the_outputs_need_runs() {
    let mut graph = chain(3);
    graph.insert("unneeded", task!(boom, 1));
    graph.insert("broken", reads(&["nowhere"]));
    let (values, stats) = Threaded::new(2)
        .run_with_stats(&graph, &[key!("c", 1)])
        .unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!((stats.tasks_run, stats.peak_values), (2, 1), "{stats:?}");
}

#[test]
fn a_panic_in_an_output_is_panicked_with_its_message() {
    let mut graph = Graph::new();
    graph.insert("x", task!(boom, 7));
    let err = super::get::<i64, _>(&graph, "x").unwrap_err();
    let Error::Panicked {
        key,
        worker,
        message,
        function,
    } = &err
    else {
        panic!("expected a panic, got {err}");
    };
    assert_eq!(
        (key.as_str(), *worker, message.as_str()),
        ("x", WorkerId(0), "boom at 7")
    );
    assert!(function.ends_with("boom"), "{function}");
}

#[test]
fn a_failed_intermediate_names_the_output_and_the_root() {
    let mut graph = Graph::new();
    graph.insert("odd", task!(checked_half, 3));
    graph.insert("after", task!(inc, key!("odd")));
    graph.insert("out", task!(inc, key!("after")));
    let err = Threaded::new(2).run(&graph, &[key!("out")]).unwrap_err();
    let Error::DependencyFailed {
        key,
        root_key,
        cause,
    } = &err
    else {
        panic!("expected a dependency failure, got {err}");
    };
    assert_eq!((key.as_str(), root_key.as_str()), ("out", "odd"));
    assert!(cause.to_string().contains("3 is odd"), "{cause}");
    let err = Threaded::new(2).run(&graph, &[key!("odd")]).unwrap_err();
    assert!(matches!(&err, Error::Failed { message, .. } if message == "3 is odd"));
}

#[test]
fn the_first_failure_in_priority_order_is_reported() {
    let mut graph = Graph::new();
    for i in 0..20 {
        graph.insert(key!("half", i), task!(checked_half, 2 * i + i % 2));
    }
    let keys: Vec<TaskKey> = (0..20).map(|i| key!("half", i)).collect();
    graph.insert("total", task!(sum_all, keys.clone()));
    for _ in 0..5 {
        let err = Threaded::new(4).run(&graph, &[key!("total")]).unwrap_err();
        assert!(
            matches!(&err, Error::DependencyFailed { root_key, .. } if *root_key == key!("half", 1)),
            "{err}"
        );
    }
}

#[test]
fn unknown_functions_and_bad_graphs_fail_before_running() {
    let mut graph = Graph::new();
    graph.insert("a", reads(&[]));
    let err = Threaded::default().run(&graph, &[key!("a")]).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownFunction { function, .. } if function == "f"),
        "{err}"
    );

    graph.insert("a", task!(inc, key!("b")));
    graph.insert("b", task!(inc, key!("a")));
    let err = Threaded::default().run(&graph, &[key!("a")]).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");

    let err = Threaded::default().run(&graph, &[key!("zz")]).unwrap_err();
    assert!(err.to_string().contains("zz"), "{err}");

    graph.insert("a", task!(inc, key!("gone")));
    let err = Threaded::default().run(&graph, &[key!("a")]).unwrap_err();
    assert!(err.to_string().contains("gone"), "{err}");
}

#[test]
fn asking_for_the_wrong_type_names_the_key() {
    let err = super::get::<String, _>(&chain(1), key!("c", 0)).unwrap_err();
    assert!(
        matches!(&err, Error::Value { key, .. } if *key == key!("c", 0)),
        "{err}"
    );
}
