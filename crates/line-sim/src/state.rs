//! The simulator's mutable state, behind one mutex (no await while it is held).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Instant, SystemTime};

use serde_json::Value;

use crate::{ChatEntry, Counters, Faults, RateLimit, RateLimits, SimConfig, SimUser};

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
}

pub(crate) struct User {
    pub(crate) seq: u64,
    pub(crate) user_id: String,
    pub(crate) display_name: String,
    pub(crate) picture_url: Option<String>,
    pub(crate) status_message: Option<String>,
    pub(crate) language: String,
    pub(crate) status: UserStatus,
    pub(crate) rich_menu: Option<String>,
    /// The last webhook's result, shown on the page.
    pub(crate) last_webhook: Option<String>,
}

impl User {
    pub(crate) fn public(&self) -> SimUser {
        SimUser {
            user_id: self.user_id.clone(),
            display_name: self.display_name.clone(),
            picture_url: self.picture_url.clone(),
            status_message: self.status_message.clone(),
            language: self.language.clone(),
            status: self.status,
            rich_menu: self.rich_menu.clone(),
        }
    }
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

pub(crate) struct RichMenu {
    pub(crate) body: Value,
    pub(crate) image: Option<(String, Vec<u8>)>,
}

pub(crate) struct Audience {
    pub(crate) user_ids: Vec<String>,
}

pub(crate) struct State {
    pub(crate) seq: u64,
    pub(crate) users: HashMap<String, User>,
    pub(crate) chats: HashMap<String, Vec<ChatEntry>>,
    pub(crate) reply_tokens: HashMap<String, (String, Instant)>,
    pub(crate) retry_keys: HashMap<String, RetryRecord>,
    pub(crate) windows: HashMap<String, (Instant, u32)>,
    pub(crate) narrowcasts: HashMap<String, Narrowcast>,
    pub(crate) request_deliveries: HashMap<String, u64>,
    pub(crate) rich_menus: BTreeMap<String, RichMenu>,
    pub(crate) default_rich_menu: Option<String>,
    pub(crate) aliases: BTreeMap<String, String>,
    pub(crate) audiences: BTreeMap<i64, Audience>,
    pub(crate) aggregation_units: BTreeSet<String>,
    pub(crate) consumption: u64,
    pub(crate) counters: Counters,
    pub(crate) faults: Faults,
    pub(crate) rate_limits: RateLimits,
    pub(crate) webhook_url: Option<String>,
}

impl State {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self {
            seq: 0,
            users: HashMap::new(),
            chats: HashMap::new(),
            reply_tokens: HashMap::new(),
            retry_keys: HashMap::new(),
            windows: HashMap::new(),
            narrowcasts: HashMap::new(),
            request_deliveries: HashMap::new(),
            rich_menus: BTreeMap::new(),
            default_rich_menu: None,
            aliases: BTreeMap::new(),
            audiences: BTreeMap::new(),
            aggregation_units: BTreeSet::new(),
            consumption: 0,
            counters: Counters::default(),
            faults: config.faults.clone(),
            rate_limits: config.rate_limits,
            webhook_url: config.webhook_url.clone(),
        }
    }

    pub(crate) fn add_user(&mut self, user_id: &str, name: &str, picture: Option<&str>) {
        if let Some(u) = self.users.get_mut(user_id) {
            u.display_name = name.to_owned();
            u.picture_url = picture.map(str::to_owned);
            return;
        }
        self.seq += 1;
        self.users.insert(
            user_id.to_owned(),
            User {
                seq: self.seq,
                user_id: user_id.to_owned(),
                display_name: name.to_owned(),
                picture_url: picture.map(str::to_owned),
                status_message: None,
                language: "ja".to_owned(),
                status: UserStatus::New,
                rich_menu: None,
                last_webhook: None,
            },
        );
    }

    pub(crate) fn users_in_order(&self) -> Vec<&User> {
        let mut v: Vec<&User> = self.users.values().collect();
        v.sort_by_key(|u| u.seq);
        v
    }

    pub(crate) fn friends(&self) -> Vec<String> {
        self.users_in_order()
            .into_iter()
            .filter(|u| u.status == UserStatus::Friend)
            .map(|u| u.user_id.clone())
            .collect()
    }

    /// Blocked users receive nothing; everyone else (friends, and ids the simulator does not
    /// know, so tests need not register every recipient) gets the messages.
    pub(crate) fn deliverable(&self, user_id: &str) -> bool {
        self.users
            .get(user_id)
            .is_none_or(|u| u.status != UserStatus::Blocked)
    }

    /// Appends bot messages to a user's chat and counts them.
    pub(crate) fn deliver(
        &mut self,
        user_id: &str,
        via: &str,
        request_id: &str,
        messages: &[Value],
    ) {
        let now = SystemTime::now();
        let chat = self.chats.entry(user_id.to_owned()).or_default();
        for m in messages {
            chat.push(ChatEntry {
                from_bot: true,
                via: via.to_owned(),
                request_id: Some(request_id.to_owned()),
                message: m.clone(),
                at: now,
            });
        }
        *self
            .counters
            .delivered_messages
            .entry(user_id.to_owned())
            .or_default() += messages.len() as u64;
        *self
            .counters
            .deliveries
            .entry(user_id.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn record_user_action(&mut self, user_id: &str, event: &Value) {
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

    /// Fixed-window rate limit per endpoint; false when the budget is spent.
    pub(crate) fn take_rate(&mut self, endpoint: &str) -> bool {
        let RateLimit { max, per } = self.rate_limits.for_endpoint(endpoint);
        let now = Instant::now();
        let w = self.windows.entry(endpoint.to_owned()).or_insert((now, 0));
        if now.duration_since(w.0) >= per {
            *w = (now, 0);
        }
        if w.1 >= max {
            return false;
        }
        w.1 += 1;
        true
    }

    /// Decides this request's faults: (fail with 500, hold the response).
    pub(crate) fn take_faults(&mut self, endpoint: &str, random: f64) -> (bool, bool) {
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
        let fail = take(&mut self.faults.fail_next, endpoint)
            || (self.faults.fail_ratio > 0.0 && random < self.faults.fail_ratio);
        let hold = !fail && take(&mut self.faults.timeout_next, endpoint);
        (fail, hold)
    }

    /// The rich menu a user sees: the per-user link, else the default.
    pub(crate) fn menu_for(&self, user_id: &str) -> Option<String> {
        self.users
            .get(user_id)
            .and_then(|u| u.rich_menu.clone())
            .or_else(|| self.default_rich_menu.clone())
            .filter(|id| self.rich_menus.contains_key(id))
    }
}
