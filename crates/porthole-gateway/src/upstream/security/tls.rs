//! TLS toward VNC servers for VeNCrypt X509*: the server's chain must lead to `vencrypt_ca_certs`;
//! its name is not checked (as Nova: VNC servers are reached by management addresses); an optional
//! client certificate for servers with `verify-peer=on`.

use crate::upstream::VncStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the certificates are (`[vnc] vencrypt_*`, Nova's names).
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// CA bundle (PEM) that VNC servers' certificates must chain to.
    pub ca_certs: PathBuf,
    /// Client certificate chain (PEM), for servers that verify peers.
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub client_key: Option<PathBuf>,
}

/// Builds the TLS client configuration, or says which file is wrong.
pub fn tls_config(s: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&s.ca_certs).map_err(|e| format!("{}: {e}", s.ca_certs.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", s.ca_certs.display()))?;
        roots.add(cert).map_err(|e| format!("{}: {e}", s.ca_certs.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no certificate in it", s.ca_certs.display()));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("{}: {e}", s.ca_certs.display()))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoHostname(webpki)));
    let config = match (&s.client_cert, &s.client_key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(cert).and_then(|it| it.collect()).map_err(|e| format!("{}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("client certificate: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("vencrypt_client_cert and vencrypt_client_key go together".into()),
    };
    Ok(Arc::new(config))
}

/// Connects TLS over an established VNC connection.
pub(super) async fn connect(
    cfg: Arc<rustls::ClientConfig>,
    server_name: &str,
    plain: VncStream,
) -> std::io::Result<tokio_rustls::client::TlsStream<VncStream>> {
    let name = ServerName::try_from(server_name.to_owned())
        .or_else(|_| ServerName::try_from("vnc-server".to_owned()))
        .map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(cfg).connect(name, plain).await.map_err(explain)
}

/// What to do about a VNC server whose certificate is X.509 version 1.
const V1_CERTIFICATE: &str = "the VNC server's certificate is X.509 version 1 (made without extensions, as old openssl \
    recipes do), and TLS here accepts only version 3: reissue it as v3 by signing its request again with extensions, e.g. \
    `openssl x509 -req -in server.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -days 365 -out server-cert.pem \
    -extfile server.ext` where server.ext says basicConstraints=CA:FALSE, keyUsage=digitalSignature,keyEncipherment, \
    extendedKeyUsage=serverAuth, subjectAltName=DNS:<host> (or use certtool as libvirt's TLS guide does), then restart the VNC server";

/// Words an operator can act on for the handshake errors that rustls leaves cryptic.
fn explain(e: std::io::Error) -> std::io::Error {
    let certificate = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let Some(rustls::Error::InvalidCertificate(CertificateError::Other(other))) = certificate else { return e };
    match other.0.downcast_ref::<webpki::Error>() {
        Some(webpki::Error::UnsupportedCertVersion) => std::io::Error::new(std::io::ErrorKind::InvalidData, V1_CERTIFICATE),
        _ => e,
    }
}

/// The WebPKI chain check without the host name check.
#[derive(Debug)]
struct NoHostname(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for NoHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // WebPKI checks the chain first and the name last: a name error means the chain was good.
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests;
