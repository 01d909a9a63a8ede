//! [`LatencyProxy`]: a TCP proxy on 127.0.0.1 that forwards to one target, adding a one-way
//! delay and jitter to each direction, and that can be cut (it stops forwarding without a
//! reset, as a partition does) and healed. The kernels we test on have no netem or
//! iptables: tests and benches put this between a worker and its center instead.
//!
//! Plain threads and blocking sockets (nothing of actix or tokio): each connection has a
//! reader and a writer thread per direction. The reader stamps each chunk it reads with the
//! time it is due (arrival + delay + jitter, never before the previous chunk's: a stream is
//! not reordered); the writer sleeps until then and forwards it unless the link is cut.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections at once (a client past it is closed at
//! once, with a warning); per direction at most [`CHUNKS_IN_FLIGHT`] chunks of at most
//! [`CHUNK_BYTES`] wait for their time, after which the reader stops reading and the
//! sender's TCP window fills, so a fast sender blocks as on a slow link (also while cut).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tracing::{debug, warn};

use crate::ids::Map;

/// The most connections a proxy forwards at once; a client past it is closed at once.
pub const MAX_CONNECTIONS: usize = 256;

/// The most chunks one direction of a connection holds while they wait for their time (or
/// for a cut to heal); then its reader stops reading, so the sender is held back by TCP.
pub const CHUNKS_IN_FLIGHT: usize = 64;

/// The most bytes read into one chunk (so one direction holds at most 4 MiB).
pub const CHUNK_BYTES: usize = 64 << 10;

/// How a proxied link behaves: the same in both directions.
///
/// ```
/// use std::time::Duration;
/// use taskforce::testing::LinkShape;
/// let two_ms_round_trip = LinkShape::delay(Duration::from_millis(1));
/// assert_eq!(two_ms_round_trip.jitter, Duration::ZERO);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkShape {
    /// Added to every chunk in each direction, so a round trip takes twice this more.
    pub one_way_delay: Duration,
    /// Up to this much more, uniformly drawn per chunk (never reordering the stream).
    pub jitter: Duration,
    /// Seeds the jitter, so a run can be repeated.
    pub seed: u64,
}

impl LinkShape {
    /// A link adding `one_way_delay` each way, without jitter.
    pub fn delay(one_way_delay: Duration) -> Self {
        LinkShape {
            one_way_delay,
            ..LinkShape::default()
        }
    }

    /// The same link with up to `jitter` more per chunk.
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }
}

/// What the forwarding threads share; one lock, held only to read or change settings
/// (never across a read, a write or a sleep), with a condvar for cut/heal and the target.
struct Shared {
    settings: Mutex<Settings>,
    changed: Condvar,
    stopping: AtomicBool,
    /// Connections accepted and not yet ended (waiting for a target or forwarding), by
    /// number: a clone of each of their sockets, shut down when the proxy stops.
    open: Mutex<Map<u64, Vec<TcpStream>>>,
    next_connection: AtomicU64,
}

struct Settings {
    shape: LinkShape,
    cut: bool,
    target: Option<SocketAddr>,
    rng: Xoshiro256PlusPlus,
}

impl Shared {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This chunk's delay: the one-way delay plus its draw of jitter.
    fn draw_delay(&self) -> Duration {
        let mut settings = self.settings();
        let LinkShape {
            one_way_delay,
            jitter,
            ..
        } = settings.shape;
        let jitter_nanos = jitter.as_nanos() as u64;
        if jitter_nanos == 0 {
            return one_way_delay;
        }
        let extra = settings.rng.next_u64() % (jitter_nanos + 1);
        one_way_delay + Duration::from_nanos(extra)
    }

    /// Waits while the link is cut; false if the proxy is stopping.
    fn wait_until_forwarding(&self) -> bool {
        let mut settings = self.settings();
        while settings.cut && !self.stopping.load(Ordering::Acquire) {
            settings = self
                .changed
                .wait(settings)
                .unwrap_or_else(|e| e.into_inner());
        }
        !self.stopping.load(Ordering::Acquire)
    }

    /// Waits for a target and an uncut link; `None` if the proxy is stopping.
    fn wait_for_target(&self) -> Option<SocketAddr> {
        let mut settings = self.settings();
        loop {
            if self.stopping.load(Ordering::Acquire) {
                return None;
            }
            if let (Some(target), false) = (settings.target, settings.cut) {
                return Some(target);
            }
            settings = self
                .changed
                .wait(settings)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    fn change(&self, change: impl FnOnce(&mut Settings)) {
        change(&mut self.settings());
        self.changed.notify_all();
    }
}

/// A TCP proxy on 127.0.0.1 adding delay, jitter and cuts between its clients and one
/// target. Stops (closing every connection it forwards) when dropped.
///
/// ```no_run
/// use std::time::Duration;
/// use taskforce::testing::{LatencyProxy, LinkShape};
/// # fn main() -> std::io::Result<()> {
/// let center: std::net::SocketAddr = "127.0.0.1:8787".parse().unwrap();
/// let proxy = LatencyProxy::start(center, LinkShape::delay(Duration::from_millis(1)))?;
/// // A worker started with `proxy.addr()` as its center sees a 2 ms round trip.
/// proxy.cut();  // its link goes silent (no reset)...
/// proxy.heal(); // ...and what was sent meanwhile arrives
/// # Ok(()) }
/// ```
pub struct LatencyProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl LatencyProxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to `target` with `shape`.
    pub fn start(target: SocketAddr, shape: LinkShape) -> std::io::Result<Self> {
        let proxy = LatencyProxy::bind(shape)?;
        proxy.forward_to(target);
        Ok(proxy)
    }

    /// A proxy on a free port of 127.0.0.1 whose target is given later with
    /// [`LatencyProxy::forward_to`] (for a target that must know the proxy's address first);
    /// clients accepted until then wait.
    pub fn bind(shape: LinkShape) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            settings: Mutex::new(Settings {
                shape,
                cut: false,
                target: None,
                rng: Xoshiro256PlusPlus::seed_from_u64(shape.seed),
            }),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            open: Mutex::new(Map::default()),
            next_connection: AtomicU64::new(0),
        });
        let accepting = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("latency-proxy-{}", addr.port()))
            .spawn(move || accept_loop(listener, accepting))?;
        Ok(LatencyProxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets (or changes, for new connections) the address forwarded to.
    pub fn forward_to(&self, target: SocketAddr) {
        self.shared
            .change(|settings| settings.target = Some(target));
    }

    /// Changes the delay and jitter, for chunks read from now on.
    pub fn set_shape(&self, shape: LinkShape) {
        self.shared.change(|settings| settings.shape = shape);
    }

    /// The delay and jitter in force.
    pub fn shape(&self) -> LinkShape {
        self.shared.settings().shape
    }

    /// Stops forwarding in both directions, without closing or resetting anything: what is
    /// sent meanwhile waits (up to the bounds in the module docs) and new clients are
    /// accepted but not connected onward, as over a link that went silent.
    pub fn cut(&self) {
        self.shared.change(|settings| settings.cut = true);
    }

    /// Resumes forwarding; what waited is delivered in order.
    pub fn heal(&self) {
        self.shared.change(|settings| settings.cut = false);
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.settings().cut
    }

    /// Connections accepted and not yet ended (forwarded, or waiting for a target or a heal).
    pub fn open_connections(&self) -> usize {
        self.shared.open.lock().map_or(0, |open| open.len())
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.changed.notify_all();
        // Wakes the accept loop, which then sees `stopping`.
        let _ = TcpStream::connect(self.addr);
        if let Ok(open) = self.shared.open.lock() {
            for stream in open.values().flatten() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                warn!(error = %e, "latency proxy: accept failed");
                continue;
            }
        };
        let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        {
            let Ok(mut open) = shared.open.lock() else {
                return;
            };
            if open.len() >= MAX_CONNECTIONS {
                warn!(
                    open = open.len(),
                    "latency proxy: at its connection cap, closing a new client"
                );
                continue;
            }
            let Ok(copy) = client.try_clone() else {
                continue;
            };
            open.insert(id, vec![copy]);
        }
        let forwarding = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("latency-proxy-conn".into())
            .spawn(move || {
                forward_connection(client, id, &forwarding);
                if let Ok(mut open) = forwarding.open.lock() {
                    open.remove(&id);
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "latency proxy: no thread for a new connection");
            if let Ok(mut open) = shared.open.lock() {
                open.remove(&id);
            }
        }
    }
}

/// Connects `client` to the target (once there is one and the link is not cut) and forwards
/// both ways until both directions end.
fn forward_connection(client: TcpStream, id: u64, shared: &Arc<Shared>) {
    let Some(target) = shared.wait_for_target() else {
        return;
    };
    let upstream = match TcpStream::connect(target) {
        Ok(upstream) => upstream,
        Err(e) => {
            warn!(%target, error = %e, "latency proxy: could not reach the target; closing the client");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let Ok(upstream_copy) = upstream.try_clone() else {
        return;
    };
    if let Some(sockets) = shared
        .open
        .lock()
        .ok()
        .as_mut()
        .and_then(|open| open.get_mut(&id))
    {
        sockets.push(upstream_copy);
    }
    if shared.stopping.load(Ordering::Acquire) {
        return;
    }
    debug!(%target, id, "latency proxy: forwarding a connection");
    let directions = [
        start_direction(&client, &upstream, shared),
        start_direction(&upstream, &client, shared),
    ];
    for threads in directions.into_iter().flatten().flatten() {
        let _ = threads.join();
    }
}

/// What a reader hands its writer.
enum Piece {
    Chunk { due: Instant, bytes: Vec<u8> },
    End,
}

/// Starts the reader and writer threads of one direction, `from` → `to`.
fn start_direction(
    from: &TcpStream,
    to: &TcpStream,
    shared: &Arc<Shared>,
) -> Option<[JoinHandle<()>; 2]> {
    // At the bound the reader blocks in `send`, so it stops reading `from`.
    let (pieces, incoming) = sync_channel(CHUNKS_IN_FLIGHT);
    let (reading, writing) = (from.try_clone().ok()?, to.try_clone().ok()?);
    let (reader_shared, writer_shared) = (shared.clone(), shared.clone());
    let close_from = from.try_clone().ok()?;
    let reader = std::thread::Builder::new()
        .name("latency-proxy-read".into())
        .spawn(move || read_chunks(reading, pieces, &reader_shared))
        .ok()?;
    let writer = std::thread::Builder::new()
        .name("latency-proxy-write".into())
        .spawn(move || {
            write_chunks(writing, incoming, &writer_shared);
            // Whatever ended this direction, nothing more is read from `from`.
            let _ = close_from.shutdown(Shutdown::Read);
        })
        .ok()?;
    Some([reader, writer])
}

fn read_chunks(mut from: TcpStream, pieces: SyncSender<Piece>, shared: &Shared) {
    let mut last_due = Instant::now();
    loop {
        let mut bytes = vec![0u8; CHUNK_BYTES];
        let n = match from.read(&mut bytes) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes.truncate(n);
        let due = (Instant::now() + shared.draw_delay()).max(last_due);
        last_due = due;
        if pieces.send(Piece::Chunk { due, bytes }).is_err() {
            return;
        }
    }
    let _ = pieces.send(Piece::End);
}

fn write_chunks(mut to: TcpStream, incoming: Receiver<Piece>, shared: &Shared) {
    while let Ok(piece) = incoming.recv() {
        let Piece::Chunk { due, bytes } = piece else {
            // The other side closed its sending half: pass the close on, in order.
            let _ = to.shutdown(Shutdown::Write);
            return;
        };
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if !shared.wait_until_forwarding() || to.write_all(&bytes).is_err() {
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
    }
}
