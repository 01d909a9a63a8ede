//! Scenario tests of the coordination core: several clients, an injected clock, and the
//! invariants after each step (answers go to the right caller, keys are held and let go in
//! balance, idle names are forgotten).

use std::time::Duration;

use super::*;
use crate::ids::Set;
use crate::messages::coordination::{ItemKind, LeaseSpec};

const SEC: Duration = Duration::from_secs(1);

fn asker(client: u32, tag: u64) -> Asker {
    Asker {
        client: ClientId(client),
        tag: Some(tag),
    }
}

fn lock(lease: u64, timeout: Option<Duration>) -> CoordinationRequest {
    CoordinationRequest::Acquire {
        name: "db".into(),
        spec: LeaseSpec::Lock,
        lease,
        timeout,
    }
}

fn semaphore(max_leases: u32) -> LeaseSpec {
    LeaseSpec::Semaphore {
        max_leases,
        lease_timeout: 10 * SEC,
    }
}

fn replies(effects: &Effects) -> Vec<(u32, CoordinationReply)> {
    effects
        .answers
        .iter()
        .map(|a| (a.to.client.0, a.reply.clone()))
        .collect()
}

fn is_timeout(reply: &CoordinationReply) -> bool {
    matches!(
        reply,
        CoordinationReply::Failed(CoordinationError::Timeout { .. })
    )
}

#[test]
fn lock_is_exclusive_and_passes_to_the_oldest_waiter() {
    let mut c = Coordination::default();
    let t0 = Duration::ZERO;
    assert_eq!(
        replies(&c.on_request(asker(1, 1), lock(10, None), t0)),
        [(1, CoordinationReply::Done)]
    );
    assert!(c
        .on_request(asker(2, 1), lock(20, None), t0)
        .answers
        .is_empty());
    assert!(c
        .on_request(asker(3, 1), lock(30, None), t0)
        .answers
        .is_empty());
    let release = CoordinationRequest::Release {
        name: "db".into(),
        spec: LeaseSpec::Lock,
        lease: 10,
    };
    let out = c.on_request(asker(1, 2), release, SEC);
    assert_eq!(
        replies(&out),
        [(1, CoordinationReply::Done), (2, CoordinationReply::Done)]
    );
    // releasing again: not held
    let release = CoordinationRequest::Release {
        name: "db".into(),
        spec: LeaseSpec::Lock,
        lease: 10,
    };
    let out = c.on_request(asker(1, 3), release, SEC);
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::NotHeld { .. })
    ));
    assert_eq!(c.counts().locks, 1);
}

#[test]
fn acquire_times_out_on_tick_and_zero_timeout_fails_at_once() {
    let mut c = Coordination::default();
    c.on_request(asker(1, 1), lock(10, None), Duration::ZERO);
    let out = c.on_request(asker(2, 1), lock(20, Some(Duration::ZERO)), Duration::ZERO);
    assert!(is_timeout(&replies(&out)[0].1));
    assert!(c
        .on_request(asker(2, 2), lock(20, Some(2 * SEC)), Duration::ZERO)
        .answers
        .is_empty());
    assert!(c.on_tick(SEC).answers.is_empty());
    let out = c.on_tick(3 * SEC);
    assert_eq!(out.answers.len(), 1);
    assert_eq!(out.answers[0].to, asker(2, 2));
    let CoordinationReply::Failed(error) = &out.answers[0].reply else {
        panic!("{out:?}")
    };
    assert_eq!(
        error.to_string(),
        "lock \"db\": acquire timed out after 3.0 s"
    );
}

#[test]
fn reacquiring_a_held_lock_is_refused() {
    let mut c = Coordination::default();
    c.on_request(asker(1, 1), lock(10, None), Duration::ZERO);
    let out = c.on_request(asker(1, 2), lock(10, None), Duration::ZERO);
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::AlreadyHeld { .. })
    ));
}

#[test]
fn a_disconnected_holder_frees_its_lock_and_drops_its_waits() {
    let mut c = Coordination::default();
    c.on_request(asker(1, 1), lock(10, None), Duration::ZERO);
    c.on_request(asker(3, 1), lock(30, None), Duration::ZERO);
    c.on_request(asker(2, 1), lock(20, None), Duration::ZERO);
    c.on_client_removed(ClientId(3), SEC);
    let out = c.on_client_removed(ClientId(1), SEC);
    assert_eq!(replies(&out), [(2, CoordinationReply::Done)]);
}

#[test]
fn semaphore_leases_expire_without_refresh() {
    let mut c = Coordination::default();
    let acquire = |lease| CoordinationRequest::Acquire {
        name: "s".into(),
        spec: semaphore(2),
        lease,
        timeout: None,
    };
    c.on_request(asker(1, 1), acquire(1), Duration::ZERO);
    c.on_request(asker(2, 1), acquire(2), Duration::ZERO);
    assert!(c
        .on_request(asker(3, 1), acquire(3), Duration::ZERO)
        .answers
        .is_empty());
    let refresh = CoordinationRequest::Refresh {
        name: "s".into(),
        leases: vec![2],
    };
    c.on_request(
        Asker {
            client: ClientId(2),
            tag: None,
        },
        refresh,
        8 * SEC,
    );
    let out = c.on_tick(11 * SEC);
    assert_eq!(replies(&out), [(3, CoordinationReply::Done)]);
    assert_eq!(out.expired.len(), 1);
    assert_eq!(out.expired[0].client, ClientId(1));
    let held = CoordinationRequest::Held {
        name: "s".into(),
        spec: semaphore(2),
    };
    assert_eq!(
        replies(&c.on_request(asker(4, 1), held, 11 * SEC))[0].1,
        CoordinationReply::Count(2)
    );
    // a refresh by another client does not keep a lease alive
    let refresh = CoordinationRequest::Refresh {
        name: "s".into(),
        leases: vec![3],
    };
    c.on_request(
        Asker {
            client: ClientId(9),
            tag: None,
        },
        refresh,
        20 * SEC,
    );
    assert_eq!(c.on_tick(22 * SEC).expired.len(), 2);
    assert_eq!(c.counts().semaphores, 0);
}

#[test]
fn semaphore_settings_must_agree() {
    let mut c = Coordination::default();
    let acquire = |spec, lease| CoordinationRequest::Acquire {
        name: "s".into(),
        spec,
        lease,
        timeout: None,
    };
    c.on_request(asker(1, 1), acquire(semaphore(2), 1), Duration::ZERO);
    let out = c.on_request(asker(2, 1), acquire(semaphore(3), 2), Duration::ZERO);
    let CoordinationReply::Failed(CoordinationError::Conflict { reason, .. }) = &replies(&out)[0].1
    else {
        panic!("{out:?}")
    };
    assert!(reason.contains("it has 2 leases"), "{reason}");
    let out = c.on_request(asker(2, 2), acquire(semaphore(0), 2), Duration::ZERO);
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::Conflict { .. })
    ));
}

fn put(item: Item, timeout: Option<Duration>) -> CoordinationRequest {
    CoordinationRequest::Put {
        name: "q".into(),
        item,
        maxsize: 2,
        timeout,
    }
}

fn get(kind: ItemKind, timeout: Option<Duration>) -> CoordinationRequest {
    CoordinationRequest::Get {
        name: "q".into(),
        kind,
        timeout,
    }
}

#[test]
fn queue_is_fifo_bounded_and_hands_items_to_waiting_getters() {
    let mut c = Coordination::default();
    let t0 = Duration::ZERO;
    assert!(c
        .on_request(asker(2, 1), get(ItemKind::Value, Some(5 * SEC)), t0)
        .answers
        .is_empty());
    let out = c.on_request(asker(1, 1), put(Item::Value(vec![1]), None), t0);
    assert_eq!(
        replies(&out),
        [
            (2, CoordinationReply::Item(Item::Value(vec![1]))),
            (1, CoordinationReply::Done)
        ]
    );
    c.on_request(asker(1, 2), put(Item::Value(vec![2]), None), t0);
    c.on_request(asker(1, 3), put(Item::Value(vec![3]), None), t0);
    // full: the next put waits, and a zero-timeout put fails at once
    assert!(c
        .on_request(asker(1, 4), put(Item::Value(vec![4]), Some(5 * SEC)), t0)
        .answers
        .is_empty());
    let out = c.on_request(
        asker(3, 1),
        put(Item::Value(vec![5]), Some(Duration::ZERO)),
        t0,
    );
    assert!(is_timeout(&replies(&out)[0].1));
    let out = c.on_request(asker(2, 2), get(ItemKind::Value, None), SEC);
    assert_eq!(
        replies(&out),
        [
            (2, CoordinationReply::Item(Item::Value(vec![2]))),
            (1, CoordinationReply::Done)
        ]
    );
    let len = CoordinationRequest::QueueLen { name: "q".into() };
    assert_eq!(
        replies(&c.on_request(asker(2, 3), len, SEC))[0].1,
        CoordinationReply::Count(2)
    );
    assert_eq!(c.counts().held_bytes, 2);
    for expected in [3, 4] {
        let out = c.on_request(asker(2, 4), get(ItemKind::Value, None), SEC);
        assert_eq!(
            replies(&out),
            [(2, CoordinationReply::Item(Item::Value(vec![expected])))]
        );
    }
    let out = c.on_request(asker(2, 5), get(ItemKind::Value, Some(SEC)), SEC);
    assert!(out.answers.is_empty());
    assert!(is_timeout(&c.on_tick(2 * SEC).answers[0].reply));
    assert_eq!(c.counts(), Counts::default());
}

#[test]
fn queued_futures_are_held_then_handed_over() {
    let mut c = Coordination::default();
    let key = TaskKey::new("inc-1");
    let out = c.on_request(
        asker(1, 1),
        put(Item::Future(key.clone()), None),
        Duration::ZERO,
    );
    assert_eq!(out.keys, [KeyEffect::Hold(key.clone())]);
    c.on_request(
        asker(1, 2),
        put(Item::Future(key.clone()), None),
        Duration::ZERO,
    );
    // a value asked for where a future is: refused, the item stays
    let out = c.on_request(asker(2, 1), get(ItemKind::Value, None), Duration::ZERO);
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::WrongItem { .. })
    ));
    let out = c.on_request(asker(2, 2), get(ItemKind::Future, None), Duration::ZERO);
    assert_eq!(out.keys, [KeyEffect::HandOver(ClientId(2), key.clone())]);
    let out = c.on_request(asker(2, 3), get(ItemKind::Future, None), Duration::ZERO);
    assert_eq!(
        out.keys,
        [
            KeyEffect::HandOver(ClientId(2), key.clone()),
            KeyEffect::Unhold(key)
        ]
    );
    assert_eq!(c.counts(), Counts::default());
}

#[test]
fn a_timed_out_put_lets_its_future_go() {
    let mut c = Coordination::default();
    for tag in 0..2 {
        c.on_request(
            asker(1, tag),
            put(Item::Value(vec![0]), None),
            Duration::ZERO,
        );
    }
    let key = TaskKey::new("k");
    c.on_request(
        asker(1, 9),
        put(Item::Future(key.clone()), Some(SEC)),
        Duration::ZERO,
    );
    let out = c.on_tick(2 * SEC);
    assert_eq!(out.keys, [KeyEffect::Unhold(key)]);
    assert!(is_timeout(&out.answers[0].reply));
}

#[test]
fn queue_and_store_bounds_refuse_at_once() {
    let limits = Limits {
        max_item_bytes: 4,
        max_held_bytes: 6,
        max_waiters: 1,
        ..Limits::default()
    };
    let mut c = Coordination::with_limits(limits);
    let out = c.on_request(
        asker(1, 1),
        put(Item::Value(vec![0; 5]), None),
        Duration::ZERO,
    );
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::TooLarge { nbytes: 5, .. })
    ));
    c.on_request(
        asker(1, 2),
        put(Item::Value(vec![0; 4]), None),
        Duration::ZERO,
    );
    let out = c.on_request(
        asker(1, 3),
        put(Item::Value(vec![0; 4]), None),
        Duration::ZERO,
    );
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::OutOfSpace { .. })
    ));
    let wait = |c: &mut Coordination, client| {
        let request = CoordinationRequest::WaitEvent {
            name: "e".into(),
            timeout: None,
        };
        c.on_request(asker(client, 1), request, Duration::ZERO)
    };
    assert!(wait(&mut c, 1).answers.is_empty());
    let out = wait(&mut c, 2);
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::TooManyWaiters { limit: 1, .. })
    ));
    let limits = Limits {
        max_names: 1,
        ..Limits::default()
    };
    let mut c = Coordination::with_limits(limits);
    c.on_request(asker(1, 1), lock(1, None), Duration::ZERO);
    let other = CoordinationRequest::Acquire {
        name: "other".into(),
        spec: LeaseSpec::Lock,
        lease: 2,
        timeout: None,
    };
    let out = c.on_request(asker(1, 2), other, Duration::ZERO);
    assert!(matches!(
        &replies(&out)[0].1,
        CoordinationReply::Failed(CoordinationError::TooManyNames { .. })
    ));
}

#[test]
fn event_set_releases_every_waiter_until_cleared() {
    let mut c = Coordination::default();
    let wait = |timeout| CoordinationRequest::WaitEvent {
        name: "go".into(),
        timeout,
    };
    assert!(c
        .on_request(asker(1, 1), wait(None), Duration::ZERO)
        .answers
        .is_empty());
    assert!(c
        .on_request(asker(2, 1), wait(Some(SEC)), Duration::ZERO)
        .answers
        .is_empty());
    let out = c.on_request(
        asker(3, 1),
        CoordinationRequest::SetEvent { name: "go".into() },
        Duration::ZERO,
    );
    assert_eq!(
        replies(&out),
        [
            (1, CoordinationReply::Done),
            (2, CoordinationReply::Done),
            (3, CoordinationReply::Done)
        ]
    );
    assert_eq!(
        replies(&c.on_request(asker(4, 1), wait(Some(Duration::ZERO)), SEC)),
        [(4, CoordinationReply::Done)]
    );
    c.on_request(
        asker(3, 2),
        CoordinationRequest::ClearEvent { name: "go".into() },
        SEC,
    );
    assert_eq!(c.counts().events, 0);
    assert!(is_timeout(
        &replies(&c.on_request(asker(4, 2), wait(Some(Duration::ZERO)), SEC))[0].1
    ));
    let is_set = CoordinationRequest::IsEventSet { name: "go".into() };
    assert_eq!(
        replies(&c.on_request(asker(4, 3), is_set, SEC))[0].1,
        CoordinationReply::Flag(false)
    );
}

#[test]
fn variable_get_waits_for_set_and_replacing_a_future_unholds_it() {
    let mut c = Coordination::default();
    let get = |kind| CoordinationRequest::GetVariable {
        name: "v".into(),
        kind,
        timeout: Some(SEC),
    };
    let set = |item| CoordinationRequest::SetVariable {
        name: "v".into(),
        item,
    };
    assert!(c
        .on_request(asker(2, 1), get(ItemKind::Future), Duration::ZERO)
        .answers
        .is_empty());
    let key = TaskKey::new("k");
    let out = c.on_request(asker(1, 1), set(Item::Future(key.clone())), Duration::ZERO);
    assert_eq!(
        replies(&out),
        [
            (2, CoordinationReply::Item(Item::Future(key.clone()))),
            (1, CoordinationReply::Done)
        ]
    );
    assert_eq!(
        out.keys,
        [
            KeyEffect::Hold(key.clone()),
            KeyEffect::HandOver(ClientId(2), key.clone())
        ]
    );
    let out = c.on_request(asker(1, 2), set(Item::Value(vec![7])), Duration::ZERO);
    assert_eq!(out.keys, [KeyEffect::Unhold(key)]);
    let out = c.on_request(asker(2, 2), get(ItemKind::Value), Duration::ZERO);
    assert_eq!(
        replies(&out),
        [(2, CoordinationReply::Item(Item::Value(vec![7])))]
    );
    c.on_request(
        asker(1, 3),
        CoordinationRequest::DeleteVariable { name: "v".into() },
        Duration::ZERO,
    );
    assert_eq!(c.counts(), Counts::default());
    c.on_request(asker(2, 3), get(ItemKind::Value), Duration::ZERO);
    assert!(is_timeout(&c.on_tick(2 * SEC).answers[0].reply));
}

/// A small xorshift generator: replayable from its seed.
struct Walk(u64);

impl Walk {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn random_request(walk: &mut Walk, lease: u64) -> CoordinationRequest {
    let name = format!("n{}", walk.next(2));
    let timeout = [None, Some(Duration::ZERO), Some(SEC)][walk.next(3) as usize];
    let spec = [LeaseSpec::Lock, semaphore(2)][walk.next(2) as usize];
    let item = match walk.next(2) {
        0 => Item::Value(vec![walk.next(256) as u8]),
        _ => Item::Future(TaskKey::new(format!("k{}", walk.next(3)))),
    };
    let kind = [ItemKind::Value, ItemKind::Future][walk.next(2) as usize];
    match walk.next(11) {
        0 => CoordinationRequest::Acquire {
            name,
            spec,
            lease,
            timeout,
        },
        1 => CoordinationRequest::Release {
            name,
            spec,
            lease: lease.saturating_sub(walk.next(3)),
        },
        2 => CoordinationRequest::Refresh {
            name,
            leases: vec![lease.saturating_sub(walk.next(3))],
        },
        3 => CoordinationRequest::Put {
            name,
            item,
            maxsize: 2,
            timeout,
        },
        4 => CoordinationRequest::Get {
            name,
            kind,
            timeout,
        },
        5 => CoordinationRequest::SetEvent { name },
        6 => CoordinationRequest::ClearEvent { name },
        7 => CoordinationRequest::WaitEvent { name, timeout },
        8 => CoordinationRequest::SetVariable { name, item },
        9 => CoordinationRequest::GetVariable {
            name,
            kind,
            timeout,
        },
        _ => CoordinationRequest::DeleteVariable { name },
    }
}

/// Random requests, ticks and disconnections from four clients: every request is answered
/// at most once, never more leases are held than exist, and keys are held and let go in
/// turn, matching the core's own count.
#[test]
fn random_walks_keep_the_invariants() {
    let (mut grants, mut holds) = (0, 0);
    for seed in 1..200_u64 {
        let mut walk = Walk(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut c = Coordination::default();
        let mut answered: Set<(u32, u64)> = Set::default();
        let mut held: Set<TaskKey> = Set::default();
        let mut now = Duration::ZERO;
        for step in 0..300_u64 {
            let client = 1 + walk.next(4) as u32;
            let out = match walk.next(10) {
                0 => {
                    now += Duration::from_millis(400);
                    c.on_tick(now)
                }
                1 => c.on_client_removed(ClientId(client), now),
                _ => {
                    let request = random_request(&mut walk, step / 3);
                    c.on_request(asker(client, step), request, now)
                }
            };
            for answer in &out.answers {
                let tag = answer.to.tag.expect("every request here has a tag");
                assert!(
                    answered.insert((answer.to.client.0, tag)),
                    "seed {seed}: answered twice: {answer:?}"
                );
                grants += usize::from(answer.reply == CoordinationReply::Done);
            }
            for effect in &out.keys {
                match effect {
                    KeyEffect::Hold(key) => {
                        holds += 1;
                        assert!(held.insert(key.clone()), "seed {seed}: held twice")
                    }
                    KeyEffect::Unhold(key) => {
                        assert!(held.remove(key), "seed {seed}: unheld, not held")
                    }
                    KeyEffect::HandOver(..) => {}
                }
            }
            assert_eq!(c.counts().held_keys, held.len(), "seed {seed}");
            for name in ["n0", "n1"] {
                let lock = CoordinationRequest::Held {
                    name: name.into(),
                    spec: LeaseSpec::Lock,
                };
                let sem = CoordinationRequest::Held {
                    name: name.into(),
                    spec: semaphore(2),
                };
                let probe = Asker {
                    client: ClientId(99),
                    tag: None,
                };
                let count = |out: Effects| match &out.answers[0].reply {
                    CoordinationReply::Count(n) => *n,
                    other => panic!("{other:?}"),
                };
                assert!(count(c.on_request(probe, lock, now)) <= 1, "seed {seed}");
                assert!(count(c.on_request(probe, sem, now)) <= 2, "seed {seed}");
            }
        }
    }
    // the walk reaches the interesting paths, not only refusals
    assert!(
        grants > 1_000 && holds > 100,
        "grants {grants}, holds {holds}"
    );
}
