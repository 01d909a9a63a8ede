//! What a caller asks of a graph runner: one key or several ([`Keys`]), and how the values
//! that come back are taken out as concrete types ([`take_value`]).
//!
//! Shared by every runner (local threads, a cluster); knows no actors and no network.

use std::sync::Arc;

use crate::function::{Value, ValueError};
use crate::ids::TaskKey;
use crate::Error;

/// One key as a caller may write it: `"x"`, a `String`, a [`TaskKey`] (or a reference to one).
pub trait KeyLike {
    /// The key.
    fn to_task_key(&self) -> TaskKey;
}

impl KeyLike for &str {
    fn to_task_key(&self) -> TaskKey {
        TaskKey::from(*self)
    }
}

impl KeyLike for String {
    fn to_task_key(&self) -> TaskKey {
        TaskKey::from(self.as_str())
    }
}

impl KeyLike for &String {
    fn to_task_key(&self) -> TaskKey {
        TaskKey::from(self.as_str())
    }
}

impl KeyLike for TaskKey {
    fn to_task_key(&self) -> TaskKey {
        self.clone()
    }
}

impl KeyLike for &TaskKey {
    fn to_task_key(&self) -> TaskKey {
        (*self).clone()
    }
}

/// The outputs asked of a graph: one key gives one value `T`, a list or array of keys gives a
/// `Vec<T>` in the same order.
///
/// ```
/// use taskforce::graph::{key, task, Graph};
/// use taskforce::threaded;
/// # #[taskforce::remote] fn inc(x: i64) -> i64 { x + 1 }
/// let mut dsk = Graph::new();
/// dsk.insert("a", task!(inc, 1));
/// dsk.insert(key!("b", 0), task!(inc, key!("a")));
/// let b: i64 = threaded::get(&dsk, key!("b", 0))?;
/// let both: Vec<i64> = threaded::get(&dsk, ["a", "('b', 0)"])?;
/// assert_eq!((b, both), (3, vec![2, 3]));
/// # Ok::<(), taskforce::Error>(())
/// ```
pub trait Keys {
    /// What comes back for values of type `T`.
    type Output<T>;

    /// The keys, in order.
    fn into_keys(self) -> Vec<TaskKey>;

    /// The output from the values of [`Keys::into_keys`], in the same order.
    fn assemble<T>(values: Vec<T>) -> Self::Output<T>;
}

macro_rules! one_key {
    ($($t:ty),*) => {$(
        impl Keys for $t {
            type Output<T> = T;

            fn into_keys(self) -> Vec<TaskKey> {
                vec![self.to_task_key()]
            }

            fn assemble<T>(values: Vec<T>) -> T {
                values.into_iter().next().expect("one value for one key")
            }
        }
    )*};
}

one_key!(&str, String, &String, TaskKey, &TaskKey);

macro_rules! many_keys {
    ($([$($generics:tt)*] $t:ty),*) => {$(
        impl<$($generics)*> Keys for $t {
            type Output<T> = Vec<T>;

            fn into_keys(self) -> Vec<TaskKey> {
                self.iter().map(KeyLike::to_task_key).collect()
            }

            fn assemble<T>(values: Vec<T>) -> Vec<T> {
                values
            }
        }
    )*};
}

many_keys!(
    [K: KeyLike] Vec<K>,
    [K: KeyLike] &Vec<K>,
    [K: KeyLike] &[K],
    [K: KeyLike, const N: usize] [K; N],
    [K: KeyLike, const N: usize] &[K; N]
);

/// Takes the `T` out of the value of `key`: moved out if this was the last handle to it,
/// cloned if it is shared (the same key asked twice, say).
pub fn take_value<T: Clone + Send + Sync + 'static>(
    key: &TaskKey,
    value: Arc<dyn Value>,
) -> crate::Result<T> {
    let found = value.type_name();
    match value.into_any().downcast::<T>() {
        Ok(value) => Ok(Arc::try_unwrap(value).unwrap_or_else(|shared| T::clone(&shared))),
        Err(_) => Err(Error::Value {
            key: key.clone(),
            source: ValueError::TypeMismatch {
                expected: std::any::type_name::<T>().into(),
                found: found.into(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_gives_one_value_and_lists_give_vecs() {
        assert_eq!("a".into_keys(), vec![TaskKey::from("a")]);
        assert_eq!(<&str as Keys>::assemble(vec![7]), 7);
        let keys = vec![TaskKey::from("a"), TaskKey::from("b")];
        assert_eq!((&keys).into_keys(), keys);
        assert_eq!(["a", "b"].into_keys(), keys);
        assert_eq!(<[&str; 2] as Keys>::assemble(vec![1, 2]), vec![1, 2]);
    }

    #[test]
    fn values_move_out_when_unshared_and_clone_when_shared() {
        let key = TaskKey::from("k");
        let value: Arc<dyn Value> = Arc::new(vec![1_i64, 2]);
        let shared = Arc::clone(&value);
        assert_eq!(take_value::<Vec<i64>>(&key, value).unwrap(), vec![1, 2]);
        assert_eq!(take_value::<Vec<i64>>(&key, shared).unwrap(), vec![1, 2]);
        let err = take_value::<String>(&key, Arc::new(1_u8)).unwrap_err();
        assert!(matches!(err, Error::Value { key, .. } if key.as_str() == "k"));
    }
}
