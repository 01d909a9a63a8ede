//! Fused pipelines: a chain of element-wise steps (map, filter, flat_map) over one partition,
//! run by one task. Each step names a `#[remote]` function; the worker looks it up in the
//! registry once per task and, when its signature is a text one it knows (`fn(&str) -> bool`,
//! `fn(&str, &str) -> bool` with a bound word, `fn(&str) -> String`, `fn(&str) -> Vec<String>`,
//! the built-in text kernels), calls the typed function pointer per element: lines are
//! borrowed from the read buffer and nothing is boxed, cloned or encoded between steps. Any
//! other signature goes through the function's erased entry, one boxed value per element.
//!
//! Knows the function registry and [`Chunk`]s; nothing of graphs, actors or sockets.

use std::ops::ControlFlow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::chunk::{Chunk, Elem};
use super::error::BagError;
use super::sink::Sink;
use crate::function::{lookup, ArgReader, ArgSlot, EncodedValue, Stored, Value};
use crate::ids::FunctionId;

/// What a step does with each element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// Replace it by `f(x)`.
    Map,
    /// Keep it when `f(x)`.
    Filter,
    /// Replace it by the elements of `f(x)`.
    FlatMap,
}

/// One element-wise step: a remote function and the values bound to its trailing parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What it does.
    pub kind: StepKind,
    /// The function.
    pub function: FunctionId,
    /// Bound trailing arguments.
    pub bound: Vec<EncodedValue>,
}

/// Built-in text kernels the pipeline runs natively (see `kernels.rs` for their names).
#[derive(Clone, Copy, Debug)]
enum Builtin {
    SplitWords,
    Lowercase,
    Trim,
}

/// A typed entry for a text element, when the function has a signature this file knows.
enum Fast {
    None,
    Builtin(Builtin),
    Pred(fn(&str) -> bool),
    PredWith(fn(&str, &str) -> bool, String),
    Map(fn(&str) -> String),
    MapWith(fn(&str, &str) -> String, String),
    Flat(fn(&str) -> Vec<String>),
}

/// A step ready to run on this worker.
struct Resolved {
    kind: StepKind,
    name: Arc<str>,
    invoke: crate::function::registry::Invoke,
    bound: Vec<ArgSlot>,
    fast: Fast,
}

fn resolve(step: &Step) -> Result<Resolved, BagError> {
    let name = &step.function.name;
    let missing = |problem| BagError::Function {
        function: name.to_string(),
        problem,
    };
    let (registration, signature) = lookup(name).ok_or_else(|| missing("missing"))?;
    if signature != step.function.signature {
        return Err(missing("of another signature"));
    }
    let bound: Vec<ArgSlot> = step
        .bound
        .iter()
        .map(|v| ArgSlot::One(Stored::Encoded(Arc::new(v.clone()))))
        .collect();
    let fast = fast_entry(step, (registration.local)());
    Ok(Resolved {
        kind: step.kind,
        name: name.clone(),
        invoke: registration.invoke,
        bound,
        fast,
    })
}

fn fast_entry(step: &Step, local: &(dyn std::any::Any + Send + Sync)) -> Fast {
    if let Some(builtin) = builtin_of(&step.function.name) {
        return Fast::Builtin(builtin);
    }
    let word = || {
        let [bound] = step.bound.as_slice() else {
            return None;
        };
        crate::function::decode_value::<String>(bound).ok()
    };
    match (step.kind, step.bound.len()) {
        (StepKind::Filter, 0) => local.downcast_ref().map(|f| Fast::Pred(*f)),
        (StepKind::Filter, 1) => local
            .downcast_ref()
            .and_then(|f| Some(Fast::PredWith(*f, word()?))),
        (StepKind::Map, 0) => local.downcast_ref().map(|f| Fast::Map(*f)),
        (StepKind::Map, 1) => local
            .downcast_ref()
            .and_then(|f| Some(Fast::MapWith(*f, word()?))),
        (StepKind::FlatMap, 0) => local.downcast_ref().map(|f| Fast::Flat(*f)),
        _ => None,
    }
    .unwrap_or(Fast::None)
}

fn builtin_of(name: &str) -> Option<Builtin> {
    use super::kernels::names;
    match name {
        names::SPLIT_WORDS => Some(Builtin::SplitWords),
        names::LOWERCASE => Some(Builtin::Lowercase),
        names::TRIM => Some(Builtin::Trim),
        _ => None,
    }
}

/// A chain of resolved steps feeding a sink.
pub struct Pipeline {
    steps: Vec<Resolved>,
}

impl Pipeline {
    /// Resolves every step against this binary's registry.
    pub fn new(steps: &[Step]) -> Result<Self, BagError> {
        Ok(Pipeline {
            steps: steps.iter().map(resolve).collect::<Result<_, _>>()?,
        })
    }

    /// Runs `elem` through the steps from `index` on, into `sink`.
    pub fn push(
        &self,
        index: usize,
        elem: Elem<'_>,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<()>, BagError> {
        let Some(step) = self.steps.get(index) else {
            return sink.accept(elem);
        };
        let next = index + 1;
        if let Some(text) = elem.as_str() {
            match (&step.fast, step.kind) {
                (Fast::Pred(f), _) => return self.keep_if(f(text), next, elem, sink),
                (Fast::PredWith(f, w), _) => return self.keep_if(f(text, w), next, elem, sink),
                (Fast::Map(f), _) => return self.push(next, Elem::Owned(f(text)), sink),
                (Fast::MapWith(f, w), _) => return self.push(next, Elem::Owned(f(text, w)), sink),
                (Fast::Flat(f), _) => return self.push_all(next, f(text), sink),
                (Fast::Builtin(b), _) => return self.builtin(*b, text, next, sink),
                (Fast::None, _) => {}
            }
        }
        self.erased(step, next, elem, sink)
    }

    fn keep_if(
        &self,
        keep: bool,
        next: usize,
        elem: Elem<'_>,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<()>, BagError> {
        if keep {
            self.push(next, elem, sink)
        } else {
            Ok(ControlFlow::Continue(()))
        }
    }

    fn push_all(
        &self,
        next: usize,
        items: Vec<String>,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<()>, BagError> {
        for item in items {
            if self.push(next, Elem::Owned(item), sink)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn builtin(
        &self,
        builtin: Builtin,
        text: &str,
        next: usize,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<()>, BagError> {
        match builtin {
            Builtin::SplitWords if text.is_ascii() => {
                self.push_words(text.split_ascii_whitespace(), next, sink)
            }
            Builtin::SplitWords => self.push_words(text.split_whitespace(), next, sink),
            Builtin::Trim => self.push(next, Elem::Str(text.trim()), sink),
            Builtin::Lowercase => self.push(next, Elem::Owned(text.to_lowercase()), sink),
        }
    }

    fn push_words<'w>(
        &self,
        words: impl Iterator<Item = &'w str>,
        next: usize,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<()>, BagError> {
        if next == self.steps.len() {
            for word in words {
                if sink.accept_str(word)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            return Ok(ControlFlow::Continue(()));
        }
        for word in words {
            if self.push(next, Elem::Str(word), sink)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The general path: one call through the function's erased entry.
    fn erased(
        &self,
        step: &Resolved,
        next: usize,
        elem: Elem<'_>,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<()>, BagError> {
        let mut slots = Vec::with_capacity(1 + step.bound.len());
        let input = elem.into_stored();
        slots.push(ArgSlot::One(input.clone()));
        slots.extend(step.bound.iter().cloned());
        let output = (step.invoke)(&ArgReader::new(&slots)).map_err(|e| BagError::Type {
            step: kind_name(step.kind),
            message: format!("{}: {e}", step.name),
        })?;
        drop(slots);
        match step.kind {
            StepKind::Map => self.push(next, Elem::Obj(Stored::Object(output)), sink),
            StepKind::Filter => {
                let keep = *crate::function::value::downcast_value::<bool>(output.as_ref())
                    .map_err(|e| BagError::Type {
                        step: "filter",
                        message: e.to_string(),
                    })?;
                self.keep_if(keep, next, Elem::Obj(input), sink)
            }
            StepKind::FlatMap => {
                for item in split_list(output)? {
                    if self.push(next, item, sink)?.is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                Ok(ControlFlow::Continue(()))
            }
        }
    }
}

fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Map => "map",
        StepKind::Filter => "filter",
        StepKind::FlatMap => "flat_map",
    }
}

/// The elements of a `Vec<U>` a flat_map function returned, for the element types a worker
/// can take apart without knowing the program's types.
pub(super) fn split_list(output: Arc<dyn Value>) -> Result<Vec<Elem<'static>>, BagError> {
    let type_name = output.type_name();
    let any = output.into_any();
    let any = match any.downcast::<Vec<String>>() {
        Ok(list) => {
            let list = Arc::try_unwrap(list).unwrap_or_else(|shared| (*shared).clone());
            return Ok(list.into_iter().map(Elem::Owned).collect());
        }
        Err(other) => other,
    };
    macro_rules! try_lists {
        ($any:ident, $($t:ty),*) => {$(
            let $any = match $any.downcast::<Vec<$t>>() {
                Ok(list) => {
                    return Ok(list.iter().map(|x| Elem::Obj(Stored::Object(Arc::new(x.clone())))).collect());
                }
                Err(other) => other,
            };
        )*};
    }
    try_lists!(
        any,
        i64,
        u64,
        i32,
        u32,
        usize,
        f64,
        f32,
        bool,
        (String, u64),
        (String, i64),
        (String, f64),
        (String, String),
        (u64, u64),
        (i64, i64),
        Vec<String>
    );
    drop(any);
    Err(BagError::Type {
        step: "flat_map",
        message: format!(
            "the function returned {type_name}; flat_map splits vectors of strings, numbers, \
             bools and (String, number) pairs (use map and a Bag of vectors otherwise)"
        ),
    })
}

/// Feeds every element of a chunk into the pipeline.
pub fn run_chunk(
    pipeline: &Pipeline,
    input: &Chunk,
    pair_type: &str,
    sink: &mut dyn Sink,
) -> Result<(), BagError> {
    match input {
        Chunk::Strings(items) => {
            for item in items {
                if pipeline.push(0, Elem::Str(item), sink)?.is_break() {
                    break;
                }
            }
        }
        Chunk::Values(items) => {
            for item in items {
                if pipeline.push(0, Elem::Obj(item.clone()), sink)?.is_break() {
                    break;
                }
            }
        }
        Chunk::Freqs(table) => {
            for item in super::frequencies::pairs(table, pair_type)? {
                if pipeline.push(0, Elem::Obj(item), sink)?.is_break() {
                    break;
                }
            }
        }
        _ => {
            return Err(BagError::Type {
                step: "pipeline",
                message: format!("expected elements, found {}", input.kind()),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::RemoteFunction;

    #[crate::remote]
    fn has_x(line: &str) -> bool {
        line.contains('x')
    }

    #[crate::remote]
    fn has_word(line: &str, word: &str) -> bool {
        line.contains(word)
    }

    #[crate::remote]
    fn owned_has_x(line: String) -> bool {
        line.contains('x')
    }

    fn step<F: RemoteFunction>(kind: StepKind, f: &F) -> Step {
        let bound = f
            .bound_args()
            .unwrap()
            .into_iter()
            .map(|spec| match spec {
                crate::function::ArgSpec::Value(v) => v,
                other => panic!("{other:?}"),
            })
            .collect();
        Step {
            kind,
            function: f.function_id().clone(),
            bound,
        }
    }

    #[test]
    fn text_signatures_get_typed_entries_and_others_the_erased_one() {
        let fast = |s: &Step| resolve(s).unwrap().fast;
        assert!(matches!(
            fast(&step(StepKind::Filter, &has_x)),
            Fast::Pred(_)
        ));
        let bound = has_word.bind(("py".to_string(),));
        assert!(matches!(fast(&step(StepKind::Filter, &bound)), Fast::PredWith(_, w) if w == "py"));
        assert!(matches!(
            fast(&step(StepKind::Filter, &owned_has_x)),
            Fast::None
        ));
        let split = step(StepKind::FlatMap, &super::super::kernels::split_words);
        assert!(matches!(fast(&split), Fast::Builtin(Builtin::SplitWords)));
    }

    /// Counts what reaches it, keeping borrowed text borrowed.
    struct Borrowed {
        borrowed: usize,
        other: usize,
    }

    impl Sink for Borrowed {
        fn accept(&mut self, elem: Elem<'_>) -> Result<ControlFlow<()>, BagError> {
            match elem {
                Elem::Str(_) => self.borrowed += 1,
                _ => self.other += 1,
            }
            Ok(ControlFlow::Continue(()))
        }

        fn finish(self: Box<Self>) -> Result<Chunk, BagError> {
            Ok(Chunk::Count(self.borrowed as u64))
        }
    }

    #[test]
    fn fused_text_steps_pass_lines_and_words_borrowed() {
        let steps = [
            step(StepKind::Filter, &has_x),
            step(StepKind::FlatMap, &super::super::kernels::split_words),
            step(StepKind::Filter, &has_word.bind(("x".to_string(),))),
        ];
        let pipeline = Pipeline::new(&steps).unwrap();
        let mut sink = Borrowed {
            borrowed: 0,
            other: 0,
        };
        for line in ["ax bx c", "no", "x"] {
            let _ = pipeline.push(0, Elem::Str(line), &mut sink).unwrap();
        }
        assert_eq!((sink.borrowed, sink.other), (3, 0));
    }
}
