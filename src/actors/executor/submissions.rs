//! What an executor keeps to re-submit to a restarted center: the tasks of every
//! submission some of whose futures are still held, and of the submissions those depend on.
//! Plain bookkeeping: no actor, no socket.
//!
//! A submission is kept while a key it was submitted for (a wanted key) is held here, or
//! while a kept submission has a task reading one of its keys (`x = submit(f, &x)` in a loop
//! drops each earlier future, yet the chain is what recomputes the last one). So it costs
//! the memory of its task specs (shared bytes) while the user holds futures that need it,
//! and nothing after. Intermediate tasks of a graph are kept with it, so a re-submitted
//! graph can be computed again where no worker kept its values.

use std::collections::BTreeMap;

use crate::ids::{Map, Set, TaskKey};
use crate::messages::tasks::NewTaskMsg;

/// One `UpdateGraph`: its tasks, how many of its wanted keys are still held, how many kept
/// submissions read its keys, and the earlier submissions its tasks read.
#[derive(Debug)]
struct Submission {
    tasks: Vec<NewTaskMsg>,
    wanted_held: usize,
    readers: usize,
    reads: Vec<u64>,
}

impl Submission {
    fn is_unneeded(&self) -> bool {
        self.wanted_held == 0 && self.readers == 0
    }
}

/// The kept submissions, oldest first; which submissions each wanted key keeps alive; and
/// which submission produced each kept task.
#[derive(Debug, Default)]
pub(crate) struct Submissions {
    next: u64,
    live: BTreeMap<u64, Submission>,
    by_key: Map<TaskKey, Vec<u64>>,
    producer: Map<TaskKey, u64>,
}

impl Submissions {
    /// Keeps `tasks`, submitted for `wanted`, while it is needed (see the module's note).
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
        let reads = self.earlier_producers(tasks);
        for parent in &reads {
            self.live.get_mut(parent).expect("a kept producer").readers += 1;
        }
        for task in tasks {
            self.producer.entry(task.key.clone()).or_insert(id);
        }
        let submission = Submission {
            tasks: tasks.to_vec(),
            wanted_held: wanted.len(),
            readers: 0,
            reads,
        };
        self.live.insert(id, submission);
    }

    /// The kept submissions that produced keys `tasks` read (not keys of `tasks` itself).
    fn earlier_producers(&self, tasks: &[NewTaskMsg]) -> Vec<u64> {
        let own: Set<&TaskKey> = tasks.iter().map(|task| &task.key).collect();
        let mut parents: Vec<u64> = tasks
            .iter()
            .flat_map(|task| task.deps.iter())
            .filter(|dep| !own.contains(dep))
            .filter_map(|dep| self.producer.get(dep).copied())
            .collect();
        parents.sort_unstable();
        parents.dedup();
        parents
    }

    /// The executor's last future for `key` was dropped.
    pub(crate) fn released(&mut self, key: &TaskKey) {
        for id in self.by_key.remove(key).unwrap_or_default() {
            if let Some(submission) = self.live.get_mut(&id) {
                submission.wanted_held -= 1;
            }
            self.drop_if_unneeded(id);
        }
    }

    /// Drops submission `id` if nothing needs it, and then what only it needed.
    fn drop_if_unneeded(&mut self, id: u64) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            if !self.live.get(&id).is_some_and(Submission::is_unneeded) {
                continue;
            }
            let submission = self.live.remove(&id).expect("checked above");
            for task in &submission.tasks {
                if self.producer.get(&task.key) == Some(&id) {
                    self.producer.remove(&task.key);
                }
            }
            for parent in submission.reads {
                if let Some(record) = self.live.get_mut(&parent) {
                    record.readers -= 1;
                    stack.push(parent);
                }
            }
        }
    }

    /// Every kept task once, in submission order (dependencies before dependents, as
    /// each submission had them, and earlier submissions first).
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
            restrictions: None,
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
    fn a_chain_of_submissions_is_kept_while_its_last_future_is_held() {
        let mut kept = Submissions::default();
        kept.record(&[task("x0", &[])], &["x0".into()]);
        for i in 1..4 {
            let (key, dep) = (format!("x{i}"), format!("x{}", i - 1));
            kept.record(&[task(&key, &[&dep])], &[key.as_str().into()]);
            kept.released(&dep.as_str().into());
        }
        assert_eq!(keys(&kept.tasks()), ["x0", "x1", "x2", "x3"]);
        kept.released(&"x3".into());
        assert_eq!(kept.len(), 0);
        assert!(kept.producer.is_empty());
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
