//! The typed side of remote functions: the [`RemoteFunction`] trait that `#[remote]` handles
//! implement, what may stand for an argument ([`Arg`], [`IntoArgs`]), and partial application
//! ([`Bound`]).

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::args::ArgSpec;
use super::value::encode_value;
use crate::ids::FunctionId;
use crate::messages::CodecError;

/// A function that can run on the cluster. `#[remote]` implements it for a unit-struct handle
/// named like the function; the handle still calls the function locally (`inc(1)`).
pub trait RemoteFunction: Clone + Send + Sync + 'static {
    /// The parameters, in their owned forms, as a tuple (`(i64, String)`).
    type Args;
    /// What a call gives (`T` of a function declared `-> Result<T, E>`).
    type Output: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The registered name and signature hash.
    fn function_id(&self) -> &FunctionId;

    /// A short name for keys and logs (the function's own name).
    fn short_name(&self) -> &'static str;

    /// Arguments already bound by [`RemoteFunction::bind`], appended after the call's own
    /// (an error if a bound value could not be encoded).
    fn bound_args(&self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(Vec::new())
    }

    /// Binds the trailing arguments (values or futures); the result takes the rest.
    ///
    /// ```no_run
    /// # use taskforce::{remote, Executor};
    /// #[remote]
    /// fn contains_word(line: &str, word: &str) -> bool { line.contains(word) }
    /// # fn main() -> taskforce::Result<()> {
    /// # let executor = Executor::connect("127.0.0.1:8787")?;
    /// let word = String::from("python");
    /// let has_word = contains_word.bind((word.clone(),));   // takes the line only
    /// let found = executor.submit(has_word, ("a line about python",))?;
    /// # Ok(()) }
    /// ```
    fn bind<B, X>(&self, args: X) -> Bound<Self, B>
    where
        Self::Args: SplitTail<B>,
        X: IntoArgs<B>,
    {
        Bound {
            inner: self.clone(),
            bound: args.into_specs().map(Arc::new),
            _args: PhantomData,
        }
    }
}

/// A remote function with its trailing arguments bound.
pub struct Bound<F, B> {
    inner: F,
    bound: Result<Arc<Vec<ArgSpec>>, CodecError>,
    _args: PhantomData<fn() -> B>,
}

impl<F: Clone, B> Clone for Bound<F, B> {
    fn clone(&self) -> Self {
        Bound {
            inner: self.inner.clone(),
            bound: self.bound.clone(),
            _args: PhantomData,
        }
    }
}

impl<F, B> RemoteFunction for Bound<F, B>
where
    F: RemoteFunction,
    F::Args: SplitTail<B>,
    B: 'static,
{
    type Args = <F::Args as SplitTail<B>>::Head;
    type Output = F::Output;

    fn function_id(&self) -> &FunctionId {
        self.inner.function_id()
    }

    fn short_name(&self) -> &'static str {
        self.inner.short_name()
    }

    fn bound_args(&self) -> Result<Vec<ArgSpec>, CodecError> {
        let mut all = self.bound.clone()?.as_ref().clone();
        all.extend(self.inner.bound_args()?);
        Ok(all)
    }
}

/// Splits a parameter tuple into leading parameters and the trailing ones `Tail`.
pub trait SplitTail<Tail> {
    /// The leading parameters left after binding `Tail`.
    type Head;
}

/// Something that can stand for an argument of type `T`: a plain `T`, a `&Future<T>`, a
/// `&Vec<Future<U>>` for `T = Vec<U>`, a `&str` for `String`.
pub trait Arg<T> {
    /// The argument as it travels.
    fn into_spec(self) -> Result<ArgSpec, CodecError>;

    /// Like [`Arg::into_spec`]; an argument that must outlive the call's submission (a
    /// future passed by value, whose drop would release its key) is moved into `keep`.
    fn into_spec_keeping(self, keep: &mut KeepAlive) -> Result<ArgSpec, CodecError>
    where
        Self: Sized,
    {
        let _ = keep;
        self.into_spec()
    }
}

/// Values that must live until a submission has been sent (see [`Arg::into_spec_keeping`]).
pub type KeepAlive = Vec<Box<dyn std::any::Any + Send>>;

impl<T: Serialize + 'static> Arg<T> for T {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        encode_value(&self).map(ArgSpec::Value)
    }
}

impl Arg<String> for &str {
    fn into_spec(self) -> Result<ArgSpec, CodecError> {
        encode_value(&self.to_string()).map(ArgSpec::Value)
    }
}

/// A tuple of [`Arg`]s standing for the parameter tuple `Args`.
pub trait IntoArgs<Args> {
    /// The arguments as they travel.
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError>;

    /// The arguments as they travel, keeping what must outlive the submission in `keep`.
    fn into_specs_keeping(self, keep: &mut KeepAlive) -> Result<Vec<ArgSpec>, CodecError>;
}

impl IntoArgs<()> for () {
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(Vec::new())
    }

    fn into_specs_keeping(self, _: &mut KeepAlive) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(Vec::new())
    }
}

macro_rules! into_args_for_tuples {
    ($(($($param:ident $arg:ident $index:tt),+))+) => {$(
        impl<$($param,)+ $($arg: Arg<$param>,)+> IntoArgs<($($param,)+)> for ($($arg,)+) {
            fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
                Ok(vec![$(self.$index.into_spec()?),+])
            }

            fn into_specs_keeping(self, keep: &mut KeepAlive) -> Result<Vec<ArgSpec>, CodecError> {
                Ok(vec![$(self.$index.into_spec_keeping(keep)?),+])
            }
        }
    )+};
}

into_args_for_tuples! {
    (A0 X0 0)
    (A0 X0 0, A1 X1 1)
    (A0 X0 0, A1 X1 1, A2 X2 2)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4, A5 X5 5)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4, A5 X5 5, A6 X6 6)
    (A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3, A4 X4 4, A5 X5 5, A6 X6 6, A7 X7 7)
}

/// Implements [`SplitTail`] for every split of one parameter tuple: `[head] [tail]`.
macro_rules! split_tails {
    ([$($head:ident)*] []) => {};
    ([$($head:ident)*] [$first:ident $($rest:ident)*]) => {
        impl<$($head,)* $first, $($rest,)*> SplitTail<($first, $($rest,)*)>
            for ($($head,)* $first, $($rest,)*)
        {
            type Head = ($($head,)*);
        }
        split_tails!([$($head)* $first] [$($rest)*]);
    };
}

split_tails!([][A0]);
split_tails!([] [A0 A1]);
split_tails!([] [A0 A1 A2]);
split_tails!([] [A0 A1 A2 A3]);
split_tails!([] [A0 A1 A2 A3 A4]);
split_tails!([] [A0 A1 A2 A3 A4 A5]);
split_tails!([] [A0 A1 A2 A3 A4 A5 A6]);
split_tails!([] [A0 A1 A2 A3 A4 A5 A6 A7]);
