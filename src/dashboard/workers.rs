//! The workers as the dashboard shows them: one [`WorkerPanel`] each, kept from joins,
//! losses, heartbeats and activity reports, with CPU and network rates worked out between
//! two reports. Dead workers stay listed (with their cause) up to a bound.

use std::collections::{BTreeMap, VecDeque};

use super::snapshot::WorkerPanel;
use crate::ids::{Map, WorkerId};
use crate::messages::activity::ActivityMsg;

/// Dead workers still shown (with their cause); the oldest go first.
const DEAD_WORKER_CAPACITY: usize = 32;
/// Reports closer together than this give no rate (the last rate stays).
const MIN_RATE_PERIOD: f64 = 0.05;

/// A worker's totals at its last activity report, to turn the next into rates.
#[derive(Clone, Copy)]
struct Totals {
    at: f64,
    cpu_seconds: f64,
    bytes_in: u64,
    bytes_out: u64,
}

/// Every worker panel, live and recently dead.
#[derive(Default)]
pub(super) struct WorkerBoard {
    panels: BTreeMap<WorkerId, WorkerPanel>,
    totals: Map<WorkerId, Totals>,
    gone: VecDeque<WorkerId>,
}

/// What a worker is, as it joined.
pub(super) struct Joined {
    pub id: WorkerId,
    pub name: String,
    pub addr: String,
    pub nthreads: u32,
    pub memory_limit: u64,
}

/// A worker's heartbeat figures.
pub(super) struct Load {
    pub memory_used: u64,
    pub stored: u64,
    pub spilled: u64,
    pub peer_bytes_in: u64,
}

impl WorkerBoard {
    /// A worker registered; a dead or restarting panel of the same name makes way for it.
    pub(super) fn joined(&mut self, worker: Joined) {
        let replaced: Vec<WorkerId> = (self.panels.iter())
            .filter(|(_, panel)| panel.name == worker.name && !panel.is_live())
            .map(|(&id, _)| id)
            .collect();
        for id in replaced {
            self.panels.remove(&id);
            self.gone.retain(|&gone| gone != id);
        }
        let panel = WorkerPanel {
            id: worker.id.0,
            name: worker.name,
            addr: worker.addr,
            nthreads: worker.nthreads,
            memory_limit: worker.memory_limit,
            memory_used: 0,
            stored_bytes: 0,
            managed_bytes: 0,
            unmanaged_bytes: 0,
            peer_bytes_in: 0,
            bytes_out: 0,
            spilled_bytes: 0,
            processing: 0,
            cpu_percent: 0.0,
            bytes_in_per_second: 0.0,
            bytes_out_per_second: 0.0,
            state: "running".into(),
        };
        self.panels.insert(worker.id, panel);
    }

    /// A worker left; returns its name if it was known.
    pub(super) fn lost(&mut self, id: WorkerId, cause: &str, restarting: bool) -> Option<String> {
        let panel = self.panels.get_mut(&id)?;
        panel.state = match restarting {
            true => format!("restarting: {cause}"),
            false => format!("dead: {cause}"),
        };
        panel.processing = 0;
        (
            panel.cpu_percent,
            panel.bytes_in_per_second,
            panel.bytes_out_per_second,
        ) = (0.0, 0.0, 0.0);
        let name = panel.name.clone();
        self.totals.remove(&id);
        self.gone.push_back(id);
        if self.gone.len() > DEAD_WORKER_CAPACITY {
            let oldest = self.gone.pop_front().expect("non-empty");
            self.panels.remove(&oldest);
        }
        Some(name)
    }

    /// A worker's heartbeat figures.
    pub(super) fn load(&mut self, id: WorkerId, load: Load) {
        let Load {
            memory_used,
            stored,
            spilled,
            peer_bytes_in,
        } = load;
        if let Some(panel) = self.panels.get_mut(&id) {
            panel.peer_bytes_in = peer_bytes_in;
            panel.memory_used = memory_used;
            panel.stored_bytes = stored;
            panel.spilled_bytes = spilled;
            panel.managed_bytes = stored.saturating_sub(spilled);
            panel.unmanaged_bytes = memory_used.saturating_sub(panel.managed_bytes);
        }
    }

    /// A worker's activity report, made at `now`: its state and, from the second report on,
    /// its rates over the period between the two.
    pub(super) fn activity(&mut self, id: WorkerId, report: &ActivityMsg, now: f64) {
        let Some(panel) = self.panels.get_mut(&id) else {
            return;
        };
        if panel.is_live() {
            panel.state = if report.paused { "paused" } else { "running" }.into();
        }
        panel.peer_bytes_in = report.bytes_in;
        panel.bytes_out = report.bytes_out;
        let next = Totals {
            at: now,
            cpu_seconds: report.cpu_seconds,
            bytes_in: report.bytes_in,
            bytes_out: report.bytes_out,
        };
        match self.totals.insert(id, next) {
            Some(last) if now - last.at >= MIN_RATE_PERIOD => {
                let period = now - last.at;
                panel.cpu_percent =
                    (100.0 * (next.cpu_seconds - last.cpu_seconds) / period).max(0.0);
                panel.bytes_in_per_second =
                    next.bytes_in.saturating_sub(last.bytes_in) as f64 / period;
                panel.bytes_out_per_second =
                    next.bytes_out.saturating_sub(last.bytes_out) as f64 / period;
            }
            Some(last) => {
                self.totals.insert(id, last);
            }
            None => {}
        }
    }

    /// Adds `delta` to the tasks a worker is running.
    pub(super) fn processing(&mut self, id: WorkerId, delta: i64) {
        if let Some(panel) = self.panels.get_mut(&id) {
            panel.processing = panel.processing.saturating_add_signed(delta);
        }
    }

    /// Every worker's running count back to zero (a cluster restart).
    pub(super) fn idle(&mut self) {
        for panel in self.panels.values_mut() {
            panel.processing = 0;
        }
    }

    /// The panels, by worker id.
    pub(super) fn panels(&self) -> Vec<WorkerPanel> {
        self.panels.values().cloned().collect()
    }
}
