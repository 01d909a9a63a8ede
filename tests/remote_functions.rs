//! `#[remote]` end to end without a cluster: local calls, the registry, erased invocation with
//! borrowed and list arguments, `Result` errors, and partial application.

use std::sync::Arc;

use taskforce::function::{
    encode_value, function_ids, lookup, ArgReader, ArgSlot, ArgSpec, CallError, RemoteFunction,
    Stored, Value,
};
use taskforce::remote;

#[remote]
fn inc(x: i64) -> i64 {
    x + 1
}

#[remote]
fn contains_word(line: &str, word: &str) -> bool {
    line.contains(word)
}

#[remote]
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[remote]
fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[remote(name = "tests.parse")]
fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
    text.trim().parse()
}

fn encoded<T: serde::Serialize + 'static>(value: T) -> ArgSlot {
    ArgSlot::One(Stored::Encoded(Arc::new(encode_value(&value).unwrap())))
}

fn object<T: Value>(value: T) -> Stored {
    Stored::Object(Arc::new(value))
}

fn call(name: &str, slots: &[ArgSlot]) -> Result<Arc<dyn Value>, CallError> {
    let (registration, _) = lookup(name).unwrap_or_else(|| panic!("{name} is registered"));
    (registration.invoke)(&ArgReader::new(slots))
}

fn read<T: Clone + 'static>(value: &Arc<dyn Value>) -> T {
    value.as_any().downcast_ref::<T>().unwrap().clone()
}

#[test]
fn remote_functions_still_run_locally() {
    assert_eq!(inc(1), 2);
    assert!(contains_word("I like python", "python"));
    assert_eq!(total(vec![1, 2, 3]), 6);
    assert_eq!(parse(" 42 ".into()).unwrap(), 42);
}

#[test]
fn every_function_is_registered_under_its_path_or_given_name() {
    let names: Vec<&str> = function_ids().iter().map(|id| &*id.name).collect();
    assert!(names.contains(&"remote_functions::inc"), "{names:?}");
    assert!(names.contains(&"tests.parse"));
    assert_eq!(&*inc.function_id().name, "remote_functions::inc");
    let (_, hash) = lookup("remote_functions::inc").unwrap();
    assert_eq!(inc.function_id().signature, hash);
    assert_ne!(inc.function_id().signature, total.function_id().signature);
}

#[test]
fn erased_calls_read_objects_bytes_and_lists() {
    let out = call("remote_functions::inc", &[encoded(41_i64)]).unwrap();
    assert_eq!(read::<i64>(&out), 42);

    let line = ArgSlot::One(object(String::from("python is fun")));
    let out = call(
        "remote_functions::contains_word",
        &[line, encoded("python".to_string())],
    )
    .unwrap();
    assert!(read::<bool>(&out));

    let list = ArgSlot::List(vec![object(1_i64), object(2_i64), object(39_i64)]);
    let out = call("remote_functions::total", &[list]).unwrap();
    assert_eq!(read::<i64>(&out), 42);

    let out = call("remote_functions::mean", &[encoded(vec![1.0_f64, 3.0])]).unwrap();
    assert_eq!(read::<f64>(&out), 2.0);
}

#[test]
fn erased_calls_report_bad_arguments_and_errs() {
    let err = call("remote_functions::inc", &[encoded("x".to_string())]).unwrap_err();
    assert!(matches!(err, CallError::Argument { index: 0, .. }), "{err}");
    let err = call("remote_functions::inc", &[]).unwrap_err();
    assert_eq!(
        err,
        CallError::Arity {
            expected: 1,
            got: 0
        }
    );
    let err = call("tests.parse", &[encoded("nope".to_string())]).unwrap_err();
    assert_eq!(err.to_string(), "invalid digit found in string");
}

#[test]
fn bind_appends_trailing_arguments() {
    let has_python = contains_word.bind(("python",));
    let bound = has_python.bound_args().unwrap();
    assert_eq!(bound.len(), 1);
    assert!(matches!(&bound[0], ArgSpec::Value(v) if &*v.type_name == "alloc::string::String"));
    assert_eq!(has_python.function_id(), contains_word.function_id());
}
