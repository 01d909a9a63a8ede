//! A listener at its connection cap logs one warning, not one per refused connection. Alone
//! in its binary: it installs the process's log subscriber to count the lines, which would
//! race with other tests' logs (and tracing's per-callsite caches) in a shared binary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskforce::messages::{Hello, HelloReply, Role};
use taskforce::remote::connect::connect_once;
use taskforce::remote::handshake::{reply_envelope, write_envelope, HandshakeError};
use taskforce::remote::{accept_loop, Arrival, ConnectOptions};
use tokio::net::TcpListener;

/// Log lines, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().expect("log lock"))
            .matches(needle)
            .count()
    }
}

fn hello() -> Hello {
    Hello {
        role: Role::Peer,
        name: "test-client".into(),
        listen_addr: None,
        nthreads: 0,
        memory_limit: 0,
        pid: std::process::id(),
        functions: Vec::new(),
        resources: Default::default(),
    }
}

#[actix_rt::test]
async fn a_listener_at_its_cap_logs_once_not_per_connection() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    // Admitted connections are welcomed and kept, holding their slots.
    let kept: Arc<Mutex<Vec<Arrival>>> = Arc::default();
    let keep = kept.clone();
    let admit = move |mut arrival: Arrival| {
        let keep = keep.clone();
        actix_rt::spawn(async move {
            let welcome = reply_envelope(&HelloReply::Welcome {
                id: 1,
                server_name: "test".into(),
            });
            let _ = write_envelope(arrival.stream.stream_mut(), &welcome).await;
            keep.lock().expect("kept").push(arrival);
        });
    };
    let timeout = Duration::from_secs(30);
    actix_rt::spawn(accept_loop(listener, None, None, timeout, 1, "test", admit));
    let options = ConnectOptions::default();
    let _first = connect_once(&addr, &hello(), &options)
        .await
        .expect("the first connection is admitted");
    for _ in 0..5 {
        let refused = connect_once(&addr, &hello(), &options).await;
        assert!(matches!(refused, Err(HandshakeError::Refused { .. })));
    }
    assert_eq!(logs.count("refusing connections until one closes"), 1);
}
