//! LINE platform storage (issue 5; M03, M12, M20, M22, M23): the two channels'
//! settings, webhook events written durably by the webhook and processed later by
//! the job worker, friends (友だち) and the talk log (トークログ).
//!
//! Webhook events are deduplicated by LINE's `webhookEventId` (UNIQUE, inserted
//! with `ON CONFLICT DO NOTHING`), so a redelivery stores nothing and is processed
//! once. The worker claims events with a lease, like the mail outbox.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use hiroba_domain::datetime::JST;

use crate::audit::micros;
use crate::{Db, Result, StoreError, Tx, on_pool, on_tx};

/// The two Messaging API channels (M12: the test account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Production,
    Test,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Production, Channel::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Production => "production",
            Channel::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "production" => Some(Channel::Production),
            "test" => Some(Channel::Test),
            _ => None,
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Channel::Production => "本番",
            Channel::Test => "テスト",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Channel {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Channel::parse(&value).ok_or_else(|| format!("unknown LINE channel {value:?}"))
    }
}

/// A channel's connection settings. Debug never shows the secret or the token.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelSettings {
    #[sqlx(try_from = "String")]
    pub kind: Channel,
    pub channel_id: String,
    pub channel_secret: String,
    pub access_token: String,
    pub api_base: String,
    pub api_data_base: String,
}

impl fmt::Debug for ChannelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSettings")
            .field("kind", &self.kind)
            .field("channel_id", &self.channel_id)
            .field("channel_secret", &"<redacted>")
            .field("access_token", &"<redacted>")
            .field("api_base", &self.api_base)
            .field("api_data_base", &self.api_data_base)
            .finish()
    }
}

/// Creates or replaces a channel's settings.
pub async fn save_channel(tx: &mut Tx, settings: &ChannelSettings) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO line_channels \
         (kind, channel_id, channel_secret, access_token, api_base, api_data_base, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (kind) DO UPDATE SET channel_id = EXCLUDED.channel_id, \
         channel_secret = EXCLUDED.channel_secret, access_token = EXCLUDED.access_token, \
         api_base = EXCLUDED.api_base, api_data_base = EXCLUDED.api_data_base, \
         updated_at = EXCLUDED.updated_at"
    )
    .bind(settings.kind.as_str())
    .bind(&settings.channel_id)
    .bind(&settings.channel_secret)
    .bind(&settings.access_token)
    .bind(&settings.api_base)
    .bind(&settings.api_data_base)
    .bind(micros(Utc::now()))
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A channel's settings, `None` when it was never configured.
pub async fn load_channel(db: &Db, kind: Channel) -> Result<Option<ChannelSettings>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT kind, channel_id, channel_secret, access_token, api_base, api_data_base \
         FROM line_channels WHERE kind = $1"
    )
    .bind(kind.as_str())
    .fetch_optional(pool)
    .await)?)
}

/// A webhook event as received, to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub webhook_event_id: String,
    pub event_type: String,
    pub user_id: Option<String>,
    /// The event object's JSON exactly as received.
    pub raw: String,
}

/// Stores events inside the caller's transaction and returns how many were new;
/// an event whose `webhookEventId` is already stored (a redelivery) is skipped.
pub async fn insert_events(tx: &mut Tx, channel: Channel, events: &[NewEvent]) -> Result<u64> {
    let now = micros(Utc::now());
    let mut inserted = 0;
    for event in events {
        inserted += on_tx!(&mut *tx, conn => sqlx::query(
            "INSERT INTO line_webhook_events \
             (channel, webhook_event_id, event_type, user_id, raw, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_event_id) DO NOTHING"
        )
        .bind(channel.as_str())
        .bind(&event.webhook_event_id)
        .bind(&event.event_type)
        .bind(&event.user_id)
        .bind(&event.raw)
        .bind(now)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    }
    Ok(inserted)
}

/// A stored webhook event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub webhook_event_id: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub raw: String,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub last_error: String,
}

const EVENT_COLUMNS: &str = "id, channel, webhook_event_id, event_type, user_id, raw, \
                             received_at, processed_at, attempts, last_error";

/// An event is given up (left unprocessed with its error) after this many attempts.
pub const MAX_EVENT_ATTEMPTS: i64 = 5;

const PENDING: &str = "(processed_at IS NULL AND attempts < $2 \
                       AND (locked_until IS NULL OR locked_until < $1))";

/// Claims the oldest pending event for `lease` (counting an attempt); `None` when
/// nothing is pending. Safe with several workers: a claimed event is not handed out
/// again until its lease ends.
pub async fn claim_event(
    db: &Db,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<StoredEvent>> {
    let now = micros(now);
    let until = micros(now + lease);
    let sql = format!(
        "UPDATE line_webhook_events SET locked_until = $3, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM line_webhook_events WHERE {PENDING} ORDER BY id LIMIT 1) \
         AND {PENDING} RETURNING {EVENT_COLUMNS}"
    );
    for _ in 0..5 {
        let claimed: Option<StoredEvent> = on_pool!(db, pool => sqlx::query_as(&sql)
            .bind(now)
            .bind(MAX_EVENT_ATTEMPTS)
            .bind(until)
            .fetch_optional(pool)
            .await)?;
        if claimed.is_some() {
            return Ok(claimed);
        }
        let pending: i64 = on_pool!(db, pool => sqlx::query_scalar(
            &format!("SELECT COUNT(*) FROM line_webhook_events WHERE {PENDING}")
        )
        .bind(now)
        .bind(MAX_EVENT_ATTEMPTS)
        .fetch_one(pool)
        .await)?;
        if pending == 0 {
            break;
        }
    }
    Ok(None)
}

/// Marks a claimed event processed (inside the transaction that applied it).
pub async fn mark_processed(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE line_webhook_events SET processed_at = $2, locked_until = NULL, last_error = '' \
         WHERE id = $1"
    )
    .bind(id)
    .bind(micros(now))
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a failed attempt; the event is retried after `retry_after`.
pub async fn mark_event_failed(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
    retry_after: Duration,
    error: &str,
) -> Result<()> {
    let error: String = error.chars().take(500).collect();
    on_pool!(db, pool => sqlx::query(
        "UPDATE line_webhook_events SET locked_until = $2, last_error = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(micros(now + retry_after))
    .bind(&error)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every stored event of a channel, oldest first (tests, diagnostics).
pub async fn events(db: &Db, channel: Channel) -> Result<Vec<StoredEvent>> {
    let sql =
        format!("SELECT {EVENT_COLUMNS} FROM line_webhook_events WHERE channel = $1 ORDER BY id");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(channel.as_str()).fetch_all(pool).await)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FriendStatus {
    Friend,
    Blocked,
}

impl FriendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FriendStatus::Friend => "friend",
            FriendStatus::Blocked => "blocked",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            FriendStatus::Friend => "友だち",
            FriendStatus::Blocked => "ブロック中",
        }
    }
}

impl TryFrom<String> for FriendStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "friend" => Ok(FriendStatus::Friend),
            "blocked" => Ok(FriendStatus::Blocked),
            other => Err(format!("unknown friend status {other:?}")),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Friend {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub user_id: String,
    pub display_name: String,
    pub picture_url: String,
    #[sqlx(try_from = "String")]
    pub status: FriendStatus,
    pub followed_at: Option<DateTime<Utc>>,
    pub blocked_at: Option<DateTime<Utc>>,
}

const FRIEND_COLUMNS: &str =
    "id, channel, user_id, display_name, picture_url, status, followed_at, blocked_at";

/// A follow: registers the friend or reactivates a blocked one (clearing the block
/// date). An empty `display_name`/`picture_url` (profile unavailable) keeps the
/// stored ones. Returns the friend's id.
pub async fn upsert_follow(
    tx: &mut Tx,
    channel: Channel,
    user_id: &str,
    display_name: &str,
    picture_url: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO line_friends \
         (channel, user_id, display_name, picture_url, status, followed_at, blocked_at) \
         VALUES ($1, $2, $3, $4, 'friend', $5, NULL) \
         ON CONFLICT (channel, user_id) DO UPDATE SET status = 'friend', \
         followed_at = EXCLUDED.followed_at, blocked_at = NULL, \
         display_name = CASE WHEN EXCLUDED.display_name = '' \
             THEN line_friends.display_name ELSE EXCLUDED.display_name END, \
         picture_url = CASE WHEN EXCLUDED.picture_url = '' \
             THEN line_friends.picture_url ELSE EXCLUDED.picture_url END \
         RETURNING id"
    )
    .bind(channel.as_str())
    .bind(user_id)
    .bind(display_name)
    .bind(picture_url)
    .bind(micros(at))
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

/// An unfollow: the friend is marked blocked with the date (a user never seen
/// before is recorded as blocked). Returns the friend's id.
pub async fn mark_blocked(
    tx: &mut Tx,
    channel: Channel,
    user_id: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO line_friends (channel, user_id, status, blocked_at) \
         VALUES ($1, $2, 'blocked', $3) \
         ON CONFLICT (channel, user_id) DO UPDATE SET status = 'blocked', \
         blocked_at = EXCLUDED.blocked_at RETURNING id"
    )
    .bind(channel.as_str())
    .bind(user_id)
    .bind(micros(at))
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

/// Friends of a channel, the latest follow first.
pub async fn list_friends(db: &Db, channel: Channel) -> Result<Vec<Friend>> {
    let sql = format!(
        "SELECT {FRIEND_COLUMNS} FROM line_friends WHERE channel = $1 \
         ORDER BY followed_at DESC, id DESC"
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(channel.as_str()).fetch_all(pool).await)?)
}

pub async fn find_friend(db: &Db, id: i64) -> Result<Friend> {
    let sql = format!("SELECT {FRIEND_COLUMNS} FROM line_friends WHERE id = $1");
    on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?
        .ok_or(StoreError::NotFound)
}

pub async fn friend_by_user(db: &Db, channel: Channel, user_id: &str) -> Result<Option<Friend>> {
    let sql =
        format!("SELECT {FRIEND_COLUMNS} FROM line_friends WHERE channel = $1 AND user_id = $2");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(channel.as_str())
        .bind(user_id)
        .fetch_optional(pool)
        .await)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the user (webhook events).
    In,
    /// From Hiroba (reply, push, ...).
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

impl TryFrom<String> for Direction {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            other => Err(format!("unknown direction {other:?}")),
        }
    }
}

/// A talk-log entry to append.
#[derive(Debug, Clone)]
pub struct NewTalk<'a> {
    pub channel: Channel,
    pub user_id: &'a str,
    pub direction: Direction,
    /// `text`, `location`, `sticker`, `image`, `postback`, `follow`, `unfollow`, ...
    pub kind: &'a str,
    /// A one-line summary for the chat view (「位置情報: ...」, 「スタンプ」, ...).
    pub text: &'a str,
    pub raw: &'a str,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TalkEntry {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub user_id: String,
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    pub kind: String,
    pub text: String,
    pub raw: String,
    pub at: DateTime<Utc>,
}

pub async fn append_talk(tx: &mut Tx, talk: &NewTalk<'_>) -> Result<i64> {
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO line_talk_log (channel, user_id, direction, kind, text, raw, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(talk.channel.as_str())
    .bind(talk.user_id)
    .bind(talk.direction.as_str())
    .bind(talk.kind)
    .bind(talk.text)
    .bind(talk.raw)
    .bind(micros(talk.at))
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

/// A friend's talk log, oldest first (the chat view).
pub async fn talk_log(db: &Db, channel: Channel, user_id: &str) -> Result<Vec<TalkEntry>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, channel, user_id, direction, kind, text, raw, at FROM line_talk_log \
         WHERE channel = $1 AND user_id = $2 ORDER BY at, id"
    )
    .bind(channel.as_str())
    .bind(user_id)
    .fetch_all(pool)
    .await)?)
}

/// Friend counts of one day (JST) for the statistics pages (M23).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyFriends {
    pub date: NaiveDate,
    /// Friends whose (latest) follow fell on the day.
    pub new_friends: i64,
    /// Friends whose (latest) block fell on the day.
    pub blocks: i64,
    /// Friends at the end of the day.
    pub total: i64,
}

/// Longest range [`daily_friend_counts`] answers (one query per day).
pub const MAX_DAILY_RANGE_DAYS: i64 = 400;

fn jst_midnight(date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_time(NaiveTime::MIN);
    JST.from_local_datetime(&local)
        .single()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// Daily counts from `from` to `to` (inclusive, JST days), computed from the
/// friends' `followed_at`/`blocked_at`. A refollow replaces the earlier follow
/// date, so the counts reflect each friend's latest follow and block.
pub async fn daily_friend_counts(
    db: &Db,
    channel: Channel,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DailyFriends>> {
    let days = (to - from).num_days().clamp(-1, MAX_DAILY_RANGE_DAYS - 1);
    let mut out = Vec::new();
    for offset in 0..=days {
        let date = from + Duration::days(offset);
        let start = jst_midnight(date);
        let end = jst_midnight(date + Duration::days(1));
        let (new_friends, blocks, total): (i64, i64, i64) = on_pool!(db, pool => sqlx::query_as(
            "SELECT \
             CAST(COALESCE(SUM(CASE WHEN followed_at >= $2 AND followed_at < $3 \
                  THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN blocked_at >= $2 AND blocked_at < $3 \
                  THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN followed_at < $3 \
                  AND (blocked_at IS NULL OR blocked_at >= $3 OR blocked_at < followed_at) \
                  THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM line_friends WHERE channel = $1"
        )
        .bind(channel.as_str())
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await)?;
        out.push(DailyFriends {
            date,
            new_friends,
            blocks,
            total,
        });
    }
    Ok(out)
}
