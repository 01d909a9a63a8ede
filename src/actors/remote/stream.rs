//! The byte stream of a link: plain TCP, or TLS over it. Sessions and the handshake read and
//! write a [`LinkStream`] without knowing which; framing is the same on both.
//!
//! Also the TLS handshake of each side, with its failures put in words for the one who
//! caused them: a plain client on a TLS port is told, in our own protocol, to use TLS; a TLS
//! client on a plain port, a missing or untrusted certificate, are each named. Knows no actor.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, AlertDescription, CertificateError};
use tokio_rustls::TlsStream;

use super::handshake::{tell_needs_tls, HandshakeError};
use super::tls::{Tls, TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV};

/// The first byte of every TLS connection (a handshake record); our preamble starts with `T`.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// The address scheme that selects TLS.
pub const TLS_SCHEME: &str = "tls://";
/// The address scheme of plain TCP (the default; accepted for symmetry).
pub const TCP_SCHEME: &str = "tcp://";

/// A connection's bytes: plain, or through TLS.
#[derive(Debug)]
pub enum LinkStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: a TLS session is a few KiB).
    Tls(Box<TlsStream<TcpStream>>),
}

impl LinkStream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            LinkStream::Plain(tcp) => tcp,
            LinkStream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }

    /// Whether the link is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, LinkStream::Tls(_))
    }
}

impl From<TcpStream> for LinkStream {
    fn from(tcp: TcpStream) -> Self {
        LinkStream::Plain(tcp)
    }
}

impl AsyncRead for LinkStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            LinkStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            LinkStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for LinkStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            LinkStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            LinkStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            LinkStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            LinkStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            LinkStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            LinkStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            LinkStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            LinkStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            LinkStream::Plain(tcp) => tcp.is_write_vectored(),
            LinkStream::Tls(tls) => tls.is_write_vectored(),
        }
    }
}

/// `addr` without its scheme, and whether the scheme asks for TLS (`tls://host:port`).
pub fn split_scheme(addr: &str) -> (&str, bool) {
    if let Some(rest) = addr.strip_prefix(TLS_SCHEME) {
        (rest, true)
    } else {
        (addr.strip_prefix(TCP_SCHEME).unwrap_or(addr), false)
    }
}

/// The name a client gives the server (not checked against its certificate: see
/// [`super::tls`]); any valid name does, so an unparsable host falls back to one.
fn server_name(addr: &str) -> ServerName<'static> {
    if let Ok(socket) = addr.parse::<SocketAddr>() {
        return ServerName::IpAddress(socket.ip().into());
    }
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    ServerName::try_from(host.to_owned())
        .unwrap_or_else(|_| ServerName::try_from("taskforce").expect("a valid DNS name"))
}

/// Client side: the TLS handshake on a connected socket to `addr`.
pub async fn secure_client(
    tcp: TcpStream,
    addr: &str,
    tls: &Tls,
) -> Result<LinkStream, HandshakeError> {
    match tls.connector().connect(server_name(addr), tcp).await {
        Ok(stream) => Ok(LinkStream::Tls(Box::new(TlsStream::Client(stream)))),
        Err(e) => Err(client_failure(addr, e)),
    }
}

/// Server side: with `tls`, the TLS handshake (a client that does not start one is told in
/// our protocol that this port requires TLS); without, the socket as it is.
pub async fn secure_server(
    tcp: TcpStream,
    tls: Option<&Tls>,
    peer: SocketAddr,
) -> Result<LinkStream, HandshakeError> {
    let Some(tls) = tls else {
        return Ok(LinkStream::Plain(tcp));
    };
    let acceptor = tls
        .acceptor()
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut first = [0_u8; 1];
    if tcp.peek(&mut first).await? == 0 {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        let mut plain = LinkStream::Plain(tcp);
        tell_needs_tls(&mut plain).await;
        close_gently(plain).await;
        return Err(HandshakeError::Tls {
            peer: peer.to_string(),
            reason: "a client without TLS connected to this TLS port (it was told to use TLS)"
                .into(),
        });
    }
    match acceptor.accept(tcp).into_fallible().await {
        Ok(stream) => Ok(LinkStream::Tls(Box::new(TlsStream::Server(stream)))),
        Err((e, tcp)) => {
            close_gently(tcp).await;
            Err(HandshakeError::Tls {
                peer: peer.to_string(),
                reason: server_words(&e),
            })
        }
    }
}

/// Closes after the last word: shuts our side, then reads (and drops) what the peer still
/// sends, for at most a second and 64 KiB, so that the kernel does not answer unread bytes
/// with a reset that could overtake our last word (a refusal, a TLS alert).
pub async fn close_gently<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0_u8; 4096];
        let mut left = 64 * 1024_usize;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The rustls error inside an I/O error, if any.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A client's TLS failure (during the TLS handshake or our own, which follows it: TLS 1.3
/// servers check a client's certificate after the client thinks it is done) as a
/// [`HandshakeError::Tls`] naming the cause (not retried); other errors are returned as they
/// are.
pub fn client_failure(peer: &str, e: io::Error) -> HandshakeError {
    // A reset or an early end stays an I/O error, which is retried: a server that stops or
    // restarts mid-handshake looks like that.
    let Some(tls) = rustls_error(&e) else {
        return HandshakeError::Io(e);
    };
    let reason = client_words(tls);
    HandshakeError::Tls {
        peer: peer.to_owned(),
        reason,
    }
}

fn client_words(e: &rustls::Error) -> String {
    use rustls::Error::*;
    match e {
        InvalidMessage(_) => "the server does not speak TLS: its port is plain TCP (connect \
                              without tls:// and the TLS settings, or start the server with \
                              --tls-cert and --tls-key)"
            .to_owned(),
        InvalidCertificate(CertificateError::UnknownIssuer) => {
            format!("the server's certificate is not signed by our CA (--tls-ca, {TLS_CA_ENV})")
        }
        InvalidCertificate(other) => format!("the server's certificate was refused: {other:?}"),
        AlertReceived(AlertDescription::CertificateRequired) => format!(
            "the server requires a client certificate signed by its CA: give this client \
             --tls-cert and --tls-key ({TLS_CERT_ENV}, {TLS_KEY_ENV})"
        ),
        AlertReceived(
            alert @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::DecryptError),
        ) => format!("the server refused our certificate ({alert:?}): is it signed by its CA?"),
        other => format!("TLS failed: {other}"),
    }
}

fn server_words(e: &io::Error) -> String {
    use rustls::Error::*;
    match rustls_error(e) {
        Some(NoCertificatesPresented) => "the client presented no certificate, and this \
                                          server requires one signed by its CA (--tls-ca)"
            .to_owned(),
        Some(InvalidCertificate(CertificateError::UnknownIssuer)) => {
            "the client's certificate is not signed by our CA (--tls-ca)".to_owned()
        }
        Some(InvalidCertificate(other)) => {
            format!("the client's certificate was refused: {other:?}")
        }
        Some(AlertReceived(alert)) => format!(
            "the client refused our certificate ({alert:?}): is it signed by the client's CA?"
        ),
        Some(other) => format!("TLS failed: {other}"),
        None => format!("TLS handshake failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_select_tls() {
        assert_eq!(split_scheme("tls://10.0.0.1:8786"), ("10.0.0.1:8786", true));
        assert_eq!(split_scheme("tcp://h:1"), ("h:1", false));
        assert_eq!(split_scheme("h:1"), ("h:1", false));
    }

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("127.0.0.1:80"),
            ServerName::IpAddress(_)
        ));
        assert_eq!(
            server_name("node-3.cluster:80"),
            ServerName::try_from("node-3.cluster").unwrap()
        );
        assert_eq!(
            server_name("bad name:80"),
            ServerName::try_from("taskforce").unwrap()
        );
    }
}
