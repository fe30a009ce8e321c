//! LIFF and LINE Login, simulated.
//!
//! In production a LIFF page loads LINE's SDK (`https://static.line-scdn.net/liff/edge/2/sdk.js`);
//! inside the LINE app `liff.init()` logs the user in and `liff.getIDToken()` returns an ID
//! token signed by LINE, which the page sends to Hiroba; Hiroba verifies it with
//! `POST https://api.line.me/oauth2/v2.1/verify` (`hiroba_line::Client::verify_id_token`) and
//! trusts only the `sub` LINE answers.
//!
//! Here the same page loads a stand-in of the SDK from the simulator (`GET /liff/sdk.js`,
//! hand-written, small) and Hiroba's server code path is identical: it verifies the token at
//! the simulator's `POST /oauth2/v2.1/verify`, which answers with LINE's semantics (400
//! `invalid_request` for a bad signature, an expired token or another channel's `client_id`).
//!
//! How the stand-in learns who the user is, without a user id ever appearing in a URL:
//! 1. In the `/sim` chat view a simulated user taps a link whose URL starts with
//!    [`crate::SimConfig::liff_endpoint_url`], or a `https://liff.line.me/{liffId}/...` URL
//!    (mapped to the endpoint URL plus the path and query, as LINE does).
//! 2. The simulator opens the endpoint URL with a one-time code in the fragment
//!    (`#liff-sim-code=...`; fragments never reach Hiroba's server or its logs).
//! 3. `liff.init()` reads and removes the fragment and exchanges the code at the simulator's
//!    `POST /liff/token` (CORS allowed for the endpoint's origin only) for an ID token. A code
//!    works once and expires after [`crate::SimConfig::liff_code_ttl`].
//!
//! Outside the chat view (a desktop browser), `liff.login()` goes to `GET /liff/login`, a page
//! where a person picks a simulated user, and comes back the same way.
//!
//! ID tokens are JWTs signed with HS256 by [`crate::SimConfig::login_channel_secret`]:
//! `iss` `https://access.line.me`, `aud` the login channel id, `sub` the user id, `name`,
//! `picture`, `amr`, `iat`, `exp` (one hour).

// Handlers return early with a ready `Response` as the error, as in `api`.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::state::LiffCode;
use crate::util::esc;
use crate::{Sim, SimError, util};

const SDK: &str = include_str!("static/liff-sdk.js");
pub(crate) const ISSUER: &str = "https://access.line.me";
const CODE_FRAGMENT: &str = "liff-sim-code";

pub(crate) fn router(sim: Sim) -> Router {
    Router::new()
        .route("/oauth2/v2.1/verify", post(verify))
        .route(
            "/liff/sdk.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    SDK,
                )
            }),
        )
        .route("/liff/token", post(token).options(preflight))
        .route("/liff/login", get(login_page).post(login))
        .with_state(sim)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn mac(secret: &str, data: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(data);
    Some(m)
}

impl Sim {
    /// An ID token for a simulated user, as `liff.getIDToken()` would return it inside LINE.
    pub fn issue_id_token(&self, user_id: &str) -> Result<String, SimError> {
        let user = self
            .user(user_id)
            .ok_or_else(|| SimError::UnknownUser(user_id.to_owned()))?;
        let c = self.config();
        let iat = now_secs();
        let mut payload = json!({
            "iss": ISSUER,
            "sub": user.user_id,
            "aud": c.login_channel_id,
            "exp": iat + c.id_token_ttl.as_secs() as i64,
            "iat": iat,
            "amr": ["linesso"],
            "name": user.display_name,
        });
        if let Some(p) = &user.picture_url {
            payload["picture"] = json!(p);
        }
        Ok(sign_jwt(&c.login_channel_secret, &payload))
    }

    /// Where a tap on `url` takes the user when it is a LIFF link: the endpoint URL (LIFF URLs
    /// mapped to it) with a fresh one-time code in the fragment. `None` for other links.
    pub fn liff_open_url(&self, user_id: &str, url: &str) -> Option<String> {
        let target = liff_target(self.config(), url)?;
        if !self.with(|s| s.knows(user_id)) {
            return None;
        }
        let code = util::random_hex(24);
        self.with(|s| {
            let ttl = self.config().liff_code_ttl;
            let now = Instant::now();
            s.liff_codes.retain(|_, c| now.duration_since(c.at) < ttl);
            s.liff_codes.insert(
                code.clone(),
                LiffCode {
                    user_id: user_id.to_owned(),
                    at: now,
                    chat_path: format!("/sim/u/{user_id}"),
                },
            );
        });
        let (base, fragment) = target.split_once('#').unwrap_or((target.as_str(), ""));
        let sep = if fragment.is_empty() { "" } else { "&" };
        Some(format!("{base}#{fragment}{sep}{CODE_FRAGMENT}={code}"))
    }
}

/// The endpoint URL a LIFF link opens, or `None` when `url` is not a LIFF link.
pub(crate) fn liff_target(c: &crate::SimConfig, url: &str) -> Option<String> {
    let endpoint = c.liff_endpoint_url.as_deref()?.trim_end_matches('/');
    if url == endpoint
        || url
            .strip_prefix(endpoint)
            .is_some_and(|rest| rest.starts_with(['/', '?', '#']))
    {
        return Some(url.to_owned());
    }
    let rest = [
        format!("https://liff.line.me/{}", c.liff_id),
        format!("line://app/{}", c.liff_id),
    ]
    .iter()
    .find_map(|p| url.strip_prefix(p.as_str()).map(str::to_owned))?;
    if !(rest.is_empty() || rest.starts_with(['/', '?', '#'])) {
        return None;
    }
    Some(format!("{endpoint}{rest}"))
}

fn origin_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    Some(&url[..end])
}

fn sign_jwt(secret: &str, payload: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(payload.to_string().as_bytes());
    let signing_input = format!("{header}.{body}");
    let sig = mac(secret, signing_input.as_bytes())
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{signing_input}.{sig}")
}

/// Why a token is refused, in LINE's words.
fn check_jwt(secret: &str, token: &str) -> Result<Value, &'static str> {
    const INVALID: &str = "Invalid IdToken.";
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(INVALID);
    };
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| INVALID)?;
    let m = mac(secret, format!("{h}.{p}").as_bytes()).ok_or(INVALID)?;
    m.verify_slice(&sig).map_err(|_| INVALID)?;
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| INVALID)?;
    serde_json::from_slice(&payload).map_err(|_| INVALID)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct VerifyForm {
    #[serde(default)]
    id_token: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

/// `POST /oauth2/v2.1/verify` with LINE's semantics.
async fn verify(State(sim): State<Sim>, Form(f): Form<VerifyForm>) -> Response {
    sim.with(|s| {
        *s.counters
            .requests
            .entry("POST /oauth2/v2.1/verify".to_owned())
            .or_default() += 1;
    });
    let bad = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d);
    if f.id_token.is_empty() {
        return bad("id_token is required.");
    }
    if f.client_id.is_empty() {
        return bad("client_id is required.");
    }
    let c = sim.config();
    let claims = match check_jwt(&c.login_channel_secret, &f.id_token) {
        Ok(v) => v,
        Err(d) => return bad(d),
    };
    if claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
        return bad("Invalid IdToken Issuer.");
    }
    if claims.get("exp").and_then(Value::as_i64).unwrap_or(0) <= now_secs() {
        return bad("IdToken expired.");
    }
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    if aud != f.client_id || f.client_id != c.login_channel_id {
        return bad("Invalid IdToken Audience.");
    }
    if let Some(n) = &f.nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(n.as_str())
    {
        return bad("Invalid IdToken Nonce.");
    }
    if let Some(u) = &f.user_id
        && claims.get("sub").and_then(Value::as_str) != Some(u.as_str())
    {
        return bad("Invalid IdToken Subject Identifier.");
    }
    let mut r = axum::Json(claims).into_response();
    if let Ok(v) = HeaderValue::from_str(&util::uuid()) {
        r.headers_mut().insert("x-line-request-id", v);
    }
    r
}

/// CORS for the LIFF endpoint's origin only; `Err` answers a foreign origin.
fn cors(sim: &Sim, headers: &HeaderMap) -> Result<Option<HeaderValue>, Response> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser's cross-origin call (a test's client): no CORS headers needed.
        return Ok(None);
    };
    let allowed = sim
        .config()
        .liff_endpoint_url
        .as_deref()
        .and_then(origin_of);
    match (origin.to_str().ok(), allowed) {
        (Some(o), Some(a)) if o == a => Ok(Some(origin.clone())),
        _ => Err(oauth_error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "This origin is not the LIFF app's endpoint.",
        )),
    }
}

fn with_cors(mut r: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(o) = origin {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    r
}

async fn preflight(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    match cors(&sim, &headers) {
        Err(r) => r,
        Ok(origin) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            with_cors(r, origin)
        }
    }
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    code: String,
    #[serde(rename = "liffId", default)]
    liff_id: String,
}

/// `POST /liff/token`: a one-time code for the user's ID token and LIFF context.
async fn token(State(sim): State<Sim>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let origin = match cors(&sim, &headers) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let c = sim.config();
    let r = if f.liff_id != c.liff_id {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "liffId is not this simulator's LIFF app.",
        )
    } else {
        // Single use: the code is gone whatever happens next.
        let code = sim.with(|s| s.liff_codes.remove(&f.code));
        match code {
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The code is invalid or was already used.",
            ),
            Some(LiffCode { at, .. }) if at.elapsed() >= c.liff_code_ttl => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The code has expired.",
            ),
            Some(LiffCode {
                user_id, chat_path, ..
            }) => match sim.issue_id_token(&user_id) {
                Err(_) => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The user no longer exists.",
                ),
                Ok(id_token) => {
                    sim.with(|s| s.watch(&user_id));
                    let endpoint = c.liff_endpoint_url.clone().unwrap_or_default();
                    axum::Json(json!({
                        "idToken": id_token,
                        "context": {
                            "type": "utou",
                            "userId": user_id,
                            "liffId": c.liff_id,
                            "viewType": "full",
                            "endpointUrl": endpoint,
                            "scope": ["openid", "profile"],
                        },
                        "closePath": chat_path,
                    }))
                    .into_response()
                }
            },
        }
    };
    with_cors(r, origin)
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(rename = "redirectUri", default)]
    redirect_uri: String,
}

/// `GET /liff/login`: a stand-in for LINE Login outside the chat view. A person picks a
/// simulated user; the page then returns to the LIFF app with a one-time code.
async fn login_page(State(sim): State<Sim>, Query(q): Query<LoginQuery>) -> Response {
    if liff_target(sim.config(), &q.redirect_uri).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Html("<p>redirectUri はLIFFアプリのURLではありません。</p>".to_owned()),
        )
            .into_response();
    }
    let mut b = String::from(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>LINEログイン（シミュレーター）</title>\
<link rel=\"stylesheet\" href=\"/sim/static/sim.css\"></head><body><main class=\"wide\"><h1>LINEログイン（シミュレーター）</h1>\
<p>ログインする利用者を選んでください。</p>",
    );
    for u in sim.users() {
        b.push_str(&format!(
            "<form method=\"post\" action=\"/liff/login\" class=\"inline\"><input type=\"hidden\" name=\"redirectUri\" value=\"{}\">\
<input type=\"hidden\" name=\"userId\" value=\"{}\"><button type=\"submit\">{}</button></form> ",
            esc(&q.redirect_uri),
            esc(&u.user_id),
            esc(&u.display_name)
        ));
    }
    b.push_str(&format!(
        "<form method=\"post\" action=\"/liff/login\" class=\"card\"><input type=\"hidden\" name=\"redirectUri\" value=\"{}\">\
<label for=\"uid\">ユーザーID</label><input id=\"uid\" name=\"userId\" required pattern=\"U[0-9a-f]{{32}}\">\
<button type=\"submit\">このIDでログイン</button></form></main></body></html>",
        esc(&q.redirect_uri)
    ));
    Html(b).into_response()
}

async fn login(State(sim): State<Sim>, Form(f): Form<HashMap<String, String>>) -> Response {
    let redirect = f.get("redirectUri").map(String::as_str).unwrap_or("");
    let user = f.get("userId").map(String::as_str).unwrap_or("");
    match sim.liff_open_url(user, redirect) {
        Some(url) => Redirect::to(&url).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            Html("<p>利用者かURLが正しくありません。</p>".to_owned()),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;

    #[test]
    fn liff_links_map_to_the_endpoint() {
        let c = SimConfig {
            liff_endpoint_url: Some("http://127.0.0.1:8080/liff".into()),
            ..SimConfig::default()
        };
        let t = |u: &str| liff_target(&c, u);
        assert_eq!(
            t("http://127.0.0.1:8080/liff/forms/3?x=1").as_deref(),
            Some("http://127.0.0.1:8080/liff/forms/3?x=1")
        );
        assert_eq!(
            t("https://liff.line.me/1660000001-Kunitomi/forms/3?x=1").as_deref(),
            Some("http://127.0.0.1:8080/liff/forms/3?x=1")
        );
        assert_eq!(
            t("https://liff.line.me/1660000001-Kunitomi").as_deref(),
            Some("http://127.0.0.1:8080/liff")
        );
        assert_eq!(t("https://liff.line.me/1660000001-Other/x"), None);
        assert_eq!(t("http://127.0.0.1:8080/liffy"), None);
        assert_eq!(t("https://example.com/"), None);
        assert_eq!(
            origin_of("http://127.0.0.1:8080/liff"),
            Some("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn jwt_round_trip_and_tamper() {
        let t = sign_jwt("k", &json!({"sub": "U1", "name": "国富"}));
        assert_eq!(check_jwt("k", &t).unwrap()["name"], "国富");
        assert!(check_jwt("other", &t).is_err());
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"U2","name":"x"}"#);
        assert!(check_jwt("k", &parts.join(".")).is_err());
        assert!(check_jwt("k", "a.b").is_err());
    }
}
