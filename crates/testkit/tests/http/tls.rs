//! TLS (C01, S01): the server terminates TLS 1.2 and 1.3 only. A TLS 1.1
//! ClientHello is refused during the handshake; TLS 1.2 is served, with HSTS.

use std::sync::Arc;

use hiroba_web::{AppState, WebConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn tls_server() -> (
    std::net::SocketAddr,
    CertificateDer<'static>,
    tokio::sync::oneshot::Sender<()>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let tls = hiroba::tls::from_der(vec![cert.clone()], key).unwrap();
    let db = hiroba_store::testing::sqlite().await;
    let state = AppState::new(
        db.db.clone(),
        WebConfig {
            https: true,
            ..WebConfig::default()
        },
        hiroba_store::SecretBox::random().unwrap(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _keep = db;
        hiroba::server::serve(listener, hiroba_web::app(state), Some(tls), async {
            let _ = stopped.await;
        })
        .await
    });
    (addr, cert, stop)
}

/// A minimal TLS 1.1 ClientHello (no supported_versions extension), by hand:
/// no maintained Rust TLS client can still speak TLS 1.1.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend([0x42; 32]); // random
    body.push(0); // no session id
    let suites: [u16; 4] = [0xc013, 0xc014, 0x002f, 0x0035];
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([0x01, 0x00]); // null compression
    let mut handshake = vec![0x01]; // ClientHello
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[tokio::test]
async fn tls_1_1_is_refused() {
    let (addr, _cert, _stop) = tls_server().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&tls11_client_hello()).await.unwrap();
    let mut reply = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut reply))
        .await
        .unwrap()
        .unwrap_or(0);
    // Either an alert record (content type 21) or a closed connection; never a ServerHello (22).
    assert!(
        n == 0 || reply[0] == 0x15,
        "server answered a TLS 1.1 hello with {:?}",
        &reply[..n]
    );
    if n >= 7 {
        assert_eq!(reply[5], 2, "fatal alert");
        // rustls answers protocol_version (70) or handshake_failure (40), depending on
        // which check of the hello fails first; either way no session is established.
        assert!(matches!(reply[6], 70 | 40), "unexpected alert {}", reply[6]);
    }
}

#[tokio::test]
async fn tls_1_2_is_served_with_hsts() {
    let (addr, cert, _stop) = tls_server().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_lowercase();
    assert!(
        text.starts_with("http/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(text.contains("strict-transport-security: max-age=31536000"));
}
