//! The dashboard's HTTP face over real TCP: the page and its assets, the JSON snapshot, the
//! Prometheus text (parsed by a Prometheus parser), and the cap on live feeds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use taskforce::actors::dashboard::{Dashboard, MAX_FEEDS};
use taskforce::dashboard::{MessageCounts, MessageKind, Observation};
use taskforce::ids::WorkerId;
use taskforce::messages::activity::{ActivityMsg, SpanKind, SpanMsg};
use taskforce::messages::tree::TreeNode;
use taskforce::messages::Token;

/// Sends a GET and returns (status, headers and body as text).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    get_with(addr, path, "")
}

/// Sends a GET with extra header lines (each ending in `\r\n`).
fn get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response[9..12].parse().expect("status code");
    (status, response)
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn fed_dashboard() -> Dashboard {
    let dashboard = Dashboard::default();
    let mut messages = MessageCounts::default();
    messages.add(MessageKind::Compute, 2);
    dashboard.observe([
        Observation::WorkerJoined {
            id: WorkerId(1),
            name: "alpha".into(),
            addr: "127.0.0.1:4001".into(),
            nthreads: 2,
            memory_limit: 1 << 30,
        },
        Observation::WorkerLoad {
            id: WorkerId(1),
            memory_used: 1 << 20,
            stored_bytes: 8192,
            peer_bytes_in: 100,
            spilled_bytes: 4096,
        },
        Observation::TaskSubmitted {
            key: "inc-0a".into(),
            function: "inc".into(),
            dependencies: vec![],
        },
        Observation::TaskSubmitted {
            key: "inc-0b".into(),
            function: "inc".into(),
            dependencies: vec![],
        },
        Observation::TaskSent {
            key: "inc-0a".into(),
            worker: WorkerId(1),
        },
        Observation::TaskFinished {
            key: "inc-0a".into(),
        },
        Observation::WorkerActivity {
            id: WorkerId(1),
            activity: ActivityMsg {
                bytes_in: 100,
                bytes_out: 300,
                spans: vec![SpanMsg {
                    kind: SpanKind::Compute {
                        thread: 0,
                        function: "inc".into(),
                        erred: false,
                    },
                    started_us_ago: 2_000,
                    stopped_us_ago: 1_000,
                }],
                ..ActivityMsg::default()
            },
        },
        Observation::Messages(messages),
    ]);
    dashboard
}

#[test]
fn page_assets_snapshot_and_metrics_are_served() {
    let dashboard = fed_dashboard();
    let server = dashboard
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    let (status, page) = get(server.addr(), "/");
    assert_eq!(status, 200);
    assert!(page.contains("<title>taskforce dashboard</title>"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );
    for asset in ["/dashboard.js", "/dashboard.css"] {
        assert_eq!(get(server.addr(), asset).0, 200, "{asset}");
    }
    let (status, snapshot) = get(server.addr(), "/api/snapshot");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(body(&snapshot)).expect("JSON");
    assert_eq!(json["workers"][0]["name"], "alpha");
    assert_eq!(json["workers"][0]["spilled_bytes"], 4096);
    assert_eq!(json["totals"]["memory"], 1);
    assert_eq!(json["totals"]["waiting"], 1);
    assert_eq!(json["functions"][0]["function"], "inc");
    assert_eq!(json["stream"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["stream"][0]["thread"], 0);
    assert_eq!(json["stream"][0]["kind"], "compute");
}

#[test]
fn metrics_parse_as_prometheus_text_and_match_the_model() {
    let dashboard = fed_dashboard();
    let server = dashboard
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    let (status, response) = get(server.addr(), "/metrics");
    assert_eq!(status, 200);
    let lines = body(&response).lines().map(|line| Ok(line.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let value = |name: &str, state: Option<&str>| {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && state.is_none_or(|st| s.labels.get("state") == Some(st)))
            .unwrap_or_else(|| panic!("no sample {name} {state:?}"));
        match sample.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        }
    };
    assert_eq!(value("taskforce_workers", None), 1.0);
    assert_eq!(value("taskforce_tasks", Some("memory")), 1.0);
    assert_eq!(value("taskforce_tasks", Some("waiting")), 1.0);
    assert_eq!(value("taskforce_tasks_finished_total", None), 1.0);
    assert_eq!(value("taskforce_spilled_bytes", None), 4096.0);
    assert_eq!(value("taskforce_transferred_bytes", None), 100.0);
    assert_eq!(value("taskforce_sent_bytes", None), 300.0);
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "taskforce_task_latency_seconds_count"));
    let messages = |kind: &str| {
        let sample = (scrape.samples.iter())
            .find(|s| s.metric == "taskforce_messages_total" && s.labels.get("kind") == Some(kind))
            .unwrap_or_else(|| panic!("no message count for {kind}"));
        match sample.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        }
    };
    assert_eq!(messages("compute"), 2.0);
    let compute = (scrape.samples.iter())
        .find(|s| s.metric == "taskforce_messages_total" && s.labels.get("kind") == Some("compute"))
        .expect("compute");
    assert_eq!(compute.labels.get("direction"), Some("scheduler_to_worker"));
    assert_eq!(
        messages("update_graph"),
        0.0,
        "every kind is listed, counted or not"
    );
    let computed = (scrape.samples.iter())
        .find(|s| {
            s.metric == "taskforce_work_duration_seconds_count"
                && s.labels.get("kind") == Some("compute")
        })
        .expect("compute durations");
    assert!(
        matches!(
            computed.value,
            prometheus_parse::Value::Untyped(1.0) | prometheus_parse::Value::Counter(1.0)
        ),
        "{:?}",
        computed.value
    );
}

#[test]
fn live_feeds_push_snapshots_and_are_capped() {
    let dashboard = fed_dashboard();
    let server = dashboard
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    let mut feeds = Vec::new();
    for _ in 0..MAX_FEEDS {
        let mut stream = TcpStream::connect(server.addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        write!(stream, "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        assert!(status.contains("200"), "{status}");
        feeds.push(reader);
    }
    let first = &mut feeds[0];
    let mut line = String::new();
    while !line.starts_with("data:") {
        line.clear();
        first
            .read_line(&mut line)
            .expect("an event within the timeout");
    }
    assert!(line.contains("\"alpha\""), "{line}");
    let (status, _) = get(server.addr(), "/events");
    assert_eq!(status, 503, "one feed more than the cap is refused");
    drop(feeds);
}

/// The value of the header `name` (lower case) in a response.
fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response
        .split_once("\r\n\r\n")
        .map_or(response, |(head, _)| head);
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim())
    })
}

#[test]
fn with_a_token_only_those_who_show_it_get_in() {
    let dashboard = fed_dashboard();
    let token = Token::new("s3cret to/ken").expect("token");
    let server = dashboard
        .serve_with_token("127.0.0.1:0".parse().unwrap(), Some(token))
        .expect("serve");
    let addr = server.addr();
    for path in ["/", "/api/snapshot", "/metrics", "/events", "/?token=wrong"] {
        let (status, response) = get(addr, path);
        assert_eq!(status, 401, "{path}");
        assert!(body(&response).contains("<form"), "{path}: the login form");
    }
    let link = server.link();
    let path = link
        .split_once(&addr.to_string())
        .expect("link names the address")
        .1;
    assert!(path.starts_with("/?token="), "{link}");
    let (status, response) = get(addr, path);
    assert_eq!(status, 303, "the right token trades for a cookie");
    assert_eq!(header(&response, "location"), Some("/"));
    let cookie = header(&response, "set-cookie").expect("a cookie");
    let cookie = cookie.split(';').next().expect("name=value");
    let (status, snapshot) = get_with(addr, "/api/snapshot", &format!("Cookie: {cookie}\r\n"));
    assert_eq!(status, 200);
    assert!(body(&snapshot).contains("\"alpha\""));
    let forged = format!("Cookie: {}x\r\n", cookie);
    assert_eq!(get_with(addr, "/api/snapshot", &forged).0, 401);
    let bearer = "Authorization: Bearer s3cret to/ken\r\n";
    assert_eq!(get_with(addr, "/metrics", bearer).0, 200);
}

#[test]
fn the_supervision_trees_and_their_restarts_are_shown_and_counted() {
    let trees = taskforce::actors::center::ClusterTrees::default();
    let mut worker = TreeNode::running("worker w1 (pid 7)");
    worker.restarts = 2;
    worker.last_exit = Some("killed by signal 9".into());
    let mut nanny = TreeNode::running("nanny nanny-7");
    nanny.restarts = 1;
    nanny.children.push(worker);
    trees.members.set(vec![nanny]);
    let dashboard = fed_dashboard().with_trees(trees);
    let server = dashboard
        .serve("127.0.0.1:0".parse().unwrap())
        .expect("serve");
    let (status, snapshot) = get(server.addr(), "/api/snapshot");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(body(&snapshot)).expect("JSON");
    assert_eq!(json["tree"][0]["name"], "nanny nanny-7");
    assert_eq!(json["tree"][0]["children"][0]["restarts"], 2);
    assert_eq!(
        json["tree"][0]["children"][0]["last_exit"],
        "killed by signal 9"
    );
    let (_, response) = get(server.addr(), "/metrics");
    let line = body(&response)
        .lines()
        .find(|line| line.starts_with("taskforce_supervised_restarts "))
        .expect("the restarts metric");
    assert_eq!(line, "taskforce_supervised_restarts 3");
}
