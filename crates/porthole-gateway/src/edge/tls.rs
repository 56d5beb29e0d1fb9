//! The listener's TLS (`[proxy] cert`, `key`, Nova's names): the server configuration, built from
//! PEM files, re-read whole on a reload; certificate problems said in words.

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Builds the TLS server configuration from a PEM certificate chain and its key, or says which
/// file is wrong and how.
pub fn tls_server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).and_then(|it| it.collect()).map_err(|e| format!("[proxy] cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("[proxy] cert {}: no certificate in it (expected PEM)", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("[proxy] key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("[proxy] cert and key do not go together: {e}"))?;
    // HTTP/1.1 only: the WebSocket upgrade needs it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
