//! Build time of an `Array` graph of 1,000,000 chunks (1,142,861 tasks with its reduction
//! tree): the expression, then its `Graph`, and the sum of both, median of `--runs` runs.
//!
//! `cargo run --release --example bench_graph_build [-- --runs 5]`

use std::time::Instant;

use taskforce::collections::Array;

mod support;
use support::arg;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

fn main() {
    let runs: usize = arg("--runs", 5);
    let (mut expression_s, mut graph_s, mut total_s) = (Vec::new(), Vec::new(), Vec::new());
    let mut tasks = 0;
    for run in 0..runs {
        let started = Instant::now();
        let total = Array::random_seeded(&[1_000_000], &[1], run as u64).sum();
        let built = started.elapsed().as_secs_f64();
        let graph = total.graph();
        let done = started.elapsed().as_secs_f64();
        tasks = graph.len();
        expression_s.push(built);
        graph_s.push(done - built);
        total_s.push(done);
        drop(graph);
    }
    println!(
        "{{\"bench\": \"graph_build_1m_chunks\", \"tasks\": {tasks}, \"expression_median_s\": {:.3}, \"graph_median_s\": {:.3}, \"median_s\": {:.3}, \"runs\": {:?}}}",
        median(expression_s),
        median(graph_s),
        median(total_s.clone()),
        total_s.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>()
    );
}
