//! Seeded random event sequences (tasks with inputs on other workers, on this one or
//! nowhere; fetches answered, half answered or failed; jobs ending in values, errors and
//! panics; releases; values put by peers; a lost center), with every invariant checked after
//! each step. Every task asked and not released is reported exactly once, and only such
//! tasks (or fetched copies) are reported. A failing seed is printed; replay it alone with
//! `WORKER_WALK_SEED=<seed> cargo test --lib worker_core`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::*;
use crate::function::CallError;
use crate::ids::Set;

/// The memory limit of the walks with one: a few of the walk's values.
const LIMIT: u64 = 100;

/// A small deterministic generator (SplitMix64), so failures replay from the seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn take<T>(&mut self, items: &mut Vec<T>) -> Option<T> {
        (!items.is_empty()).then(|| items.swap_remove(self.below(items.len())))
    }
}

struct Walk {
    sim: Sim,
    dice: Dice,
    /// Jobs on the "threads", including those asked by a center since lost.
    jobs: Vec<TaskKey>,
    /// Fetches not answered yet, including those made for a center since lost.
    fetches: Vec<FetchOrder>,
    /// Tasks asked and not yet reported nor released.
    outstanding: Set<TaskKey>,
    /// Keys ever asked of a peer: their copies may be reported.
    fetched_keys: Set<TaskKey>,
    next_task: usize,
}

impl Walk {
    fn new(seed: u64) -> Self {
        Walk {
            // Odd seeds run with a memory limit of a few values, so values spill and read
            // back and the worker pauses and resumes all along the walk.
            sim: match seed % 2 {
                0 => Sim::new(),
                _ => Sim::with_memory(crate::worker_core::MemoryPolicy::new(LIMIT)),
            },
            dice: Dice(seed),
            jobs: Vec::new(),
            fetches: Vec::new(),
            outstanding: Set::default(),
            fetched_keys: Set::default(),
            next_task: 0,
        }
    }

    fn absorb(&mut self, sent: Vec<Sent>) {
        for sent in sent {
            match sent {
                Sent::Run(key, _) => {
                    assert!(self.outstanding.contains(&key), "ran {key}, not asked");
                    self.jobs.push(key);
                }
                Sent::Fetch(order) => {
                    self.fetched_keys.extend(order.keys.iter().cloned());
                    self.fetches.push(order);
                }
                Sent::Report(event) => self.check_report(event),
                Sent::Offer(key, _) => assert!(
                    !self.outstanding.contains(&key),
                    "offered {key}, which the current center asked for"
                ),
                Sent::Spill(_) | Sent::ReadBack(_) | Sent::DropSpilled(_) => {}
            }
        }
    }

    fn check_report(&mut self, event: TaskEvent) {
        let key = match &event {
            TaskEvent::Finished { key, .. }
            | TaskEvent::Erred { key, .. }
            | TaskEvent::MissingDependency { key, .. }
            | TaskEvent::Seceded { key }
            | TaskEvent::Copied { key, .. }
            | TaskEvent::CopyFailed { key, .. }
            | TaskEvent::StealAnswer { key, .. } => key.clone(),
        };
        if self.outstanding.remove(&key) {
            return;
        }
        let (copy, kind) = match &event {
            TaskEvent::Finished { .. } => (false, "finished"),
            TaskEvent::Copied { .. } => (true, "copied"),
            TaskEvent::CopyFailed { .. } => (false, "copy failed"),
            TaskEvent::Erred { .. } => (false, "erred"),
            TaskEvent::MissingDependency { .. } => (false, "missing a dependency"),
            TaskEvent::Seceded { .. } => (false, "seceded"),
            TaskEvent::StealAnswer { .. } => (false, "answered a steal"),
        };
        assert!(
            copy && self.fetched_keys.contains(&key),
            "reported {key} as {kind}, which nobody waits for"
        );
    }

    /// An input: data on a peer (or on no reachable one), or a task's value held here.
    fn input(&mut self) -> (String, Vec<WorkerId>) {
        let held: Vec<TaskKey> = (0..self.next_task)
            .map(|n| key(&format!("t{n}")))
            .filter(|k| self.sim.state.get(k).is_some() && !self.outstanding.contains(k))
            .collect();
        if !held.is_empty() && self.dice.below(3) == 0 {
            let pick = held[self.dice.below(held.len())].to_string();
            return (pick, vec![ME]);
        }
        let holders = [
            vec![W2],
            vec![W3],
            vec![NOWHERE, W3],
            vec![NOWHERE],
            vec![ME],
        ];
        let holders = holders[self.dice.below(holders.len())].clone();
        (format!("d{}", self.dice.below(8)), holders)
    }

    fn compute(&mut self) {
        let mut tasks = Vec::new();
        let mut batch = Set::default();
        for _ in 0..1 + self.dice.below(3) {
            let name = if self.next_task > 0 && self.dice.below(5) == 0 {
                format!("t{}", self.dice.below(self.next_task))
            } else {
                self.next_task += 1;
                format!("t{}", self.next_task - 1)
            };
            // The scheduler sends a key at most once per batch.
            if !batch.insert(name.clone()) {
                continue;
            }
            let mut task = TaskBuilder::new(&name).order(self.dice.below(5) as i64);
            for _ in 0..self.dice.below(4) {
                let (input, holders) = self.input();
                task = task.input(&input, &holders);
            }
            if self.dice.below(15) == 0 {
                task = task.function(FunctionId::new("g", 1));
            }
            self.outstanding.insert(key(&name));
            tasks.push(task);
        }
        let sent = self.sim.compute(tasks);
        self.absorb(sent);
    }

    fn finish_job(&mut self) {
        let Some(key) = self.dice.take(&mut self.jobs) else {
            return;
        };
        let outcome = match self.dice.below(10) {
            0 => CallOutcome::Failed(CallError::Failed("no".into())),
            1 => CallOutcome::Panicked("boom".into()),
            n => value(n * 1000),
        };
        let sent = self.sim.done(key.as_str(), outcome);
        self.absorb(sent);
    }

    fn answer_fetch(&mut self) {
        let Some(order) = self.dice.take(&mut self.fetches) else {
            return;
        };
        let sent = match self.dice.below(6) {
            0 => self.sim.fetch_failed(order.id),
            1 => self.sim.fetched(&order, &[]),
            _ => {
                let names: Vec<String> = order.keys.iter().map(|k| k.to_string()).collect();
                let keep = names.len() - usize::from(self.dice.below(4) == 0);
                let found: Vec<&str> = names[..keep].iter().map(String::as_str).collect();
                self.sim.fetched(&order, &found)
            }
        };
        self.absorb(sent);
    }

    fn release(&mut self) {
        let name = if self.dice.below(2) == 0 && self.next_task > 0 {
            format!("t{}", self.dice.below(self.next_task))
        } else {
            format!("d{}", self.dice.below(8))
        };
        self.outstanding.remove(&key(&name));
        let sent = self.sim.release(&[&name]);
        self.absorb(sent);
    }

    /// The scheduler asks a task back: given back (then no longer outstanding) or not.
    fn steal(&mut self) {
        if self.next_task == 0 {
            return;
        }
        let name = format!("t{}", self.dice.below(self.next_task));
        let sent = self
            .sim
            .step(|s, out| s.on_steal(vec![(key(&name), 1)], out));
        let given_back = sent.iter().any(|sent| {
            matches!(
                sent,
                Sent::Report(TaskEvent::StealAnswer {
                    given_back: true,
                    ..
                })
            )
        });
        if given_back {
            self.outstanding.remove(&key(&name));
        }
        for sent in sent {
            if !matches!(sent, Sent::Report(TaskEvent::StealAnswer { .. })) {
                self.absorb(vec![sent]);
            }
        }
    }

    fn lose_center(&mut self) {
        self.outstanding.clear();
        let sent = self.sim.step(|s, out| {
            s.on_center_lost(out);
        });
        self.absorb(sent);
    }

    fn put(&mut self) {
        let name = format!("d{}", self.dice.below(8));
        let sent = self.sim.step(|s, out| {
            s.on_put(vec![(key(&name), bytes(3))], out);
        });
        self.absorb(sent);
    }

    fn step(&mut self) {
        match self.dice.below(40) {
            0..=9 => self.compute(),
            10..=19 => self.finish_job(),
            20..=31 => self.answer_fetch(),
            32..=35 => self.release(),
            36 => self.steal(),
            37 | 38 => self.put(),
            39 if self.dice.below(2) == 0 => self.lose_center(),
            _ => self.sample_memory(),
        }
    }

    /// The shell measures process memory: anything from nothing to twice the limit.
    fn sample_memory(&mut self) {
        let rss = self.dice.below(2 * LIMIT as usize) as u64;
        let sent = self.sim.memory(rss);
        self.absorb(sent);
    }

    /// Answers every fetch and ends every job until nothing is left in flight: then every
    /// task asked and not released has been reported.
    fn drain(&mut self) {
        // Memory falls back: held tasks start.
        let sent = self.sim.memory(0);
        self.absorb(sent);
        while !self.jobs.is_empty() || !self.fetches.is_empty() {
            if let Some(order) = self.fetches.pop() {
                let names: Vec<String> = order.keys.iter().map(|k| k.to_string()).collect();
                let found: Vec<&str> = names.iter().map(String::as_str).collect();
                let sent = self.sim.fetched(&order, &found);
                self.absorb(sent);
            }
            if let Some(key) = self.jobs.pop() {
                let sent = self.sim.done(key.as_str(), value(8));
                self.absorb(sent);
            }
        }
        let state = &self.sim.state;
        assert_eq!(state.waiting_count(), 0, "tasks left waiting");
        assert_eq!(state.running_count(), 0, "tasks left running");
        assert_eq!(state.fetches_in_flight(), 0, "fetches left in flight");
        assert!(
            self.outstanding.is_empty(),
            "never reported: {:?}",
            self.outstanding
        );
    }
}

fn walk(seed: u64) {
    let mut walk = Walk::new(seed);
    for _ in 0..300 {
        walk.step();
    }
    walk.drain();
}

#[test]
fn random_event_sequences_keep_every_invariant() {
    let seeds: Vec<u64> = match std::env::var("WORKER_WALK_SEED") {
        Ok(seed) => vec![seed.parse().expect("WORKER_WALK_SEED is a number")],
        Err(_) => (0..200).collect(),
    };
    for seed in seeds {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| walk(seed))) {
            let message = crate::function::boundary::panic_message(panic.as_ref());
            panic!("seed {seed} failed (replay: WORKER_WALK_SEED={seed}): {message}");
        }
    }
}
