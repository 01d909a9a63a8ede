//! Prometheus metrics of one cluster, in a registry of its own (several clusters in one
//! process never mix). Counters move with each observation; gauges are set from the model
//! when scraped.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::dashboard::{MessageKind, Observation, Snapshot};
use crate::messages::activity::SpanKind;
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
    bytes_sent: IntGauge,
    /// `messages_total{direction, kind}`, one child per [`MessageKind`], in its order.
    messages: Vec<IntCounter>,
    messages_vec: IntCounterVec,
    /// `work_duration_seconds{kind}`: compute, transfer, spill, unspill (in that order).
    durations: [Histogram; 4],
    durations_vec: HistogramVec,
    dropped_spans: IntGauge,
    feeds: IntGauge,
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
        let bytes_sent = IntGauge::new(
            "sent_bytes",
            "Bytes workers sent to peers and executors since they started",
        )
        .expect("valid");
        let messages_vec = IntCounterVec::new(
            Opts::new(
                "messages_total",
                "Messages the scheduler received and sent, by direction and kind",
            ),
            &["direction", "kind"],
        )
        .expect("valid");
        let messages = (MessageKind::ALL.iter())
            .map(|kind| messages_vec.with_label_values(&[kind.direction(), kind.name()]))
            .collect();
        let durations_vec = HistogramVec::new(
            HistogramOpts::new(
                "work_duration_seconds",
                "How long workers took to run a task, fetch from a peer, spill or read back",
            )
            .buckets(prometheus::exponential_buckets(1e-5, 4.0, 12).expect("valid buckets")),
            &["kind"],
        )
        .expect("valid");
        let durations = ["compute", "transfer", "spill", "unspill"]
            .map(|k| durations_vec.with_label_values(&[k]));
        let dropped_spans = IntGauge::new(
            "dropped_spans",
            "Spans of work workers could not report (bounded reports)",
        )
        .expect("valid");
        let feeds = IntGauge::new(
            "dashboard_feeds",
            "Live dashboard feeds open (browsers watching)",
        )
        .expect("valid");
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
            bytes_sent,
            messages,
            messages_vec,
            durations,
            durations_vec,
            dropped_spans,
            feeds,
        };
        metrics.register_all();
        metrics
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 16] = [
            Box::new(self.feeds.clone()),
            Box::new(self.bytes_sent.clone()),
            Box::new(self.messages_vec.clone()),
            Box::new(self.durations_vec.clone()),
            Box::new(self.dropped_spans.clone()),
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
            Observation::Messages(counts) => {
                for (kind, n) in counts.iter().filter(|&(_, n)| n > 0) {
                    self.messages[kind as usize].inc_by(n);
                }
            }
            Observation::WorkerActivity { activity, .. } => {
                for span in &activity.spans {
                    let kind = match span.kind {
                        SpanKind::Compute { .. } => 0,
                        SpanKind::Transfer { .. } => 1,
                        SpanKind::Spill { .. } => 2,
                        SpanKind::Unspill { .. } => 3,
                    };
                    let micros = span.started_us_ago.saturating_sub(span.stopped_us_ago);
                    self.durations[kind].observe(micros as f64 / 1e6);
                }
            }
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
        let live = snapshot.workers.iter().filter(|w| w.is_live());
        let (mut count, mut stored, mut memory, mut transferred, mut spilled) = (0, 0, 0, 0, 0);
        let mut sent = 0;
        for worker in live {
            count += 1;
            stored += worker.stored_bytes;
            memory += worker.memory_used;
            transferred += worker.peer_bytes_in;
            spilled += worker.spilled_bytes;
            sent += worker.bytes_out;
        }
        self.bytes_sent.set(sent as i64);
        self.dropped_spans.set(snapshot.dropped_spans as i64);
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

    /// Sets how many live feeds are open.
    pub fn set_feeds(&self, open: u64) {
        self.feeds.set(open as i64);
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
