//! CSRF protection on every state-changing request. The token is an HMAC of the
//! staff session token (or, before login, of a random pre-session cookie), so it
//! needs no storage and cannot be computed without the cookie.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::auth::{cookie, session_cookie_name};
use crate::error::AppError;
use crate::{AppState, ClientIp};

pub const FIELD: &str = "_csrf";

pub async fn load_key(db: &hiroba_store::Db) -> Result<[u8; 32], hiroba_store::StoreError> {
    hiroba_store::settings::shared_secret(db, "csrf").await
}

pub fn anon_cookie_name(state: &AppState) -> &'static str {
    if state.config().https {
        "__Host-hiroba_csrf"
    } else {
        "hiroba_csrf"
    }
}

fn sign(state: &AppState, purpose: &str, value: &str) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail here.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(state.csrf_key()) else {
        return String::new();
    };
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The token for a logged-in staff session.
pub fn staff_token(state: &AppState, session_token: &str) -> String {
    sign(state, "staff", session_token)
}

/// The token for a signed-in resident.
pub fn resident_token(state: &AppState, session_token: &str) -> String {
    sign(state, "resident", session_token)
}

/// The token for a friend's LIFF session.
pub fn liff_token(state: &AppState, session_token: &str) -> String {
    sign(state, "liff", session_token)
}

/// The token for a visitor without a session, bound to the pre-session cookie.
pub fn anon_token(state: &AppState, anon_cookie: &str) -> String {
    sign(state, "anon", anon_cookie)
}

fn expected_tokens(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(session) = cookie(headers, session_cookie_name(state)) {
        out.push(staff_token(state, &session));
    }
    if let Some(resident) = cookie(headers, crate::resident::cookie_name(state)) {
        out.push(sign(state, "resident", &resident));
    }
    if let Some(liff) = cookie(headers, crate::liff::cookie_name(state)) {
        out.push(liff_token(state, &liff));
    }
    if let Some(anon) = cookie(headers, anon_cookie_name(state)) {
        out.push(anon_token(state, &anon));
    }
    out
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    multer::parse_boundary(value).ok()
}

/// The `_csrf` field of a file-upload form (forms put it first, before the file).
async fn multipart_token(bytes: axum::body::Bytes, boundary: String) -> Option<String> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some(FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

pub async fn verify(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // The LINE webhook authenticates by signature instead (issue 5).
    if safe || req.uri().path().starts_with("/line/webhook/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // Staff file uploads may be larger; each route still applies its own limit.
    let limit = if multipart_boundary(&parts.headers).is_some()
        && parts.uri.path().starts_with("/admin/")
    {
        crate::UPLOAD_BODY_LIMIT
    } else {
        crate::BODY_LIMIT
    };
    let Ok(bytes) = to_bytes(body, limit).await else {
        return AppError::BadRequest("送信された内容が大きすぎます。".into()).into_response();
    };
    let mut presented = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if presented.is_none() && is_form(&parts.headers) {
        presented = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == FIELD).map(|(_, v)| v));
    }
    if presented.is_none()
        && let Some(boundary) = multipart_boundary(&parts.headers)
    {
        presented = multipart_token(bytes.clone(), boundary).await;
    }
    let ok = presented.is_some_and(|token| {
        expected_tokens(&state, &parts.headers)
            .iter()
            .any(|expected| bool::from(expected.as_bytes().ct_eq(token.as_bytes())))
    });
    if !ok {
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::warn!(path = %parts.uri.path(), ip = %ip, "CSRF token missing or wrong");
        let entry = hiroba_store::audit::NewEntry {
            staff_id: None,
            staff_login: String::new(),
            ip,
            action: "access.csrf_refused".into(),
            object: parts.uri.path().to_owned(),
            summary: format!("{} のCSRFトークンが不正", parts.method),
        };
        if let Err(e) = hiroba_store::audit::record(state.db(), &entry).await {
            tracing::error!(error = %e, "could not record a refused request");
        }
        return AppError::CsrfRefused.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
