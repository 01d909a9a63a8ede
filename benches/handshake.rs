//! Handshake latency: TCP connect, preamble exchange, `Hello`, and the center's `Welcome`,
//! against a center running in this process (its own actix system on a thread).

use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use taskforce::center::{self, CenterConfig};
use taskforce::messages::{Hello, Role};
use taskforce::remote::connect::connect_once;
use taskforce::remote::ConnectOptions;

fn start_center() -> std::net::SocketAddr {
    let (started, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix::System::new();
        let config = CenterConfig {
            host: Ipv4Addr::LOCALHOST.into(),
            port: 0,
            ..CenterConfig::default()
        };
        let handle = system
            .block_on(center::start(config))
            .expect("center starts");
        started.send(handle.addr).expect("bench waits");
        system.run().expect("center runs");
    });
    address.recv().expect("center address")
}

fn handshake(c: &mut Criterion) {
    let addr = start_center().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let hello = Hello {
        role: Role::Executor,
        name: "bench".into(),
        listen_addr: None,
        nthreads: 0,
        memory_limit: 0,
        pid: std::process::id(),
        functions: Vec::new(),
        resources: Default::default(),
    };
    let options = ConnectOptions::default();
    c.bench_function("handshake: connect + hello + welcome", |b| {
        b.iter(|| {
            runtime
                .block_on(connect_once(&addr, &hello, &options))
                .expect("handshake")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).sample_size(200);
    targets = handshake
}
criterion_main!(benches);
