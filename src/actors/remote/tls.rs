//! TLS settings of the remote layer: certificate, key and CA files loaded into rustls
//! configurations (the `ring` provider, TLS 1.3) for both sides of a link.
//!
//! With a CA, both sides verify each other: the server requires a client certificate signed
//! by the CA, and the client checks the server's certificate chain against it. As in Dask,
//! the name in the certificate is not checked (workers are reached by IP address, often one
//! the certificate cannot know); the chain is. Without a CA, the link is encrypted but the
//! server's certificate is not checked: the token is then what authenticates the peers.
//! Knows no actor; the handshake over a socket is in [`super::stream`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Variable naming the PEM certificate (chain) file, read by `Executor::connect` and the CLI.
pub const TLS_CERT_ENV: &str = "TASKFORCE_TLS_CERT";
/// Variable naming the PEM private key file of that certificate.
pub const TLS_KEY_ENV: &str = "TASKFORCE_TLS_KEY";
/// Variable naming the PEM file of the CA that signs the cluster's certificates.
pub const TLS_CA_ENV: &str = "TASKFORCE_TLS_CA";

/// TLS could not be set up from the files given.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM of the kind wanted.
    #[error("cannot read the {what} from {path}: {reason}")]
    File {
        /// What the file should hold ("certificate", "private key", "CA certificate").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A certificate without its key, or a key without its certificate.
    #[error("--tls-cert and --tls-key go together ({TLS_CERT_ENV}, {TLS_KEY_ENV})")]
    Unpaired,
    /// A server was asked to listen with TLS but has no certificate.
    #[error("listening with TLS needs a certificate and its key (--tls-cert, --tls-key)")]
    NoServerCertificate,
    /// rustls refused the configuration (a key that does not match its certificate).
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
}

/// The TLS files of one process. Empty paths are absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// This side's certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// The CA that signs every certificate of the cluster (PEM); turns on mutual checks.
    pub ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The files named by `TASKFORCE_TLS_CERT`, `_KEY` and `_CA`, if any is set.
    pub fn from_env() -> Option<TlsFiles> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let files = TlsFiles {
            cert: var(TLS_CERT_ENV),
            key: var(TLS_KEY_ENV),
            ca: var(TLS_CA_ENV),
        };
        files.is_set().then_some(files)
    }

    /// Whether any file is named.
    pub fn is_set(&self) -> bool {
        self.cert.is_some() || self.key.is_some() || self.ca.is_some()
    }
}

/// Loaded TLS settings, cheap to clone: the connector every outgoing link uses and, with a
/// certificate, the acceptor of this process's listener.
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    acceptor: Option<TlsAcceptor>,
    verifies_peers: bool,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("can_listen", &self.acceptor.is_some())
            .field("verifies_peers", &self.verifies_peers)
            .finish()
    }
}

impl Tls {
    /// Loads the files: a certificate and key to present (and to listen with), a CA to check
    /// peers against.
    pub fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        let identity = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => Some((read_certs(cert, "certificate")?, read_key(key)?)),
            (None, None) => None,
            _ => return Err(TlsError::Unpaired),
        };
        let roots = files.ca.as_deref().map(read_roots).transpose()?;
        let provider = Arc::new(ring::default_provider());
        let presented = identity
            .as_ref()
            .map(|(certs, key)| (certs.clone(), key.clone_key()));
        let connector = client_config(&provider, presented, roots.clone())?;
        let acceptor = identity
            .map(|identity| server_config(&provider, identity, roots.clone()))
            .transpose()?;
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(connector)),
            acceptor: acceptor.map(|config| TlsAcceptor::from(Arc::new(config))),
            verifies_peers: roots.is_some(),
        })
    }

    /// Settings from `TASKFORCE_TLS_*`, if any is set.
    pub fn from_env() -> Result<Option<Tls>, TlsError> {
        TlsFiles::from_env()
            .map(|files| Tls::load(&files))
            .transpose()
    }

    /// A client that encrypts but checks no certificate and presents none: what a
    /// `tls://` address selects when no TLS files are given.
    pub fn encrypt_only() -> Tls {
        Tls::load(&TlsFiles::default()).expect("settings without files always load")
    }

    /// The connector of outgoing links.
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    /// The acceptor of a listener, or why this process cannot listen with TLS.
    pub fn acceptor(&self) -> Result<&TlsAcceptor, TlsError> {
        self.acceptor.as_ref().ok_or(TlsError::NoServerCertificate)
    }

    /// Whether peers' certificates are checked against a CA.
    pub fn verifies_peers(&self) -> bool {
        self.verifies_peers
    }
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn file_error(what: &'static str, path: &Path, reason: impl fmt::Display) -> TlsError {
    TlsError::File {
        what,
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn read_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error("private key", path, e))
}

fn read_roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, "CA certificate")? {
        roots
            .add(cert)
            .map_err(|e| file_error("CA certificate", path, e))?;
    }
    Ok(Arc::new(roots))
}

fn client_config(
    provider: &Arc<CryptoProvider>,
    identity: Option<Identity>,
    roots: Option<Arc<RootCertStore>>,
) -> Result<ClientConfig, TlsError> {
    let verifier: Arc<dyn ServerCertVerifier> = match roots {
        Some(roots) => Arc::new(ChainOnly(
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?,
        )),
        None => Arc::new(AnyCertificate(provider.clone())),
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    Ok(match identity {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key)?,
        None => builder.with_no_client_auth(),
    })
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    (certs, key): Identity,
    roots: Option<Arc<RootCertStore>>,
) -> Result<ServerConfig, TlsError> {
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match roots {
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?,
        ),
        None => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(certs, key)?)
}

/// Checks the server's chain against the CA but not the name in it (see the module docs).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any server certificate, still checking that the server holds its key: encryption
/// without authentication, for clusters that authenticate with the token alone.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
