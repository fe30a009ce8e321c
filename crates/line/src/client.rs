//! The Messaging API client.
//!
//! - Every push, multicast, narrowcast and broadcast carries an `X-Line-Retry-Key` (UUID v4);
//!   a retry after a timeout, a 5xx or a 429 reuses the key, with exponential backoff and
//!   jitter (`Retry-After` is honoured). A 409 on such a request means LINE already accepted
//!   it: the call succeeds with [`CallMeta::accepted_request_id`].
//! - Idempotent calls (GET, DELETE, link/unlink, set default...) retry the same way without a
//!   key; other calls (reply, create) retry only on 429, where LINE did nothing.
//! - Every result (and every error from LINE) carries the `x-line-request-id`.
//! - Client-side rate limits per endpoint group ([`crate::ratelimit`]).

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::login::{IdTokenClaims, IdTokenError, IdTokenRefusal};
use crate::message::{
    Message, ValidationError, validate_messages, validate_messages_allowing_http_media,
};
use crate::ratelimit::{EndpointGroup, RateLimiter, RateLimits};
use crate::request::*;

pub const DEFAULT_API_BASE: &str = "https://api.line.me";
pub const DEFAULT_API_DATA_BASE: &str = "https://api-data.line.me";
pub const RETRY_KEY_HEADER: &str = "X-Line-Retry-Key";
pub const REQUEST_ID_HEADER: &str = "x-line-request-id";
pub const ACCEPTED_REQUEST_ID_HEADER: &str = "x-line-accepted-request-id";

/// Connection settings of one channel.
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://api.line.me` (or the simulator).
    pub api_base: String,
    /// `https://api-data.line.me`: binary endpoints (rich menu images).
    pub api_data_base: String,
    pub channel_access_token: String,
    /// Per attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles per retry up to `backoff_cap`, with jitter (50–100 %).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest `Retry-After` honoured; a longer one ends the call with the 429.
    pub max_retry_after: Duration,
    pub rate_limits: RateLimits,
    /// Longest wait for the client-side rate limiter before failing with
    /// [`Error::RateLimited`].
    pub rate_limit_max_wait: Duration,
    /// Lets `http://` media URLs through the checks before sending. LINE itself
    /// refuses them; only the LINE simulator of an http demo fetches them.
    pub allow_http_media: bool,
}

impl ClientConfig {
    /// LINE's hosts and defaults: 10 s timeout, 3 retries from 500 ms up to 30 s.
    pub fn new(channel_access_token: impl Into<String>) -> Self {
        ClientConfig {
            api_base: DEFAULT_API_BASE.to_owned(),
            api_data_base: DEFAULT_API_DATA_BASE.to_owned(),
            channel_access_token: channel_access_token.into(),
            timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            rate_limits: RateLimits::default(),
            rate_limit_max_wait: Duration::from_secs(10),
            allow_http_media: false,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_base", &self.api_base)
            .field("api_data_base", &self.api_data_base)
            .field("channel_access_token", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// What a call left behind for the log entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallMeta {
    /// HTTP status of the last attempt.
    pub status: u16,
    /// `x-line-request-id` of the last attempt.
    pub request_id: Option<String>,
    /// `x-line-accepted-request-id` when LINE answered 409 (already accepted).
    pub accepted_request_id: Option<String>,
    pub retry_key: Option<String>,
    pub attempts: u32,
}

impl CallMeta {
    /// LINE had already accepted this retry key (409).
    pub fn was_duplicate(&self) -> bool {
        self.status == 409
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse<T> {
    pub data: T,
    pub meta: CallMeta,
}

/// LINE's error body: `message` and `details` on the Messaging API; LINE Login's OAuth-style
/// `error_description` is read into `message`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct LineErrorBody {
    #[serde(default, alias = "error_description")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<LineErrorDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct LineErrorDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// LINE answered with an error status (after any retries).
    #[error("LINE API error {status}: {}", body.as_ref().map(|b| b.message.as_str()).unwrap_or(""))]
    Api {
        status: u16,
        body: Option<LineErrorBody>,
        meta: CallMeta,
    },
    /// No answer: connection failure or timeout (after any retries).
    #[error("LINE API unreachable: {source}")]
    Transport {
        #[source]
        source: reqwest::Error,
        meta: CallMeta,
    },
    /// The client-side rate limit would make the call wait longer than allowed.
    #[error("rate limit for {group:?}: next slot in {wait:?}")]
    RateLimited {
        group: EndpointGroup,
        wait: Duration,
    },
    /// The messages break one of LINE's limits; nothing was sent.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A 2xx answer whose body is not what the endpoint returns.
    #[error("unexpected LINE API response: {source}")]
    Decode {
        #[source]
        source: serde_json::Error,
        meta: CallMeta,
    },
}

impl Error {
    /// The call's meta (request id, retry key, attempts), when a request was made.
    pub fn meta(&self) -> Option<&CallMeta> {
        match self {
            Error::Api { meta, .. }
            | Error::Transport { meta, .. }
            | Error::Decode { meta, .. } => Some(meta),
            Error::RateLimited { .. } | Error::Invalid(_) => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport { source, .. } if source.is_timeout())
    }
}

/// A binary body (rich menu image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

/// Result of one multicast chunk (at most 500 recipients).
#[derive(Debug)]
pub struct ChunkOutcome {
    pub to: Vec<String>,
    pub result: Result<CallMeta, Error>,
}

/// A multicast split into chunks of at most 500 recipients, each its own request and key.
#[derive(Debug, Default)]
pub struct MulticastOutcome {
    pub chunks: Vec<ChunkOutcome>,
}

impl MulticastOutcome {
    pub fn all_ok(&self) -> bool {
        self.chunks.iter().all(|c| c.result.is_ok())
    }
    /// Recipients in chunks LINE accepted.
    pub fn accepted_recipients(&self) -> usize {
        self.chunks
            .iter()
            .filter(|c| c.result.is_ok())
            .map(|c| c.to.len())
            .sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Api,
    Data,
}

/// When a failed attempt may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Carries a retry key: timeouts, 5xx and 429 are retried with the same key.
    Keyed,
    /// Safe to repeat: timeouts, 5xx and 429.
    Idempotent,
    /// Only 429 (LINE did nothing).
    TooManyOnly,
}

enum Body {
    None,
    Json(Vec<u8>),
    /// Bytes with their content type (images, multipart forms, url-encoded forms).
    Binary(Vec<u8>, String),
}

struct Call {
    method: Method,
    host: Host,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Body,
    group: EndpointGroup,
    retry: Retry,
    /// The caller's retry key (a keyed call otherwise gets a fresh one).
    retry_key: Option<String>,
    /// Sends the channel access token (LINE Login's verify endpoint takes none).
    auth: bool,
}

impl Call {
    fn new(method: Method, path: impl Into<String>, group: EndpointGroup, retry: Retry) -> Self {
        Call {
            method,
            host: Host::Api,
            path: path.into(),
            query: Vec::new(),
            body: Body::None,
            group,
            retry,
            retry_key: None,
            auth: true,
        }
    }
    fn get(path: impl Into<String>) -> Self {
        Call::new(Method::GET, path, EndpointGroup::Other, Retry::Idempotent)
    }
    fn json<T: Serialize>(mut self, body: &T) -> Self {
        self.body = Body::Json(serde_json::to_vec(body).unwrap_or_default());
        self
    }
    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
    fn key(mut self, retry_key: Option<&str>) -> Self {
        self.retry_key = retry_key.map(str::to_owned);
        self
    }
}

/// Percent-encodes a path segment (ids are plain ASCII, but never trust them).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `application/x-www-form-urlencoded` of name/value pairs.
fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", seg(k), seg(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// A `multipart/form-data` body of text fields and one `text/plain` file (LINE's audience
/// upload by file); returns the bytes and the content type.
fn multipart(fields: &[(&str, String)], file: &[u8]) -> (Vec<u8>, String) {
    let boundary = format!("hiroba-{}", new_retry_key());
    let mut b = Vec::with_capacity(file.len() + 512);
    for (name, value) in fields {
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audience.txt\"\r\nContent-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (b, format!("multipart/form-data; boundary={boundary}"))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits (LINE refuses other retry keys).
pub fn is_retry_key(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn check_key(key: &str) -> Result<(), ValidationError> {
    if is_retry_key(key) {
        Ok(())
    } else {
        Err(ValidationError {
            ja: "再送キーはUUIDの形にしてください。".to_owned(),
            en: "retry key must be a UUID".to_owned(),
            path: None,
        })
    }
}

fn too_many(what_ja: &str, what_en: &str, max: usize, got: usize) -> ValidationError {
    ValidationError {
        ja: format!("{what_ja}は{max}件までです（{got}件）。"),
        en: format!("{what_en}: at most {max}, got {got}"),
        path: None,
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if getrandom::fill(&mut buf).is_err() {
        // Extremely unlikely; fall back to the clock so keys stay distinct.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            .to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = nanos[i % nanos.len()] ^ (i as u8).wrapping_mul(31);
        }
    }
    buf
}

/// A random UUID v4 (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
pub fn new_retry_key() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// The Messaging API client of one channel. Cheap to share behind an `Arc`.
pub struct Client {
    config: ClientConfig,
    http: reqwest::Client,
    limiter: RateLimiter,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()?;
        let limiter = RateLimiter::new(config.rate_limits.clone());
        Ok(Client {
            config,
            http,
            limiter,
        })
    }

    /// LINE's limits for a send, before any request leaves.
    fn check(&self, messages: &[Message]) -> Result<(), ValidationError> {
        if self.config.allow_http_media {
            validate_messages_allowing_http_media(messages)
        } else {
            validate_messages(messages)
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(self.config.backoff_cap);
        let r = u32::from_le_bytes(random_bytes::<4>());
        let factor = 0.5 + 0.5 * (f64::from(r) / f64::from(u32::MAX));
        capped.mul_f64(factor)
    }

    async fn execute(&self, call: Call) -> Result<(CallMeta, Vec<u8>, HeaderMap), Error> {
        let base = match call.host {
            Host::Api => &self.config.api_base,
            Host::Data => &self.config.api_data_base,
        };
        let url = format!("{}{}", base.trim_end_matches('/'), call.path);
        let mut meta = CallMeta {
            retry_key: (call.retry == Retry::Keyed)
                .then(|| call.retry_key.clone().unwrap_or_else(new_retry_key)),
            ..CallMeta::default()
        };
        loop {
            meta.attempts += 1;
            self.limiter
                .acquire(call.group, self.config.rate_limit_max_wait)
                .await
                .map_err(|wait| Error::RateLimited {
                    group: call.group,
                    wait,
                })?;
            let mut req = self.http.request(call.method.clone(), &url);
            if call.auth {
                req = req.header(
                    AUTHORIZATION,
                    format!("Bearer {}", self.config.channel_access_token),
                );
            }
            if !call.query.is_empty() {
                req = req.query(&call.query);
            }
            if let Some(key) = &meta.retry_key {
                req = req.header(RETRY_KEY_HEADER, key);
            }
            req = match &call.body {
                Body::None => req,
                Body::Json(b) => req.header(CONTENT_TYPE, "application/json").body(b.clone()),
                Body::Binary(b, ct) => req.header(CONTENT_TYPE, ct).body(b.clone()),
            };
            let retries_left = meta.attempts <= self.config.max_retries;
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    meta.status = status;
                    meta.request_id = header(&headers, REQUEST_ID_HEADER);
                    let body = match resp.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(source) => {
                            if retries_left && call.retry != Retry::TooManyOnly {
                                tokio::time::sleep(self.backoff(meta.attempts)).await;
                                continue;
                            }
                            return Err(Error::Transport { source, meta });
                        }
                    };
                    if (200..300).contains(&status) {
                        return Ok((meta, body, headers));
                    }
                    if status == 409 && call.retry == Retry::Keyed {
                        meta.accepted_request_id = header(&headers, ACCEPTED_REQUEST_ID_HEADER);
                        tracing::info!(
                            path = %call.path,
                            accepted_request_id = ?meta.accepted_request_id,
                            "LINE had already accepted this retry key"
                        );
                        return Ok((meta, Vec::new(), headers));
                    }
                    let retryable =
                        status == 429 || (status >= 500 && call.retry != Retry::TooManyOnly);
                    if retryable && retries_left {
                        let wait = match retry_after(&headers) {
                            Some(d) if d > self.config.max_retry_after => None,
                            Some(d) => Some(d),
                            None => Some(self.backoff(meta.attempts)),
                        };
                        if let Some(wait) = wait {
                            tracing::warn!(
                                path = %call.path, status, attempt = meta.attempts,
                                request_id = ?meta.request_id, ?wait, "LINE API retry"
                            );
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    let body = serde_json::from_slice::<LineErrorBody>(&body).ok();
                    return Err(Error::Api { status, body, meta });
                }
                Err(source) => {
                    if retries_left && call.retry != Retry::TooManyOnly {
                        tracing::warn!(
                            path = %call.path, attempt = meta.attempts, error = %source,
                            "LINE API retry after transport error"
                        );
                        tokio::time::sleep(self.backoff(meta.attempts)).await;
                        continue;
                    }
                    return Err(Error::Transport { source, meta });
                }
            }
        }
    }

    async fn call_json<T: DeserializeOwned>(&self, call: Call) -> Result<ApiResponse<T>, Error> {
        let (meta, body, _) = self.execute(call).await?;
        match serde_json::from_slice(&body) {
            Ok(data) => Ok(ApiResponse { data, meta }),
            Err(source) => Err(Error::Decode { source, meta }),
        }
    }

    /// For keyed sends: a 409 has no body, so the data is the default.
    async fn call_keyed<T: DeserializeOwned + Default>(
        &self,
        call: Call,
    ) -> Result<ApiResponse<T>, Error> {
        let (meta, body, _) = self.execute(call).await?;
        if meta.was_duplicate() || body.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiResponse {
                data: T::default(),
                meta,
            });
        }
        match serde_json::from_slice(&body) {
            Ok(data) => Ok(ApiResponse { data, meta }),
            Err(source) => Err(Error::Decode { source, meta }),
        }
    }

    async fn call_unit(&self, call: Call) -> Result<ApiResponse<()>, Error> {
        let (meta, _, _) = self.execute(call).await?;
        Ok(ApiResponse { data: (), meta })
    }

    // ---- sending ----

    /// Replies with a reply token (no retry key: LINE does not accept one on reply).
    pub fn reply_request(reply_token: &str, messages: &[Message]) -> ReplyMessageRequest {
        ReplyMessageRequest {
            reply_token: reply_token.to_owned(),
            messages: messages.to_vec(),
            notification_disabled: None,
        }
    }

    pub async fn reply(
        &self,
        reply_token: &str,
        messages: &[Message],
    ) -> Result<ApiResponse<SentMessages>, Error> {
        self.send_reply(&Self::reply_request(reply_token, messages))
            .await
    }

    pub async fn send_reply(
        &self,
        req: &ReplyMessageRequest,
    ) -> Result<ApiResponse<SentMessages>, Error> {
        self.check(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/reply",
            EndpointGroup::Reply,
            Retry::TooManyOnly,
        )
        .json(req);
        self.call_keyed(call).await
    }

    pub fn push_request(to: &str, messages: &[Message]) -> PushMessageRequest {
        PushMessageRequest {
            to: to.to_owned(),
            messages: messages.to_vec(),
            notification_disabled: None,
            custom_aggregation_units: Vec::new(),
        }
    }

    pub async fn push(
        &self,
        to: &str,
        messages: &[Message],
    ) -> Result<ApiResponse<SentMessages>, Error> {
        self.send_push(&Self::push_request(to, messages)).await
    }

    pub async fn send_push(
        &self,
        req: &PushMessageRequest,
    ) -> Result<ApiResponse<SentMessages>, Error> {
        self.push_keyed(req, None).await
    }

    /// A push with the caller's retry key (a UUID stored before the call, so a retry after a
    /// crash reuses it and LINE answers 409 instead of sending twice).
    pub async fn send_push_with_key(
        &self,
        req: &PushMessageRequest,
        retry_key: &str,
    ) -> Result<ApiResponse<SentMessages>, Error> {
        check_key(retry_key)?;
        self.push_keyed(req, Some(retry_key)).await
    }

    async fn push_keyed(
        &self,
        req: &PushMessageRequest,
        retry_key: Option<&str>,
    ) -> Result<ApiResponse<SentMessages>, Error> {
        self.check(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/push",
            EndpointGroup::Push,
            Retry::Keyed,
        )
        .key(retry_key)
        .json(req);
        self.call_keyed(call).await
    }

    /// The multicast requests for `to`: chunks of at most 500 recipients.
    pub fn multicast_requests(to: &[String], messages: &[Message]) -> Vec<MulticastRequest> {
        to.chunks(MULTICAST_MAX)
            .map(|chunk| MulticastRequest {
                to: chunk.to_vec(),
                messages: messages.to_vec(),
                notification_disabled: None,
                custom_aggregation_units: Vec::new(),
            })
            .collect()
    }

    /// Sends to any number of users: one request (and one retry key) per 500 recipients.
    /// A failed chunk does not stop the others; see [`MulticastOutcome`].
    pub async fn multicast(
        &self,
        to: &[String],
        messages: &[Message],
    ) -> Result<MulticastOutcome, Error> {
        self.check(messages)?;
        let mut outcome = MulticastOutcome::default();
        for req in Self::multicast_requests(to, messages) {
            let result = self.multicast_keyed(&req, None).await.map(|r| r.meta);
            outcome.chunks.push(ChunkOutcome { to: req.to, result });
        }
        Ok(outcome)
    }

    /// One multicast request (at most 500 recipients) with a fresh retry key; use it for
    /// `customAggregationUnits` or your own chunking.
    pub async fn send_multicast(&self, req: &MulticastRequest) -> Result<ApiResponse<()>, Error> {
        self.multicast_keyed(req, None).await
    }

    /// One multicast request with the caller's retry key (stored before the call: a retry
    /// after a crash or restart reuses it; LINE answers 409, counted as accepted).
    pub async fn send_multicast_with_key(
        &self,
        req: &MulticastRequest,
        retry_key: &str,
    ) -> Result<ApiResponse<()>, Error> {
        check_key(retry_key)?;
        self.multicast_keyed(req, Some(retry_key)).await
    }

    async fn multicast_keyed(
        &self,
        req: &MulticastRequest,
        retry_key: Option<&str>,
    ) -> Result<ApiResponse<()>, Error> {
        if req.to.is_empty() || req.to.len() > MULTICAST_MAX {
            return Err(Error::Invalid(too_many(
                "一度に送れる宛先",
                "multicast recipients",
                MULTICAST_MAX,
                req.to.len(),
            )));
        }
        self.check(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/multicast",
            EndpointGroup::Multicast,
            Retry::Keyed,
        )
        .key(retry_key)
        .json(req);
        self.call_unit(call).await
    }

    /// Narrowcast; keep `meta.request_id` to poll [`Client::get_narrowcast_progress`].
    pub async fn narrowcast(&self, req: &NarrowcastRequest) -> Result<ApiResponse<()>, Error> {
        self.narrowcast_keyed(req, None).await
    }

    /// A narrowcast with the caller's retry key. After a 409 the original request id (for
    /// progress and insight) is `meta.accepted_request_id`.
    pub async fn send_narrowcast_with_key(
        &self,
        req: &NarrowcastRequest,
        retry_key: &str,
    ) -> Result<ApiResponse<()>, Error> {
        check_key(retry_key)?;
        self.narrowcast_keyed(req, Some(retry_key)).await
    }

    async fn narrowcast_keyed(
        &self,
        req: &NarrowcastRequest,
        retry_key: Option<&str>,
    ) -> Result<ApiResponse<()>, Error> {
        self.check(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/narrowcast",
            EndpointGroup::Narrowcast,
            Retry::Keyed,
        )
        .key(retry_key)
        .json(req);
        self.call_unit(call).await
    }

    pub async fn get_narrowcast_progress(
        &self,
        request_id: &str,
    ) -> Result<ApiResponse<NarrowcastProgress>, Error> {
        self.call_json(
            Call::get("/v2/bot/message/progress/narrowcast").query("requestId", request_id),
        )
        .await
    }

    /// Polls the narrowcast progress every `interval` until it has finished or `max_polls`
    /// polls were made; returns the last progress.
    pub async fn wait_narrowcast(
        &self,
        request_id: &str,
        interval: Duration,
        max_polls: u32,
    ) -> Result<ApiResponse<NarrowcastProgress>, Error> {
        let mut polls = 0;
        loop {
            polls += 1;
            let progress = self.get_narrowcast_progress(request_id).await?;
            if progress.data.is_finished() || polls >= max_polls {
                return Ok(progress);
            }
            tokio::time::sleep(interval).await;
        }
    }

    pub async fn broadcast(&self, messages: &[Message]) -> Result<ApiResponse<()>, Error> {
        self.send_broadcast(&BroadcastRequest {
            messages: messages.to_vec(),
            notification_disabled: None,
        })
        .await
    }

    pub async fn send_broadcast(&self, req: &BroadcastRequest) -> Result<ApiResponse<()>, Error> {
        self.broadcast_keyed(req, None).await
    }

    /// A broadcast with the caller's retry key.
    pub async fn send_broadcast_with_key(
        &self,
        req: &BroadcastRequest,
        retry_key: &str,
    ) -> Result<ApiResponse<()>, Error> {
        check_key(retry_key)?;
        self.broadcast_keyed(req, Some(retry_key)).await
    }

    async fn broadcast_keyed(
        &self,
        req: &BroadcastRequest,
        retry_key: Option<&str>,
    ) -> Result<ApiResponse<()>, Error> {
        self.check(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/broadcast",
            EndpointGroup::Broadcast,
            Retry::Keyed,
        )
        .key(retry_key)
        .json(req);
        self.call_unit(call).await
    }

    /// Asks LINE to validate messages for a kind of send (nothing is sent).
    pub async fn validate(
        &self,
        kind: SendKind,
        messages: &[Message],
    ) -> Result<ApiResponse<()>, Error> {
        let call = Call::new(
            Method::POST,
            format!("/v2/bot/message/validate/{}", kind.path_segment()),
            EndpointGroup::Other,
            Retry::Idempotent,
        )
        .json(&ValidateMessageRequest {
            messages: messages.to_vec(),
        });
        self.call_unit(call).await
    }

    // ---- users, bot, quota ----

    pub async fn get_profile(&self, user_id: &str) -> Result<ApiResponse<Profile>, Error> {
        self.call_json(Call::get(format!("/v2/bot/profile/{}", seg(user_id))))
            .await
    }

    /// One page of follower ids; pass the previous page's `next` as `start`.
    pub async fn get_followers(
        &self,
        start: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ApiResponse<FollowerIds>, Error> {
        let mut call = Call::get("/v2/bot/followers/ids");
        if let Some(start) = start {
            call = call.query("start", start);
        }
        if let Some(limit) = limit {
            call = call.query("limit", limit.to_string());
        }
        self.call_json(call).await
    }

    /// Every follower id, following `next` page by page.
    pub async fn get_all_followers(&self) -> Result<Vec<String>, Error> {
        let mut ids = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page = self.get_followers(start.as_deref(), Some(1000)).await?;
            ids.extend(page.data.user_ids);
            match page.data.next {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(ids),
            }
        }
    }

    /// The connection check of the admin settings.
    pub async fn get_bot_info(&self) -> Result<ApiResponse<BotInfo>, Error> {
        self.call_json(Call::get("/v2/bot/info")).await
    }

    pub async fn get_quota(&self) -> Result<ApiResponse<Quota>, Error> {
        self.call_json(Call::get("/v2/bot/message/quota")).await
    }

    pub async fn get_quota_consumption(&self) -> Result<ApiResponse<QuotaConsumption>, Error> {
        self.call_json(Call::get("/v2/bot/message/quota/consumption"))
            .await
    }

    // ---- rich menus ----

    pub async fn create_rich_menu(
        &self,
        menu: &RichMenu,
    ) -> Result<ApiResponse<RichMenuId>, Error> {
        let call = Call::new(
            Method::POST,
            "/v2/bot/richmenu",
            EndpointGroup::RichMenuWrite,
            Retry::TooManyOnly,
        )
        .json(menu);
        self.call_json(call).await
    }

    pub async fn validate_rich_menu(&self, menu: &RichMenu) -> Result<ApiResponse<()>, Error> {
        let call = Call::new(
            Method::POST,
            "/v2/bot/richmenu/validate",
            EndpointGroup::Other,
            Retry::Idempotent,
        )
        .json(menu);
        self.call_unit(call).await
    }

    pub async fn get_rich_menu(&self, id: &str) -> Result<ApiResponse<RichMenuInfo>, Error> {
        self.call_json(Call::get(format!("/v2/bot/richmenu/{}", seg(id))))
            .await
    }

    pub async fn list_rich_menus(&self) -> Result<ApiResponse<RichMenuList>, Error> {
        self.call_json(Call::get("/v2/bot/richmenu/list")).await
    }

    pub async fn delete_rich_menu(&self, id: &str) -> Result<ApiResponse<()>, Error> {
        self.call_unit(Call::new(
            Method::DELETE,
            format!("/v2/bot/richmenu/{}", seg(id)),
            EndpointGroup::RichMenuWrite,
            Retry::Idempotent,
        ))
        .await
    }

    /// Uploads the menu image (`image/png` or `image/jpeg`) to the api-data host.
    pub async fn upload_rich_menu_image(
        &self,
        id: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<ApiResponse<()>, Error> {
        let mut call = Call::new(
            Method::POST,
            format!("/v2/bot/richmenu/{}/content", seg(id)),
            EndpointGroup::Other,
            Retry::TooManyOnly,
        );
        call.host = Host::Data;
        call.body = Body::Binary(bytes, content_type.to_owned());
        self.call_unit(call).await
    }

    pub async fn download_rich_menu_image(&self, id: &str) -> Result<ApiResponse<Binary>, Error> {
        let mut call = Call::get(format!("/v2/bot/richmenu/{}/content", seg(id)));
        call.host = Host::Data;
        let (meta, bytes, headers) = self.execute(call).await?;
        let content_type = header(&headers, CONTENT_TYPE.as_str());
        Ok(ApiResponse {
            data: Binary {
                bytes,
                content_type,
            },
            meta,
        })
    }

    pub async fn set_default_rich_menu(&self, id: &str) -> Result<ApiResponse<()>, Error> {
        self.call_unit(Call::new(
            Method::POST,
            format!("/v2/bot/user/all/richmenu/{}", seg(id)),
            EndpointGroup::Other,
            Retry::Idempotent,
        ))
        .await
    }

    pub async fn get_default_rich_menu(&self) -> Result<ApiResponse<RichMenuId>, Error> {
        self.call_json(Call::get("/v2/bot/user/all/richmenu")).await
    }

    pub async fn cancel_default_rich_menu(&self) -> Result<ApiResponse<()>, Error> {
        self.call_unit(Call::new(
            Method::DELETE,
            "/v2/bot/user/all/richmenu",
            EndpointGroup::Other,
            Retry::Idempotent,
        ))
        .await
    }

    pub async fn link_rich_menu(
        &self,
        user_id: &str,
        rich_menu_id: &str,
    ) -> Result<ApiResponse<()>, Error> {
        self.call_unit(Call::new(
            Method::POST,
            format!(
                "/v2/bot/user/{}/richmenu/{}",
                seg(user_id),
                seg(rich_menu_id)
            ),
            EndpointGroup::Other,
            Retry::Idempotent,
        ))
        .await
    }

    pub async fn unlink_rich_menu(&self, user_id: &str) -> Result<ApiResponse<()>, Error> {
        self.call_unit(Call::new(
            Method::DELETE,
            format!("/v2/bot/user/{}/richmenu", seg(user_id)),
            EndpointGroup::Other,
            Retry::Idempotent,
        ))
        .await
    }

    pub async fn get_user_rich_menu(
        &self,
        user_id: &str,
    ) -> Result<ApiResponse<RichMenuId>, Error> {
        self.call_json(Call::get(format!("/v2/bot/user/{}/richmenu", seg(user_id))))
            .await
    }

    /// Links a menu to many users, 500 per request; returns each request's meta.
    pub async fn bulk_link_rich_menu(
        &self,
        rich_menu_id: &str,
        user_ids: &[String],
    ) -> Result<Vec<CallMeta>, Error> {
        let mut metas = Vec::new();
        for chunk in user_ids.chunks(MULTICAST_MAX) {
            let call = Call::new(
                Method::POST,
                "/v2/bot/richmenu/bulk/link",
                EndpointGroup::Other,
                Retry::Idempotent,
            )
            .json(&RichMenuBulkLinkRequest {
                rich_menu_id: rich_menu_id.to_owned(),
                user_ids: chunk.to_vec(),
            });
            metas.push(self.call_unit(call).await?.meta);
        }
        Ok(metas)
    }

    pub async fn bulk_unlink_rich_menu(&self, user_ids: &[String]) -> Result<Vec<CallMeta>, Error> {
        let mut metas = Vec::new();
        for chunk in user_ids.chunks(MULTICAST_MAX) {
            let call = Call::new(
                Method::POST,
                "/v2/bot/richmenu/bulk/unlink",
                EndpointGroup::Other,
                Retry::Idempotent,
            )
            .json(&RichMenuBulkUnlinkRequest {
                user_ids: chunk.to_vec(),
            });
            metas.push(self.call_unit(call).await?.meta);
        }
        Ok(metas)
    }

    pub async fn create_rich_menu_alias(
        &self,
        alias: &RichMenuAlias,
    ) -> Result<ApiResponse<()>, Error> {
        let call = Call::new(
            Method::POST,
            "/v2/bot/richmenu/alias",
            EndpointGroup::Other,
            Retry::TooManyOnly,
        )
        .json(alias);
        self.call_unit(call).await
    }

    pub async fn get_rich_menu_alias(
        &self,
        alias_id: &str,
    ) -> Result<ApiResponse<RichMenuAlias>, Error> {
        self.call_json(Call::get(format!(
            "/v2/bot/richmenu/alias/{}",
            seg(alias_id)
        )))
        .await
    }

    pub async fn update_rich_menu_alias(
        &self,
        alias_id: &str,
        rich_menu_id: &str,
    ) -> Result<ApiResponse<()>, Error> {
        let call = Call::new(
            Method::POST,
            format!("/v2/bot/richmenu/alias/{}", seg(alias_id)),
            EndpointGroup::Other,
            Retry::Idempotent,
        )
        .json(&UpdateRichMenuAliasRequest {
            rich_menu_id: rich_menu_id.to_owned(),
        });
        self.call_unit(call).await
    }

    pub async fn delete_rich_menu_alias(&self, alias_id: &str) -> Result<ApiResponse<()>, Error> {
        self.call_unit(Call::new(
            Method::DELETE,
            format!("/v2/bot/richmenu/alias/{}", seg(alias_id)),
            EndpointGroup::Other,
            Retry::Idempotent,
        ))
        .await
    }

    pub async fn list_rich_menu_aliases(&self) -> Result<ApiResponse<RichMenuAliasList>, Error> {
        self.call_json(Call::get("/v2/bot/richmenu/alias/list"))
            .await
    }

    // ---- audiences ----

    /// Creates an audience from at most 10,000 user ids (JSON); larger lists go by file
    /// ([`Client::create_audience_group_by_file`]).
    pub async fn create_audience_group(
        &self,
        req: &CreateAudienceGroupRequest,
    ) -> Result<ApiResponse<AudienceGroupCreated>, Error> {
        if req.audiences.len() > AUDIENCE_JSON_MAX {
            return Err(Error::Invalid(too_many(
                "JSONで登録できるID",
                "audience ids by JSON",
                AUDIENCE_JSON_MAX,
                req.audiences.len(),
            )));
        }
        let call = Call::new(
            Method::POST,
            "/v2/bot/audienceGroup/upload",
            EndpointGroup::Audience,
            Retry::TooManyOnly,
        )
        .json(req);
        self.call_json(call).await
    }

    pub async fn add_audiences(
        &self,
        req: &AddAudienceToAudienceGroupRequest,
    ) -> Result<ApiResponse<()>, Error> {
        if req.audiences.len() > AUDIENCE_JSON_MAX {
            return Err(Error::Invalid(too_many(
                "JSONで登録できるID",
                "audience ids by JSON",
                AUDIENCE_JSON_MAX,
                req.audiences.len(),
            )));
        }
        let call = Call::new(
            Method::PUT,
            "/v2/bot/audienceGroup/upload",
            EndpointGroup::Audience,
            Retry::TooManyOnly,
        )
        .json(req);
        self.call_unit(call).await
    }

    fn audience_file(
        method: Method,
        fields: &[(&str, String)],
        user_ids: &[String],
    ) -> Result<Call, ValidationError> {
        if user_ids.is_empty() || user_ids.len() > AUDIENCE_FILE_MAX {
            return Err(too_many(
                "ファイルで登録できるID",
                "audience ids by file",
                AUDIENCE_FILE_MAX,
                user_ids.len(),
            ));
        }
        let (body, content_type) = multipart(fields, user_ids.join("\n").as_bytes());
        let mut call = Call::new(
            method,
            "/v2/bot/audienceGroup/upload/byFile",
            EndpointGroup::Audience,
            Retry::TooManyOnly,
        );
        call.host = Host::Data;
        call.body = Body::Binary(body, content_type);
        Ok(call)
    }

    /// Creates an audience from up to 1,500,000 user ids, uploaded as a file to the api-data
    /// host. The audience is usable once [`Client::get_audience_group`] says `READY`.
    pub async fn create_audience_group_by_file(
        &self,
        description: &str,
        upload_description: Option<&str>,
        user_ids: &[String],
    ) -> Result<ApiResponse<AudienceGroupCreated>, Error> {
        let mut fields = vec![("description", description.to_owned())];
        if let Some(d) = upload_description {
            fields.push(("uploadDescription", d.to_owned()));
        }
        let call = Self::audience_file(Method::POST, &fields, user_ids)?;
        self.call_json(call).await
    }

    /// Adds up to 1,500,000 user ids to an audience, by file.
    pub async fn add_audiences_by_file(
        &self,
        audience_group_id: i64,
        upload_description: Option<&str>,
        user_ids: &[String],
    ) -> Result<ApiResponse<()>, Error> {
        let mut fields = vec![("audienceGroupId", audience_group_id.to_string())];
        if let Some(d) = upload_description {
            fields.push(("uploadDescription", d.to_owned()));
        }
        let call = Self::audience_file(Method::PUT, &fields, user_ids)?;
        self.call_unit(call).await
    }

    /// An audience's status and upload jobs.
    pub async fn get_audience_group(
        &self,
        audience_group_id: i64,
    ) -> Result<ApiResponse<AudienceGroupData>, Error> {
        let call = Call::new(
            Method::GET,
            format!("/v2/bot/audienceGroup/{audience_group_id}"),
            EndpointGroup::Audience,
            Retry::Idempotent,
        );
        self.call_json(call).await
    }

    /// Polls an audience every `interval` until it is no longer `IN_PROGRESS` or `max_polls`
    /// polls were made; returns the last answer.
    pub async fn wait_audience_group(
        &self,
        audience_group_id: i64,
        interval: Duration,
        max_polls: u32,
    ) -> Result<ApiResponse<AudienceGroupData>, Error> {
        let mut polls = 0;
        loop {
            polls += 1;
            let data = self.get_audience_group(audience_group_id).await?;
            let pending = data.data.audience_group.status.as_deref() == Some("IN_PROGRESS");
            if !pending || polls >= max_polls {
                return Ok(data);
            }
            tokio::time::sleep(interval).await;
        }
    }

    // ---- insight ----

    fn insight(path: &str) -> Call {
        Call::new(Method::GET, path, EndpointGroup::Insight, Retry::Idempotent)
    }

    /// Followers statistics for `date` (`yyyyMMdd`, JST), or yesterday.
    pub async fn insight_followers(
        &self,
        date: Option<&str>,
    ) -> Result<ApiResponse<FollowersInsight>, Error> {
        let mut call = Self::insight("/v2/bot/insight/followers");
        if let Some(date) = date {
            call = call.query("date", date);
        }
        self.call_json(call).await
    }

    /// Statistics of one narrowcast or broadcast, by its request id.
    pub async fn insight_message_event(
        &self,
        request_id: &str,
    ) -> Result<ApiResponse<MessageStatistics>, Error> {
        self.call_json(
            Self::insight("/v2/bot/insight/message/event").query("requestId", request_id),
        )
        .await
    }

    /// Statistics of the pushes and multicasts sent with `customAggregationUnits: [unit]`
    /// between `from` and `to` (`yyyyMMdd`, JST, at most 30 days apart).
    pub async fn insight_aggregation_unit(
        &self,
        unit: &str,
        from: &str,
        to: &str,
    ) -> Result<ApiResponse<MessageStatistics>, Error> {
        let call = Self::insight("/v2/bot/insight/message/event/aggregation")
            .query("customAggregationUnit", unit)
            .query("from", from)
            .query("to", to);
        self.call_json(call).await
    }

    /// How many aggregation units were used this month.
    pub async fn get_aggregation_unit_usage(
        &self,
    ) -> Result<ApiResponse<AggregationUnitUsage>, Error> {
        self.call_json(Call::get("/v2/bot/message/aggregation/info"))
            .await
    }

    /// One page of this month's aggregation unit names; pass the previous page's `next`.
    pub async fn get_aggregation_unit_names(
        &self,
        limit: Option<u32>,
        start: Option<&str>,
    ) -> Result<ApiResponse<AggregationUnitNames>, Error> {
        let mut call = Call::get("/v2/bot/message/aggregation/list");
        if let Some(limit) = limit {
            call = call.query("limit", limit.to_string());
        }
        if let Some(start) = start {
            call = call.query("start", start);
        }
        self.call_json(call).await
    }

    // ---- LINE Login ----

    /// Verifies a LINE ID token (from `liff.getIDToken()`) for the LINE Login channel
    /// `client_id` and returns its claims; `sub` is the friend's user id. Uses
    /// `POST {api_base}/oauth2/v2.1/verify` without the channel access token, so a client made
    /// for any channel (or with an empty token) can call it. Transport failures and 5xx are
    /// retried; LINE's 400 becomes [`IdTokenError::Refused`] with the reason. The token is
    /// never logged.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        client_id: &str,
    ) -> Result<IdTokenClaims, IdTokenError> {
        let mut call = Call::new(
            Method::POST,
            "/oauth2/v2.1/verify",
            EndpointGroup::Login,
            Retry::Idempotent,
        );
        call.auth = false;
        call.body = Body::Binary(
            form(&[("id_token", id_token), ("client_id", client_id)]),
            "application/x-www-form-urlencoded".to_owned(),
        );
        match self.call_json::<IdTokenClaims>(call).await {
            Ok(r) => Ok(r.data),
            Err(Error::Api {
                status: 400,
                body,
                meta,
            }) => {
                let description = body
                    .map(|b| b.message)
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| "invalid_request".to_owned());
                Err(IdTokenError::Refused {
                    reason: IdTokenRefusal::from_description(&description),
                    description,
                    meta,
                })
            }
            Err(e) => Err(IdTokenError::Unavailable(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_keys_are_uuid_v4() {
        let a = new_retry_key();
        let b = new_retry_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("U4af-_9"), "U4af-_9");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn forms_and_keys() {
        assert_eq!(
            form(&[("id_token", "a.b+c"), ("client_id", "123")]),
            b"id_token=a.b%2Bc&client_id=123".to_vec()
        );
        assert!(is_retry_key(&new_retry_key()));
        assert!(!is_retry_key("nope"));
        let (body, ct) = multipart(&[("description", "高齢者".into())], b"U1\nU2");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"description\"\r\n\r\n高齢者\r\n"));
        assert!(text.ends_with(&format!("U1\nU2\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn config_debug_hides_token() {
        let c = ClientConfig::new("secret-token");
        assert!(!format!("{c:?}").contains("secret-token"));
    }
}
