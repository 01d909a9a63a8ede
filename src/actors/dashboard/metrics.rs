//! Prometheus metrics of one cluster, in a registry of its own (several clusters in one
//! process never mix). Counters move with each observation; gauges are set from the model
//! when scraped.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::dashboard::{Observation, Snapshot};
use crate::messages::tree::TreeNode;

/// The cluster's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    tasks: IntGaugeVec,
    transitions: IntCounter,
    finished: IntCounter,
    workers: IntGauge,
    workers_lost: IntCounter,
    stored_bytes: IntGauge,
    memory_bytes: IntGauge,
    transferred_bytes: IntGauge,
    spilled_bytes: IntGauge,
    restarts: IntGauge,
    task_latency: Histogram,
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("taskforce".into()), None).expect("valid prefix");
        let tasks =
            IntGaugeVec::new(Opts::new("tasks", "Tasks by state"), &["state"]).expect("valid");
        let transitions =
            IntCounter::new("task_transitions_total", "Task state changes seen").expect("valid");
        let finished = IntCounter::new("tasks_finished_total", "Tasks whose value reached memory")
            .expect("valid");
        let workers = IntGauge::new("workers", "Workers connected").expect("valid");
        let workers_lost =
            IntCounter::new("workers_lost_total", "Workers that left or were lost").expect("valid");
        let stored_bytes =
            IntGauge::new("stored_bytes", "Bytes of values held by workers").expect("valid");
        let memory_bytes =
            IntGauge::new("worker_memory_bytes", "Resident memory of all workers").expect("valid");
        let transferred_bytes = IntGauge::new(
            "transferred_bytes",
            "Bytes workers received from peers since they started",
        )
        .expect("valid");
        let spilled_bytes =
            IntGauge::new("spilled_bytes", "Bytes of values workers hold on disk").expect("valid");
        let restarts = IntGauge::new(
            "supervised_restarts",
            "Restarts of the actors and processes in the cluster's supervision trees",
        )
        .expect("valid");
        let latency = HistogramOpts::new(
            "task_latency_seconds",
            "From a task sent to a worker to its report",
        )
        .buckets(prometheus::exponential_buckets(1e-5, 4.0, 12).expect("valid buckets"));
        let task_latency = Histogram::with_opts(latency).expect("valid");
        let metrics = Metrics {
            registry,
            tasks,
            transitions,
            finished,
            workers,
            workers_lost,
            stored_bytes,
            memory_bytes,
            transferred_bytes,
            spilled_bytes,
            restarts,
            task_latency,
        };
        metrics.register_all();
        metrics
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 11] = [
            Box::new(self.spilled_bytes.clone()),
            Box::new(self.restarts.clone()),
            Box::new(self.tasks.clone()),
            Box::new(self.transitions.clone()),
            Box::new(self.finished.clone()),
            Box::new(self.workers.clone()),
            Box::new(self.workers_lost.clone()),
            Box::new(self.stored_bytes.clone()),
            Box::new(self.memory_bytes.clone()),
            Box::new(self.transferred_bytes.clone()),
            Box::new(self.task_latency.clone()),
        ];
        for collector in collectors {
            self.registry
                .register(collector)
                .expect("each metric registered once");
        }
    }

    /// Counts what an observation changes.
    pub fn observe(&self, observation: &Observation) {
        match observation {
            Observation::TaskSent { .. }
            | Observation::TaskErred { .. }
            | Observation::TaskReleased { .. } => self.transitions.inc(),
            Observation::TaskSubmitted { .. } => self.transitions.inc(),
            Observation::TaskFinished { .. } => {
                self.transitions.inc();
                self.finished.inc();
            }
            Observation::WorkerLost { .. } => self.workers_lost.inc(),
            _ => {}
        }
    }

    /// Sets the gauges from `snapshot` and renders everything as Prometheus text.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let totals = snapshot.totals;
        for (state, value) in [
            ("waiting", totals.waiting),
            ("processing", totals.processing),
            ("memory", totals.memory),
            ("erred", totals.erred),
            ("released", totals.released),
        ] {
            self.tasks.with_label_values(&[state]).set(value as i64);
        }
        let live = snapshot.workers.iter().filter(|w| w.state == "running");
        let (mut count, mut stored, mut memory, mut transferred, mut spilled) = (0, 0, 0, 0, 0);
        for worker in live {
            count += 1;
            stored += worker.stored_bytes;
            memory += worker.memory_used;
            transferred += worker.peer_bytes_in;
            spilled += worker.spilled_bytes;
        }
        self.workers.set(count);
        self.stored_bytes.set(stored as i64);
        self.memory_bytes.set(memory as i64);
        self.transferred_bytes.set(transferred as i64);
        self.spilled_bytes.set(spilled as i64);
        self.restarts
            .set(snapshot.tree.iter().map(restarts_in).sum::<u64>() as i64);
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("text encoding to memory");
        String::from_utf8(text).expect("prometheus text is UTF-8")
    }

    /// Records how long a task took from dispatch to report.
    pub fn task_latency(&self, seconds: f64) {
        self.task_latency.observe(seconds);
    }
}

/// Restarts of `node` and everything under it.
fn restarts_in(node: &TreeNode) -> u64 {
    u64::from(node.restarts) + node.children.iter().map(restarts_in).sum::<u64>()
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
