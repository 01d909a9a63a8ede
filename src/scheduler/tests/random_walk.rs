//! Seeded random event sequences (workers joining and dying, graphs, results, errors,
//! wants, releases, cancels, scatters, missing dependencies, cluster restarts, center
//! restarts; every "recomputing" report checked against who wants the key), with every
//! invariant checked after each step and nothing left once all clients are gone.

use super::*;

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

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())].clone())
    }
}

struct Walk {
    sim: Sim,
    dice: Dice,
    next_worker: u32,
    next_key: usize,
}

impl Walk {
    fn workers(&self) -> Vec<WorkerId> {
        let mut workers: Vec<WorkerId> = self.sim.state.workers.keys().copied().collect();
        workers.sort();
        workers
    }

    fn known_keys(&self) -> Vec<TaskKey> {
        let mut keys: Vec<TaskKey> = self.sim.state.tasks.keys().cloned().collect();
        keys.sort();
        keys
    }

    fn running(&self) -> Vec<(WorkerId, TaskKey)> {
        let mut running: Vec<_> = self
            .sim
            .processing()
            .into_iter()
            .map(|(key, worker)| (worker, key))
            .collect();
        running.sort();
        running
    }

    fn client(&mut self) -> ClientId {
        ClientId(1 + self.dice.below(3) as u32)
    }

    fn add_worker(&mut self) {
        self.next_worker += 1;
        let functions = match self.dice.below(4) {
            0 => vec![FunctionId::new("g", 1)],
            1 => vec![func(), FunctionId::new("g", 1)],
            _ => vec![func()],
        };
        let threads = 1 + self.dice.below(3) as u32;
        let mut worker = WorkerBuilder::new(WorkerId(self.next_worker)).threads(threads);
        if self.dice.below(3) == 0 {
            worker = worker.resources("GPU=1");
        }
        self.sim.add_worker(worker.functions(functions));
    }

    /// Now and then: a GPU, a named worker (strict or loose; maybe one long gone), or both.
    fn restrictions(&mut self) -> Option<Restrictions> {
        let mut restrictions = Restrictions::default();
        match self.dice.below(8) {
            0 => restrictions.resources = "GPU=1".parse().expect("resources"),
            1 | 2 => {
                let named = 1 + self.dice.below(self.next_worker.max(1) as usize + 1);
                // "drain" (the last worker of every walk) keeps each restriction satisfiable.
                restrictions.workers = vec![format!("w{named}"), "drain".to_string()];
                restrictions.loose = self.dice.below(2) == 0;
                if self.dice.below(3) == 0 {
                    restrictions.resources = "GPU=0.5".parse().expect("resources");
                }
            }
            _ => return None,
        }
        Some(restrictions)
    }

    fn submit(&mut self) {
        let known = self.known_keys();
        let mut names: Vec<String> = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..1 + self.dice.below(6) {
            self.next_key += 1;
            let name = format!("k{}", self.next_key);
            let mut deps: Vec<String> = Vec::new();
            for _ in 0..self.dice.below(3) {
                let local = self.dice.pick(&names);
                let old = self.dice.pick(&known).map(|key| key.to_string());
                deps.extend(if self.dice.below(2) == 0 { local } else { old });
            }
            if self.dice.below(40) == 0 {
                deps.push("missing".to_string());
            }
            let function = if self.dice.below(8) == 0 {
                FunctionId::new("g", 1)
            } else {
                func()
            };
            let refs: Vec<&str> = deps.iter().map(String::as_str).collect();
            let order = self.dice.below(10) as i64;
            let mut task = TaskBuilder::new(&name)
                .deps(&refs)
                .function(function)
                .order(order);
            if let Some(restrictions) = self.restrictions() {
                task = task.restrictions(restrictions);
            }
            tasks.push(task);
            names.push(name);
        }
        let wanted: Vec<&str> = names
            .iter()
            .filter(|_| self.dice.below(2) == 0)
            .map(String::as_str)
            .collect();
        let wanted = if wanted.is_empty() {
            vec![names[names.len() - 1].as_str()]
        } else {
            wanted
        };
        let client = self.client();
        self.sim.submit(client, tasks, &wanted);
    }

    fn finish_or_fail(&mut self) {
        let Some((worker, key)) = self.dice.pick(&self.running()) else {
            return;
        };
        let nbytes = self.dice.below(1000) as u64;
        if self.dice.below(10) == 0 {
            self.sim.fail(worker, key.as_str(), "boom");
        } else {
            self.sim
                .step(|s, out| s.on_task_finished(worker, key, nbytes, out));
        }
    }

    /// A worker answers a steal request under way (giving the task back or keeping it), or
    /// (a third of the time) a running task's worker answers a request that is not (stale:
    /// ignored).
    fn answer_steal(&mut self) {
        let mut asked: Vec<(WorkerId, TaskKey, u64)> = self
            .sim
            .state
            .steals
            .iter()
            .map(|(key, steal)| (steal.victim, key.clone(), steal.id))
            .collect();
        asked.sort();
        let stale = self.dice.below(3) == 0;
        let pick = match stale {
            true => self
                .dice
                .pick(&self.running())
                .map(|(worker, key)| (worker, key, 0)),
            false => self.dice.pick(&asked),
        };
        let Some((worker, key, steal)) = pick else {
            return;
        };
        let given_back = self.dice.below(3) != 0;
        let (taken, _) = self
            .sim
            .step_with(|s, out| s.on_steal_answer(worker, key, steal, given_back, out));
        assert_eq!(taken.is_ok(), !stale, "{taken:?}");
    }

    fn missing_dependency(&mut self) {
        let Some((worker, key)) = self.dice.pick(&self.running()) else {
            return;
        };
        let deps = self.sim.state.tasks[&key].dependencies.clone();
        let Some(dep) = self.dice.pick(&deps) else {
            return;
        };
        let Some(holder) = self.dice.pick(self.sim.state.who_has(&dep)) else {
            return;
        };
        // The holder is held off; half the time it answers its ping at once.
        self.sim
            .step(|s, out| s.on_missing_dependency(worker, key, dep, holder, out));
        if self.dice.below(2) == 0 {
            let answered = crate::scheduler::WorkerTiming {
                round_trip: std::time::Duration::from_micros(100),
                tasks_done: 0,
                busy: std::time::Duration::ZERO,
            };
            self.sim
                .step(|s, out| s.on_worker_timing(holder, answered, out));
        }
    }

    fn client_event(&mut self) {
        let client = self.client();
        let Some(key) = self.dice.pick(&self.known_keys()) else {
            return;
        };
        let name = key.as_str();
        match self.dice.below(4) {
            0 => self.sim.shares(client, &[name]),
            1 => self.sim.releases(client, &[name]),
            2 => self.sim.cancel(client, &[name]),
            _ => self.sim.step(|s, out| s.on_client_removed(client, out)),
        };
    }

    fn scatter(&mut self) {
        let Some(worker) = self.dice.pick(&self.workers()) else {
            return;
        };
        self.next_key += 1;
        let name = format!("data{}", self.next_key);
        let client = self.client();
        self.sim.scatter(client, &name, worker, 50);
    }

    /// With a worker able to run everything, runs until nothing is processing: every
    /// wanted key must then be in memory or erred, and nothing left half-way.
    fn drain_to_completion(&mut self, seed: u64) {
        self.next_worker += 1;
        let all = vec![func(), FunctionId::new("g", 1)];
        let drain = WorkerBuilder::new(WorkerId(self.next_worker))
            .named("drain")
            .resources("GPU=1");
        self.sim.add_worker(drain.functions(all));
        self.sim.run_all(8);
        for (key, task) in &self.sim.state.tasks {
            let state = task.state.name();
            assert!(
                !task.state.is_active(),
                "seed {seed}: {key} stuck in {state}"
            );
            if !task.who_wants.is_empty() {
                assert!(
                    matches!(state, "memory" | "erred"),
                    "seed {seed}: wanted {key} is {state}"
                );
            }
        }
    }

    fn step(&mut self) {
        if self.dice.below(150) == 0 {
            self.sim.restart();
            assert_eq!(
                self.sim.state.task_count(),
                0,
                "a restart forgets every task"
            );
            return;
        }
        match self.dice.below(20) {
            0 | 1 => self.add_worker(),
            2 => {
                if let Some(worker) = self.dice.pick(&self.workers()) {
                    let held = self.sim.state.has_what(worker).len();
                    let (loss, _) = self.sim.lose_worker(worker);
                    assert_eq!(loss.keys_held, held);
                    assert!(loss.keys_lost <= held);
                }
            }
            3..=5 => self.submit(),
            6..=12 => self.finish_or_fail(),
            13 => self.missing_dependency(),
            18 => self.answer_steal(),
            14..=17 => self.client_event(),
            _ => self.scatter(),
        }
    }
}

#[test]
fn random_event_sequences_keep_every_invariant() {
    for seed in 0..150 {
        let config = SchedulerConfig {
            allowed_failures: 1,
            ..Default::default()
        };
        let sim = Sim::with_config(config);
        let mut walk = Walk {
            sim,
            dice: Dice(seed),
            next_worker: 0,
            next_key: 0,
        };
        for _ in 0..250 {
            walk.step();
        }
        walk.drain_to_completion(seed);
        for client in 1..=3 {
            walk.sim
                .step(|s, out| s.on_client_removed(ClientId(client), out));
        }
        assert_eq!(walk.sim.state.task_count(), 0, "seed {seed}: records left");
        assert_eq!(walk.sim.state.keys_in_memory(), 0, "seed {seed}: data left");
    }
}

/// What a restarted center gets back: each client's tasks (with lineage) and wants, and each
/// surviving worker's values.
struct Survivors {
    clients: Vec<(ClientId, Vec<NewTask>, Vec<TaskKey>)>,
    workers: Vec<(WorkerId, Vec<(TaskKey, u64)>)>,
}

impl Walk {
    /// The center dies: what its clients would re-submit and what its workers (each
    /// surviving with probability 3/4) would offer, read from the old state.
    fn crash(&mut self) -> Survivors {
        let state = &self.sim.state;
        let mut tasks: Vec<NewTask> = state
            .tasks
            .iter()
            .filter_map(|(key, task)| {
                let run = task.run.as_ref()?;
                Some(NewTask {
                    key: key.clone(),
                    function: run.function.clone(),
                    spec: run.spec.clone(),
                    deps: task.dependencies.clone(),
                    order: task.priority.order,
                    restrictions: task.restrictions.as_deref().cloned(),
                })
            })
            .collect();
        tasks.sort_by_key(|task| (task.order, task.key.clone()));
        let mut clients: Vec<(ClientId, Vec<NewTask>, Vec<TaskKey>)> = state
            .clients
            .iter()
            .map(|(client, wants)| {
                let mut wanted: Vec<TaskKey> = wants.iter().cloned().collect();
                wanted.sort();
                (*client, tasks.clone(), wanted)
            })
            .collect();
        clients.sort_by_key(|(client, ..)| *client);
        let mut workers = Vec::new();
        for worker in self.workers() {
            if self.dice.below(4) == 0 {
                continue;
            }
            let held = state
                .has_what(worker)
                .into_iter()
                .map(|key| {
                    let nbytes = state.tasks[&key].nbytes;
                    (key, nbytes)
                })
                .collect();
            workers.push((worker, held));
        }
        Survivors { clients, workers }
    }

    /// A new center meets the survivors in a random order; nothing offered is computed.
    fn recover(&mut self, survivors: Survivors, seed: u64) {
        self.sim = Sim::with_config(self.sim.state.config().clone());
        assert!(self.sim.state.begin_recovery());
        let Survivors { clients, workers } = survivors;
        let offered: crate::ids::Set<TaskKey> = workers
            .iter()
            .flat_map(|(_, held)| held.iter().map(|(key, _)| key.clone()))
            .collect();
        let mut events: Vec<Result<_, _>> = workers.into_iter().map(Ok).collect();
        events.extend(clients.into_iter().map(Err));
        let mut sent = Vec::new();
        while !events.is_empty() {
            let event = events.remove(self.dice.below(events.len()));
            sent.extend(match event {
                Ok((worker, held)) => {
                    let joined = WorkerBuilder::new(worker).functions(vec![func()]);
                    let mut sent = self.sim.add_worker(joined);
                    sent.extend(self.sim.step(|s, out| s.on_worker_holds(worker, held, out)));
                    sent
                }
                Err((client, tasks, wanted)) => self
                    .sim
                    .step(|s, out| s.on_client_resubmitted(client, tasks, wanted, out)),
            });
        }
        sent.extend(self.sim.step(|s, out| s.on_recovery_ended(out)));
        for (_, key) in computes(&sent) {
            assert!(
                !offered.contains(&key),
                "seed {seed}: offered {key} computed again"
            );
        }
    }
}

#[test]
fn random_center_restarts_keep_every_invariant_and_recompute_nothing_offered() {
    for seed in 0..100 {
        let mut walk = Walk {
            sim: Sim::new(),
            dice: Dice(seed),
            next_worker: 0,
            next_key: 0,
        };
        for _ in 0..150 {
            walk.step();
        }
        let survivors = walk.crash();
        walk.recover(survivors, seed);
        for _ in 0..100 {
            walk.step();
        }
        walk.drain_to_completion(seed);
    }
}
