//! Security headers on every response, and the client's real IP address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The client's IP: the peer address, or the last untrusted hop of
/// `X-Forwarded-For` when the peer is a trusted reverse proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub async fn client_ip(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let trusted = &state.config().trusted_proxies;
    let mut ip = peer;
    if trusted.contains(&peer) {
        // Walk from the right: the first address not of a trusted proxy is the client.
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            ip = *hop;
            if !trusted.contains(hop) {
                break;
            }
        }
    }
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// No inline script or style anywhere, so the policy needs no 'unsafe-inline'.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    // Message images are fetched by LINE and shown by other sites (the LINE
    // simulator's chat view), so they may be embedded cross-origin.
    let is_media = req.uri().path().starts_with("/media/");
    // LIFF pages load LINE's SDK and set their own, equally strict, policy
    // naming its origin (see `liff::csp`).
    let is_liff = req.uri().path().starts_with("/liff/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !(is_liff && h.contains_key(header::CONTENT_SECURITY_POLICY)) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static(if is_media {
            "cross-origin"
        } else {
            "same-origin"
        }),
    );
    if state.config().https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    // Pages may show personal data: never store them in any cache.
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
