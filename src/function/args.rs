//! Arguments: how they travel ([`ArgSpec`]) and how a worker hands them to a function
//! ([`ArgReader`]): borrowed from values in memory where it can, decoded where it must.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::value::{decode_value, downcast_value, EncodedValue, Value, ValueError};
use crate::ids::TaskKey;

/// One argument of a task as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArgSpec {
    /// A literal value.
    Value(EncodedValue),
    /// The value of another key (a future passed as an argument).
    Key(TaskKey),
    /// The values of several keys, standing for a `Vec` of them.
    Keys(Vec<TaskKey>),
}

impl ArgSpec {
    /// Keys this argument depends on.
    pub fn keys(&self) -> &[TaskKey] {
        match self {
            ArgSpec::Value(_) => &[],
            ArgSpec::Key(key) => std::slice::from_ref(key),
            ArgSpec::Keys(keys) => keys,
        }
    }
}

/// A value in a worker's memory: the object a task made, or bytes received from elsewhere.
#[derive(Clone)]
pub enum Stored {
    /// A Rust object.
    Object(Arc<dyn Value>),
    /// Encoded bytes, decoded on use.
    Encoded(Arc<EncodedValue>),
}

impl Stored {
    /// Bytes it takes when moved.
    pub fn nbytes(&self) -> u64 {
        match self {
            Stored::Object(value) => value.nbytes(),
            Stored::Encoded(encoded) => encoded.len() as u64,
        }
    }

    /// Its type name and whether its encoded bytes are raw: what a reader of
    /// [`Stored::write_encoded`]'s bytes needs to decode them.
    pub fn encoding_header(&self) -> (&str, bool) {
        match self {
            Stored::Object(value) => (value.type_name(), value.travels_raw()),
            Stored::Encoded(encoded) => (&encoded.type_name, encoded.raw),
        }
    }

    /// Writes the bytes of its encoded form to `out` as they are made.
    pub fn write_encoded(
        &self,
        out: &mut dyn std::io::Write,
    ) -> Result<(), crate::messages::CodecError> {
        match self {
            Stored::Object(value) => value.write_encoded(out),
            Stored::Encoded(encoded) => {
                out.write_all(&encoded.bytes)
                    .map_err(|e| crate::messages::CodecError::Encode {
                        type_name: "encoded value",
                        message: e.to_string(),
                    })
            }
        }
    }

    /// Its encoded form (encodes an object; clones the bytes handle of an encoded value).
    pub fn encode(&self) -> Result<EncodedValue, crate::messages::CodecError> {
        match self {
            Stored::Object(value) => value.encode(),
            Stored::Encoded(encoded) => Ok(EncodedValue::clone(encoded)),
        }
    }

    /// Reads it as `T`: borrowed if it is an object of that type, decoded if it is bytes.
    pub fn read<T: Clone + DeserializeOwned + 'static>(&self) -> Result<Cow<'_, T>, ValueError> {
        match self {
            Stored::Object(value) => downcast_value::<T>(value.as_ref()).map(Cow::Borrowed),
            Stored::Encoded(encoded) => decode_value::<T>(encoded).map(Cow::Owned),
        }
    }
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Object(value) => write!(f, "Object({})", value.type_name()),
            Stored::Encoded(encoded) => {
                write!(f, "Encoded({}, {} bytes)", encoded.type_name, encoded.len())
            }
        }
    }
}

/// An argument resolved on the worker, ready for a call.
#[derive(Clone, Debug)]
pub enum ArgSlot {
    /// One value.
    One(Stored),
    /// Several values standing for a `Vec`.
    List(Vec<Stored>),
}

/// Builds a `Vec<U>` argument from a list of values; `None` for parameters that aren't `Vec`s.
pub type ListBuilder<T> = Option<fn(&[Stored]) -> Result<T, ValueError>>;

/// A remote call failed before or inside the function (not a panic: those are caught by the
/// worker).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// An argument could not be read as the parameter's type.
    #[error("argument {index}: {error}")]
    Argument {
        /// Which argument (0-based).
        index: usize,
        /// Why.
        error: ValueError,
    },
    /// The wrong number of arguments arrived.
    #[error("expected {expected} arguments, got {got}")]
    Arity {
        /// Parameters of the function.
        expected: usize,
        /// Arguments sent.
        got: usize,
    },
    /// The function returned `Err`; this is its message.
    #[error("{0}")]
    Failed(String),
}

/// A function's view of its resolved arguments.
pub struct ArgReader<'a> {
    slots: &'a [ArgSlot],
}

impl<'a> ArgReader<'a> {
    /// Reads resolved arguments.
    pub fn new(slots: &'a [ArgSlot]) -> Self {
        ArgReader { slots }
    }

    /// Checks the argument count.
    pub fn expect(&self, expected: usize) -> Result<(), CallError> {
        if self.slots.len() != expected {
            return Err(CallError::Arity {
                expected,
                got: self.slots.len(),
            });
        }
        Ok(())
    }

    /// Argument `index` as `T`, borrowed where possible.
    pub fn get<T: Clone + DeserializeOwned + 'static>(
        &self,
        index: usize,
        list: ListBuilder<T>,
    ) -> Result<Cow<'a, T>, CallError> {
        let wrap = |error| CallError::Argument { index, error };
        match &self.slots[index] {
            ArgSlot::One(stored) => stored.read::<T>().map_err(wrap),
            ArgSlot::List(items) => match list {
                Some(build) => build(items).map(Cow::Owned).map_err(wrap),
                None => Err(wrap(ValueError::TypeMismatch {
                    expected: std::any::type_name::<T>().into(),
                    found: "a list of futures".into(),
                })),
            },
        }
    }
}

fn build_vec<U: Clone + DeserializeOwned + 'static>(
    items: &[Stored],
) -> Result<Vec<U>, ValueError> {
    items
        .iter()
        .map(|item| item.read::<U>().map(Cow::into_owned))
        .collect()
}

/// Finds the [`ListBuilder`] of a parameter type at compile time (used by `#[remote]`):
/// `(&ListProbe::<T>::new()).list_builder()` is `Some` exactly when `T` is a `Vec`.
pub struct ListProbe<T>(PhantomData<T>);

impl<T> ListProbe<T> {
    /// A probe for `T`.
    pub fn new() -> Self {
        ListProbe(PhantomData)
    }
}

impl<T> Default for ListProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The `Vec` case of [`ListProbe`].
pub trait ListOfValues<T> {
    /// A builder from a list of values.
    fn list_builder(&self) -> ListBuilder<T>;
}

impl<U: Clone + DeserializeOwned + 'static> ListOfValues<Vec<U>> for ListProbe<Vec<U>> {
    fn list_builder(&self) -> ListBuilder<Vec<U>> {
        Some(build_vec::<U>)
    }
}

/// The fallback case of [`ListProbe`].
pub trait NotAList<T> {
    /// No builder: such a parameter can't take a list of futures.
    fn list_builder(&self) -> ListBuilder<T>;
}

impl<T> NotAList<T> for &ListProbe<T> {
    fn list_builder(&self) -> ListBuilder<T> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::value::encode_value;

    fn object<T: Value>(value: T) -> Stored {
        Stored::Object(Arc::new(value))
    }

    #[test]
    fn probe_finds_vec_parameters_only() {
        assert!(ListProbe::<Vec<i64>>::new().list_builder().is_some());
        assert!((&ListProbe::<i64>::new()).list_builder().is_none());
    }

    #[test]
    fn objects_are_borrowed_and_bytes_decoded() {
        let encoded = Stored::Encoded(Arc::new(encode_value(&5_i64).unwrap()));
        let slots = [
            ArgSlot::One(object(String::from("x"))),
            ArgSlot::One(encoded),
        ];
        let reader = ArgReader::new(&slots);
        assert!(matches!(reader.get::<String>(0, None).unwrap(), Cow::Borrowed(s) if s == "x"));
        assert_eq!(*reader.get::<i64>(1, None).unwrap(), 5);
        assert!(matches!(
            reader.get::<i64>(0, None),
            Err(CallError::Argument { index: 0, .. })
        ));
    }

    #[test]
    fn a_list_of_values_becomes_a_vec() {
        let encoded = Stored::Encoded(Arc::new(encode_value(&2_i64).unwrap()));
        let slots = [ArgSlot::List(vec![object(1_i64), encoded])];
        let reader = ArgReader::new(&slots);
        let builder = ListProbe::<Vec<i64>>::new().list_builder();
        assert_eq!(*reader.get::<Vec<i64>>(0, builder).unwrap(), vec![1, 2]);
        assert!(reader.get::<i64>(0, None).is_err());
    }
}
