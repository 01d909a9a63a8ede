//! What an executor keeps to re-submit to a restarted center: the tasks of every
//! submission some of whose futures are still held. Plain bookkeeping: no actor, no socket.
//!
//! A submission is kept until every key it was submitted for (its wanted keys) has been
//! released here, so it costs the memory of its task specs (shared bytes) while the user
//! holds its futures, and nothing after. Intermediate tasks of a graph are kept with it, so
//! a re-submitted graph can be computed again where no worker kept its values.

use std::collections::BTreeMap;

use crate::ids::{Map, Set, TaskKey};
use crate::messages::tasks::NewTaskMsg;

/// One `UpdateGraph`: its tasks and how many of its wanted keys are still held.
#[derive(Debug)]
struct Submission {
    tasks: Vec<NewTaskMsg>,
    wanted_held: usize,
}

/// The live submissions, oldest first, and which submissions each wanted key keeps alive.
#[derive(Debug, Default)]
pub(crate) struct Submissions {
    next: u64,
    live: BTreeMap<u64, Submission>,
    by_key: Map<TaskKey, Vec<u64>>,
}

impl Submissions {
    /// Keeps `tasks`, submitted for `wanted`, until every wanted key is released.
    pub(crate) fn record(&mut self, tasks: &[NewTaskMsg], wanted: &[TaskKey]) {
        let wanted: Set<&TaskKey> = wanted.iter().collect();
        if tasks.is_empty() || wanted.is_empty() {
            return;
        }
        let id = self.next;
        self.next += 1;
        for key in &wanted {
            self.by_key.entry((*key).clone()).or_default().push(id);
        }
        let submission = Submission {
            tasks: tasks.to_vec(),
            wanted_held: wanted.len(),
        };
        self.live.insert(id, submission);
    }

    /// The executor's last future for `key` was dropped.
    pub(crate) fn released(&mut self, key: &TaskKey) {
        for id in self.by_key.remove(key).unwrap_or_default() {
            if let Some(submission) = self.live.get_mut(&id) {
                submission.wanted_held -= 1;
                if submission.wanted_held == 0 {
                    self.live.remove(&id);
                }
            }
        }
    }

    /// Every kept task once, in submission order (dependencies before dependents, as
    /// each submission had them).
    pub(crate) fn tasks(&self) -> Vec<NewTaskMsg> {
        let mut seen = Set::default();
        self.live
            .values()
            .flat_map(|submission| submission.tasks.iter())
            .filter(|task| seen.insert(task.key.clone()))
            .cloned()
            .collect()
    }

    /// How many submissions are kept.
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::FunctionId;

    fn task(name: &str, deps: &[&str]) -> NewTaskMsg {
        NewTaskMsg {
            key: name.into(),
            function: FunctionId::new("f", 1),
            spec: name.as_bytes().to_vec().into(),
            deps: deps.iter().map(|d| (*d).into()).collect(),
            order: 0,
        }
    }

    fn keys(tasks: &[NewTaskMsg]) -> Vec<String> {
        tasks.iter().map(|t| t.key.to_string()).collect()
    }

    #[test]
    fn a_submission_lives_until_each_key_it_was_submitted_for_is_released() {
        let mut kept = Submissions::default();
        kept.record(&[task("a", &[]), task("b", &[])], &["a".into(), "b".into()]);
        kept.record(&[task("x", &[]), task("y", &["x"])], &["y".into()]);
        assert_eq!(keys(&kept.tasks()), ["a", "b", "x", "y"]);
        kept.released(&"a".into());
        assert_eq!(kept.len(), 2);
        kept.released(&"y".into());
        assert_eq!(keys(&kept.tasks()), ["a", "b"]);
        kept.released(&"b".into());
        assert_eq!(kept.len(), 0);
        kept.released(&"b".into());
        assert!(kept.tasks().is_empty());
    }

    #[test]
    fn a_task_in_two_live_submissions_is_re_sent_once() {
        let mut kept = Submissions::default();
        kept.record(&[task("a", &[])], &["a".into()]);
        kept.record(&[task("a", &[]), task("b", &["a"])], &["b".into()]);
        assert_eq!(keys(&kept.tasks()), ["a", "b"]);
        kept.record(&[], &["a".into()]);
        assert_eq!(kept.len(), 2);
    }
}
