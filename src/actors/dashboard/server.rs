//! The HTTP server: routes, a connection cap, and the event feed.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] open connections (the next waits in the kernel's
//! accept queue until one closes) and [`MAX_FEEDS`] live event feeds (one more gets `503`
//! and the page retries); a feed sends one snapshot every [`FEED_INTERVAL`], never faster
//! however busy the cluster is.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{info, warn};

use super::access::{self, Access};
use super::Dashboard;
use crate::messages::Token;

const LOG_TARGET: &str = "taskforce::dashboard";
/// Open connections at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Live event feeds at once.
pub const MAX_FEEDS: usize = 16;
/// Time between two snapshots on a feed.
pub const FEED_INTERVAL: Duration = Duration::from_millis(500);

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");

#[derive(Clone)]
struct AppState {
    dashboard: Dashboard,
    feeds: Arc<Semaphore>,
}

/// A running dashboard server; dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct DashboardServer {
    addr: SocketAddr,
    token: Option<Token>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl DashboardServer {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, with the token in it when the dashboard asks for one.
    pub fn link(&self) -> String {
        let link = format!("http://{}/", self.addr);
        match &self.token {
            Some(token) => access::link_with_token(&link, token),
            None => link,
        }
    }
}

impl Drop for DashboardServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` and serves `dashboard` from a thread of its own until the returned handle is
/// dropped; with a `token`, only to those who show it (see [`access`]).
pub fn serve(
    dashboard: Dashboard,
    addr: SocketAddr,
    token: Option<Token>,
) -> io::Result<DashboardServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let state = AppState {
        dashboard,
        feeds: Arc::new(Semaphore::new(MAX_FEEDS)),
    };
    let access = Access::new(token.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("taskforce-dashboard".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(listener) => CappedListener::new(listener),
                    Err(e) => return warn!(target: LOG_TARGET, "dashboard could not listen: {e}"),
                };
                // Dropping the runtime when told to stop ends every connection and feed.
                tokio::select! {
                    served = axum::serve(listener, routes(state, access)) => if let Err(e) = served {
                        warn!(target: LOG_TARGET, "dashboard stopped: {e}");
                    },
                    _ = stopped => {}
                }
            })
        })?;
    info!(target: LOG_TARGET, "Dashboard at http://{bound}/");
    Ok(DashboardServer {
        addr: bound,
        token,
        stop: Some(stop),
    })
}

fn routes(state: AppState, access: Access) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/dashboard.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/dashboard.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/api/snapshot", get(snapshot))
        .route("/events", get(events))
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(access, access::guard))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn snapshot(State(state): State<AppState>) -> Response {
    json(&state.dashboard)
}

fn json(dashboard: &Dashboard) -> Response {
    match serde_json::to_string(&dashboard.snapshot()) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.dashboard.metrics_text();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn events(State(state): State<AppState>) -> Response {
    let Ok(permit) = state.feeds.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many dashboards open").into_response();
    };
    let watching = state.dashboard.watched();
    let feed = futures_util::stream::unfold(
        (
            state.dashboard,
            tokio::time::interval(FEED_INTERVAL),
            (permit, watching),
        ),
        |(dashboard, mut interval, held)| async move {
            interval.tick().await;
            let data = serde_json::to_string(&dashboard.snapshot()).unwrap_or_default();
            let event = Ok::<_, Infallible>(Event::default().event("snapshot").data(data));
            Some((event, (dashboard, interval, held)))
        },
    );
    Sse::new(feed)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A listener that holds a permit for each open connection.
struct CappedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
}

impl CappedListener {
    fn new(listener: TcpListener) -> Self {
        CappedListener {
            listener,
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        }
    }
}

impl axum::serve::Listener for CappedListener {
    type Io = CappedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    return (
                        CappedStream {
                            stream,
                            _permit: permit,
                        },
                        peer,
                    )
                }
                // Out of file descriptors or a reset before accept: wait a little, go on.
                Err(e) => {
                    warn!(target: LOG_TARGET, "dashboard accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A connection and the permit it holds until it closes.
struct CappedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for CappedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
