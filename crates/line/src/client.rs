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
use serde_json::Value;

use crate::message::{Message, ValidationError, validate_messages};
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

/// LINE's error body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct LineErrorBody {
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
            retry_key: (call.retry == Retry::Keyed).then(new_retry_key),
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
            let mut req = self.http.request(call.method.clone(), &url).header(
                AUTHORIZATION,
                format!("Bearer {}", self.config.channel_access_token),
            );
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
        validate_messages(&req.messages)?;
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
        validate_messages(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/push",
            EndpointGroup::Push,
            Retry::Keyed,
        )
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
        validate_messages(messages)?;
        let mut outcome = MulticastOutcome::default();
        for req in Self::multicast_requests(to, messages) {
            let call = Call::new(
                Method::POST,
                "/v2/bot/message/multicast",
                EndpointGroup::Multicast,
                Retry::Keyed,
            )
            .json(&req);
            let result = self.call_unit(call).await.map(|r| r.meta);
            outcome.chunks.push(ChunkOutcome { to: req.to, result });
        }
        Ok(outcome)
    }

    /// Narrowcast; keep `meta.request_id` to poll [`Client::get_narrowcast_progress`].
    pub async fn narrowcast(&self, req: &NarrowcastRequest) -> Result<ApiResponse<()>, Error> {
        validate_messages(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/narrowcast",
            EndpointGroup::Narrowcast,
            Retry::Keyed,
        )
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
        validate_messages(&req.messages)?;
        let call = Call::new(
            Method::POST,
            "/v2/bot/message/broadcast",
            EndpointGroup::Broadcast,
            Retry::Keyed,
        )
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

    pub async fn create_audience_group(
        &self,
        req: &CreateAudienceGroupRequest,
    ) -> Result<ApiResponse<AudienceGroupCreated>, Error> {
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
        let call = Call::new(
            Method::PUT,
            "/v2/bot/audienceGroup/upload",
            EndpointGroup::Audience,
            Retry::TooManyOnly,
        )
        .json(req);
        self.call_unit(call).await
    }

    // ---- insight ----

    fn insight(path: &str) -> Call {
        Call::new(Method::GET, path, EndpointGroup::Insight, Retry::Idempotent)
    }

    /// Followers statistics for `date` (`yyyyMMdd`, JST), or yesterday.
    pub async fn insight_followers(&self, date: Option<&str>) -> Result<ApiResponse<Value>, Error> {
        let mut call = Self::insight("/v2/bot/insight/followers");
        if let Some(date) = date {
            call = call.query("date", date);
        }
        self.call_json(call).await
    }

    /// Statistics of one sent message (narrowcast/broadcast request id).
    pub async fn insight_message_event(
        &self,
        request_id: &str,
    ) -> Result<ApiResponse<Value>, Error> {
        self.call_json(
            Self::insight("/v2/bot/insight/message/event").query("requestId", request_id),
        )
        .await
    }

    /// Statistics per aggregation unit between `from` and `to` (`yyyyMMdd`).
    pub async fn insight_aggregation_unit(
        &self,
        unit: &str,
        from: &str,
        to: &str,
    ) -> Result<ApiResponse<Value>, Error> {
        let call = Self::insight("/v2/bot/insight/message/event/aggregation")
            .query("customAggregationUnit", unit)
            .query("from", from)
            .query("to", to);
        self.call_json(call).await
    }

    pub async fn get_aggregation_unit_usage(
        &self,
    ) -> Result<ApiResponse<AggregationUnitUsage>, Error> {
        self.call_json(Call::get("/v2/bot/message/aggregation/info"))
            .await
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
    fn config_debug_hides_token() {
        let c = ClientConfig::new("secret-token");
        assert!(!format!("{c:?}").contains("secret-token"));
    }
}
