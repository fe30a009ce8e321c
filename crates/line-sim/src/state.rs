//! The simulator's mutable state, behind one mutex (no await while it is held).
//!
//! Two kinds of simulated users:
//! - named users ([`crate::Sim::add_user`]): a few, each with a profile and a chat history;
//! - bulk users ([`crate::Sim::add_users`]): up to millions, a few bytes each. Their ids are
//!   derived from their index (`U` + a per-simulator prefix + 8 hex digits of a permuted
//!   index), so no id string is stored; they keep a status byte and two 16-bit counters, and a
//!   chat history only while "watched" (opened on the `/sim` page or [`crate::Sim::watch`]).
//!
//! Ids the simulator does not know (neither kind) still receive messages, so tests need not
//! register every recipient; they are counted (and chatted) by id.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::{ChatEntry, Counters, Faults, RateLimit, RateLimits, SimConfig, SimUser, util};

/// Friendship as LINE sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Added to the simulator, never followed.
    New,
    Friend,
    Blocked,
}

impl UserStatus {
    pub fn label(self) -> &'static str {
        match self {
            UserStatus::New => "未登録",
            UserStatus::Friend => "友だち",
            UserStatus::Blocked => "ブロック中",
        }
    }
    fn to_byte(self) -> u8 {
        match self {
            UserStatus::New => 0,
            UserStatus::Friend => 1,
            UserStatus::Blocked => 2,
        }
    }
    fn from_byte(b: u8) -> Self {
        match b {
            1 => UserStatus::Friend,
            2 => UserStatus::Blocked,
            _ => UserStatus::New,
        }
    }
}

pub(crate) struct User {
    pub(crate) user_id: String,
    pub(crate) display_name: String,
    pub(crate) picture_url: Option<String>,
    pub(crate) status_message: Option<String>,
    pub(crate) language: String,
    pub(crate) status: UserStatus,
}

/// An odd multiplier and its inverse modulo 2^32: bulk indexes are permuted so ids do not
/// look sequential, and the permutation is undone when an id comes back.
const MIX: u32 = 0x9E37_79B1;
const MIX_INV: u32 = inverse(MIX);

const fn inverse(a: u32) -> u32 {
    // Newton's iteration doubles the correct low bits each round (a is odd).
    let mut x = a;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u32.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// Bulk users: a status byte and two saturating counters per user.
pub(crate) struct Bulk {
    /// `U` + 24 lower-case hex digits, fixed per simulator.
    prefix: String,
    key: u32,
    pub(crate) status: Vec<u8>,
    /// Accepted sending requests that reached the user.
    pub(crate) copies: Vec<u16>,
    /// Message objects delivered to the user.
    pub(crate) messages: Vec<u16>,
}

impl Bulk {
    fn new() -> Self {
        let hex = util::random_hex(14);
        let key = u32::from_str_radix(&hex[24..28], 16).unwrap_or(0x5EED) | 1;
        Bulk {
            prefix: format!("U{}", &hex[..24]),
            key,
            status: Vec::new(),
            copies: Vec::new(),
            messages: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> u32 {
        self.status.len() as u32
    }

    pub(crate) fn id(&self, index: u32) -> String {
        let x = index.wrapping_mul(MIX) ^ self.key;
        format!("{}{x:08x}", self.prefix)
    }

    pub(crate) fn index(&self, user_id: &str) -> Option<u32> {
        let rest = user_id.strip_prefix(self.prefix.as_str())?;
        if rest.len() != 8 {
            return None;
        }
        let x = u32::from_str_radix(rest, 16).ok()?;
        let i = (x ^ self.key).wrapping_mul(MIX_INV);
        (i < self.len()).then_some(i)
    }

    pub(crate) fn name(index: u32) -> String {
        format!("利用者{:07}", u64::from(index) + 1)
    }
}

/// A recipient as the simulator stores it: a bulk index or an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Bulk(u32),
    Id(String),
}

/// A list of recipients: 4 bytes per bulk user.
#[derive(Debug, Clone, Default)]
pub(crate) struct Targets {
    pub(crate) bulk: Vec<u32>,
    pub(crate) other: Vec<String>,
}

impl Targets {
    pub(crate) fn len(&self) -> usize {
        self.bulk.len() + self.other.len()
    }
    pub(crate) fn push(&mut self, t: Target) {
        match t {
            Target::Bulk(i) => self.bulk.push(i),
            Target::Id(s) => self.other.push(s),
        }
    }
    pub(crate) fn truncate(&mut self, max: usize) {
        // Named and unknown ids first (they are few), then bulk users.
        self.other.truncate(max);
        self.bulk.truncate(max.saturating_sub(self.other.len()));
    }
}

/// Messages received by a user who is not a bulk user.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UserCounts {
    pub(crate) copies: u64,
    pub(crate) messages: u64,
}

pub(crate) struct RetryRecord {
    pub(crate) request_id: String,
    pub(crate) sent_messages: Option<Value>,
    pub(crate) at: Instant,
}

pub(crate) struct Narrowcast {
    pub(crate) accepted: SystemTime,
    pub(crate) accepted_at: Instant,
    pub(crate) target: u64,
}

/// What an accepted sending request did (for insight and `delivered_for_request`).
pub(crate) struct SendRecord {
    pub(crate) kind: &'static str,
    pub(crate) at: SystemTime,
    pub(crate) delivered: u64,
    /// Per message: its type and the URLs of its actions and text.
    pub(crate) messages: Vec<(String, Vec<String>)>,
    pub(crate) unit: Option<String>,
}

pub(crate) struct RichMenu {
    pub(crate) body: Value,
    pub(crate) image: Option<(String, Vec<u8>)>,
}

pub(crate) struct AudienceJob {
    pub(crate) id: i64,
    pub(crate) description: String,
    pub(crate) count: u64,
    pub(crate) created: i64,
}

pub(crate) struct Audience {
    pub(crate) description: String,
    pub(crate) members: Targets,
    pub(crate) created: i64,
    pub(crate) ready_at: Instant,
    pub(crate) is_ifa: bool,
    pub(crate) jobs: Vec<AudienceJob>,
}

pub(crate) struct LiffCode {
    pub(crate) user_id: String,
    pub(crate) at: Instant,
    /// Where closeWindow() returns to (the user's chat page).
    pub(crate) chat_path: String,
}

/// How early a request may arrive at the rate limiter (see [`State::take_rate`]).
pub(crate) const RATE_JITTER: Duration = Duration::from_millis(20);

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What the fault injector decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// 500 without processing.
    FailBefore,
    /// Processed, then answered 500.
    FailAfter,
    /// Processed, then the response is held (a client timeout).
    Hold,
}

pub(crate) struct State {
    pub(crate) users: HashMap<String, User>,
    /// Named users in the order they were added.
    pub(crate) order: Vec<String>,
    pub(crate) bulk: Bulk,
    pub(crate) watched: HashSet<u32>,
    pub(crate) counts: HashMap<String, UserCounts>,
    pub(crate) chats: HashMap<String, Vec<ChatEntry>>,
    /// Per-user rich menu links (sparse; the default menu applies otherwise).
    pub(crate) user_menus: HashMap<String, String>,
    /// The last webhook's result per user, shown on the page.
    pub(crate) last_webhook: HashMap<String, String>,
    pub(crate) reply_tokens: HashMap<String, (String, Instant)>,
    pub(crate) retry_keys: HashMap<String, RetryRecord>,
    last_prune: Instant,
    buckets: HashMap<String, Bucket>,
    pub(crate) narrowcasts: HashMap<String, Narrowcast>,
    pub(crate) sends: HashMap<String, SendRecord>,
    pub(crate) rich_menus: BTreeMap<String, RichMenu>,
    pub(crate) default_rich_menu: Option<String>,
    pub(crate) aliases: BTreeMap<String, String>,
    pub(crate) audiences: BTreeMap<i64, Audience>,
    pub(crate) aggregation_units: BTreeSet<String>,
    pub(crate) liff_codes: HashMap<String, LiffCode>,
    pub(crate) consumption: u64,
    pub(crate) counters: Counters,
    pub(crate) faults: Faults,
    rng: u64,
    pub(crate) rate_limits: RateLimits,
    pub(crate) webhook_url: Option<String>,
}

impl State {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self {
            users: HashMap::new(),
            order: Vec::new(),
            bulk: Bulk::new(),
            watched: HashSet::new(),
            counts: HashMap::new(),
            chats: HashMap::new(),
            user_menus: HashMap::new(),
            last_webhook: HashMap::new(),
            reply_tokens: HashMap::new(),
            retry_keys: HashMap::new(),
            last_prune: Instant::now(),
            buckets: HashMap::new(),
            narrowcasts: HashMap::new(),
            sends: HashMap::new(),
            rich_menus: BTreeMap::new(),
            default_rich_menu: None,
            aliases: BTreeMap::new(),
            audiences: BTreeMap::new(),
            aggregation_units: BTreeSet::new(),
            liff_codes: HashMap::new(),
            consumption: 0,
            counters: Counters::default(),
            faults: config.faults.clone(),
            rng: config.seed ^ 0x2545_F491_4F6C_DD1D,
            rate_limits: config.rate_limits,
            webhook_url: config.webhook_url.clone(),
        }
    }

    // --- users ---------------------------------------------------------------------------

    pub(crate) fn add_user(&mut self, user_id: &str, name: &str, picture: Option<&str>) {
        if let Some(u) = self.users.get_mut(user_id) {
            u.display_name = name.to_owned();
            u.picture_url = picture.map(str::to_owned);
            return;
        }
        self.order.push(user_id.to_owned());
        self.users.insert(
            user_id.to_owned(),
            User {
                user_id: user_id.to_owned(),
                display_name: name.to_owned(),
                picture_url: picture.map(str::to_owned),
                status_message: None,
                language: "ja".to_owned(),
                status: UserStatus::New,
            },
        );
    }

    /// Adds `n` bulk users who are friends; returns their index range.
    pub(crate) fn add_bulk(&mut self, n: u32) -> std::ops::Range<u32> {
        let start = self.bulk.len();
        let end = start.saturating_add(n);
        let len = end as usize;
        self.bulk.status.resize(len, UserStatus::Friend.to_byte());
        self.bulk.copies.resize(len, 0);
        self.bulk.messages.resize(len, 0);
        start..end
    }

    pub(crate) fn target(&self, user_id: &str) -> Target {
        match self.bulk.index(user_id) {
            Some(i) => Target::Bulk(i),
            None => Target::Id(user_id.to_owned()),
        }
    }

    /// Known to the simulator: a named or a bulk user.
    pub(crate) fn knows(&self, user_id: &str) -> bool {
        self.users.contains_key(user_id) || self.bulk.index(user_id).is_some()
    }

    pub(crate) fn set_status(&mut self, user_id: &str, status: UserStatus) -> Option<UserStatus> {
        if let Some(u) = self.users.get_mut(user_id) {
            let was = u.status;
            u.status = status;
            return Some(was);
        }
        let i = self.bulk.index(user_id)? as usize;
        let was = UserStatus::from_byte(self.bulk.status[i]);
        self.bulk.status[i] = status.to_byte();
        Some(was)
    }

    pub(crate) fn public_user(&self, user_id: &str) -> Option<SimUser> {
        let rich_menu = self.user_menus.get(user_id).cloned();
        if let Some(u) = self.users.get(user_id) {
            return Some(SimUser {
                user_id: u.user_id.clone(),
                display_name: u.display_name.clone(),
                picture_url: u.picture_url.clone(),
                status_message: u.status_message.clone(),
                language: u.language.clone(),
                status: u.status,
                rich_menu,
            });
        }
        let i = self.bulk.index(user_id)?;
        Some(SimUser {
            user_id: user_id.to_owned(),
            display_name: Bulk::name(i),
            picture_url: None,
            status_message: None,
            language: "ja".to_owned(),
            status: UserStatus::from_byte(self.bulk.status[i as usize]),
            rich_menu,
        })
    }

    /// Every friend (named users first, in order; then bulk users).
    pub(crate) fn friends(&self) -> Targets {
        let mut t = Targets::default();
        for id in &self.order {
            if self
                .users
                .get(id)
                .is_some_and(|u| u.status == UserStatus::Friend)
            {
                t.other.push(id.clone());
            }
        }
        let friend = UserStatus::Friend.to_byte();
        t.bulk = (0..self.bulk.len())
            .filter(|i| self.bulk.status[*i as usize] == friend)
            .collect();
        t
    }

    /// One page of friend ids from position `start` (named users, then bulk users): the ids
    /// and the position to continue from, if any friend may remain.
    pub(crate) fn friends_page(&self, start: usize, limit: usize) -> (Vec<String>, Option<usize>) {
        let named = self.order.len();
        let total = named + self.bulk.len() as usize;
        let friend = UserStatus::Friend.to_byte();
        let mut out = Vec::with_capacity(limit.min(1000));
        let mut pos = start;
        while pos < total && out.len() < limit {
            if pos < named {
                let id = &self.order[pos];
                if self
                    .users
                    .get(id)
                    .is_some_and(|u| u.status == UserStatus::Friend)
                {
                    out.push(id.clone());
                }
            } else {
                let i = (pos - named) as u32;
                if self.bulk.status[i as usize] == friend {
                    out.push(self.bulk.id(i));
                }
            }
            pos += 1;
        }
        (out, (pos < total).then_some(pos))
    }

    /// Friends and blocks, for the followers insight.
    pub(crate) fn follower_counts(&self) -> (u64, u64) {
        let mut friends = 0;
        let mut blocks = 0;
        let statuses = self
            .users
            .values()
            .map(|u| u.status)
            .chain(self.bulk.status.iter().map(|b| UserStatus::from_byte(*b)));
        for s in statuses {
            match s {
                UserStatus::Friend => friends += 1,
                UserStatus::Blocked => blocks += 1,
                UserStatus::New => {}
            }
        }
        (friends, blocks)
    }

    /// Blocked users receive nothing; everyone else (friends, and ids the simulator does not
    /// know, so tests need not register every recipient) gets the messages.
    pub(crate) fn deliverable(&self, t: &Target) -> bool {
        match t {
            Target::Bulk(i) => self.bulk.status[*i as usize] != UserStatus::Blocked.to_byte(),
            Target::Id(id) => self
                .users
                .get(id)
                .is_none_or(|u| u.status != UserStatus::Blocked),
        }
    }

    /// Keeps a chat history for a bulk user from now on.
    pub(crate) fn watch(&mut self, user_id: &str) {
        if let Some(i) = self.bulk.index(user_id) {
            self.watched.insert(i);
        }
    }

    fn keeps_chat(&self, t: &Target) -> bool {
        match t {
            Target::Bulk(i) => self.watched.contains(i),
            Target::Id(_) => true,
        }
    }

    /// Counts bot messages for a recipient and appends them to its chat when it keeps one.
    pub(crate) fn deliver(&mut self, t: &Target, via: &str, request_id: &str, messages: &[Value]) {
        let n = messages.len() as u64;
        self.counters.messages_delivered += n;
        self.counters.deliveries += 1;
        let keep = self.keeps_chat(t);
        let id = match t {
            Target::Bulk(i) => {
                let i = *i as usize;
                self.bulk.copies[i] = self.bulk.copies[i].saturating_add(1);
                self.bulk.messages[i] =
                    self.bulk.messages[i].saturating_add(u16::try_from(n).unwrap_or(u16::MAX));
                if !keep {
                    return;
                }
                self.bulk.id(i as u32)
            }
            Target::Id(id) => {
                let c = self.counts.entry(id.clone()).or_default();
                c.copies += 1;
                c.messages += n;
                id.clone()
            }
        };
        let now = SystemTime::now();
        let chat = self.chats.entry(id).or_default();
        for m in messages {
            chat.push(ChatEntry {
                from_bot: true,
                via: via.to_owned(),
                request_id: Some(request_id.to_owned()),
                message: m.clone(),
                at: now,
            });
        }
    }

    /// (accepted requests that reached the user, message objects).
    pub(crate) fn received(&self, user_id: &str) -> (u64, u64) {
        if let Some(i) = self.bulk.index(user_id) {
            let i = i as usize;
            return (
                u64::from(self.bulk.copies[i]),
                u64::from(self.bulk.messages[i]),
            );
        }
        self.counts
            .get(user_id)
            .map_or((0, 0), |c| (c.copies, c.messages))
    }

    pub(crate) fn record_user_action(&mut self, user_id: &str, event: &Value) {
        if !self.keeps_chat(&self.target(user_id)) {
            return;
        }
        let via = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("event")
            .to_owned();
        self.chats
            .entry(user_id.to_owned())
            .or_default()
            .push(ChatEntry {
                from_bot: false,
                via,
                request_id: None,
                message: event.clone(),
                at: SystemTime::now(),
            });
    }

    // --- retry keys, rate limits, faults -------------------------------------------------

    /// Forgets retry keys older than `ttl`; at most once a second (the map can hold keys
    /// of a whole delivery).
    pub(crate) fn prune_retry_keys(&mut self, ttl: Duration) {
        let now = Instant::now();
        if now.duration_since(self.last_prune) < Duration::from_secs(1) {
            return;
        }
        self.last_prune = now;
        self.retry_keys
            .retain(|_, r| now.duration_since(r.at) < ttl);
    }

    /// A token bucket per endpoint holding `max` requests, refilled evenly over `per`; false
    /// when the bucket is empty. The client's limiter works the same way, so a client pacing
    /// at LINE's rate is not refused: a request may arrive up to [`RATE_JITTER`] early (network
    /// jitter between the client taking its token and the request arriving), which changes
    /// the burst by a few requests and the sustained rate not at all.
    pub(crate) fn take_rate(&mut self, endpoint: &str) -> bool {
        let RateLimit { max, per } = self.rate_limits.for_endpoint(endpoint);
        if max == 0 {
            return false;
        }
        let capacity = f64::from(max);
        let rate = capacity / per.as_secs_f64().max(f64::MIN_POSITIVE);
        let now = Instant::now();
        let b = self.buckets.entry(endpoint.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(capacity);
        b.at = now;
        if b.tokens + rate * RATE_JITTER.as_secs_f64() >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub(crate) fn reset_rate_limits(&mut self) {
        self.buckets.clear();
    }

    /// A deterministic uniform number in [0, 1) (xorshift64* from the configured seed).
    pub(crate) fn random(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides this request's fault.
    pub(crate) fn take_fault(&mut self, endpoint: &str) -> Fault {
        fn take(map: &mut HashMap<String, u32>, endpoint: &str) -> bool {
            for key in [endpoint, "*"] {
                if let Some(n) = map.get_mut(key)
                    && *n > 0
                {
                    *n -= 1;
                    return true;
                }
            }
            false
        }
        if take(&mut self.faults.fail_next, endpoint) {
            return Fault::FailBefore;
        }
        if take(&mut self.faults.timeout_next, endpoint) {
            return Fault::Hold;
        }
        let f = &self.faults;
        let in_scope =
            f.ratio_endpoints.is_empty() || f.ratio_endpoints.iter().any(|e| e == endpoint);
        let (before, after, hold) = (f.fail_ratio, f.fail_after_ratio, f.timeout_ratio);
        if !in_scope || before + after + hold <= 0.0 {
            return Fault::None;
        }
        let r = self.random();
        if r < before {
            Fault::FailBefore
        } else if r < before + after {
            Fault::FailAfter
        } else if r < before + after + hold {
            Fault::Hold
        } else {
            Fault::None
        }
    }

    /// The rich menu a user sees: the per-user link, else the default.
    pub(crate) fn menu_for(&self, user_id: &str) -> Option<String> {
        self.user_menus
            .get(user_id)
            .cloned()
            .or_else(|| self.default_rich_menu.clone())
            .filter(|id| self.rich_menus.contains_key(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_ids_round_trip() {
        assert_eq!(MIX.wrapping_mul(MIX_INV), 1);
        let mut s = State::new(&SimConfig::default());
        let r = s.add_bulk(100_000);
        assert_eq!(r, 0..100_000);
        for i in [0, 1, 2, 99_999, 54_321] {
            let id = s.bulk.id(i);
            assert!(util::is_line_id(&id), "{id}");
            assert_eq!(s.bulk.index(&id), Some(i));
        }
        assert_ne!(s.bulk.id(0)[25..], s.bulk.id(1)[25..]);
        // Outside the range, or another prefix: not a bulk user.
        let past = {
            let x = 100_000u32.wrapping_mul(MIX) ^ s.bulk.key;
            format!("{}{x:08x}", s.bulk.prefix)
        };
        assert_eq!(s.bulk.index(&past), None);
        assert_eq!(s.bulk.index("U0123456789abcdef0123456789abcdef"), None);
        let (page, next) = s.friends_page(0, 1000);
        assert_eq!(page.len(), 1000);
        assert_eq!(next, Some(1000));
        s.set_status(&page[1], UserStatus::Blocked);
        let (page2, _) = s.friends_page(0, 3);
        assert_eq!(
            page2,
            vec![page[0].clone(), page[2].clone(), page[3].clone()]
        );
        assert_eq!(s.follower_counts(), (99_999, 1));
    }

    #[test]
    fn token_bucket_and_seeded_faults() {
        let mut s = State::new(&SimConfig::default());
        s.rate_limits.push_reply = RateLimit::per_hour(2);
        let e = "POST /v2/bot/message/push";
        assert!(s.take_rate(e) && s.take_rate(e) && !s.take_rate(e));
        s.faults.fail_after_ratio = 0.5;
        s.faults.ratio_endpoints = vec!["POST /v2/bot/message/multicast".into()];
        assert_eq!(s.take_fault(e), Fault::None);
        let m = "POST /v2/bot/message/multicast";
        let n = (0..1000)
            .filter(|_| s.take_fault(m) == Fault::FailAfter)
            .count();
        assert!((400..600).contains(&n), "{n}");
    }
}
