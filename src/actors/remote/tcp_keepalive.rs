//! TCP keepalive on every session's socket: the kernel's backstop behind the application's
//! own heartbeats ([`super::idle`]).
//!
//! The keepalives of [`super::idle`] are what notice a silent peer within the heartbeat
//! deadline; TCP keepalive probes only start once the connection has carried nothing for
//! `idle` seconds, which never happens while both ends tick. They catch what the
//! application's clock cannot: an owner so stuck that it neither sends nor checks, on a
//! connection whose peer host vanished. Set on the socket, so it holds under TLS too. Knows no
//! actor.

use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use tokio::net::TcpStream;
use tracing::debug;

/// Probes after the deadline's silence, then this many unanswered probes close the socket.
const PROBES: u32 = 3;

/// Turns on TCP keepalive for `tcp`: the first probe after `deadline` of silence (at least
/// 1 s), then [`PROBES`] probes a third of it apart. A platform that refuses one of the
/// options keeps the others; the failure is logged at debug (the application's heartbeats
/// still hold).
pub fn backstop(tcp: &TcpStream, deadline: Duration) {
    let idle = deadline.as_secs().clamp(1, u32::MAX as u64) as u32;
    let interval = (idle / 3).max(1);
    let results = [
        ("SO_KEEPALIVE", setsockopt(tcp, sockopt::KeepAlive, &true)),
        ("TCP_KEEPIDLE", setsockopt(tcp, sockopt::TcpKeepIdle, &idle)),
        (
            "TCP_KEEPINTVL",
            setsockopt(tcp, sockopt::TcpKeepInterval, &interval),
        ),
        (
            "TCP_KEEPCNT",
            setsockopt(tcp, sockopt::TcpKeepCount, &PROBES),
        ),
    ];
    for (option, result) in results {
        if let Err(e) = result {
            debug!(target: crate::actors::LOG_REMOTE, option, "could not set TCP keepalive option: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::getsockopt;

    #[test]
    fn sockets_get_keepalive_probes_after_the_deadline() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("bound");
            let tcp = TcpStream::connect(addr).await.expect("connect");
            backstop(&tcp, Duration::from_secs(30));
            assert!(getsockopt(&tcp, sockopt::KeepAlive).expect("SO_KEEPALIVE"));
            assert_eq!(getsockopt(&tcp, sockopt::TcpKeepIdle).expect("idle"), 30);
            assert_eq!(
                getsockopt(&tcp, sockopt::TcpKeepInterval).expect("intvl"),
                10
            );
            assert_eq!(
                getsockopt(&tcp, sockopt::TcpKeepCount).expect("cnt"),
                PROBES
            );
        });
    }
}
