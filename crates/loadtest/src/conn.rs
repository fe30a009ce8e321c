//! One keep-alive HTTP/1.1 connection with a tiny cookie jar: what one
//! simulated browser holds. Reconnects when the server closes it.

use std::collections::BTreeMap;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Target;

pub struct Reply {
    pub status: StatusCode,
    /// For scenarios that follow a redirect (e.g. sign-in, booking confirm).
    #[allow(dead_code)]
    pub location: Option<String>,
    pub body: Bytes,
}

pub struct Conn {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
    cookies: BTreeMap<String, String>,
}

impl Conn {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            sender: None,
            cookies: BTreeMap::new(),
        }
    }

    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let closed = self.sender.as_ref().is_none_or(|s| s.is_closed());
        if closed {
            let stream = TcpStream::connect(self.target.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.target.addr))?;
            let _ = stream.set_nodelay(true);
            let io = TokioIo::new(stream);
            let (sender, connection) = http1::handshake(io)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or_else(|| "no connection".to_owned())
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply, String> {
        self.send(Method::GET, path, None).await
    }

    /// POSTs an `application/x-www-form-urlencoded` body (already encoded),
    /// for scenarios that submit forms (the booking confirm step).
    #[allow(dead_code)]
    pub async fn post_form(&mut self, path: &str, body: String) -> Result<Reply, String> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// POSTs a JSON body with extra headers (the LINE webhook's signature).
    pub async fn post_json(
        &mut self,
        path: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.target.host.as_str())
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        self.exchange(request).await
    }

    /// A cookie the server set (e.g. the session), for scenarios that need it.
    #[allow(dead_code)]
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Reply, String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.target.host.as_str());
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            builder = builder.header(COOKIE, jar.join("; "));
        }
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("request: {e}"))?;
        self.exchange(request).await
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, String> {
        let sender = self.sender().await?;
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(format!("request failed: {e}"));
            }
        };
        let status = response.status();
        for value in response.headers().get_all(SET_COOKIE) {
            if let Ok(text) = value.to_str()
                && let Some((pair, _)) = text.split_once(';').or(Some((text, "")))
                && let Some((name, value)) = pair.split_once('=')
            {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            location,
            body,
        })
    }
}
