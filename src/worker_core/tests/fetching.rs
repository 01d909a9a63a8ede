//! Inputs: fetched once, grouped by holder, from the first holder with an address; tasks start
//! when their last input lands; inputs that do not come drop the tasks that need them.

use super::*;

#[test]
fn a_task_without_inputs_runs_at_once() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a")]);
    assert_eq!(sent, vec![Sent::Run(key("a"), 0)]);
    assert_eq!(sim.state.running_count(), 1);
}

#[test]
fn an_input_held_here_is_read_from_memory_not_fetched() {
    let mut sim = Sim::new();
    sim.hold("x", 8);
    let sent = sim.compute(vec![TaskBuilder::new("a").input("x", &[ME])]);
    assert_eq!(sent, vec![Sent::Run(key("a"), 1)]);
}

#[test]
fn inputs_are_fetched_once_in_one_request_per_holder() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![
        TaskBuilder::new("a").input("x", &[W2]).input("y", &[W2]),
        TaskBuilder::new("b").input("x", &[W2]).input("z", &[W3]),
    ]);
    let orders = fetches(&sent);
    assert_eq!(orders.len(), 2, "x and y to w2, then z to w3: {orders:?}");
    assert_eq!((orders[0].holder, orders[0].addr), (W2, addr(W2)));
    assert_eq!(orders[0].keys, keys(&["x", "y"]));
    assert_eq!((orders[1].holder, &orders[1].keys), (W3, &keys(&["z"])));
    assert_eq!(sim.state.waiting_count(), 2);
    assert_eq!(sim.state.fetches_in_flight(), 2);
}

#[test]
fn a_task_starts_when_its_last_input_lands_and_copies_are_reported() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![
        TaskBuilder::new("a").input("x", &[W2]),
        TaskBuilder::new("b").input("x", &[W2]).input("z", &[W3]),
    ]);
    let orders = fetches(&sent);
    let sent = sim.fetched(&orders[0], &["x"]);
    let nbytes = bytes(10).len() as u64;
    assert_eq!(reports(&sent), vec![replica("x", nbytes)]);
    assert_eq!(runs(&sent), keys(&["a"]), "b still misses z");
    let sent = sim.fetched(&orders[1], &["z"]);
    assert_eq!(runs(&sent), keys(&["b"]));
    assert_eq!(sim.state.peer_bytes_in(), 2 * nbytes);
    assert_eq!(sim.state.fetches_in_flight(), 0);
}

#[test]
fn the_first_holder_with_a_known_address_is_asked() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a").input("x", &[NOWHERE, W3, W2])]);
    let orders = fetches(&sent);
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].holder, W3);
}

#[test]
fn an_input_without_a_reachable_holder_drops_the_task_at_once() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a")
        .input("x", &[NOWHERE])
        .input("y", &[W2])]);
    assert_eq!(
        reports(&sent),
        vec![missing("a", "x", WorkerId(0))],
        "the scheduler places a again"
    );
    // y is still fetched: what arrives is kept and reported, so the scheduler can use it.
    let orders = fetches(&sent);
    assert_eq!(orders[0].keys, keys(&["y"]));
    let sent = sim.fetched(&orders[0], &["y"]);
    assert!(runs(&sent).is_empty());
    assert_eq!(reports(&sent).len(), 1);
    assert!(sim.state.get(&key("y")).is_some());
}

#[test]
fn an_input_the_holder_lacks_drops_every_task_that_needs_it() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![
        TaskBuilder::new("a").input("x", &[W2]).input("y", &[W2]),
        TaskBuilder::new("b").input("x", &[W2]),
    ]);
    let orders = fetches(&sent);
    let sent = sim.fetched(&orders[0], &["y"]);
    let mut got = reports(&sent);
    got.sort_by_key(|event| format!("{event:?}"));
    let nbytes = bytes(10).len() as u64;
    let mut expected = vec![
        missing("a", "x", W2),
        missing("b", "x", W2),
        replica("y", nbytes),
    ];
    expected.sort_by_key(|event| format!("{event:?}"));
    assert_eq!(got, expected);
    assert!(runs(&sent).is_empty());
    assert_eq!(sim.state.waiting_count(), 0);
}

#[test]
fn a_failed_fetch_reports_the_waiting_tasks_with_the_holder() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![
        TaskBuilder::new("a").input("x", &[W2]).input("z", &[W3]),
        TaskBuilder::new("b").input("z", &[W3]),
    ]);
    let orders = fetches(&sent);
    let sent = sim.fetch_failed(orders[1].id);
    assert_eq!(reports(&sent).len(), 2);
    assert!(reports(&sent).contains(&missing("a", "z", W3)));
    assert!(reports(&sent).contains(&missing("b", "z", W3)));
    // x still lands, and nothing runs: a is gone.
    let sent = sim.fetched(&orders[0], &["x"]);
    assert!(runs(&sent).is_empty());
    // A failed input is fetched again when a task asks for it again.
    let sent = sim.compute(vec![TaskBuilder::new("b").input("z", &[W2])]);
    assert_eq!(fetches(&sent)[0].holder, W2);
}

#[test]
fn a_value_put_by_a_peer_serves_as_an_input() {
    let mut sim = Sim::new();
    let mut sizes = Vec::new();
    sim.step(|s, out| sizes = s.on_put(vec![(key("x"), bytes(5))], out));
    assert_eq!(sizes, vec![bytes(5).len() as u64]);
    let sent = sim.compute(vec![TaskBuilder::new("a").input("x", &[ME])]);
    assert_eq!(sent, vec![Sent::Run(key("a"), 1)]);
}

#[test]
fn a_peer_cannot_overwrite_a_value_held_here() {
    let mut sim = Sim::new();
    let mut sizes = Vec::new();
    sim.step(|s, out| sizes = s.on_put(vec![(key("x"), bytes(5))], out));
    let first = sim.state.get(&key("x")).map(|held| format!("{held:?}"));
    sim.step(|s, out| sizes = s.on_put(vec![(key("x"), bytes(9)), (key("y"), bytes(2))], out));
    assert_eq!(
        sizes,
        vec![bytes(5).len() as u64, bytes(2).len() as u64],
        "x keeps its first value; y is new"
    );
    assert_eq!(
        sim.state.get(&key("x")).map(|held| format!("{held:?}")),
        first
    );
}
