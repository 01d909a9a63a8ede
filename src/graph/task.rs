//! One task of a graph ([`GraphTask`]) and the [`task!`](crate::task) macro that builds it from
//! a remote function and arguments.
//!
//! Each argument of `task!` becomes an [`ArgSpec`] by its Rust type, chosen at compile time by
//! autoref specialization: anything implementing [`IntoGraphArg`] (a [`TaskKey`], a list of
//! keys) stands for the value of other tasks; anything else must be an
//! [`Arg`] of the parameter's type (a plain serde value, a `&str` for a `String`, or whatever
//! else implements `Arg`, such as a future). The parameter types come from the function
//! handle, so `task!(f, 1_000_000)` is a `usize` literal when `f` takes a `usize`, and a wrong
//! number of arguments is a compile error. Knows no actors and no network.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::function::{Arg, ArgSpec, RemoteFunction, TaskBody};
use crate::ids::FunctionId;
use crate::ids::{Set, TaskKey};
use crate::messages::CodecError;

/// Builds a [`GraphTask`]: `task!(f, a, b, …)` calls the remote function `f` (a handle or a
/// `.bind(..)` of one) on the arguments.
///
/// A [`TaskKey`] argument stands for the value of that key; a `Vec<TaskKey>` (or `&[TaskKey]`,
/// or an array of keys) stands for the list of their values and goes to a `Vec` parameter;
/// anything else is a literal of the parameter's type (`&str` is a `String` literal, never a
/// key: write keys with [`key!`](crate::key)). Bound arguments of `f` come last.
///
/// ```
/// use taskforce::graph::{key, task, Graph};
///
/// #[taskforce::remote]
/// fn add(x: i64, y: i64) -> i64 { x + y }
///
/// let mut dsk = Graph::new();
/// dsk.insert("one", task!(add, 0, 1));
/// dsk.insert(key!("two", 0), task!(add, key!("one"), 1));
/// assert_eq!(dsk.get(&key!("two", 0)).unwrap().dependencies(), vec![key!("one")]);
/// ```
///
/// A missing or extra argument is a compile error:
///
/// ```compile_fail
/// use taskforce::graph::task;
/// # #[taskforce::remote] fn add(x: i64, y: i64) -> i64 { x + y }
/// let short = task!(add, 1);
/// ```
///
/// The dispatch happens where the macro is written, so arguments must have concrete types
/// there; generic code builds tasks with [`GraphTask::from_specs`].
#[macro_export]
macro_rules! task {
    ($function:expr $(, $arg:expr)* $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::graph::__private::{ViaArg as _, ViaGraphArg as _};
        let call = $crate::graph::__private::start_call(&$function);
        $(
            let call = {
                let (probe, call) = call.next($arg);
                call.push((&&probe).graph_arg_spec())
            };
        )*
        call.finish()
    }};
}

/// One task of a [`Graph`](super::Graph): a remote function and its arguments.
///
/// An argument that could not be encoded is kept as an error and reported by
/// [`Graph::validate`](super::Graph::validate) (and by whatever runs the graph).
#[derive(Clone, Debug)]
pub struct GraphTask {
    function: FunctionId,
    short_name: &'static str,
    /// Shared, so culling and merging graphs copy no argument bytes.
    args: Arc<[ArgSpec]>,
    /// Boxed: rare, and a graph of a million tasks holds a million of these.
    error: Option<Box<CodecError>>,
}

impl GraphTask {
    /// A task from its parts, as they travel.
    pub fn new(function: FunctionId, short_name: &'static str, args: Vec<ArgSpec>) -> Self {
        GraphTask {
            function,
            short_name,
            args: args.into(),
            error: None,
        }
    }

    /// A task calling `function` on already-built arguments, followed by its bound ones. For
    /// generic code, where [`task!`](crate::task) can't see concrete argument types.
    pub fn from_specs<F: RemoteFunction>(function: &F, mut args: Vec<ArgSpec>) -> Self {
        let error = function
            .bound_args()
            .map(|bound| args.extend(bound))
            .err()
            .map(Box::new);
        let task = GraphTask::new(function.function_id().clone(), function.short_name(), args);
        GraphTask { error, ..task }
    }

    /// The same task, marked as having an argument that could not be encoded (reported by
    /// validation rather than at build time).
    pub fn with_error(mut self, error: CodecError) -> Self {
        self.error = Some(Box::new(error));
        self
    }

    /// The function it calls.
    pub fn function(&self) -> &FunctionId {
        &self.function
    }

    /// The function's short name (for keys and logs).
    pub fn short_name(&self) -> &'static str {
        self.short_name
    }

    /// Its arguments, in order.
    pub fn args(&self) -> &[ArgSpec] {
        &self.args
    }

    /// Keys it reads, each once, in first-use order.
    pub fn dependencies(&self) -> Vec<TaskKey> {
        let mut seen: Set<&TaskKey> = Set::default();
        self.args
            .iter()
            .flat_map(ArgSpec::keys)
            .filter(|key| seen.insert(*key))
            .cloned()
            .collect()
    }

    /// Why an argument could not be encoded, if one could not.
    pub fn encoding_error(&self) -> Option<&CodecError> {
        self.error.as_deref()
    }

    /// What a worker needs to run it (an error if an argument could not be encoded).
    pub fn to_body(&self) -> Result<TaskBody, CodecError> {
        match &self.error {
            Some(error) => Err(error.as_ref().clone()),
            None => Ok(TaskBody {
                function: self.function.clone(),
                args: self.args.to_vec(),
                retries: 0,
            }),
        }
    }
}

/// Something that stands for the value of other tasks when passed to [`task!`](crate::task)
/// for a parameter of type `P`: a [`TaskKey`] (any parameter), or a list of keys (a `Vec`
/// parameter).
///
/// This is the extension point for argument kinds that become keys: implement it for the
/// type (say `&Delayed<T>` for `P = T`) and `task!` picks it before the literal-value case.
pub trait IntoGraphArg<P> {
    /// The argument as it travels.
    fn into_graph_arg(self) -> ArgSpec;
}

impl<P> IntoGraphArg<P> for TaskKey {
    fn into_graph_arg(self) -> ArgSpec {
        ArgSpec::Key(self)
    }
}

impl<P> IntoGraphArg<P> for &TaskKey {
    fn into_graph_arg(self) -> ArgSpec {
        ArgSpec::Key(self.clone())
    }
}

impl<U> IntoGraphArg<Vec<U>> for Vec<TaskKey> {
    fn into_graph_arg(self) -> ArgSpec {
        ArgSpec::Keys(self)
    }
}

impl<U> IntoGraphArg<Vec<U>> for &Vec<TaskKey> {
    fn into_graph_arg(self) -> ArgSpec {
        ArgSpec::Keys(self.clone())
    }
}

impl<U> IntoGraphArg<Vec<U>> for &[TaskKey] {
    fn into_graph_arg(self) -> ArgSpec {
        ArgSpec::Keys(self.to_vec())
    }
}

impl<U, const N: usize> IntoGraphArg<Vec<U>> for [TaskKey; N] {
    fn into_graph_arg(self) -> ArgSpec {
        ArgSpec::Keys(self.into())
    }
}

impl<U, const N: usize> IntoGraphArg<Vec<U>> for &[TaskKey; N] {
    fn into_graph_arg(self) -> ArgSpec {
        ArgSpec::Keys(self.to_vec())
    }
}

/// A parameter tuple split into its first type and the rest (so `task!` can give each
/// argument its parameter's type).
pub trait Uncons {
    /// The first parameter.
    type Head;
    /// The remaining parameters.
    type Tail;
}

macro_rules! uncons_tuples {
    ($head:ident $(, $rest:ident)*) => {
        impl<$head $(, $rest)*> Uncons for ($head, $($rest,)*) {
            type Head = $head;
            type Tail = ($($rest,)*);
        }
        uncons_tuples!($($rest),*);
    };
    () => {};
}

uncons_tuples!(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11);

/// A call being built by [`task!`](crate::task); `Rest` are the parameters still to fill.
pub struct CallBuilder<Rest> {
    function: FunctionId,
    short_name: &'static str,
    args: Vec<ArgSpec>,
    bound: Result<Vec<ArgSpec>, CodecError>,
    error: Option<CodecError>,
    _rest: PhantomData<fn() -> Rest>,
}

/// Starts a call of `function`, whose parameters are still all to fill.
pub fn start_call<F: RemoteFunction>(function: &F) -> CallBuilder<F::Args> {
    CallBuilder {
        function: function.function_id().clone(),
        short_name: function.short_name(),
        args: Vec::new(),
        bound: function.bound_args(),
        error: None,
        _rest: PhantomData,
    }
}

impl CallBuilder<()> {
    /// The finished task (every parameter filled), bound arguments last.
    pub fn finish(mut self) -> GraphTask {
        let bound_error = self.bound.map(|bound| self.args.extend(bound)).err();
        let task = GraphTask::new(self.function, self.short_name, self.args);
        GraphTask {
            error: self.error.or(bound_error).map(Box::new),
            ..task
        }
    }
}

impl<Rest: Uncons> CallBuilder<Rest> {
    /// Pairs the next argument with its parameter's type, for the dispatch.
    pub fn next<X>(self, arg: X) -> (ArgProbe<X, Rest::Head>, CallBuilder<Rest::Tail>) {
        let probe = ArgProbe {
            arg: Cell::new(Some(arg)),
            _param: PhantomData,
        };
        let rest = CallBuilder {
            function: self.function,
            short_name: self.short_name,
            args: self.args,
            bound: self.bound,
            error: self.error,
            _rest: PhantomData,
        };
        (probe, rest)
    }
}

impl<Rest> CallBuilder<Rest> {
    /// Appends an argument as it travels (keeping the first encoding error).
    pub fn push(mut self, spec: Result<ArgSpec, CodecError>) -> Self {
        match spec {
            Ok(spec) => self.args.push(spec),
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        self
    }
}

/// An argument `X` for a parameter `P`, waiting for the dispatch to pick how it travels.
pub struct ArgProbe<X, P> {
    arg: Cell<Option<X>>,
    _param: PhantomData<fn() -> P>,
}

impl<X, P> ArgProbe<X, P> {
    fn take(&self) -> X {
        self.arg.take().expect("each argument is dispatched once")
    }
}

/// The first arm of the dispatch: arguments that stand for other tasks' values.
pub trait ViaGraphArg {
    /// The argument as it travels.
    fn graph_arg_spec(&self) -> Result<ArgSpec, CodecError>;
}

impl<X: IntoGraphArg<P>, P> ViaGraphArg for &ArgProbe<X, P> {
    fn graph_arg_spec(&self) -> Result<ArgSpec, CodecError> {
        Ok(self.take().into_graph_arg())
    }
}

/// The second arm of the dispatch: anything that is an [`Arg`] of the parameter's type.
pub trait ViaArg {
    /// The argument as it travels.
    fn graph_arg_spec(&self) -> Result<ArgSpec, CodecError>;
}

impl<X: Arg<P>, P> ViaArg for ArgProbe<X, P> {
    fn graph_arg_spec(&self) -> Result<ArgSpec, CodecError> {
        self.take().into_spec()
    }
}
