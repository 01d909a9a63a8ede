//! Partition-level operations on [`Bag`]: `map_partitions`, `fold`, `reduction`,
//! `distinct`, `repartition` and `to_textfiles`. Each collects the fused steps' output per
//! partition, then adds its own layer of tasks. Builds graphs only.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::chunk::Chunk;
use super::decode::elements;
use super::error::BagError;
use super::kernels::combine;
use super::lazy::{token, Bag, Input, Item};
use super::partitionwise::{
    distinct, fold_partition, map_partition, reduce_parts, slice_partition, topk_by, write_text,
};
use super::sink::Terminal;
use crate::function::{encode_value, ArgSpec, EncodedValue, RemoteFunction};
use crate::graph::{Graph, GraphTask};
use crate::ids::TaskKey;

fn value<V: Serialize + 'static>(v: &V) -> Result<ArgSpec, BagError> {
    Ok(ArgSpec::Value(encode_value(v)?))
}

fn bound_values<F: RemoteFunction>(f: &F) -> Result<Vec<EncodedValue>, BagError> {
    f.bound_args()?
        .into_iter()
        .map(|spec| match spec {
            ArgSpec::Value(v) => Ok(v),
            _ => Err(BagError::BoundFuture {
                function: f.function_id().name.to_string(),
            }),
        })
        .collect()
}

fn first<A: DeserializeOwned + Clone + 'static>(chunk: Chunk) -> Result<A, BagError> {
    elements::<A>(chunk)?.pop().ok_or_else(|| BagError::Type {
        step: "fold/reduction",
        message: "the bag is empty".into(),
    })
}

impl<T> Bag<T> {
    /// The collected partitions, then one task per partition from `make(partition key, i)`.
    fn per_partition<U>(
        &self,
        name: &str,
        make: impl Fn(&TaskKey, usize) -> Result<GraphTask, BagError>,
    ) -> Bag<U> {
        let built = (|| {
            let (mut graph, keys) =
                self.partition_tasks(Terminal::Collect { limit: None }, "bag")?;
            let token = token(&(&keys, name))?;
            let mut out = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                let new = crate::key!(format!("{name}-{token}"), i);
                graph.insert(new.clone(), make(key, i)?);
                out.push(new);
            }
            Ok::<_, BagError>((graph, out))
        })();
        self.bag_of_keys(built)
    }

    fn bag_of_keys<U>(&self, built: Result<(Graph, Vec<TaskKey>), BagError>) -> Bag<U> {
        match built {
            Ok((graph, keys)) => {
                let mut bag = Bag::from_inputs(keys.into_iter().map(Input::Key).collect(), graph);
                bag.keep = self.keep.clone();
                bag.split_every = self.split_every;
                bag
            }
            Err(error) => self.failed(error),
        }
    }

    /// `f(partition)` for every partition: `f` takes the partition's elements as a `Vec` and
    /// returns a `Vec` (of strings, numbers, bools or (String, number) pairs).
    pub fn map_partitions<U, F>(&self, f: F) -> Bag<U>
    where
        F: RemoteFunction<Args = (Vec<T>,), Output = Vec<U>>,
    {
        self.per_partition("map_partitions", |key, _| {
            Ok(GraphTask::from_specs(
                &map_partition,
                vec![
                    ArgSpec::Key(key.clone()),
                    value(f.function_id())?,
                    value(&bound_values(&f)?)?,
                ],
            ))
        })
    }

    /// A tree over per-partition results: `make(parts)` for `split_every` parts at a time.
    fn tree<V>(
        &self,
        (mut graph, mut keys): (Graph, Vec<TaskKey>),
        name: &str,
        make: impl Fn(Vec<TaskKey>) -> Result<GraphTask, BagError>,
        decode: fn(Chunk) -> Result<V, BagError>,
    ) -> Result<Item<V>, BagError> {
        let mut level = 0;
        loop {
            let token = token(&keys)?;
            keys = keys
                .chunks(self.split_every)
                .enumerate()
                .map(|(i, group)| {
                    let key = crate::key!(format!("{name}-{level}-{token}"), i);
                    graph.insert(key.clone(), make(group.to_vec())?);
                    Ok(key)
                })
                .collect::<Result<_, BagError>>()?;
            level += 1;
            if keys.len() == 1 {
                return Ok(Item::new(graph, keys.remove(0), decode, self.keep.clone()));
            }
        }
    }

    /// Folds every element into `binop(acc, x)` from `initial` within each partition, then
    /// the partitions' results with `combine(a, b)` in a tree.
    pub fn fold<A, FB, FC>(&self, binop: FB, initial: A, combine_with: FC) -> Item<A>
    where
        A: Serialize + DeserializeOwned + Clone + 'static,
        FB: RemoteFunction<Args = (A, T), Output = A>,
        FC: RemoteFunction<Args = (A, A), Output = A>,
    {
        let built = (|| {
            let initial = encode_value(&initial)?;
            let binop_id = value(binop.function_id())?;
            let parts: Bag<A> = self.per_partition("fold", |key, _| {
                Ok(GraphTask::from_specs(
                    &fold_partition,
                    vec![
                        ArgSpec::Key(key.clone()),
                        binop_id.clone(),
                        value(&initial)?,
                    ],
                ))
            });
            let leaves = parts.partition_tasks(Terminal::Collect { limit: None }, "fold-leaf")?;
            let combine_id = value(combine_with.function_id())?;
            self.tree(
                leaves,
                "fold-combine",
                |group| {
                    Ok(GraphTask::from_specs(
                        &reduce_parts,
                        vec![ArgSpec::Keys(group), combine_id.clone(), value(&true)?],
                    ))
                },
                first::<A>,
            )
        })();
        Item::from_result(built, self.keep.clone())
    }

    /// `perpartition(elements)` for every partition, then `aggregate(results)` over
    /// `split_every` results at a time, in a tree.
    pub fn reduction<A, FP, FA>(&self, perpartition: FP, aggregate: FA) -> Item<A>
    where
        A: DeserializeOwned + Clone + 'static,
        FP: RemoteFunction<Args = (Vec<T>,), Output = A>,
        FA: RemoteFunction<Args = (Vec<A>,), Output = A>,
    {
        let built = (|| {
            let per_id = value(perpartition.function_id())?;
            let leaves = self.partition_tasks(Terminal::Collect { limit: None }, "bag")?;
            let (mut graph, keys) = leaves;
            let token = token(&(&keys, "reduction"))?;
            let mut partials = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                let new = crate::key!(format!("reduction-part-{token}"), i);
                graph.insert(
                    new.clone(),
                    GraphTask::from_specs(
                        &reduce_parts,
                        vec![
                            ArgSpec::Keys(vec![key.clone()]),
                            per_id.clone(),
                            value(&false)?,
                        ],
                    ),
                );
                partials.push(new);
            }
            let agg_id = value(aggregate.function_id())?;
            self.tree(
                (graph, partials),
                "reduction-aggregate",
                |group| {
                    Ok(GraphTask::from_specs(
                        &reduce_parts,
                        vec![ArgSpec::Keys(group), agg_id.clone(), value(&false)?],
                    ))
                },
                first::<A>,
            )
        })();
        Item::from_result(built, self.keep.clone())
    }

    /// The `k` elements with the largest `key(x)` (a number), largest first; ties in the
    /// order of the element's text (or encoding). Each partition keeps its own top `k`, then
    /// one task ranks those.
    pub fn topk_by<K, F>(&self, k: usize, key: F) -> Bag<T>
    where
        F: RemoteFunction<Args = (T,), Output = K>,
    {
        let built = (|| {
            let key_id = value(key.function_id())?;
            let k = value(&(k as u64))?;
            let local: Bag<T> = self.per_partition("topk_by-part", |part, _| {
                Ok(GraphTask::from_specs(
                    &topk_by,
                    vec![ArgSpec::Keys(vec![part.clone()]), k.clone(), key_id.clone()],
                ))
            });
            let (mut graph, keys) =
                local.partition_tasks(Terminal::Collect { limit: None }, "bag")?;
            let top = crate::key!(format!("topk_by-{}", token(&keys)?), 0);
            let task = GraphTask::from_specs(&topk_by, vec![ArgSpec::Keys(keys), k, key_id]);
            graph.insert(top.clone(), task);
            Ok((graph, vec![top]))
        })();
        self.bag_of_keys(built)
    }

    /// Each distinct element once (in one partition; text sorted, other values unordered).
    pub fn distinct(&self) -> Bag<T> {
        let freqs: Bag<(T, u64)> = self.frequencies();
        freqs.per_partition("distinct", |key, _| {
            Ok(GraphTask::from_specs(
                &distinct,
                vec![ArgSpec::Key(key.clone())],
            ))
        })
    }

    /// The same elements in `n` partitions, in order: neighbouring partitions concatenated
    /// when `n` is smaller, partitions sliced when it is larger.
    pub fn repartition(&self, n: usize) -> Bag<T> {
        let n = n.max(1);
        let built = (|| {
            let (mut graph, keys) =
                self.partition_tasks(Terminal::Collect { limit: None }, "bag")?;
            let token = token(&(&keys, n))?;
            let p = keys.len();
            let mut out = Vec::with_capacity(n);
            if n <= p {
                for j in 0..n {
                    let group = keys[j * p / n..(j + 1) * p / n].to_vec();
                    let key = crate::key!(format!("repartition-{token}"), j);
                    let none: Option<u64> = None;
                    graph.insert(
                        key.clone(),
                        GraphTask::from_specs(&combine, vec![ArgSpec::Keys(group), value(&none)?]),
                    );
                    out.push(key);
                }
            } else {
                for (i, input) in keys.iter().enumerate() {
                    let pieces = (n / p + usize::from(i < n % p)) as u64;
                    for piece in 0..pieces {
                        let key = crate::key!(format!("repartition-{token}"), out.len());
                        graph.insert(
                            key.clone(),
                            GraphTask::from_specs(
                                &slice_partition,
                                vec![ArgSpec::Key(input.clone()), value(&piece)?, value(&pieces)?],
                            ),
                        );
                        out.push(key);
                    }
                }
            }
            Ok((graph, out))
        })();
        self.bag_of_keys(built)
    }

    /// Writes each partition's (text) elements as the lines of one file: `*` in `pattern`
    /// becomes the partition's number (`out/part-*.txt.gz`; gzip'd for `.gz`). The workers
    /// write the files; computing gives the number of lines written.
    pub fn to_textfiles(&self, pattern: &str) -> Item<u64> {
        let built = (|| {
            let written: Bag<()> = self.per_partition("to_textfiles", |key, i| {
                let path = pattern.replace('*', &i.to_string());
                let path = std::path::absolute(&path).map_or(path, |p| p.display().to_string());
                Ok(GraphTask::from_specs(
                    &write_text,
                    vec![ArgSpec::Key(key.clone()), value(&path)?],
                ))
            });
            let keys = written.partition_tasks(Terminal::Collect { limit: None }, "written")?;
            self.tree(
                keys,
                "to_textfiles-total",
                |group| {
                    let none: Option<u64> = None;
                    Ok(GraphTask::from_specs(
                        &combine,
                        vec![ArgSpec::Keys(group), value(&none)?],
                    ))
                },
                |chunk| match chunk {
                    Chunk::Count(n) => Ok(n),
                    other => Err(BagError::Type {
                        step: "to_textfiles",
                        message: format!("unexpected {}", other.kind()),
                    }),
                },
            )
        })();
        Item::from_result(built, self.keep.clone())
    }
}

/// A pair type's components, for [`Bag::pluck`]: `I = 0` is the first, `I = 1` the second.
pub trait Pluck<const I: usize> {
    /// The component's type.
    type Out;
    /// How the first component is laid out (`None`: not one `pluck` can measure).
    fn first_layout() -> Option<super::pluck::Layout>;
}

impl<A: 'static, B> Pluck<0> for (A, B) {
    type Out = A;
    fn first_layout() -> Option<super::pluck::Layout> {
        super::pluck::Layout::of::<A>()
    }
}

impl<A: 'static, B> Pluck<1> for (A, B) {
    type Out = B;
    fn first_layout() -> Option<super::pluck::Layout> {
        super::pluck::Layout::of::<A>()
    }
}

impl<T> Bag<T> {
    /// Component `I` of every pair (`pluck::<0>()` the keys of `frequencies()`, `foldby`,
    /// `groupby`). The first component must be a `String`, a `bool` or a number.
    pub fn pluck<const I: usize>(&self) -> Bag<<T as Pluck<I>>::Out>
    where
        T: Pluck<I>,
    {
        let Some(layout) = T::first_layout() else {
            return self.failed(BagError::Type {
                step: "pluck",
                message: format!(
                    "the first component of {} must be a String, a bool or a number",
                    std::any::type_name::<T>()
                ),
            });
        };
        let pair_type = std::any::type_name::<T>().to_string();
        let out_type = std::any::type_name::<<T as Pluck<I>>::Out>().to_string();
        self.per_partition("pluck", |key, _| {
            Ok(GraphTask::from_specs(
                &super::pluck::pluck,
                vec![
                    ArgSpec::Key(key.clone()),
                    value(&(I as u8))?,
                    value(&layout)?,
                    value(&pair_type)?,
                    value(&out_type)?,
                ],
            ))
        })
    }
}
