//! Starts a local cluster, prints its dashboard's URL, and keeps it busy for about a minute
//! with a mix of work (independent tasks, a graph with a reduction, a few failures, an Array
//! reduction and a Bag word count) so a person can watch it:
//! `cargo run --release --example dashboard [SECONDS]`.

use std::time::{Duration, Instant};

use taskforce::collections::bag::split_words;
use taskforce::collections::{Array, Bag};
use taskforce::graph::{key, task, Graph};
use taskforce::{remote, Executor};

#[remote]
fn sleepy_inc(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(5));
    x + 1
}

#[remote]
fn square(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(3));
    x * x
}

#[remote]
fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[remote]
fn sometimes_fails(x: i64) -> Result<i64, String> {
    if x % 50 == 0 {
        Err(format!("{x} is a multiple of 50"))
    } else {
        Ok(x)
    }
}

fn graph(round: i64) -> Graph {
    let mut dsk = Graph::new();
    for i in 0..100_i64 {
        dsk.insert(
            key!("part", round * 100 + i),
            task!(square, round * 100 + i),
        );
    }
    let parts: Vec<_> = (0..100_i64)
        .map(|i| key!("part", round * 100 + i))
        .collect();
    dsk.insert(key!("sum", round), task!(total, parts));
    dsk
}

fn main() -> taskforce::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let executor = Executor::local()?;
    match executor.dashboard_link() {
        Some(link) => {
            let page = link.split_once('?').map_or(link.as_str(), |(page, _)| page);
            println!("Dashboard: {link}");
            println!(
                "Metrics:   {page}metrics (with a token, send `Authorization: Bearer <token>`)"
            );
        }
        None => println!("This cluster serves no dashboard"),
    }
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut round = 0_i64;
    while Instant::now() < until {
        let xs = executor.map(sleepy_inc, (0..400).map(|i| i + round * 1000))?;
        let sum = executor.submit(total, (&xs,))?;
        let graph_sum: i64 = executor.get(&graph(round), key!("sum", round))?;
        let checked = executor.map(sometimes_fails, (0..100).map(|i| i + round * 100))?;
        let failures = checked.iter().filter(|f| f.result().is_err()).count();
        let array_sum: f64 = Array::random(&[2_000_000], &[100_000])
            .sum()
            .compute(&executor)?;
        let lines = (0..20_000).map(|i| format!("w{} w{} w{}", i % 17, i % 5, round));
        let top = Bag::from_sequence(lines, 8)
            .flat_map(split_words)
            .frequencies()
            .topk(2)
            .compute(&executor)?;
        println!(
            "round {round}: sum {} graph {graph_sum} failures {failures} array {array_sum:.0} bag {top:?}",
            sum.result()?
        );
        round += 1;
    }
    Ok(())
}
