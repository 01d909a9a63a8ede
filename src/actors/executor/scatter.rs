//! Placing data on workers: `scatter`, and the large plain arguments of `submit`/`map`,
//! which are scattered first and passed by key (as dask does), so a task's header stays
//! small and a big argument travels once, in data frames.

use serde::Serialize;

use super::actor::Put;
use super::future::Future;
use super::Executor;
use crate::function::{encode_value_owned, ArgSpec, EncodedValue, KeepAlive};
use crate::ids::TaskKey;
use crate::messages::executor_link::{ExecutorToScheduler, ScatteredKey};

/// Values scattered up to this size stay known to the executor, so `result` needs no fetch.
const INLINE_SCATTER_BYTES: usize = 4096;

/// A plain argument encoded larger than this is scattered to a worker and passed by key
/// instead of riding in the task's header.
pub const LARGE_ARGUMENT_BYTES: usize = 1 << 20;

impl Executor {
    /// Sends values to workers (spread over them) and gives one future per value.
    /// Async twin: [`Executor::scatter_async`].
    pub fn scatter<T>(&self, values: Vec<T>) -> crate::Result<Vec<Future<T>>>
    where
        T: Serialize + Send + Sync + 'static,
    {
        super::blocking::check_may_block("scatter", "scatter_async(..).await")?;
        // A vector of numbers becomes its own bytes; anything else is dropped once encoded:
        // the client holds about one copy of what it scatters.
        let encoded = values
            .into_iter()
            .map(encode_value_owned)
            .collect::<Result<Vec<_>, _>>()?;
        self.scatter_encoded(encoded)
    }

    /// Scatters values already encoded; the futures' type is the caller's word.
    pub(crate) fn scatter_encoded<T>(
        &self,
        values: Vec<EncodedValue>,
    ) -> crate::Result<Vec<Future<T>>> {
        let workers = self
            .inner
            .shared
            .cluster
            .read()
            .expect("cluster lock")
            .workers
            .clone();
        if workers.is_empty() {
            return Err(crate::Error::NoWorkers);
        }
        let mut per_worker: Vec<Vec<(TaskKey, crate::function::EncodedValue)>> =
            vec![Vec::new(); workers.len()];
        let mut placed = Vec::with_capacity(values.len());
        for (i, encoded) in values.into_iter().enumerate() {
            let key = scatter_key(&encoded);
            let target = i % workers.len();
            placed.push((key.clone(), target, encoded.clone()));
            per_worker[target].push((key, encoded));
        }
        let mut answers = Vec::new();
        let budget = self.inner.limits().max_message / 2;
        for (target, values) in per_worker.into_iter().enumerate() {
            for values in in_messages_of(values, budget) {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let addr = workers[target].addr;
                self.inner.actor.do_send(Put {
                    addr,
                    values,
                    reply,
                });
                answers.push((target, answer));
            }
        }
        let mut failure = None;
        let mut failed_targets = Vec::new();
        for (target, answer) in answers {
            let stored = super::blocking::wait_for_reply(answer).unwrap_or_else(|_| {
                Err(crate::Error::ConnectionLost {
                    reason: "the executor stopped".into(),
                })
            });
            if let Err(e) = stored {
                failed_targets.push(target);
                failure.get_or_insert(e);
            }
        }
        // What did reach a worker is reported either way: on failure its futures are dropped
        // below, so the scheduler releases it instead of leaving it on the worker.
        placed.retain(|(_, target, _)| !failed_targets.contains(target));
        let mut futures = Vec::with_capacity(placed.len());
        let mut scattered = Vec::new();
        for (key, target, encoded) in placed {
            let (future, _) = self.future_for::<T>(key.clone());
            let worker = &workers[target];
            let nbytes = encoded.len() as u64;
            let inline = (encoded.len() <= INLINE_SCATTER_BYTES).then_some(encoded);
            let holders = vec![worker.addr];
            self.inner
                .shared
                .set_status(&key, super::KeyStatus::Finished { holders, inline });
            scattered.push(ScatteredKey {
                key,
                worker: worker.id,
                nbytes,
            });
            futures.push(future);
        }
        self.inner.ask(
            ExecutorToScheduler::Scattered(scattered),
            std::time::Duration::from_secs(60),
        )?;
        match failure {
            Some(error) => Err(error),
            None => Ok(futures),
        }
    }

    /// Sends one value to a worker and gives its future.
    pub fn scatter_one<T>(&self, value: T) -> crate::Result<Future<T>>
    where
        T: Serialize + Send + Sync + 'static,
    {
        Ok(self.scatter(vec![value])?.pop().expect("one future"))
    }

    /// Scatters every plain argument in `calls` larger than [`LARGE_ARGUMENT_BYTES`] (in one
    /// round) and puts its key in its place; the futures of the scattered values go to
    /// `keep`, so they live until the tasks that read them are sent.
    pub(crate) fn place_large_arguments(
        &self,
        calls: &mut [Vec<ArgSpec>],
        keep: &mut KeepAlive,
    ) -> crate::Result<()> {
        let is_large = |spec: &ArgSpec| matches!(spec, ArgSpec::Value(value) if value.len() > LARGE_ARGUMENT_BYTES);
        let large: Vec<EncodedValue> = calls
            .iter()
            .flatten()
            .filter_map(|spec| match spec {
                ArgSpec::Value(value) if is_large(spec) => Some(value.clone()),
                _ => None,
            })
            .collect();
        if large.is_empty() {
            return Ok(());
        }
        let mut placed = self.scatter_encoded::<()>(large)?.into_iter();
        for spec in calls.iter_mut().flatten().filter(|spec| is_large(spec)) {
            let future = placed.next().expect("one future per large argument");
            *spec = ArgSpec::Key(future.key().clone());
            keep.push(Box::new(future));
        }
        Ok(())
    }
}

/// Groups `values` in order into messages of at most `budget` bytes of values each (a value
/// larger than that alone in its message, where the limits will name it if it is too big).
fn in_messages_of(
    values: Vec<(TaskKey, EncodedValue)>,
    budget: u64,
) -> Vec<Vec<(TaskKey, EncodedValue)>> {
    let mut messages: Vec<Vec<(TaskKey, EncodedValue)>> = Vec::new();
    let mut bytes = 0_u64;
    for (key, value) in values {
        let len = value.len() as u64;
        match messages.last_mut() {
            Some(last) if bytes + len <= budget => {
                bytes += len;
                last.push((key, value));
            }
            _ => {
                bytes = len;
                messages.push(vec![(key, value)]);
            }
        }
    }
    messages
}

/// The key of a scattered value: a hash of its type and bytes, so equal values share a key
/// and values of different types never do.
///
/// The hash is streamed over the value's bytes, never over a copy of them (a large value is
/// held once). It equals `pure_key("scatter", …)` of the type name, a zero and the bytes.
fn scatter_key(value: &EncodedValue) -> TaskKey {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(value.type_name.as_bytes());
    hasher.update(&[0]);
    hasher.update(&value.bytes);
    TaskKey::from(format!("scatter-{:032x}", hasher.digest128()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::encode_value;
    use crate::function::task::pure_key;

    #[test]
    fn values_go_in_messages_under_the_budget_in_order() {
        let value = |n: usize| {
            let key = TaskKey::from(n.to_string());
            (key, encode_value(&vec![0_u8; n]).unwrap())
        };
        let sizes = |messages: Vec<Vec<(TaskKey, EncodedValue)>>| -> Vec<Vec<usize>> {
            let len = |(_, v): &(TaskKey, EncodedValue)| v.len();
            messages
                .iter()
                .map(|m| m.iter().map(len).collect())
                .collect()
        };
        let values = vec![value(4), value(5), value(20), value(1), value(10)];
        assert_eq!(
            sizes(in_messages_of(values, 10)),
            vec![vec![4, 5], vec![20], vec![1], vec![10]]
        );
    }

    #[test]
    fn scattered_values_of_other_types_get_other_keys() {
        let as_i64 = encode_value(&vec![1_i64]).unwrap();
        let as_u64 = encode_value(&vec![1_u64]).unwrap();
        assert_eq!(as_i64.bytes, as_u64.bytes);
        assert_ne!(scatter_key(&as_i64), scatter_key(&as_u64));
        let mut identity = as_i64.type_name.as_bytes().to_vec();
        identity.push(0);
        identity.extend_from_slice(&as_i64.bytes);
        let one_shot = pure_key("scatter", &crate::scheduler::TaskSpec::from(identity));
        assert_eq!(
            scatter_key(&as_i64),
            one_shot,
            "the same key as before streaming"
        );
        assert_eq!(
            scatter_key(&as_i64),
            scatter_key(&encode_value(&vec![1_i64]).unwrap())
        );
    }
}
