//! [`SupervisorCore`]: the decisions of one supervisor, as commands for its shell to carry
//! out in order.
//!
//! Children are numbered by start order and keep their number for the supervisor's life (a
//! removed temporary child keeps its slot), so a command names a child by index.

use std::collections::VecDeque;
use std::time::Instant;

use super::types::{ExitReason, Intensity, RestartType, Strategy};

/// What the supervisor knows of a child before starting it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// Its name among its siblings (for logs and the tree view).
    pub id: String,
    /// When it is started again.
    pub restart: RestartType,
}

impl ChildInfo {
    /// A child named `id` restarted as `restart` says.
    pub fn new(id: impl Into<String>, restart: RestartType) -> Self {
        ChildInfo {
            id: id.into(),
            restart,
        }
    }
}

/// Where a child stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildStatus {
    /// Not started yet.
    NotStarted,
    /// Started and not known to have exited.
    Running,
    /// Exited and not restarted (a transient child's normal exit, or a shutdown).
    Exited(ExitReason),
    /// A temporary child that exited: it will never run again.
    Removed,
}

/// One step for the shell, carried out in order: each `Stop` completes (the child has
/// exited, or was killed after its shutdown timeout) before the next command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Start child `n` (again).
    Start(usize),
    /// Stop child `n` and wait for it to exit.
    Stop(usize),
    /// Give up: every child has been told to stop; the supervisor exits with this reason
    /// and its own supervisor decides what follows.
    Escalate(ExitReason),
}

#[derive(Clone, Debug)]
struct Slot {
    info: ChildInfo,
    status: ChildStatus,
    restarts: u32,
    last_exit: Option<ExitReason>,
}

/// The state of one supervisor: its children, their statuses and its recent restarts.
#[derive(Clone, Debug)]
pub struct SupervisorCore {
    strategy: Strategy,
    intensity: Intensity,
    slots: Vec<Slot>,
    recent_restarts: VecDeque<Instant>,
    gave_up: Option<ExitReason>,
}

impl SupervisorCore {
    /// A supervisor of `children` (started in this order) that has started none yet.
    pub fn new(strategy: Strategy, intensity: Intensity, children: Vec<ChildInfo>) -> Self {
        let slots = children
            .into_iter()
            .map(|info| Slot {
                info,
                status: ChildStatus::NotStarted,
                restarts: 0,
                last_exit: None,
            })
            .collect();
        SupervisorCore {
            strategy,
            intensity,
            slots,
            recent_restarts: VecDeque::new(),
            gave_up: None,
        }
    }

    /// Starts every child not started yet, in order.
    pub fn start_all(&mut self) -> Vec<Command> {
        let mut commands = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.status == ChildStatus::NotStarted {
                slot.status = ChildStatus::Running;
                commands.push(Command::Start(index));
            }
        }
        commands
    }

    /// Adds a child after the others; it is started at once unless the supervisor gave up.
    pub fn add_child(&mut self, info: ChildInfo) -> (usize, Vec<Command>) {
        let index = self.slots.len();
        let running = self.gave_up.is_none();
        self.slots.push(Slot {
            info,
            status: if running {
                ChildStatus::Running
            } else {
                ChildStatus::NotStarted
            },
            restarts: 0,
            last_exit: None,
        });
        let commands = if running {
            vec![Command::Start(index)]
        } else {
            Vec::new()
        };
        (index, commands)
    }

    /// Child `index` exited (or failed to start) with `reason` at `now`. Children the shell
    /// stopped on this core's command are not reported here.
    pub fn on_child_exited(
        &mut self,
        index: usize,
        reason: ExitReason,
        now: Instant,
    ) -> Vec<Command> {
        if self.gave_up.is_some() || self.slots[index].status != ChildStatus::Running {
            return Vec::new();
        }
        let slot = &mut self.slots[index];
        slot.last_exit = Some(reason.clone());
        let restart = match slot.info.restart {
            RestartType::Permanent => true,
            RestartType::Transient => reason.is_abnormal(),
            RestartType::Temporary => false,
        };
        if !restart {
            slot.status = match slot.info.restart {
                RestartType::Temporary => ChildStatus::Removed,
                _ => ChildStatus::Exited(reason),
            };
            return Vec::new();
        }
        if self.intensity_exceeded(now) {
            return self.give_up(index, &reason);
        }
        self.restart_from(index)
    }

    /// Stops every running child, last started first.
    pub fn shutdown(&mut self) -> Vec<Command> {
        self.stop_range(0)
    }

    /// The reason this supervisor gave up, once it has.
    pub fn gave_up(&self) -> Option<&ExitReason> {
        self.gave_up.as_ref()
    }

    /// Each child's name, status, restart count and last exit, in start order.
    pub fn children(
        &self,
    ) -> impl Iterator<Item = (&ChildInfo, &ChildStatus, u32, Option<&ExitReason>)> {
        self.slots.iter().map(|slot| {
            (
                &slot.info,
                &slot.status,
                slot.restarts,
                slot.last_exit.as_ref(),
            )
        })
    }

    /// The child at `index`.
    pub fn child(&self, index: usize) -> &ChildInfo {
        &self.slots[index].info
    }

    /// How many children the supervisor has had (removed ones included).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it has no children at all.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Records one restart at `now`; true if that makes more than the intensity allows.
    fn intensity_exceeded(&mut self, now: Instant) -> bool {
        self.recent_restarts.push_back(now);
        while let Some(&oldest) = self.recent_restarts.front() {
            if now.saturating_duration_since(oldest) >= self.intensity.window {
                self.recent_restarts.pop_front();
            } else {
                break;
            }
        }
        self.recent_restarts.len() > self.intensity.max_restarts as usize
    }

    fn give_up(&mut self, index: usize, reason: &ExitReason) -> Vec<Command> {
        self.slots[index].status = ChildStatus::Exited(reason.clone());
        let mut commands = self.stop_range(0);
        let Intensity {
            max_restarts,
            window,
        } = self.intensity;
        let cause = ExitReason::Failed(format!(
            "reached maximum restart intensity ({max_restarts} restarts in {window:?}); last: child '{}' {reason}",
            self.slots[index].info.id
        ));
        self.gave_up = Some(cause.clone());
        commands.push(Command::Escalate(cause));
        commands
    }

    /// Restarts `index` and whatever the strategy takes with it.
    fn restart_from(&mut self, index: usize) -> Vec<Command> {
        let first = match self.strategy {
            Strategy::OneForOne => index,
            Strategy::OneForAll => 0,
            Strategy::RestForOne => index,
        };
        let last = match self.strategy {
            Strategy::OneForOne => index,
            Strategy::OneForAll | Strategy::RestForOne => self.slots.len() - 1,
        };
        self.slots[index].status = ChildStatus::Exited(ExitReason::Shutdown);
        let mut commands = self.stop_range_between(first, last);
        for (offset, slot) in self.slots[first..=last].iter_mut().enumerate() {
            let restartable = matches!(slot.status, ChildStatus::Exited(ExitReason::Shutdown));
            if restartable {
                slot.status = ChildStatus::Running;
                slot.restarts += 1;
                commands.push(Command::Start(first + offset));
            }
        }
        commands
    }

    fn stop_range(&mut self, first: usize) -> Vec<Command> {
        match self.slots.len() {
            0 => Vec::new(),
            len => self.stop_range_between(first, len - 1),
        }
    }

    /// Stops the running children in `first..=last`, last first. Temporary children
    /// stopped this way are removed (they are never restarted); others can be.
    fn stop_range_between(&mut self, first: usize, last: usize) -> Vec<Command> {
        let mut commands = Vec::new();
        for index in (first..=last).rev() {
            let slot = &mut self.slots[index];
            if slot.status != ChildStatus::Running {
                continue;
            }
            slot.status = match slot.info.restart {
                RestartType::Temporary => ChildStatus::Removed,
                _ => ChildStatus::Exited(ExitReason::Shutdown),
            };
            commands.push(Command::Stop(index));
        }
        commands
    }
}
