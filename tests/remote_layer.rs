//! The remote layer in one process: sessions over real TCP on port 0 (as mini-redis's
//! `tests/server.rs` does), with a message type of the test's own. Every wait is under a
//! timeout; nothing sleeps for a result.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use taskforce::messages::{FrameLimits, Hello, HelloReply, Role};
use taskforce::remote::connect::connect_once;
use taskforce::remote::handshake::{
    client_handshake, reply_envelope, server_handshake, write_envelope, HandshakeError,
};
use taskforce::remote::{
    accept_loop, AtSendBound, ConnectOptions, LinkBounds, LinkStream, Remote, RemoteError, Session,
    SessionEvent, SessionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the test's two ends say to each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Msg {
    Num(u64),
    Text(String),
}

type Link = Remote<Msg, Msg>;
type Events = mpsc::Receiver<SessionEvent<Msg>>;

const PATIENCE: Duration = Duration::from_secs(20);

/// An owner that hands every session event to the test (holding a received message holds
/// its receipt, so a test that does not take events is an owner that lags).
struct Recorder(mpsc::Sender<SessionEvent<Msg>>);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<SessionEvent<Msg>> for Recorder {
    type Result = ();

    fn handle(&mut self, event: SessionEvent<Msg>, _ctx: &mut Context<Self>) {
        self.0
            .try_send(event)
            .expect("the test keeps up with its events");
    }
}

fn recorder() -> (Recipient<SessionEvent<Msg>>, Events) {
    let (sender, events) = mpsc::channel(100_000);
    (Recorder(sender).start().recipient(), events)
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

fn welcome() -> taskforce::messages::Envelope {
    reply_envelope(&HelloReply::Welcome {
        id: 1,
        server_name: "test-server".into(),
    })
}

/// A listener on port 0 whose sessions report to one recorder; each admitted link is handed
/// to the test.
struct Server {
    addr: SocketAddr,
    links: mpsc::Receiver<Link>,
    events: Events,
}

async fn serve(bounds: LinkBounds) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (owner, events) = recorder();
    let (admitted, links) = mpsc::channel(1024);
    let options = SessionOptions::new(FrameLimits::default(), bounds);
    actix_rt::spawn(accept_loop(
        listener,
        None,
        None,
        Duration::from_secs(5),
        bounds.max_connections,
        "test",
        move |arrival| {
            let link = Session::open(arrival.stream, owner.clone(), options, Some(welcome()));
            admitted.try_send(link).expect("the test takes its links");
        },
    ));
    Server {
        addr,
        links,
        events,
    }
}

async fn connect(addr: SocketAddr, options: SessionOptions) -> (Link, Events) {
    let connected = connect_once(&addr.to_string(), &hello(), &ConnectOptions::default())
        .await
        .expect("connects");
    let (owner, events) = recorder();
    (
        Session::open(connected.stream, owner, options, None),
        events,
    )
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {PATIENCE:?}"))
}

async fn next_link(server: &mut Server) -> Link {
    within("a link", server.links.recv())
        .await
        .expect("listener runs")
}

async fn next_event(events: &mut Events) -> SessionEvent<Msg> {
    within("an event", events.recv())
        .await
        .expect("recorder runs")
}

async fn next_received(events: &mut Events) -> (Msg, Option<u64>) {
    match next_event(events).await {
        SessionEvent::Received { incoming, .. } => (incoming.body, incoming.reply_tag),
        SessionEvent::Closed { reason, .. } => panic!("closed: {reason}"),
    }
}

async fn next_closed(events: &mut Events) -> String {
    loop {
        if let SessionEvent::Closed { reason, .. } = next_event(events).await {
            return reason;
        }
    }
}

#[actix_rt::test]
async fn an_ask_without_answer_times_out_with_its_cause() {
    let mut server = serve(LinkBounds::default()).await;
    let (client, _events) = connect(server.addr, SessionOptions::default()).await;
    let _link = next_link(&mut server).await;
    let started = Instant::now();
    let error = client
        .ask(Msg::Num(1), Duration::from_millis(200))
        .await
        .expect_err("nobody answers");
    assert!(matches!(error, RemoteError::Timeout(_)), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    let error = error.into_error("a request to the test server");
    assert!(
        matches!(error, taskforce::Error::Timeout { .. }),
        "{error:?}"
    );
    let cause = std::error::Error::source(&error).expect("the cause is kept");
    assert_eq!(cause.to_string(), "no reply within 200ms");
    assert!(client.is_connected(), "a timeout does not close the link");
}

#[actix_rt::test]
async fn replies_find_their_asks_out_of_order() {
    let mut server = serve(LinkBounds::default()).await;
    let (client, _events) = connect(server.addr, SessionOptions::default()).await;
    let link = next_link(&mut server).await;
    let first = client.ask(Msg::Num(1), PATIENCE);
    let second = client.ask(Msg::Num(2), PATIENCE);
    let answers = async {
        let (a, tag_a) = next_received(&mut server.events).await;
        let (b, tag_b) = next_received(&mut server.events).await;
        assert_eq!((a, b), (Msg::Num(1), Msg::Num(2)), "asks arrive in order");
        // Answer the second first.
        link.reply(tag_b.expect("an ask"), Msg::Text("two".into()));
        link.reply(tag_a.expect("an ask"), Msg::Text("one".into()));
    };
    let (first, second, ()) = within("answers", async {
        futures_join(first, second, answers).await
    })
    .await;
    assert_eq!(first.expect("answered").body, Msg::Text("one".into()));
    assert_eq!(second.expect("answered").body, Msg::Text("two".into()));
}

async fn futures_join<A, B, C>(
    a: impl std::future::Future<Output = A>,
    b: impl std::future::Future<Output = B>,
    c: impl std::future::Future<Output = C>,
) -> (A, B, C) {
    tokio::join!(a, b, c)
}

#[actix_rt::test]
async fn pending_asks_fail_when_the_connection_drops() {
    let mut server = serve(LinkBounds::default()).await;
    let (client, mut client_events) = connect(server.addr, SessionOptions::default()).await;
    let link = next_link(&mut server).await;
    let pending = [
        client.ask(Msg::Num(1), PATIENCE),
        client.ask(Msg::Num(2), PATIENCE),
    ];
    let close = async {
        next_received(&mut server.events).await;
        next_received(&mut server.events).await;
        link.close("the test hangs up");
    };
    let (results, ()) = within("failures", async {
        tokio::join!(futures_util::future::join_all(pending), close)
    })
    .await;
    for result in results {
        match result {
            Err(RemoteError::ConnectionLost { reason, .. }) => {
                assert_eq!(reason, "connection closed by peer")
            }
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
    }
    assert_eq!(
        next_closed(&mut client_events).await,
        "connection closed by peer"
    );
    assert!(!client.is_connected());
}

#[actix_rt::test]
async fn garbage_on_the_port_closes_that_connection_only() {
    let mut server = serve(LinkBounds::default()).await;
    // Before the handshake: not our preamble.
    let mut stranger = TcpStream::connect(server.addr).await.expect("connects");
    stranger
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");
    let mut sink = Vec::new();
    within("the stranger is dropped", stranger.read_to_end(&mut sink))
        .await
        .ok();
    // After the handshake: bytes that do not frame.
    let mut rogue = LinkStream::from(TcpStream::connect(server.addr).await.expect("connects"));
    client_handshake(&mut rogue, &hello(), None, PATIENCE)
        .await
        .expect("handshakes");
    let _rogue_link = next_link(&mut server).await;
    rogue.write_all(&[0xff; 64]).await.expect("writes");
    let reason = next_closed(&mut server.events).await;
    assert!(reason.starts_with("protocol violation by"), "{reason}");
    // The listener still serves others.
    let (client, _events) = connect(server.addr, SessionOptions::default()).await;
    let link = next_link(&mut server).await;
    client.tell(Msg::Text("still here".into()));
    let (got, _) = next_received(&mut server.events).await;
    assert_eq!(got, Msg::Text("still here".into()));
    drop(link);
}

#[actix_rt::test]
async fn small_messages_reach_the_peer_in_order() {
    let mut server = serve(LinkBounds::default()).await;
    let (client, _events) = connect(server.addr, SessionOptions::default()).await;
    let _link = next_link(&mut server).await;
    const COUNT: u64 = 2_000;
    // All queued in one turn, so the writer batches them.
    for i in 0..COUNT {
        client.tell(Msg::Num(i));
    }
    client.tell_with_frames(
        Msg::Text("last".into()),
        vec![Bytes::from(vec![7_u8; 100_000])],
    );
    for i in 0..COUNT {
        assert_eq!(next_received(&mut server.events).await.0, Msg::Num(i));
    }
    match next_event(&mut server.events).await {
        SessionEvent::Received { incoming, .. } => {
            assert_eq!(incoming.body, Msg::Text("last".into()));
            assert_eq!(incoming.frames, vec![Bytes::from(vec![7_u8; 100_000])]);
        }
        SessionEvent::Closed { reason, .. } => panic!("closed: {reason}"),
    }
    let queue = client.send_queue().await.expect("open");
    within("the queue empties", async {
        while queue.queued_bytes() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[actix_rt::test]
async fn a_listener_at_its_cap_refuses_with_the_reason() {
    let bounds = LinkBounds {
        max_connections: 2,
        ..LinkBounds::default()
    };
    let mut server = serve(bounds).await;
    let (first, _e1) = connect(server.addr, SessionOptions::default()).await;
    let (_second, _e2) = connect(server.addr, SessionOptions::default()).await;
    let _links = [next_link(&mut server).await, next_link(&mut server).await];
    let refused = connect_once(
        &server.addr.to_string(),
        &hello(),
        &ConnectOptions::default(),
    )
    .await
    .expect_err("over the cap");
    match &refused {
        HandshakeError::Refused { reason, .. } => {
            assert_eq!(reason, "at its limit of 2 connections")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A slot frees when a session ends.
    first.close("making room");
    next_closed(&mut server.events).await;
    within("a slot frees", async {
        loop {
            let attempt = connect_once(
                &server.addr.to_string(),
                &hello(),
                &ConnectOptions::default(),
            )
            .await;
            match attempt {
                Ok(_) => break,
                Err(HandshakeError::Refused { .. }) => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
}

/// A raw client that handshakes and then never reads.
async fn silent_client(addr: SocketAddr) -> LinkStream {
    let mut stream = LinkStream::from(TcpStream::connect(addr).await.expect("connects"));
    client_handshake(&mut stream, &hello(), None, PATIENCE)
        .await
        .expect("handshakes");
    stream
}

fn rss() -> usize {
    memory_stats::memory_stats().map_or(0, |m| m.physical_mem)
}

/// Runs the code paths of the test once through a reader, so that the RSS measured after
/// counts the queue, not the first touch of code and runtime pages.
async fn warm_up(server: &mut Server, message: usize) {
    let (_reader, mut events) = connect(server.addr, SessionOptions::default()).await;
    let link = next_link(server).await;
    for i in 0..64 {
        link.tell_with_frames(Msg::Num(i), vec![Bytes::from(vec![1_u8; message])]);
    }
    for _ in 0..64 {
        next_received(&mut events).await;
    }
}

/// The figure for the report: run with `--nocapture` to see it.
#[actix_rt::test]
async fn a_peer_that_stops_reading_is_disconnected_with_memory_under_the_bound() {
    const BOUND: usize = 8 << 20;
    const MESSAGE: usize = 64 << 10;
    const GIVE_UP: usize = 512 << 20;
    let bounds = LinkBounds {
        send_queue_bytes: BOUND,
        ..LinkBounds::default()
    };
    let mut server = serve(bounds).await;
    warm_up(&mut server, MESSAGE).await;
    let _silent = silent_client(server.addr).await;
    let link = next_link(&mut server).await;
    let queue = link.send_queue().await.expect("open");
    let rss_before = rss();
    let (mut sent, mut most_queued, mut rss_peak) = (0_usize, 0_usize, rss_before);
    while link.is_connected() && sent < GIVE_UP {
        // A fresh buffer each time, so what is queued is really held.
        link.tell_with_frames(
            Msg::Num(sent as u64),
            vec![Bytes::from(vec![1_u8; MESSAGE])],
        );
        sent += MESSAGE;
        tokio::task::yield_now().await;
        most_queued = most_queued.max(queue.queued_bytes());
        rss_peak = rss_peak.max(rss());
    }
    let reason = next_closed(&mut server.events).await;
    let growth = rss_peak.saturating_sub(rss_before);
    println!(
        "send-queue bound {BOUND} B; produced {sent} B before the close; most queued \
         {most_queued} B; RSS {rss_before} B -> peak {rss_peak} B (+{growth} B); reason: {reason}"
    );
    assert!(reason.contains("send queue bound reached"), "{reason}");
    assert!(
        reason.contains(&format!("bound of {BOUND} bytes")),
        "{reason}"
    );
    assert!(sent < GIVE_UP, "never disconnected");
    assert!(most_queued <= BOUND, "queued {most_queued} over {BOUND}");
    assert!(
        growth < 4 * BOUND + (16 << 20),
        "RSS grew {growth} B for a bound of {BOUND} B"
    );
}

/// A raw server that welcomes one client and then never reads.
async fn silent_server() -> (SocketAddr, tokio::task::JoinHandle<LinkStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let accepted = actix_rt::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accepts");
        let mut stream = LinkStream::from(stream);
        server_handshake(&mut stream, None, PATIENCE)
            .await
            .expect("handshakes");
        write_envelope(&mut stream, &welcome())
            .await
            .expect("welcomes");
        stream
    });
    (addr, accepted)
}

#[actix_rt::test]
async fn a_producer_that_waits_is_slowed_not_disconnected() {
    const BOUND: usize = 4 << 20;
    const MESSAGE: usize = 64 << 10;
    let (addr, accepted) = silent_server().await;
    let options = SessionOptions {
        bounds: LinkBounds {
            send_queue_bytes: BOUND,
            ..LinkBounds::default()
        },
        at_send_bound: AtSendBound::Wait,
        ..SessionOptions::default()
    };
    let (client, _events) = connect(addr, options).await;
    let mut server_side = accepted.await.expect("accepted");
    let queue = client.send_queue().await.expect("open");
    let mut most_queued = 0;
    let slowed = loop {
        let room = tokio::time::timeout(Duration::from_millis(500), client.wait_for_room());
        if room.await.is_err() {
            break true;
        }
        client.tell_with_frames(Msg::Num(0), vec![Bytes::from(vec![2_u8; MESSAGE])]);
        tokio::task::yield_now().await;
        most_queued = most_queued.max(queue.queued_bytes());
        assert!(most_queued < 64 * BOUND, "never slowed");
    };
    assert!(slowed);
    assert!(
        client.is_connected(),
        "waiting producers do not close the link"
    );
    assert!(
        most_queued <= BOUND + MESSAGE,
        "queued {most_queued}, bound {BOUND}"
    );
    // The peer reads again: room comes back.
    let drain = actix_rt::spawn(async move {
        let mut sink = vec![0_u8; 1 << 20];
        while server_side.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    within("room comes back", client.wait_for_room()).await;
    assert!(queue.queued_bytes() < BOUND);
    drain.abort();
}

#[actix_rt::test]
async fn an_owner_that_lags_slows_the_sender_through_tcp() {
    const UNHANDLED: usize = 1 << 20;
    const SEND_BOUND: usize = 2 << 20;
    const MESSAGE: usize = 64 << 10;
    let server_bounds = LinkBounds {
        unhandled_bytes: UNHANDLED,
        ..LinkBounds::default()
    };
    let mut server = serve(server_bounds).await;
    let options = SessionOptions {
        bounds: LinkBounds {
            send_queue_bytes: SEND_BOUND,
            ..LinkBounds::default()
        },
        at_send_bound: AtSendBound::Wait,
        ..SessionOptions::default()
    };
    let (client, _events) = connect(server.addr, options).await;
    let _link = next_link(&mut server).await;
    // The test takes no server event (the owner lags) until the client is slowed.
    let mut sent = 0_usize;
    loop {
        let room = tokio::time::timeout(Duration::from_millis(500), client.wait_for_room());
        if room.await.is_err() {
            break;
        }
        client.tell_with_frames(
            Msg::Num(sent as u64),
            vec![Bytes::from(vec![3_u8; MESSAGE])],
        );
        sent += 1;
        tokio::task::yield_now().await;
        assert!(sent * MESSAGE < 1 << 30, "never slowed");
    }
    let unhandled_now = server.events.len() * MESSAGE;
    assert!(
        unhandled_now <= UNHANDLED + 2 * MESSAGE,
        "the server read {unhandled_now} B its owner had not handled"
    );
    // The owner catches up: everything arrives, in order.
    for i in 0..sent {
        assert_eq!(
            next_received(&mut server.events).await.0,
            Msg::Num(i as u64)
        );
    }
    within("room comes back", client.wait_for_room()).await;
}

#[actix_rt::test]
async fn a_pending_ask_fails_as_a_protocol_violation_when_the_peer_sends_garbage() {
    let (addr, accepted) = silent_server().await;
    let (client, mut events) = connect(addr, SessionOptions::default()).await;
    let mut server_side = accepted.await.expect("accepted");
    let asked = client.ask(Msg::Num(1), PATIENCE);
    let garbage = async {
        // A prefix announcing a header far over the limit.
        server_side
            .write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
            .await
            .expect("writes");
    };
    let (answer, ()) = within("the failure", async { tokio::join!(asked, garbage) }).await;
    let error = answer.expect_err("garbage is no answer");
    assert!(matches!(error, RemoteError::Protocol { .. }), "{error:?}");
    let reason = next_closed(&mut events).await;
    assert!(reason.starts_with("protocol violation by"), "{reason}");
    let error = error.into_error("a request to the test server");
    assert!(
        matches!(error, taskforce::Error::Protocol { .. }),
        "{error:?}"
    );
    let mut chain = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = cause {
        chain.push(e.to_string());
        cause = e.source();
    }
    assert!(
        chain.iter().any(|e| e.starts_with("bad frame: header of")),
        "the frame error is in the chain: {chain:#?}"
    );
}

#[actix_rt::test]
async fn idle_sessions_close_and_quiet_live_ones_stay_open() {
    let bounds = LinkBounds {
        idle_timeout: Duration::from_millis(400),
        ..LinkBounds::default()
    };
    let mut server = serve(bounds).await;
    let options = SessionOptions::new(FrameLimits::default(), bounds);
    let (live, _live_events) = connect(server.addr, options).await;
    let _live_link = next_link(&mut server).await;
    let started = Instant::now();
    let mut silent = silent_client(server.addr).await;
    let _silent_link = next_link(&mut server).await;
    let reason = next_closed(&mut server.events).await;
    assert!(
        reason.contains("silent: nothing received, not even a keepalive, for 400ms"),
        "{reason}"
    );
    let mut sink = Vec::new();
    within(
        "the idle peer's socket closes",
        silent.read_to_end(&mut sink),
    )
    .await
    .expect("reads to the end");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Three idle periods with nothing to say: keepalives keep the live link open.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    live.tell(Msg::Num(7));
    match next_event(&mut server.events).await {
        SessionEvent::Received { incoming, .. } => assert_eq!(incoming.body, Msg::Num(7)),
        SessionEvent::Closed { reason, .. } => panic!("the live link closed: {reason}"),
    }
}
