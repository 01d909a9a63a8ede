//! What the examples share: reading their `--name value` flags, and the cluster shape of the
//! benchmarks. Not an example itself (a
//! folder without `main.rs`); each example includes it with `mod support;` and uses part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::str::FromStr;

use taskforce::local::{LocalCluster, LocalClusterBuilder};

/// The value after `name` on the command line, if `name` is there.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

/// The value after `name`, parsed; `default` when the flag is absent. A value that does not
/// parse stops the example, naming the flag and the value.
pub fn arg<T: FromStr>(name: &str, default: T) -> T {
    match flag(name) {
        None => default,
        Some(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}: cannot read '{text}'")),
    }
}

/// The comma-separated values after `name`, parsed; `default` when the flag is absent.
pub fn arg_list<T: FromStr + Clone>(name: &str, default: &[T]) -> Vec<T> {
    match flag(name) {
        None => default.to_vec(),
        Some(text) => text.split(',').map(|item| arg_item(name, item)).collect(),
    }
}

fn arg_item<T: FromStr>(name: &str, item: &str) -> T {
    item.parse()
        .unwrap_or_else(|_| panic!("{name}: cannot read '{item}' in the list"))
}

/// The cluster every comparison with dask runs on (`benches/compare`): 2 worker processes of
/// 1 thread each, as dask's `LocalCluster(n_workers=2, threads_per_worker=1)`.
pub fn two_single_thread_workers() -> LocalClusterBuilder {
    LocalCluster::builder().workers(2).threads_per_worker(1)
}
