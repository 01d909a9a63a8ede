//! Copies the scheduler asks for: fetched like inputs, kept, reported copied or failed; a
//! key held already or already on its way is not fetched twice.

use super::*;

#[test]
fn a_copy_is_fetched_kept_and_reported() {
    let mut sim = Sim::new();
    let sent = sim.acquire(&[("x", &[W2]), ("y", &[W3, W2])]);
    let orders = fetches(&sent);
    assert_eq!(orders.len(), 2, "one request per holder: {orders:?}");
    assert_eq!(sim.state.acquiring_count(), 2);
    let sent = sim.fetched(&orders[0], &["x"]);
    let nbytes = bytes(10).len() as u64;
    assert_eq!(reports(&sent), vec![replica("x", nbytes)]);
    assert!(sim.state.get(&key("x")).is_some(), "x is kept");
    assert!(runs(&sent).is_empty());
    assert_eq!(sim.state.acquiring_count(), 1);
}

#[test]
fn a_copy_that_does_not_come_is_reported_failed() {
    let mut sim = Sim::new();
    let sent = sim.acquire(&[("x", &[W2])]);
    let orders = fetches(&sent);
    let sent = sim.fetched(&orders[0], &[]);
    let failed = TaskEvent::CopyFailed {
        key: key("x"),
        holder: W2,
    };
    assert_eq!(reports(&sent), vec![failed]);
    let sent = sim.acquire(&[("y", &[W3])]);
    let sent = sim.fetch_failed(fetches(&sent)[0].id);
    assert!(matches!(
        &reports(&sent)[..],
        [TaskEvent::CopyFailed { holder: W3, .. }]
    ));
    assert_eq!(sim.state.acquiring_count(), 0);
}

#[test]
fn a_key_held_here_is_reported_at_once_and_a_holder_without_address_fails() {
    let mut sim = Sim::new();
    sim.hold("x", 8);
    let sent = sim.acquire(&[("x", &[W2]), ("z", &[NOWHERE])]);
    assert!(fetches(&sent).is_empty());
    let events = reports(&sent);
    assert!(matches!(&events[0], TaskEvent::Copied { key: k, .. } if *k == key("x")));
    assert!(matches!(&events[1], TaskEvent::CopyFailed { holder, .. } if *holder == WorkerId(0)));
}

#[test]
fn a_copy_of_an_input_on_its_way_is_not_fetched_twice() {
    let mut sim = Sim::new();
    let sent = sim.compute(vec![TaskBuilder::new("a").input("x", &[W2])]);
    let orders = fetches(&sent);
    assert!(fetches(&sim.acquire(&[("x", &[W2])])).is_empty());
    let sent = sim.fetched(&orders[0], &["x"]);
    assert_eq!(reports(&sent).len(), 1, "one copy reported: {sent:?}");
    assert_eq!(runs(&sent), keys(&["a"]));
}
