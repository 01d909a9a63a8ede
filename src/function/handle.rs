//! The typed side of remote functions: the [`RemoteFunction`] trait that `#[remote]` handles
//! implement, what may stand for an argument ([`Arg`], [`IntoArgs`]), and partial application
//! ([`Bound`]).

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::args::ArgSpec;
use super::value::encode_value;
use crate::messages::CodecError;
use crate::scheduler::FunctionId;

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
}

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
}

impl IntoArgs<()> for () {
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(Vec::new())
    }
}

impl<A0, X0: Arg<A0>> IntoArgs<(A0,)> for (X0,) {
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![self.0.into_spec()?])
    }
}

impl<A0, A1, X0: Arg<A0>, X1: Arg<A1>> IntoArgs<(A0, A1)> for (X0, X1) {
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![self.0.into_spec()?, self.1.into_spec()?])
    }
}

impl<A0, A1, A2, X0: Arg<A0>, X1: Arg<A1>, X2: Arg<A2>> IntoArgs<(A0, A1, A2)> for (X0, X1, X2) {
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![
            self.0.into_spec()?,
            self.1.into_spec()?,
            self.2.into_spec()?,
        ])
    }
}

impl<A0, A1, A2, A3, X0: Arg<A0>, X1: Arg<A1>, X2: Arg<A2>, X3: Arg<A3>> IntoArgs<(A0, A1, A2, A3)>
    for (X0, X1, X2, X3)
{
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![
            self.0.into_spec()?,
            self.1.into_spec()?,
            self.2.into_spec()?,
            self.3.into_spec()?,
        ])
    }
}

impl<A0, A1, A2, A3, A4, X0: Arg<A0>, X1: Arg<A1>, X2: Arg<A2>, X3: Arg<A3>, X4: Arg<A4>>
    IntoArgs<(A0, A1, A2, A3, A4)> for (X0, X1, X2, X3, X4)
{
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![
            self.0.into_spec()?,
            self.1.into_spec()?,
            self.2.into_spec()?,
            self.3.into_spec()?,
            self.4.into_spec()?,
        ])
    }
}

impl<
        A0,
        A1,
        A2,
        A3,
        A4,
        A5,
        X0: Arg<A0>,
        X1: Arg<A1>,
        X2: Arg<A2>,
        X3: Arg<A3>,
        X4: Arg<A4>,
        X5: Arg<A5>,
    > IntoArgs<(A0, A1, A2, A3, A4, A5)> for (X0, X1, X2, X3, X4, X5)
{
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![
            self.0.into_spec()?,
            self.1.into_spec()?,
            self.2.into_spec()?,
            self.3.into_spec()?,
            self.4.into_spec()?,
            self.5.into_spec()?,
        ])
    }
}

impl<
        A0,
        A1,
        A2,
        A3,
        A4,
        A5,
        A6,
        X0: Arg<A0>,
        X1: Arg<A1>,
        X2: Arg<A2>,
        X3: Arg<A3>,
        X4: Arg<A4>,
        X5: Arg<A5>,
        X6: Arg<A6>,
    > IntoArgs<(A0, A1, A2, A3, A4, A5, A6)> for (X0, X1, X2, X3, X4, X5, X6)
{
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![
            self.0.into_spec()?,
            self.1.into_spec()?,
            self.2.into_spec()?,
            self.3.into_spec()?,
            self.4.into_spec()?,
            self.5.into_spec()?,
            self.6.into_spec()?,
        ])
    }
}

impl<
        A0,
        A1,
        A2,
        A3,
        A4,
        A5,
        A6,
        A7,
        X0: Arg<A0>,
        X1: Arg<A1>,
        X2: Arg<A2>,
        X3: Arg<A3>,
        X4: Arg<A4>,
        X5: Arg<A5>,
        X6: Arg<A6>,
        X7: Arg<A7>,
    > IntoArgs<(A0, A1, A2, A3, A4, A5, A6, A7)> for (X0, X1, X2, X3, X4, X5, X6, X7)
{
    fn into_specs(self) -> Result<Vec<ArgSpec>, CodecError> {
        Ok(vec![
            self.0.into_spec()?,
            self.1.into_spec()?,
            self.2.into_spec()?,
            self.3.into_spec()?,
            self.4.into_spec()?,
            self.5.into_spec()?,
            self.6.into_spec()?,
            self.7.into_spec()?,
        ])
    }
}

impl<A0> SplitTail<(A0,)> for (A0,) {
    type Head = ();
}

impl<A0, A1> SplitTail<(A1,)> for (A0, A1) {
    type Head = (A0,);
}

impl<A0, A1> SplitTail<(A0, A1)> for (A0, A1) {
    type Head = ();
}

impl<A0, A1, A2> SplitTail<(A2,)> for (A0, A1, A2) {
    type Head = (A0, A1);
}

impl<A0, A1, A2> SplitTail<(A1, A2)> for (A0, A1, A2) {
    type Head = (A0,);
}

impl<A0, A1, A2> SplitTail<(A0, A1, A2)> for (A0, A1, A2) {
    type Head = ();
}

impl<A0, A1, A2, A3> SplitTail<(A3,)> for (A0, A1, A2, A3) {
    type Head = (A0, A1, A2);
}

impl<A0, A1, A2, A3> SplitTail<(A2, A3)> for (A0, A1, A2, A3) {
    type Head = (A0, A1);
}

impl<A0, A1, A2, A3> SplitTail<(A1, A2, A3)> for (A0, A1, A2, A3) {
    type Head = (A0,);
}

impl<A0, A1, A2, A3> SplitTail<(A0, A1, A2, A3)> for (A0, A1, A2, A3) {
    type Head = ();
}

impl<A0, A1, A2, A3, A4> SplitTail<(A4,)> for (A0, A1, A2, A3, A4) {
    type Head = (A0, A1, A2, A3);
}

impl<A0, A1, A2, A3, A4> SplitTail<(A3, A4)> for (A0, A1, A2, A3, A4) {
    type Head = (A0, A1, A2);
}

impl<A0, A1, A2, A3, A4> SplitTail<(A2, A3, A4)> for (A0, A1, A2, A3, A4) {
    type Head = (A0, A1);
}

impl<A0, A1, A2, A3, A4> SplitTail<(A1, A2, A3, A4)> for (A0, A1, A2, A3, A4) {
    type Head = (A0,);
}

impl<A0, A1, A2, A3, A4> SplitTail<(A0, A1, A2, A3, A4)> for (A0, A1, A2, A3, A4) {
    type Head = ();
}

impl<A0, A1, A2, A3, A4, A5> SplitTail<(A5,)> for (A0, A1, A2, A3, A4, A5) {
    type Head = (A0, A1, A2, A3, A4);
}

impl<A0, A1, A2, A3, A4, A5> SplitTail<(A4, A5)> for (A0, A1, A2, A3, A4, A5) {
    type Head = (A0, A1, A2, A3);
}

impl<A0, A1, A2, A3, A4, A5> SplitTail<(A3, A4, A5)> for (A0, A1, A2, A3, A4, A5) {
    type Head = (A0, A1, A2);
}

impl<A0, A1, A2, A3, A4, A5> SplitTail<(A2, A3, A4, A5)> for (A0, A1, A2, A3, A4, A5) {
    type Head = (A0, A1);
}

impl<A0, A1, A2, A3, A4, A5> SplitTail<(A1, A2, A3, A4, A5)> for (A0, A1, A2, A3, A4, A5) {
    type Head = (A0,);
}

impl<A0, A1, A2, A3, A4, A5> SplitTail<(A0, A1, A2, A3, A4, A5)> for (A0, A1, A2, A3, A4, A5) {
    type Head = ();
}

impl<A0, A1, A2, A3, A4, A5, A6> SplitTail<(A6,)> for (A0, A1, A2, A3, A4, A5, A6) {
    type Head = (A0, A1, A2, A3, A4, A5);
}

impl<A0, A1, A2, A3, A4, A5, A6> SplitTail<(A5, A6)> for (A0, A1, A2, A3, A4, A5, A6) {
    type Head = (A0, A1, A2, A3, A4);
}

impl<A0, A1, A2, A3, A4, A5, A6> SplitTail<(A4, A5, A6)> for (A0, A1, A2, A3, A4, A5, A6) {
    type Head = (A0, A1, A2, A3);
}

impl<A0, A1, A2, A3, A4, A5, A6> SplitTail<(A3, A4, A5, A6)> for (A0, A1, A2, A3, A4, A5, A6) {
    type Head = (A0, A1, A2);
}

impl<A0, A1, A2, A3, A4, A5, A6> SplitTail<(A2, A3, A4, A5, A6)> for (A0, A1, A2, A3, A4, A5, A6) {
    type Head = (A0, A1);
}

impl<A0, A1, A2, A3, A4, A5, A6> SplitTail<(A1, A2, A3, A4, A5, A6)>
    for (A0, A1, A2, A3, A4, A5, A6)
{
    type Head = (A0,);
}

impl<A0, A1, A2, A3, A4, A5, A6> SplitTail<(A0, A1, A2, A3, A4, A5, A6)>
    for (A0, A1, A2, A3, A4, A5, A6)
{
    type Head = ();
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A7,)> for (A0, A1, A2, A3, A4, A5, A6, A7) {
    type Head = (A0, A1, A2, A3, A4, A5, A6);
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A6, A7)> for (A0, A1, A2, A3, A4, A5, A6, A7) {
    type Head = (A0, A1, A2, A3, A4, A5);
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A5, A6, A7)> for (A0, A1, A2, A3, A4, A5, A6, A7) {
    type Head = (A0, A1, A2, A3, A4);
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A4, A5, A6, A7)>
    for (A0, A1, A2, A3, A4, A5, A6, A7)
{
    type Head = (A0, A1, A2, A3);
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A3, A4, A5, A6, A7)>
    for (A0, A1, A2, A3, A4, A5, A6, A7)
{
    type Head = (A0, A1, A2);
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A2, A3, A4, A5, A6, A7)>
    for (A0, A1, A2, A3, A4, A5, A6, A7)
{
    type Head = (A0, A1);
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A1, A2, A3, A4, A5, A6, A7)>
    for (A0, A1, A2, A3, A4, A5, A6, A7)
{
    type Head = (A0,);
}

impl<A0, A1, A2, A3, A4, A5, A6, A7> SplitTail<(A0, A1, A2, A3, A4, A5, A6, A7)>
    for (A0, A1, A2, A3, A4, A5, A6, A7)
{
    type Head = ();
}
