//! TLS termination (C01, S01): TLS 1.2 and 1.3 only, through rustls with the
//! ring provider. Older protocol versions are refused during the handshake.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("証明書 {0} を読めません: {1}")]
    Cert(String, String),
    #[error("秘密鍵 {0} を読めません: {1}")]
    Key(String, String),
    #[error("TLSの設定に失敗しました: {0}")]
    Config(String),
}

/// Builds the server configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert(cert.display().to_string(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Cert(
            cert.display().to_string(),
            "証明書がありません".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key(key.display().to_string(), e.to_string()))?;
    from_der(certs, key)
}

/// Builds the server configuration from DER values (used by tests too).
pub fn from_der(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
