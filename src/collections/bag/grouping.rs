//! `foldby` and `groupby` on [`Bag`]: the graph of a hash shuffle (see `shuffle.rs` for what
//! its tasks do). Builds graphs only.

use serde::Serialize;

use super::error::BagError;
use super::kernels::{shuffle_bucket, shuffle_merge};
use super::lazy::{token, Bag, Input};
use super::shuffle::GroupSpec;
use super::sink::Terminal;
use crate::function::{encode_value, ArgSpec, RemoteFunction};
use crate::graph::{Graph, GraphTask};
use crate::ids::{FunctionId, TaskKey};

fn unbound<F: RemoteFunction>(f: &F) -> Result<FunctionId, BagError> {
    if !f.bound_args()?.is_empty() {
        return Err(BagError::Type {
            step: "foldby/groupby",
            message: format!(
                "{}: key and fold functions can't have bound arguments",
                f.short_name()
            ),
        });
    }
    Ok(f.function_id().clone())
}

impl<T> Bag<T> {
    /// Folds the elements of each key: `binop(acc, x)` from `initial` within each partition,
    /// then `combine(acc, acc)` across partitions, after a hash shuffle of the per-partition
    /// accumulators into as many partitions as this bag has. Gives `(key, acc)` pairs.
    ///
    /// ```no_run
    /// # use taskforce::{remote, collections::Bag, threaded::Threaded};
    /// #[remote] fn first_letter(word: String) -> String { word[..1].to_string() }
    /// #[remote] fn add_len(acc: u64, word: String) -> u64 { acc + word.len() as u64 }
    /// #[remote] fn add(a: u64, b: u64) -> u64 { a + b }
    /// let words = Bag::from_sequence(["ab", "ac", "b"].map(String::from), 2);
    /// let lens = words.foldby(first_letter, add_len, 0, add).compute(&Threaded::default())?;
    /// # Ok::<(), taskforce::Error>(())
    /// ```
    pub fn foldby<K, A, FK, FB, FC>(
        &self,
        key: FK,
        binop: FB,
        initial: A,
        combine: FC,
    ) -> Bag<(K, A)>
    where
        A: Serialize + 'static,
        FK: RemoteFunction<Args = (T,), Output = K>,
        FB: RemoteFunction<Args = (A, T), Output = A>,
        FC: RemoteFunction<Args = (A, A), Output = A>,
    {
        let built = (|| {
            let fold = Some((unbound(&binop)?, encode_value(&initial)?));
            let combine = (unbound(&combine)?, std::any::type_name::<A>().to_string());
            self.shuffle(unbound(&key)?, fold, Some(combine), "foldby")
        })();
        self.shuffled(built, std::any::type_name::<(K, A)>())
    }

    /// The elements of each key, `(key, values)`, after a hash shuffle into as many
    /// partitions as this bag has (values in no particular order across partitions).
    pub fn groupby<K, FK>(&self, key: FK) -> Bag<(K, Vec<T>)>
    where
        FK: RemoteFunction<Args = (T,), Output = K>,
    {
        let built = (|| self.shuffle(unbound(&key)?, None, None, "groupby"))();
        self.shuffled(built, std::any::type_name::<(K, Vec<T>)>())
    }

    fn shuffled<U>(&self, built: Result<Shuffle, BagError>, pair_type: &'static str) -> Bag<U> {
        match built.and_then(|mut shuffle| {
            let keys = self.merge_tasks(&mut shuffle, pair_type)?;
            Ok((shuffle.graph, keys))
        }) {
            Ok((graph, keys)) => {
                let mut bag = Bag::from_inputs(keys.into_iter().map(Input::Key).collect(), graph);
                bag.keep = self.keep.clone();
                bag.split_every = self.split_every;
                bag
            }
            Err(error) => self.failed(error),
        }
    }

    /// The split tasks and, per (input, bucket), the task picking the bucket.
    fn shuffle(
        &self,
        key: FunctionId,
        fold: Option<(FunctionId, crate::function::EncodedValue)>,
        combine: Option<(FunctionId, String)>,
        name: &str,
    ) -> Result<Shuffle, BagError> {
        let buckets = self.npartitions().max(1) as u32;
        let spec = GroupSpec { key, fold, buckets };
        let (mut graph, splits) =
            self.partition_tasks(Terminal::Group(spec), &format!("{name}-split"))?;
        let token = token(&(&splits, &combine))?;
        let mut picked = Vec::with_capacity(splits.len() * buckets as usize);
        for (i, split) in splits.iter().enumerate() {
            for j in 0..buckets {
                let key = crate::key!(format!("{name}-bucket-{token}"), i, j);
                let task = GraphTask::from_specs(
                    &shuffle_bucket,
                    vec![
                        ArgSpec::Key(split.clone()),
                        ArgSpec::Value(encode_value(&u64::from(j))?),
                    ],
                );
                graph.insert(key.clone(), task);
                picked.push(key);
            }
        }
        Ok(Shuffle {
            graph,
            picked,
            name: format!("{name}-{token}"),
            combine: ArgSpec::Value(encode_value(&combine)?),
        })
    }

    /// Per output partition, the task merging its bucket from every input.
    fn merge_tasks(
        &self,
        shuffle: &mut Shuffle,
        pair_type: &str,
    ) -> Result<Vec<TaskKey>, BagError> {
        let Shuffle {
            graph,
            picked,
            name,
            combine,
        } = shuffle;
        let buckets = self.npartitions().max(1);
        let inputs = picked.len() / buckets;
        let mut outputs = Vec::with_capacity(buckets);
        for j in 0..buckets {
            let column: Vec<TaskKey> = (0..inputs)
                .map(|i| picked[i * buckets + j].clone())
                .collect();
            let task = GraphTask::from_specs(
                &shuffle_merge,
                vec![
                    ArgSpec::Keys(column),
                    combine.clone(),
                    ArgSpec::Value(encode_value(&pair_type.to_string())?),
                ],
            );
            let key = crate::key!(name.as_str(), j);
            graph.insert(key.clone(), task);
            outputs.push(key);
        }
        Ok(outputs)
    }
}

/// A shuffle's first two layers, waiting for its merge tasks.
struct Shuffle {
    graph: Graph,
    /// Bucket keys, input-major.
    picked: Vec<TaskKey>,
    /// Name prefix of the output tasks.
    name: String,
    /// The `combine` argument of the merge tasks.
    combine: ArgSpec,
}
