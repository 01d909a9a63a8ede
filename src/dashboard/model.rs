//! [`DashboardModel`]: counts and rings kept up to date from [`Observation`]s.

use std::collections::VecDeque;
use std::sync::Arc;

use super::layers::layer_of;
use super::messages::MessageCounts;
use super::snapshot::{Counts, EventLine, FunctionProgress, LayerView, Snapshot, TaskSpan};
use super::workers::{Joined, Load, WorkerBoard};
use crate::ids::{Map, Set, TaskKey, WorkerId};
use crate::messages::activity::{ActivityMsg, SpanKind};

/// Spans kept for the task stream; the oldest go first.
const STREAM_CAPACITY: usize = 4_000;
/// Lines kept in the event log; the oldest go first.
const EVENT_CAPACITY: usize = 200;
/// Distinct functions or layers tracked; beyond it they count under `(other)`.
const GROUP_CAPACITY: usize = 256;

/// Where a task stands, as the dashboard counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskPhase {
    /// Waiting for inputs or a worker.
    Waiting,
    /// Sent to a worker.
    Processing,
    /// Its value is on a worker.
    Memory,
    /// It failed.
    Erred,
    /// Released after it finished (or was dropped unfinished).
    Released,
}

/// Something the scheduler's shell saw.
#[derive(Clone, Debug)]
pub enum Observation {
    /// A worker registered.
    WorkerJoined {
        /// Its id.
        id: WorkerId,
        /// Its name.
        name: String,
        /// Where peers reach it.
        addr: String,
        /// Task threads.
        nthreads: u32,
        /// Memory limit in bytes.
        memory_limit: u64,
    },
    /// A worker left or was lost.
    WorkerLost {
        /// Its id.
        id: WorkerId,
        /// Why, in words.
        cause: String,
        /// Whether its nanny is starting a new worker process in its place.
        restarting: bool,
    },
    /// A worker's heartbeat figures.
    WorkerLoad {
        /// Its id.
        id: WorkerId,
        /// Resident memory.
        memory_used: u64,
        /// Bytes of values it holds.
        stored_bytes: u64,
        /// Bytes received from peers so far.
        peer_bytes_in: u64,
        /// Bytes of its values spilled to disk now.
        spilled_bytes: u64,
    },
    /// A worker's activity report: what its threads ran, its transfers and spills, its CPU
    /// time and network bytes, whether it is paused.
    WorkerActivity {
        /// Its id.
        id: WorkerId,
        /// The report.
        activity: ActivityMsg,
    },
    /// A task entered the graph.
    TaskSubmitted {
        /// Its key.
        key: TaskKey,
        /// Its function's name.
        function: Arc<str>,
        /// Keys it reads, enough to show which layers feed its layer: an observer may leave
        /// out the keys of a layer whose link it already reported.
        dependencies: Vec<TaskKey>,
    },
    /// A task was sent to a worker.
    TaskSent {
        /// Its key.
        key: TaskKey,
        /// The worker.
        worker: WorkerId,
    },
    /// A task's value is in memory.
    TaskFinished {
        /// Its key.
        key: TaskKey,
    },
    /// A task failed.
    TaskErred {
        /// Its key.
        key: TaskKey,
    },
    /// A task was released or forgotten.
    TaskReleased {
        /// Its key.
        key: TaskKey,
    },
    /// A line for the event log.
    Note(String),
    /// The cluster was restarted: every task is forgotten.
    Restarted,
    /// Messages the scheduler received and sent since the last such count.
    Messages(MessageCounts),
}

struct TaskEntry {
    function: usize,
    layer: usize,
    phase: TaskPhase,
    sent: Option<(WorkerId, f64)>,
}

#[derive(Default)]
struct Groups {
    names: Vec<Arc<str>>,
    counts: Vec<Counts>,
    index: Map<String, usize>,
}

impl Groups {
    fn index_of(&mut self, name: &str) -> usize {
        if let Some(&at) = self.index.get(name) {
            return at;
        }
        let name = if self.names.len() < GROUP_CAPACITY {
            name
        } else {
            "(other)"
        };
        if let Some(&at) = self.index.get(name) {
            return at;
        }
        self.names.push(Arc::from(name));
        self.counts.push(Counts::default());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }
}

/// The names transfer and spill bars carry in place of a function, made once.
struct KindNames([Arc<str>; 3]);

impl Default for KindNames {
    fn default() -> Self {
        KindNames(["transfer", "spill", "unspill"].map(Arc::from))
    }
}

impl KindNames {
    fn transfer(&self) -> Arc<str> {
        self.0[0].clone()
    }
    fn spill(&self) -> Arc<str> {
        self.0[1].clone()
    }
    fn unspill(&self) -> Arc<str> {
        self.0[2].clone()
    }
}

/// Counts by function and layer, the workers, the task stream and the event log.
#[derive(Default)]
pub struct DashboardModel {
    tasks: Map<TaskKey, TaskEntry>,
    functions: Groups,
    layers: Groups,
    layer_inputs: Vec<Set<usize>>,
    totals: Counts,
    finished_total: u64,
    workers: WorkerBoard,
    stream: VecDeque<TaskSpan>,
    kinds: KindNames,
    events: VecDeque<EventLine>,
    dropped_spans: u64,
    messages: MessageCounts,
}

impl DashboardModel {
    /// Takes in what happened at `now` (seconds since the dashboard started). When a task
    /// sent to a worker is reported, returns the seconds from dispatch to report.
    pub fn observe(&mut self, observation: Observation, now: f64) -> Option<f64> {
        match observation {
            Observation::TaskFinished { key } => self.task_done(&key, TaskPhase::Memory, now),
            Observation::TaskErred { key } => self.task_done(&key, TaskPhase::Erred, now),
            other => {
                self.observe_other(other, now);
                None
            }
        }
    }

    fn observe_other(&mut self, observation: Observation, now: f64) {
        match observation {
            Observation::WorkerJoined {
                id,
                name,
                addr,
                nthreads,
                memory_limit,
            } => {
                self.note(
                    now,
                    format!("worker {name} joined at {addr} ({nthreads} threads)"),
                );
                self.workers.joined(Joined {
                    id,
                    name,
                    addr,
                    nthreads,
                    memory_limit,
                });
            }
            Observation::WorkerLost {
                id,
                cause,
                restarting,
            } => self.worker_lost(id, cause, restarting, now),
            Observation::WorkerLoad {
                id,
                memory_used,
                stored_bytes,
                peer_bytes_in,
                spilled_bytes,
            } => self.workers.load(
                id,
                Load {
                    memory_used,
                    stored: stored_bytes,
                    spilled: spilled_bytes,
                    peer_bytes_in,
                },
            ),
            Observation::WorkerActivity { id, activity } => self.activity(id, activity, now),
            Observation::Messages(counts) => {
                for (kind, n) in counts.iter() {
                    self.messages.add(kind, n);
                }
            }
            Observation::TaskSubmitted {
                key,
                function,
                dependencies,
            } => self.task_submitted(key, &function, &dependencies),
            Observation::TaskSent { key, worker } => self.task_sent(&key, worker, now),
            Observation::TaskFinished { .. } | Observation::TaskErred { .. } => {}
            Observation::TaskReleased { key } => self.task_released(&key),
            Observation::Note(text) => self.note(now, text),
            Observation::Restarted => self.restarted(now),
        }
    }

    fn restarted(&mut self, now: f64) {
        self.tasks.clear();
        self.totals = Counts::default();
        self.functions = Groups::default();
        self.layers = Groups::default();
        self.layer_inputs.clear();
        self.workers.idle();
        self.note(now, "cluster restarted: every task forgotten".into());
    }

    /// What the page shows now: the busiest functions first, the last `stream_len` spans.
    pub fn snapshot(&self, now: f64, stream_len: usize) -> Snapshot {
        let mut functions: Vec<FunctionProgress> = (self.functions.names.iter())
            .zip(&self.functions.counts)
            .map(|(function, &counts)| FunctionProgress {
                function: function.to_string(),
                counts,
            })
            .collect();
        functions.sort_by_key(|f| {
            std::cmp::Reverse(f.counts.waiting + f.counts.processing + f.counts.memory)
        });
        let layers = (self.layers.names.iter().enumerate())
            .map(|(at, name)| LayerView {
                name: name.to_string(),
                counts: self.layers.counts[at],
                inputs: self.layer_inputs[at]
                    .iter()
                    .map(|&i| self.layers.names[i].to_string())
                    .collect(),
            })
            .collect();
        let skip = self.stream.len().saturating_sub(stream_len);
        Snapshot {
            now,
            totals: self.totals,
            finished_total: self.finished_total,
            functions,
            workers: self.workers.panels(),
            stream: self.stream.iter().skip(skip).cloned().collect(),
            layers,
            events: self.events.iter().cloned().collect(),
            tree: Vec::new(),
            dropped_spans: self.dropped_spans,
        }
    }

    /// Messages the scheduler received and sent, by kind, since the dashboard started.
    pub fn messages(&self) -> &MessageCounts {
        &self.messages
    }

    /// Tasks in each phase now.
    pub fn totals(&self) -> Counts {
        self.totals
    }

    fn note(&mut self, at: f64, text: String) {
        if self.events.len() == EVENT_CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back(EventLine { at, text });
    }

    fn worker_lost(&mut self, id: WorkerId, cause: String, restarting: bool, now: f64) {
        if let Some(name) = self.workers.lost(id, &cause, restarting) {
            let next = if restarting {
                "; its nanny restarts it"
            } else {
                ""
            };
            self.note(now, format!("worker {name} lost: {cause}{next}"));
        }
    }

    /// A worker's report: its spans go on the task stream (each placed `…_us_ago` before
    /// `now`), its figures on its panel.
    fn activity(&mut self, id: WorkerId, activity: ActivityMsg, now: f64) {
        self.workers.activity(id, &activity, now);
        self.dropped_spans += u64::from(activity.dropped_spans);
        let at = |us_ago: u64| now - us_ago as f64 / 1e6;
        for span in activity.spans {
            let (thread, kind, function, nbytes, erred) = match span.kind {
                SpanKind::Compute {
                    thread,
                    function,
                    erred,
                } => (Some(thread), "compute", function, 0, erred),
                SpanKind::Transfer { nbytes } => {
                    (None, "transfer", self.kinds.transfer(), nbytes, false)
                }
                SpanKind::Spill { nbytes } => (None, "spill", self.kinds.spill(), nbytes, false),
                SpanKind::Unspill { nbytes } => {
                    (None, "unspill", self.kinds.unspill(), nbytes, false)
                }
            };
            if self.stream.len() == STREAM_CAPACITY {
                self.stream.pop_front();
            }
            self.stream.push_back(TaskSpan {
                worker: id.0,
                thread,
                kind,
                function,
                nbytes,
                start: at(span.started_us_ago),
                stop: at(span.stopped_us_ago),
                erred,
            });
        }
    }

    fn task_submitted(&mut self, key: TaskKey, function: &str, dependencies: &[TaskKey]) {
        if self.tasks.contains_key(&key) {
            return;
        }
        let function = self.functions.index_of(function);
        let layer = self.layers.index_of(layer_of(key.as_str()));
        for dependency in dependencies {
            let input = self.layers.index_of(layer_of(dependency.as_str()));
            self.layer_inputs
                .resize_with(self.layers.names.len(), Set::default);
            if input != layer {
                self.layer_inputs[layer].insert(input);
            }
        }
        self.layer_inputs
            .resize_with(self.layers.names.len(), Set::default);
        let entry = TaskEntry {
            function,
            layer,
            phase: TaskPhase::Waiting,
            sent: None,
        };
        self.count(&entry, 1);
        self.tasks.insert(key, entry);
    }

    fn task_sent(&mut self, key: &TaskKey, worker: WorkerId, now: f64) {
        self.set_phase(key, TaskPhase::Processing);
        if let Some(entry) = self.tasks.get_mut(key) {
            // Sent again (stolen, or placed afresh): the worker it was sent to before no
            // longer runs it.
            if let Some((before, _)) = entry.sent.replace((worker, now)) {
                self.workers.processing(before, -1);
            }
            self.workers.processing(worker, 1);
        }
    }

    /// Returns the seconds from dispatch to report. The bar on the task stream comes from
    /// the worker's own report, which knows the thread and when the task really ran.
    fn task_done(&mut self, key: &TaskKey, phase: TaskPhase, now: f64) -> Option<f64> {
        self.set_phase(key, phase);
        let entry = self.tasks.get_mut(key)?;
        let (worker, start) = entry.sent.take()?;
        if phase == TaskPhase::Memory {
            self.finished_total += 1;
        }
        self.workers.processing(worker, -1);
        Some(now - start)
    }

    /// A forgotten task counts as done, except a failed one, which stays counted as failed.
    fn task_released(&mut self, key: &TaskKey) {
        if self
            .tasks
            .get(key)
            .is_some_and(|entry| entry.phase != TaskPhase::Erred)
        {
            self.set_phase(key, TaskPhase::Released);
        }
        if let Some(entry) = self.tasks.remove(key) {
            if let Some((worker, _)) = entry.sent {
                self.workers.processing(worker, -1);
            }
        }
    }

    fn set_phase(&mut self, key: &TaskKey, phase: TaskPhase) {
        let Some(entry) = self.tasks.get(key) else {
            return;
        };
        let (function, layer, old) = (entry.function, entry.layer, entry.phase);
        if old == phase {
            return;
        }
        let probe = TaskEntry {
            function,
            layer,
            phase: old,
            sent: None,
        };
        self.count(&probe, -1);
        let probe = TaskEntry { phase, ..probe };
        self.count(&probe, 1);
        self.tasks.get_mut(key).expect("present").phase = phase;
    }

    fn count(&mut self, entry: &TaskEntry, delta: i64) {
        for counts in [
            &mut self.totals,
            &mut self.functions.counts[entry.function],
            &mut self.layers.counts[entry.layer],
        ] {
            let slot = match entry.phase {
                TaskPhase::Waiting => &mut counts.waiting,
                TaskPhase::Processing => &mut counts.processing,
                TaskPhase::Memory => &mut counts.memory,
                TaskPhase::Erred => &mut counts.erred,
                TaskPhase::Released => &mut counts.released,
            };
            *slot = slot.saturating_add_signed(delta);
        }
    }
}
