//! Aggregations of [`Bag`]s that give one value or a ranking: `sum`, `min`, `max`, `mean`
//! of numbers, and `topk` of `(value, count)` pairs. Builds graphs only.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::chunk::Chunk;
use super::decode::Number;
use super::error::BagError;
use super::item::Item;
use super::lazy::{token, unexpected, Bag, Input};
use super::sink::Terminal;
use crate::function::{encode_value, ArgSpec};
use crate::graph::GraphTask;

impl<T: Number> Bag<T> {
    /// The sum of the elements (0 for an empty bag).
    pub fn sum(&self) -> Item<T> {
        self.item(Terminal::Numbers(T::KIND), "sum", |chunk| {
            Ok(T::sum_of(&numbers(chunk)?))
        })
    }

    /// The smallest element (an error for an empty bag).
    pub fn min(&self) -> Item<T> {
        self.item(Terminal::Numbers(T::KIND), "min", |chunk| {
            T::bound_of(&numbers(chunk)?, false).ok_or_else(empty_bag)
        })
    }

    /// The largest element (an error for an empty bag).
    pub fn max(&self) -> Item<T> {
        self.item(Terminal::Numbers(T::KIND), "max", |chunk| {
            T::bound_of(&numbers(chunk)?, true).ok_or_else(empty_bag)
        })
    }

    /// The mean of the elements (an error for an empty bag).
    pub fn mean(&self) -> Item<f64> {
        self.item(Terminal::Numbers(T::KIND), "mean", |chunk| {
            let acc = numbers(chunk)?;
            if acc.count == 0 {
                return Err(empty_bag());
            }
            Ok(acc.float_sum / acc.count as f64)
        })
    }
}

fn numbers(chunk: Chunk) -> Result<super::chunk::NumberAcc, BagError> {
    match chunk {
        Chunk::Numbers(acc) => Ok(acc),
        other => Err(unexpected("sum/min/max/mean", &other)),
    }
}

fn empty_bag() -> BagError {
    BagError::Type {
        step: "min/max/mean",
        message: "the bag is empty".into(),
    }
}

impl<X: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> Bag<(X, u64)> {
    /// The `k` pairs with the largest counts (the output of [`Bag::frequencies`]), largest
    /// first; ties in text order of the value (or its encoding), so the order is stable.
    pub fn topk(&self, k: usize) -> Bag<(X, u64)> {
        let built = (|| {
            let (mut graph, keys) =
                self.partition_tasks(Terminal::Collect { limit: None }, "topk-in")?;
            let pair_type = std::any::type_name::<(X, u64)>();
            let task = GraphTask::from_specs(
                &super::kernels::topk,
                vec![
                    ArgSpec::Keys(keys.clone()),
                    ArgSpec::Value(encode_value(&(k as u64))?),
                    ArgSpec::Value(encode_value(&pair_type.to_string())?),
                ],
            );
            let key = crate::key!(format!("topk-{}", token(&(&keys, k))?), 0);
            graph.insert(key.clone(), task);
            Ok::<_, BagError>((graph, key))
        })();
        match built {
            Ok((graph, key)) => {
                let mut bag = Bag::from_inputs(vec![Input::Key(key)], graph);
                bag.keep = self.keep.clone();
                bag
            }
            Err(error) => self.failed(error),
        }
    }
}
