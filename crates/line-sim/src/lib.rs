//! A local stand-in for the LINE Messaging API platform, for tests, benchmarks and the demo.
//!
//! [`spawn`] binds two listeners like LINE's two hosts: `api` (`api.line.me`: messages, profile,
//! rich menus, audiences, insight, and the `/sim` browser page) and `api-data`
//! (`api-data.line.me`: rich menu images). Every request needs the channel's bearer token,
//! gets an `x-line-request-id`, is counted, rate limited per endpoint, and may be failed or
//! delayed by the configured [`Faults`]. Simulated users act through [`Sim`]'s methods (or the
//! page), which send correctly signed webhooks to Hiroba with redelivery.

mod api;
mod insight;
mod liff;
mod page;
mod state;
mod util;
mod validate;
mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::Value;

pub use state::UserStatus;
pub use util::new_user_id;
pub use validate::{MinimalValidator, RequestValidator};
pub use webhook::{SimError, WebhookOutcome, sign};

/// A request budget: at most `max` requests per `per` (fixed window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub per: Duration,
}

impl RateLimit {
    pub const fn per_second(max: u32) -> Self {
        Self {
            max,
            per: Duration::from_secs(1),
        }
    }
    pub const fn per_minute(max: u32) -> Self {
        Self {
            max,
            per: Duration::from_secs(60),
        }
    }
    pub const fn per_hour(max: u32) -> Self {
        Self {
            max,
            per: Duration::from_secs(3600),
        }
    }
}

/// LINE applies its limits per endpoint (method + path); these are the budgets by group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// push and reply (each its own budget): "other endpoints", 2,000/s.
    pub push_reply: RateLimit,
    /// multicast: 200/s.
    pub multicast: RateLimit,
    /// narrowcast: 60/hour.
    pub narrowcast: RateLimit,
    /// broadcast: 60/hour.
    pub broadcast: RateLimit,
    /// profile: 2,000/s.
    pub profile: RateLimit,
    /// rich menu create and delete (each): 100/hour.
    pub richmenu_write: RateLimit,
    /// audience upload: 60/minute.
    /// each audience endpoint (`/v2/bot/audienceGroup/...`, JSON and file): 60/minute.
    pub audience_upload: RateLimit,
    /// each insight endpoint (`/v2/bot/insight/...`): 60/hour.
    pub insight: RateLimit,
    /// every other endpoint: 2,000/s.
    pub other: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            push_reply: RateLimit::per_second(2000),
            multicast: RateLimit::per_second(200),
            narrowcast: RateLimit::per_hour(60),
            broadcast: RateLimit::per_hour(60),
            profile: RateLimit::per_second(2000),
            richmenu_write: RateLimit::per_hour(100),
            audience_upload: RateLimit::per_minute(60),
            insight: RateLimit::per_hour(60),
            other: RateLimit::per_second(2000),
        }
    }
}

impl RateLimits {
    /// The budget of an endpoint key (`"POST /v2/bot/message/push"`).
    pub fn for_endpoint(&self, endpoint: &str) -> RateLimit {
        match endpoint {
            "POST /v2/bot/message/push" | "POST /v2/bot/message/reply" => self.push_reply,
            "POST /v2/bot/message/multicast" => self.multicast,
            "POST /v2/bot/message/narrowcast" => self.narrowcast,
            "POST /v2/bot/message/broadcast" => self.broadcast,
            "GET /v2/bot/profile/{userId}" => self.profile,
            "POST /v2/bot/richmenu" | "DELETE /v2/bot/richmenu/{richMenuId}" => self.richmenu_write,
            e if e.contains(" /v2/bot/audienceGroup/") => self.audience_upload,
            e if e.contains(" /v2/bot/insight/") => self.insight,
            _ => self.other,
        }
    }
}

/// Fault injection. Endpoint keys are `"METHOD /path/template"` as in the counters
/// (e.g. `"POST /v2/bot/message/push"`), or `"*"` for any endpoint. The shares are drawn from
/// a generator seeded by [`SimConfig::seed`], so a run is reproducible.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Share of requests (0.0..=1.0) answered 500 without being processed.
    pub fail_ratio: f64,
    /// Share of requests processed (messages delivered, retry key recorded) and then answered
    /// 500: a retry with the same `X-Line-Retry-Key` gets 409 and delivers nothing.
    pub fail_after_ratio: f64,
    /// Share of requests processed and then held for `timeout_hold` (a response lost to a
    /// client timeout).
    pub timeout_ratio: f64,
    /// Endpoints the three shares apply to; empty: every endpoint.
    pub ratio_endpoints: Vec<String>,
    /// Answer the next N requests of an endpoint with 500, unprocessed.
    pub fail_next: HashMap<String, u32>,
    /// Process the next N requests of an endpoint, then hold the response for `timeout_hold`
    /// (a response lost to a client timeout: a retry with the same key gets 409).
    pub timeout_next: HashMap<String, u32>,
    /// How long a "timed out" response is held.
    pub timeout_hold: Duration,
    /// Added to every request before it is processed.
    pub latency: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            fail_ratio: 0.0,
            fail_after_ratio: 0.0,
            timeout_ratio: 0.0,
            ratio_endpoints: Vec::new(),
            fail_next: HashMap::new(),
            timeout_next: HashMap::new(),
            timeout_hold: Duration::from_secs(30),
            latency: Duration::ZERO,
        }
    }
}

/// Everything the simulator needs; `SimConfig::default()` works for tests
/// (token `test-token`, secret `test-secret`, port 0 on 127.0.0.1, LINE's rate limits).
#[derive(Clone)]
pub struct SimConfig {
    /// The channel access token every request must carry as `Authorization: Bearer ...`.
    pub channel_token: String,
    /// The channel secret the webhooks are signed with.
    pub channel_secret: String,
    /// Hiroba's webhook URL (changeable later with [`Sim::set_webhook_url`]).
    pub webhook_url: Option<String>,
    /// The bot's own user id (`destination` in webhooks, `userId` in bot info).
    pub bot_user_id: String,
    pub bot_display_name: String,
    pub bot_basic_id: String,
    pub bind: IpAddr,
    /// 0 picks a free port.
    pub api_port: u16,
    pub api_data_port: u16,
    pub rate_limits: RateLimits,
    pub faults: Faults,
    /// How long an accepted `X-Line-Retry-Key` is remembered (LINE: 24 hours).
    pub retry_key_ttl: Duration,
    /// How long a webhook's reply token can be used (LINE: about a minute).
    pub reply_token_ttl: Duration,
    /// How long a narrowcast stays `waiting` before `succeeded`.
    pub narrowcast_delay: Duration,
    /// Redeliveries after the first webhook attempt when Hiroba does not answer 200.
    pub webhook_redeliveries: u32,
    /// Delay before the first redelivery; doubled each time.
    pub webhook_backoff: Duration,
    /// Per-attempt timeout of a webhook POST.
    pub webhook_timeout: Duration,
    /// Monthly message limit (`None`: no limit, quota type `none`).
    pub message_quota: Option<u64>,
    /// Validates request bodies by schema name.
    pub validator: Arc<dyn RequestValidator>,
    /// Seeds the fault shares and the simulated insight (opens, clicks).
    pub seed: u64,
    /// The LINE Login channel LIFF apps belong to: the `aud` of the ID tokens the simulator
    /// issues and the `client_id` its verify endpoint accepts.
    pub login_channel_id: String,
    /// Signs the simulator's ID tokens (HS256, as LINE signs web login tokens with the
    /// channel secret).
    pub login_channel_secret: String,
    /// The LIFF app's id (`{channelId}-{8 characters}`); `https://liff.line.me/{liffId}/...`
    /// links open the endpoint URL.
    pub liff_id: String,
    /// The LIFF app's endpoint URL (Hiroba's LIFF page, e.g. `http://127.0.0.1:8080/liff`).
    /// Links starting with it, or LIFF URLs, open it with a one-time code; `None`: LIFF links
    /// are ordinary links.
    pub liff_endpoint_url: Option<String>,
    /// Lifetime of an ID token (LINE: 1 hour).
    pub id_token_ttl: Duration,
    /// Lifetime of a one-time LIFF code.
    pub liff_code_ttl: Duration,
    /// How long an uploaded audience stays `IN_PROGRESS` before `READY`.
    pub audience_ready_delay: Duration,
    /// Share of recipients who open a message (simulated insight).
    pub insight_open_rate: f64,
    /// Share of openers who tap each URL (simulated insight).
    pub insight_click_rate: f64,
    /// Counts below this are reported as `null`, as LINE hides small numbers (LINE: 20).
    pub insight_threshold: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            channel_token: "test-token".to_owned(),
            channel_secret: "test-secret".to_owned(),
            webhook_url: None,
            bot_user_id: "Ub07000000000000000000000000000001".to_owned(),
            bot_display_name: "国富町 施設予約".to_owned(),
            bot_basic_id: "@kunitomi".to_owned(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            api_port: 0,
            api_data_port: 0,
            rate_limits: RateLimits::default(),
            faults: Faults::default(),
            retry_key_ttl: Duration::from_secs(24 * 3600),
            reply_token_ttl: Duration::from_secs(60),
            narrowcast_delay: Duration::from_millis(300),
            webhook_redeliveries: 3,
            webhook_backoff: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(5),
            message_quota: None,
            validator: Arc::new(MinimalValidator),
            seed: 20_250_401,
            login_channel_id: "1660000001".to_owned(),
            login_channel_secret: "test-login-secret".to_owned(),
            liff_id: "1660000001-Kunitomi".to_owned(),
            liff_endpoint_url: None,
            id_token_ttl: Duration::from_secs(3600),
            liff_code_ttl: Duration::from_secs(300),
            audience_ready_delay: Duration::from_millis(200),
            insight_open_rate: 0.6,
            insight_click_rate: 0.25,
            insight_threshold: 20,
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("webhook_url", &self.webhook_url)
            .field("bot_user_id", &self.bot_user_id)
            .field("bind", &self.bind)
            .field("login_channel_id", &self.login_channel_id)
            .field("liff_id", &self.liff_id)
            .field("liff_endpoint_url", &self.liff_endpoint_url)
            .field("rate_limits", &self.rate_limits)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

/// Counters a test can read ([`Sim::counters`] returns a snapshot). Per-user numbers are
/// read with [`Sim::delivered_to`], [`Sim::copies_to`], [`Sim::bulk_copies`] and
/// [`Sim::delivery_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests per endpoint key `"METHOD /path/template"` (every request, refused or not).
    pub requests: BTreeMap<String, u64>,
    /// Message objects delivered, all users.
    pub messages_delivered: u64,
    /// (request, recipient) pairs delivered: a push of 3 messages to one user counts 1.
    pub deliveries: u64,
    /// Requests refused with 409 because their retry key was already accepted.
    pub duplicates_suppressed: u64,
    pub rate_limited: u64,
    pub faults_injected: u64,
    /// First webhook attempts.
    pub webhooks_sent: u64,
    /// Redelivery attempts.
    pub webhooks_redelivered: u64,
    /// Webhooks that never got a 200.
    pub webhooks_failed: u64,
}

/// Who received how many copies, over every user the simulator has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Users who received at least one copy.
    pub users_reached: u64,
    /// Users who received exactly one copy (one accepted request reached them once).
    pub exactly_once: u64,
    /// Users who received more than one copy.
    pub more_than_once: u64,
    /// Most copies any user received.
    pub max_copies: u64,
}

/// One entry of a user's chat: a message delivered by the bot, or something the user did.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEntry {
    /// True for messages from the bot (the inbox), false for the user's own actions.
    pub from_bot: bool,
    /// `reply`, `push`, `multicast`, `narrowcast`, `broadcast`, or the webhook event type.
    pub via: String,
    /// The API request id that delivered it (bot messages).
    pub request_id: Option<String>,
    /// The LINE message object (or, for the user's actions, the webhook event).
    pub message: Value,
    pub at: SystemTime,
}

/// A simulated LINE user.
#[derive(Debug, Clone, PartialEq)]
pub struct SimUser {
    pub user_id: String,
    pub display_name: String,
    pub picture_url: Option<String>,
    pub status_message: Option<String>,
    pub language: String,
    pub status: UserStatus,
    /// The rich menu linked to this user (per-user link; the default menu applies otherwise).
    pub rich_menu: Option<String>,
}

pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) state: Mutex<state::State>,
    pub(crate) http: reqwest::Client,
}

/// The simulator's shared core: routers, simulated users' actions, counters and faults.
#[derive(Clone)]
pub struct Sim {
    pub(crate) inner: Arc<Shared>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .user_agent("LineBotWebhook/2.0")
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let state = state::State::new(&config);
        Self {
            inner: Arc::new(Shared {
                config,
                state: Mutex::new(state),
                http,
            }),
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut state::State) -> R) -> R {
        let mut guard = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The `api.line.me` routes (bearer auth, counters, faults, rate limits).
    pub fn api_router(&self) -> axum::Router {
        api::api_router(self.clone())
    }

    /// The `api-data.line.me` routes (rich menu images).
    pub fn api_data_router(&self) -> axum::Router {
        api::api_data_router(self.clone())
    }

    /// The `/sim` browser page (no auth; mount it wherever the demo wants it).
    pub fn page_router(&self) -> axum::Router {
        page::router(self.clone())
    }

    /// LINE Login's verify endpoint and the LIFF stand-in (`/oauth2/v2.1/verify`,
    /// `/liff/sdk.js`, `/liff/token`, `/liff/login`); no bearer auth, as on LINE.
    pub fn liff_router(&self) -> axum::Router {
        liff::router(self.clone())
    }

    // --- users -------------------------------------------------------------------------

    /// Adds (or renames) a simulated user; it is not a friend until [`Sim::follow`].
    pub fn add_user(&self, user_id: &str, display_name: &str, picture_url: Option<&str>) {
        self.with(|s| s.add_user(user_id, display_name, picture_url));
    }

    /// Adds `n` bulk users who are already friends (no follow webhook is sent; seed Hiroba's
    /// friends separately), a few bytes each: a million take about 5 MB. Their ids come from
    /// [`Sim::bulk_user_id`]; they keep a chat history only once watched. Returns their
    /// index range.
    pub fn add_users(&self, n: u32) -> std::ops::Range<u32> {
        self.with(|s| s.add_bulk(n))
    }

    /// The id of the bulk user at `index`.
    pub fn bulk_user_id(&self, index: u32) -> Option<String> {
        self.with(|s| (index < s.bulk.len()).then(|| s.bulk.id(index)))
    }

    /// The ids of the bulk users in `range` (clipped to those that exist).
    pub fn bulk_user_ids(&self, range: std::ops::Range<u32>) -> Vec<String> {
        self.with(|s| {
            let end = range.end.min(s.bulk.len());
            (range.start..end).map(|i| s.bulk.id(i)).collect()
        })
    }

    /// The index of a bulk user's id.
    pub fn bulk_index(&self, user_id: &str) -> Option<u32> {
        self.with(|s| s.bulk.index(user_id))
    }

    /// How many bulk users there are.
    pub fn bulk_len(&self) -> u32 {
        self.with(|s| s.bulk.len())
    }

    /// Keeps a chat history for a bulk user from now on (the `/sim` page does this when it
    /// opens the user's chat).
    pub fn watch(&self, user_id: &str) {
        self.with(|s| s.watch(user_id));
    }

    /// Changes a user's friendship without a webhook (e.g. blocked bulk users for a test).
    pub fn set_status(&self, user_id: &str, status: UserStatus) {
        self.with(|s| {
            s.set_status(user_id, status);
        });
    }

    /// A named or bulk user.
    pub fn user(&self, user_id: &str) -> Option<SimUser> {
        self.with(|s| s.public_user(user_id))
    }

    /// Named users in the order they were added (bulk users are not listed).
    pub fn users(&self) -> Vec<SimUser> {
        self.with(|s| s.order.iter().filter_map(|id| s.public_user(id)).collect())
    }

    // --- actions that send webhooks ----------------------------------------------------

    /// The user adds the account as a friend (or unblocks it): a `follow` event.
    pub async fn follow(&self, user_id: &str) -> Result<WebhookOutcome, SimError> {
        webhook::follow(self, user_id).await
    }

    /// The user blocks the account: an `unfollow` event.
    pub async fn unfollow(&self, user_id: &str) -> Result<WebhookOutcome, SimError> {
        webhook::unfollow(self, user_id).await
    }

    pub async fn send_text(&self, user_id: &str, text: &str) -> Result<WebhookOutcome, SimError> {
        webhook::send_text(self, user_id, text).await
    }

    pub async fn send_location(
        &self,
        user_id: &str,
        title: &str,
        latitude: f64,
        longitude: f64,
    ) -> Result<WebhookOutcome, SimError> {
        webhook::send_location(self, user_id, title, "", latitude, longitude).await
    }

    pub async fn postback(&self, user_id: &str, data: &str) -> Result<WebhookOutcome, SimError> {
        webhook::postback(self, user_id, data, None, None).await
    }

    /// Any other event: `event` holds the type-specific fields (`{"type":"message",
    /// "message":{...}}`); source, timestamp, ids, mode and delivery context are added.
    pub async fn send_event(
        &self,
        user_id: &str,
        event: Value,
        with_reply_token: bool,
    ) -> Result<WebhookOutcome, SimError> {
        webhook::send_event(self, user_id, event, with_reply_token).await
    }

    // --- what the bot sent ---------------------------------------------------------------

    /// Messages delivered to a user by the bot, oldest first.
    pub fn inbox(&self, user_id: &str) -> Vec<ChatEntry> {
        self.with(|s| {
            s.chats
                .get(user_id)
                .map(|c| c.iter().filter(|e| e.from_bot).cloned().collect())
                .unwrap_or_default()
        })
    }

    /// The whole conversation (bot messages and the user's actions).
    pub fn chat(&self, user_id: &str) -> Vec<ChatEntry> {
        self.with(|s| s.chats.get(user_id).cloned().unwrap_or_default())
    }

    // --- counters ------------------------------------------------------------------------

    pub fn counters(&self) -> Counters {
        self.with(|s| s.counters.clone())
    }

    /// Message objects delivered to a user (bulk users: saturating at 65,535).
    pub fn delivered_to(&self, user_id: &str) -> u64 {
        self.with(|s| s.received(user_id).1)
    }

    /// Accepted sending requests that reached a user: one per copy of a delivery.
    pub fn copies_to(&self, user_id: &str) -> u64 {
        self.with(|s| s.received(user_id).0)
    }

    /// Copies received per bulk user, by index (2 bytes a user).
    pub fn bulk_copies(&self) -> Vec<u16> {
        self.with(|s| s.bulk.copies.clone())
    }

    /// Message objects received per bulk user, by index.
    pub fn bulk_messages(&self) -> Vec<u16> {
        self.with(|s| s.bulk.messages.clone())
    }

    /// How many users received exactly one copy, more than one, ... (bulk users, named
    /// users and unknown ids).
    pub fn delivery_stats(&self) -> DeliveryStats {
        self.with(|s| {
            let mut st = DeliveryStats::default();
            let copies = s
                .bulk
                .copies
                .iter()
                .map(|c| u64::from(*c))
                .chain(s.counts.values().map(|c| c.copies));
            for c in copies.filter(|c| *c > 0) {
                st.users_reached += 1;
                if c == 1 {
                    st.exactly_once += 1;
                } else {
                    st.more_than_once += 1;
                }
                st.max_copies = st.max_copies.max(c);
            }
            st
        })
    }

    /// Requests seen for an endpoint key such as `"POST /v2/bot/message/push"`.
    pub fn requests_to(&self, endpoint: &str) -> u64 {
        self.with(|s| s.counters.requests.get(endpoint).copied().unwrap_or(0))
    }

    pub fn duplicates_suppressed(&self) -> u64 {
        self.with(|s| s.counters.duplicates_suppressed)
    }

    /// Users reached by an accepted sending request (by its `x-line-request-id`).
    pub fn delivered_for_request(&self, request_id: &str) -> Option<u64> {
        self.with(|s| s.sends.get(request_id).map(|r| r.delivered))
    }

    // --- runtime knobs -------------------------------------------------------------------

    pub fn set_webhook_url(&self, url: Option<&str>) {
        self.with(|s| s.webhook_url = url.map(str::to_owned));
    }

    pub fn set_fail_ratio(&self, ratio: f64) {
        self.with(|s| s.faults.fail_ratio = ratio.clamp(0.0, 1.0));
    }

    /// Shares of `endpoints` (empty: all) that fail with 500 after being processed, and that
    /// are processed and then held for `hold` (timeouts).
    pub fn fail_after_delivery(
        &self,
        endpoints: &[&str],
        fail_after_ratio: f64,
        timeout_ratio: f64,
        hold: Duration,
    ) {
        self.with(|s| {
            s.faults.ratio_endpoints = endpoints.iter().map(|e| (*e).to_owned()).collect();
            s.faults.fail_after_ratio = fail_after_ratio.clamp(0.0, 1.0);
            s.faults.timeout_ratio = timeout_ratio.clamp(0.0, 1.0);
            s.faults.timeout_hold = hold;
        });
    }

    /// Answer the next `n` requests of `endpoint` (or `"*"`) with 500.
    pub fn fail_next(&self, endpoint: &str, n: u32) {
        self.with(|s| {
            s.faults.fail_next.insert(endpoint.to_owned(), n);
        });
    }

    /// Process the next `n` requests of `endpoint` (or `"*"`), then hold each response for `hold`.
    pub fn timeout_next(&self, endpoint: &str, n: u32, hold: Duration) {
        self.with(|s| {
            s.faults.timeout_next.insert(endpoint.to_owned(), n);
            s.faults.timeout_hold = hold;
        });
    }

    pub fn set_latency(&self, latency: Duration) {
        self.with(|s| s.faults.latency = latency);
    }

    pub fn set_faults(&self, faults: Faults) {
        self.with(|s| s.faults = faults);
    }

    pub fn set_rate_limits(&self, limits: RateLimits) {
        self.with(|s| {
            s.rate_limits = limits;
            s.reset_rate_limits();
        });
    }
}

/// A running simulator: the two listeners' base URLs plus everything [`Sim`] offers.
#[derive(Clone)]
pub struct SimHandle {
    sim: Sim,
    api: SocketAddr,
    api_data: SocketAddr,
    tasks: Arc<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::ops::Deref for SimHandle {
    type Target = Sim;
    fn deref(&self) -> &Sim {
        &self.sim
    }
}

impl SimHandle {
    /// `http://127.0.0.1:port` standing in for `https://api.line.me`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.api)
    }
    /// Standing in for `https://api-data.line.me`.
    pub fn api_data_base(&self) -> String {
        format!("http://{}", self.api_data)
    }
    /// The browser page (served on the api listener).
    pub fn page_url(&self) -> String {
        format!("http://{}/sim", self.api)
    }
    /// The LIFF SDK stand-in a LIFF page loads instead of LINE's
    /// (`https://static.line-scdn.net/liff/edge/2/sdk.js`).
    pub fn liff_sdk_url(&self) -> String {
        format!("http://{}/liff/sdk.js", self.api)
    }
    pub fn sim(&self) -> &Sim {
        &self.sim
    }
    /// Stops both listeners.
    pub fn shutdown(&self) {
        for t in self.tasks.iter() {
            t.abort();
        }
    }
}

/// Binds the api and api-data listeners and serves them in background tasks.
pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    let bind = config.bind;
    let (api_port, data_port) = (config.api_port, config.api_data_port);
    let sim = Sim::new(config);
    let api_listener = tokio::net::TcpListener::bind((bind, api_port)).await?;
    let data_listener = tokio::net::TcpListener::bind((bind, data_port)).await?;
    let api = api_listener.local_addr()?;
    let api_data = data_listener.local_addr()?;
    let api_app = sim
        .api_router()
        .merge(sim.page_router())
        .merge(sim.liff_router())
        .fallback(api::not_found);
    let data_app = sim.api_data_router().fallback(api::not_found);
    let t1 = tokio::spawn(async move {
        if let Err(e) = axum::serve(api_listener, api_app).await {
            tracing::warn!(error = %e, "line-sim api listener stopped");
        }
    });
    let t2 = tokio::spawn(async move {
        if let Err(e) = axum::serve(data_listener, data_app).await {
            tracing::warn!(error = %e, "line-sim api-data listener stopped");
        }
    });
    tracing::info!(%api, %api_data, "LINE simulator listening");
    Ok(SimHandle {
        sim,
        api,
        api_data,
        tasks: Arc::new(vec![t1, t2]),
    })
}
