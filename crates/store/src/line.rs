//! LINE platform storage (issue 5; M03, M12, M20, M22, M23): the two channels'
//! settings, webhook events written durably by the webhook and processed later by
//! the job worker, friends (友だち) and the talk log (トークログ).
//!
//! Webhook events are deduplicated by LINE's `webhookEventId` (UNIQUE, inserted
//! with `ON CONFLICT DO NOTHING`), so a redelivery stores nothing and is processed
//! once. The worker claims events with a lease, like the mail outbox.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use hiroba_domain::datetime::JST;

use crate::audit::{like_pattern, micros};
use crate::{Db, Result, SecretBox, StoreError, Tx, on_pool, on_tx};

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

/// A channel's connection settings, with the secret and the access token in
/// clear (they are sealed with the [`SecretBox`] in the database). Debug never
/// shows the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    pub kind: Channel,
    pub channel_id: String,
    pub channel_secret: String,
    pub access_token: String,
    pub api_base: String,
    pub api_data_base: String,
    /// The LINE Login channel the LIFF app belongs to (the `aud` of its ID tokens).
    pub login_channel_id: String,
    pub liff_id: String,
}

impl ChannelSettings {
    /// A channel on LINE's real hosts with nothing else configured.
    pub fn unconfigured(kind: Channel) -> Self {
        Self {
            kind,
            channel_id: String::new(),
            channel_secret: String::new(),
            access_token: String::new(),
            api_base: LINE_API_BASE.into(),
            api_data_base: LINE_API_DATA_BASE.into(),
            login_channel_id: String::new(),
            liff_id: String::new(),
        }
    }
}

/// LINE's own hosts, the defaults of a channel.
pub const LINE_API_BASE: &str = "https://api.line.me";
pub const LINE_API_DATA_BASE: &str = "https://api-data.line.me";

impl fmt::Debug for ChannelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSettings")
            .field("kind", &self.kind)
            .field("channel_id", &self.channel_id)
            .field("channel_secret", &"<redacted>")
            .field("access_token", &"<redacted>")
            .field("api_base", &self.api_base)
            .field("api_data_base", &self.api_data_base)
            .field("login_channel_id", &self.login_channel_id)
            .field("liff_id", &self.liff_id)
            .finish()
    }
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    #[sqlx(try_from = "String")]
    kind: Channel,
    channel_id: String,
    channel_secret: String,
    access_token: String,
    api_base: String,
    api_data_base: String,
    login_channel_id: String,
    liff_id: String,
    updated_at: DateTime<Utc>,
}

/// Creates or replaces a channel's settings; the secret and the token are
/// sealed before they reach the database.
pub async fn save_channel(
    tx: &mut Tx,
    secrets: &SecretBox,
    settings: &ChannelSettings,
) -> Result<()> {
    let secret = secrets.seal(&settings.channel_secret)?;
    let token = secrets.seal(&settings.access_token)?;
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO line_channels \
         (kind, channel_id, channel_secret, access_token, api_base, api_data_base, \
          login_channel_id, liff_id, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (kind) DO UPDATE SET channel_id = EXCLUDED.channel_id, \
         channel_secret = EXCLUDED.channel_secret, access_token = EXCLUDED.access_token, \
         api_base = EXCLUDED.api_base, api_data_base = EXCLUDED.api_data_base, \
         login_channel_id = EXCLUDED.login_channel_id, liff_id = EXCLUDED.liff_id, \
         updated_at = EXCLUDED.updated_at"
    )
    .bind(settings.kind.as_str())
    .bind(&settings.channel_id)
    .bind(&secret)
    .bind(&token)
    .bind(&settings.api_base)
    .bind(&settings.api_data_base)
    .bind(&settings.login_channel_id)
    .bind(&settings.liff_id)
    .bind(micros(Utc::now()))
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

async fn channel_row(db: &Db, kind: Channel) -> Result<Option<ChannelRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT kind, channel_id, channel_secret, access_token, api_base, api_data_base, \
         login_channel_id, liff_id, updated_at FROM line_channels WHERE kind = $1"
    )
    .bind(kind.as_str())
    .fetch_optional(pool)
    .await)?)
}

/// A channel's settings, `None` when it was never configured.
pub async fn load_channel(
    db: &Db,
    secrets: &SecretBox,
    kind: Channel,
) -> Result<Option<ChannelSettings>> {
    let Some(row) = channel_row(db, kind).await? else {
        return Ok(None);
    };
    Ok(Some(ChannelSettings {
        kind: row.kind,
        channel_id: row.channel_id,
        channel_secret: secrets.open(&row.channel_secret)?,
        access_token: secrets.open(&row.access_token)?,
        api_base: row.api_base,
        api_data_base: row.api_data_base,
        login_channel_id: row.login_channel_id,
        liff_id: row.liff_id,
    }))
}

/// What the admin may see of a channel: never the secret or the token, only
/// whether they are set (they are not shown again after entry).
#[derive(Debug, Clone)]
pub struct ChannelOverview {
    pub kind: Channel,
    pub channel_id: String,
    pub has_secret: bool,
    pub has_token: bool,
    pub api_base: String,
    pub api_data_base: String,
    pub login_channel_id: String,
    pub liff_id: String,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn channel_overview(db: &Db, kind: Channel) -> Result<ChannelOverview> {
    Ok(match channel_row(db, kind).await? {
        Some(row) => ChannelOverview {
            kind,
            channel_id: row.channel_id,
            has_secret: !row.channel_secret.is_empty(),
            has_token: !row.access_token.is_empty(),
            api_base: row.api_base,
            api_data_base: row.api_data_base,
            login_channel_id: row.login_channel_id,
            liff_id: row.liff_id,
            updated_at: Some(row.updated_at),
        },
        None => {
            let blank = ChannelSettings::unconfigured(kind);
            ChannelOverview {
                kind,
                channel_id: String::new(),
                has_secret: false,
                has_token: false,
                api_base: blank.api_base,
                api_data_base: blank.api_data_base,
                login_channel_id: String::new(),
                liff_id: String::new(),
                updated_at: None,
            }
        }
    })
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
/// Rows go in multi-row statements: a burst of webhooks costs a few statements,
/// not one per event.
pub async fn insert_events<E: std::borrow::Borrow<NewEvent>>(
    tx: &mut Tx,
    channel: Channel,
    events: &[E],
) -> Result<u64> {
    const ROWS: usize = 100;
    let now = micros(Utc::now());
    let mut inserted = 0;
    for chunk in events.chunks(ROWS) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = i * 5;
                format!(
                    "($1, ${}, ${}, ${}, ${}, ${})",
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO line_webhook_events \
             (channel, webhook_event_id, event_type, user_id, raw, received_at) \
             VALUES {} ON CONFLICT (webhook_event_id) DO NOTHING",
            values.join(", ")
        );
        inserted += on_tx!(&mut *tx, conn => {
            let mut query = sqlx::query(&sql).bind(channel.as_str());
            for event in chunk {
                let event = event.borrow();
                query = query
                    .bind(&event.webhook_event_id)
                    .bind(&event.event_type)
                    .bind(&event.user_id)
                    .bind(&event.raw)
                    .bind(now);
            }
            query.execute(conn).await.map(|r| r.rows_affected())
        })?;
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

/// Claims up to `limit` pending events, oldest first, for `lease` (counting
/// an attempt each), in a transaction of its own. Safe with several workers:
/// the outer condition is checked again on each row as it is updated, so a
/// row another worker just claimed is skipped.
pub async fn claim_events(
    db: &Db,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    let mut tx = db.begin().await?;
    let claimed = claim_events_in(&mut tx, now, lease, limit).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// [`claim_events`] inside the caller's transaction, so the events can be
/// applied and marked processed in the same commit (the claim is undone with
/// a rollback).
pub async fn claim_events_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<StoredEvent>> {
    let sql = format!(
        "UPDATE line_webhook_events SET locked_until = $3, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM line_webhook_events WHERE {PENDING} ORDER BY id LIMIT $4) \
         AND {PENDING} RETURNING {EVENT_COLUMNS}"
    );
    let mut claimed: Vec<StoredEvent> = on_tx!(tx, conn => sqlx::query_as(&sql)
        .bind(micros(now))
        .bind(MAX_EVENT_ATTEMPTS)
        .bind(micros(now + lease))
        .bind(limit)
        .fetch_all(conn)
        .await)?;
    claimed.sort_by_key(|e| e.id);
    Ok(claimed)
}

/// How far the event worker is behind: for the operator (`hiroba line events`)
/// and the webhook benchmark, which checks that processing keeps up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventBacklog {
    pub received: i64,
    pub processed: i64,
    /// Not processed yet, including events leased to a worker right now.
    pub pending: i64,
    /// Left unprocessed after [`MAX_EVENT_ATTEMPTS`] failed attempts.
    pub given_up: i64,
}

pub async fn event_backlog(db: &Db) -> Result<EventBacklog> {
    let (received, processed, pending, given_up): (i64, i64, i64, i64) = on_pool!(db, pool => sqlx::query_as(
            "SELECT COUNT(*), COUNT(processed_at), \
             COALESCE(SUM(CASE WHEN processed_at IS NULL AND attempts < $1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN processed_at IS NULL AND attempts >= $1 THEN 1 ELSE 0 END), 0) \
             FROM line_webhook_events"
        )
        .bind(MAX_EVENT_ATTEMPTS)
        .fetch_one(pool)
        .await)?;
    Ok(EventBacklog {
        received,
        processed,
        pending,
        given_up,
    })
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

/// Marks claimed events processed together (inside the transaction that
/// applied them).
pub async fn mark_processed_many(tx: &mut Tx, ids: &[i64], now: DateTime<Utc>) -> Result<()> {
    for chunk in ids.chunks(500) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE line_webhook_events SET processed_at = $1, locked_until = NULL, last_error = '' \
             WHERE id IN ({})",
            list.join(", ")
        );
        on_tx!(&mut *tx, conn => {
            let mut q = sqlx::query(&sql).bind(micros(now));
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(conn).await.map(|r| r.rows_affected())
        })?;
    }
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
/// stored ones. Returns the friend's id. Only a real change of state (new or
/// unblocked) counts in the day's follows: each step is a conditional write, so
/// two workers applying events of one user can never count a follow twice.
pub async fn upsert_follow(
    tx: &mut Tx,
    channel: Channel,
    user_id: &str,
    display_name: &str,
    picture_url: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    const NAME: &str = "display_name = CASE WHEN $4 = '' THEN display_name ELSE $4 END, \
                        picture_url = CASE WHEN $5 = '' THEN picture_url ELSE $5 END";
    let reactivated: Option<i64> = on_tx!(&mut *tx, conn => sqlx::query_scalar(&format!(
        "UPDATE line_friends SET status = 'friend', followed_at = $3, blocked_at = NULL, {NAME} \
         WHERE channel = $1 AND user_id = $2 AND status <> 'friend' \
         AND (blocked_at IS NULL OR blocked_at <= $3) RETURNING id"
    ))
    .bind(channel.as_str())
    .bind(user_id)
    .bind(micros(at))
    .bind(display_name)
    .bind(picture_url)
    .fetch_optional(conn)
    .await)?;
    let inserted: Option<i64> = match reactivated {
        Some(_) => None,
        None => on_tx!(&mut *tx, conn => sqlx::query_scalar(
            "INSERT INTO line_friends \
             (channel, user_id, display_name, picture_url, status, followed_at, blocked_at) \
             VALUES ($1, $2, $3, $4, 'friend', $5, NULL) \
             ON CONFLICT (channel, user_id) DO NOTHING RETURNING id"
        )
        .bind(channel.as_str())
        .bind(user_id)
        .bind(display_name)
        .bind(picture_url)
        .bind(micros(at))
        .fetch_optional(conn)
        .await)?,
    };
    if let Some(id) = reactivated.or(inserted) {
        count_day(tx, channel, at, DayCount::Follow).await?;
        return Ok(id);
    }
    // Already a friend (a repeated follow): only the profile may have changed.
    let id: i64 = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "UPDATE line_friends SET \
         display_name = CASE WHEN $3 = '' THEN display_name ELSE $3 END, \
         picture_url = CASE WHEN $4 = '' THEN picture_url ELSE $4 END \
         WHERE channel = $1 AND user_id = $2 RETURNING id"
    )
    .bind(channel.as_str())
    .bind(user_id)
    .bind(display_name)
    .bind(picture_url)
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

/// An unfollow: the friend is marked blocked with the date (a user never seen
/// before is recorded as blocked). Returns the friend's id. Counted in the
/// day's blocks only when the friend was not blocked already.
pub async fn mark_blocked(
    tx: &mut Tx,
    channel: Channel,
    user_id: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    let changed: Option<i64> = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "UPDATE line_friends SET status = 'blocked', blocked_at = $3 \
         WHERE channel = $1 AND user_id = $2 AND status <> 'blocked' \
         AND (followed_at IS NULL OR followed_at <= $3) RETURNING id"
    )
    .bind(channel.as_str())
    .bind(user_id)
    .bind(micros(at))
    .fetch_optional(conn)
    .await)?;
    let inserted: Option<i64> = match changed {
        Some(_) => None,
        None => on_tx!(&mut *tx, conn => sqlx::query_scalar(
            "INSERT INTO line_friends (channel, user_id, status, blocked_at) \
             VALUES ($1, $2, 'blocked', $3) \
             ON CONFLICT (channel, user_id) DO NOTHING RETURNING id"
        )
        .bind(channel.as_str())
        .bind(user_id)
        .bind(micros(at))
        .fetch_optional(conn)
        .await)?,
    };
    if let Some(id) = changed.or(inserted) {
        count_day(tx, channel, at, DayCount::Block).await?;
        return Ok(id);
    }
    let id: i64 = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "SELECT id FROM line_friends WHERE channel = $1 AND user_id = $2"
    )
    .bind(channel.as_str())
    .bind(user_id)
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

enum DayCount {
    Follow,
    Block,
}

/// Adds one follow or block to the JST day of `at`.
async fn count_day(tx: &mut Tx, channel: Channel, at: DateTime<Utc>, what: DayCount) -> Result<()> {
    let day = at.with_timezone(&JST).date_naive();
    let (follows, blocks) = match what {
        DayCount::Follow => (1i64, 0i64),
        DayCount::Block => (0, 1),
    };
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO line_friend_days (channel, day, follows, blocks) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (channel, day) DO UPDATE SET follows = line_friend_days.follows + $3, \
         blocks = line_friend_days.blocks + $4"
    )
    .bind(channel.as_str())
    .bind(day)
    .bind(follows)
    .bind(blocks)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Registers many friends at once (followers who were friends before Hiroba:
/// LINE's followers list, or a benchmark), in the caller's transaction; ones
/// already known are left as they are. Not counted as follows of the day.
pub async fn insert_friends_bulk(
    tx: &mut Tx,
    channel: Channel,
    user_ids: &[String],
    at: DateTime<Utc>,
) -> Result<u64> {
    const ROWS: usize = 500;
    let at = micros(at);
    let mut inserted = 0;
    for chunk in user_ids.chunks(ROWS) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, 'friend', $2)", i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO line_friends (channel, user_id, status, followed_at) VALUES {} \
             ON CONFLICT (channel, user_id) DO NOTHING",
            values.join(", ")
        );
        inserted += on_tx!(&mut *tx, conn => {
            let mut q = sqlx::query(&sql).bind(channel.as_str()).bind(at);
            for user in chunk {
                q = q.bind(user);
            }
            q.execute(conn).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(inserted)
}

/// Friends of a channel, the latest follow first (small channels, tests).
pub async fn list_friends(db: &Db, channel: Channel) -> Result<Vec<Friend>> {
    search_friends(db, channel, &FriendFilter::default(), i64::MAX, 0).await
}

/// The friends list's search: part of the display name or the exact LINE user
/// id, and the status.
#[derive(Debug, Clone, Default)]
pub struct FriendFilter {
    pub name: Option<String>,
    pub status: Option<FriendStatus>,
}

const FRIEND_WHERE: &str = "WHERE channel = $1 \
     AND ($2 IS NULL OR user_id = $3 OR display_name LIKE $2 ESCAPE '\\') \
     AND ($4 IS NULL OR status = $4)";

/// A page of friends, the latest follow first.
pub async fn search_friends(
    db: &Db,
    channel: Channel,
    filter: &FriendFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<Friend>> {
    let sql = format!(
        "SELECT {FRIEND_COLUMNS} FROM line_friends {FRIEND_WHERE} \
         ORDER BY followed_at DESC, id DESC LIMIT $5 OFFSET $6"
    );
    let name = like_pattern(&filter.name, false);
    let user = filter.name.as_deref().map(str::trim).unwrap_or_default();
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(channel.as_str())
        .bind(&name)
        .bind(user)
        .bind(filter.status.map(FriendStatus::as_str))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)?)
}

pub async fn count_friends(db: &Db, channel: Channel, filter: &FriendFilter) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) FROM line_friends {FRIEND_WHERE}");
    let name = like_pattern(&filter.name, false);
    let user = filter.name.as_deref().map(str::trim).unwrap_or_default();
    Ok(on_pool!(db, pool => sqlx::query_scalar(&sql)
        .bind(channel.as_str())
        .bind(&name)
        .bind(user)
        .bind(filter.status.map(FriendStatus::as_str))
        .fetch_one(pool)
        .await)?)
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

/// Appends several talk-log lines in order, a hundred to a statement (the
/// event worker applies a batch of webhook events with one round trip).
pub async fn append_talks(tx: &mut Tx, talks: &[NewTalk<'_>]) -> Result<()> {
    const ROWS: usize = 100;
    for chunk in talks.chunks(ROWS) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = i * 7;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO line_talk_log (channel, user_id, direction, kind, text, raw, at) VALUES {}",
            values.join(", ")
        );
        on_tx!(&mut *tx, conn => {
            let mut q = sqlx::query(&sql);
            for t in chunk {
                q = q
                    .bind(t.channel.as_str())
                    .bind(t.user_id)
                    .bind(t.direction.as_str())
                    .bind(t.kind)
                    .bind(t.text)
                    .bind(t.raw)
                    .bind(micros(t.at));
            }
            q.execute(conn).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
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

/// Longest range [`daily_friend_counts`] answers.
pub const MAX_DAILY_RANGE_DAYS: i64 = 400;

/// Daily counts from `from` to `to` (inclusive, JST days) from the kept day
/// counts. The total at the end of a day is today's number of friends minus the
/// follows after that day plus the blocks after it, so friends who followed
/// before Hiroba was installed are counted too.
pub async fn daily_friend_counts(
    db: &Db,
    channel: Channel,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DailyFriends>> {
    let to = to.min(from + Duration::days(MAX_DAILY_RANGE_DAYS - 1));
    let current: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM line_friends WHERE channel = $1 AND status = 'friend'"
    )
    .bind(channel.as_str())
    .fetch_one(pool)
    .await)?;
    let rows: Vec<(NaiveDate, i64, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT day, follows, blocks FROM line_friend_days \
         WHERE channel = $1 AND day >= $2 ORDER BY day DESC"
    )
    .bind(channel.as_str())
    .bind(from)
    .fetch_all(pool)
    .await)?;
    // Walk back from today: `total` is the number of friends at the end of `day`.
    let mut out = Vec::new();
    let mut total = current;
    let mut rows = rows.into_iter().peekable();
    let mut day = to;
    while let Some((_, follows, blocks)) = rows.next_if(|(d, _, _)| *d > to) {
        total += blocks - follows;
    }
    while day >= from {
        let (new_friends, blocks) = match rows.next_if(|(d, _, _)| *d == day) {
            Some((_, f, b)) => (f, b),
            None => (0, 0),
        };
        out.push(DailyFriends {
            date: day,
            new_friends,
            blocks,
            total,
        });
        total += blocks - new_friends;
        match day.pred_opt() {
            Some(prev) => day = prev,
            None => break,
        }
    }
    out.reverse();
    Ok(out)
}

/// Talk-log search (M22): period, channel, friend (part of the display name or
/// the exact LINE user id) and words in the summary.
#[derive(Debug, Clone, Default)]
pub struct TalkFilter {
    pub channel: Option<Channel>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub friend: Option<String>,
    pub text: Option<String>,
}

/// A talk-log entry with the friend it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TalkRow {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub user_id: String,
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    pub kind: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub friend_id: Option<i64>,
    pub display_name: Option<String>,
}

const TALK_WHERE: &str = "WHERE ($1 IS NULL OR t.channel = $1) AND ($2 IS NULL OR t.at >= $2) \
     AND ($3 IS NULL OR t.at < $3) \
     AND ($4 IS NULL OR t.user_id = $5 OR f.display_name LIKE $4 ESCAPE '\\') \
     AND ($6 IS NULL OR t.text LIKE $6 ESCAPE '\\')";

fn talk_binds(
    filter: &TalkFilter,
) -> (Option<&'static str>, Option<String>, String, Option<String>) {
    let friend = like_pattern(&filter.friend, false);
    let user_id = filter
        .friend
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let text = like_pattern(&filter.text, false);
    (filter.channel.map(Channel::as_str), friend, user_id, text)
}

/// Newest first.
pub async fn search_talk(
    db: &Db,
    filter: &TalkFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<TalkRow>> {
    let sql = format!(
        "SELECT t.id, t.channel, t.user_id, t.direction, t.kind, t.text, t.at, \
         f.id AS friend_id, f.display_name FROM line_talk_log t \
         LEFT JOIN line_friends f ON f.channel = t.channel AND f.user_id = t.user_id \
         {TALK_WHERE} ORDER BY t.at DESC, t.id DESC LIMIT $7 OFFSET $8"
    );
    let (channel, friend, user_id, text) = talk_binds(filter);
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(channel)
        .bind(filter.from)
        .bind(filter.until)
        .bind(&friend)
        .bind(&user_id)
        .bind(&text)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)?)
}

pub async fn count_talk(db: &Db, filter: &TalkFilter) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM line_talk_log t \
         LEFT JOIN line_friends f ON f.channel = t.channel AND f.user_id = t.user_id {TALK_WHERE}"
    );
    let (channel, friend, user_id, text) = talk_binds(filter);
    Ok(on_pool!(db, pool => sqlx::query_scalar(&sql)
        .bind(channel)
        .bind(filter.from)
        .bind(filter.until)
        .bind(&friend)
        .bind(&user_id)
        .bind(&text)
        .fetch_one(pool)
        .await)?)
}

/// One Messaging API call, kept with LINE's `x-line-request-id` (issue 5).
#[derive(Debug, Clone, Default)]
pub struct NewApiCall {
    pub endpoint: String,
    /// What the call was for, e.g. 「1対1チャット 友だち#12」.
    pub purpose: String,
    /// HTTP status of the last attempt; `None` when LINE never answered.
    pub status: Option<u16>,
    pub request_id: String,
    pub accepted_request_id: String,
    pub retry_key: String,
    pub attempts: u32,
    pub error: String,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiCall {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub endpoint: String,
    pub purpose: String,
    pub status: Option<i64>,
    pub request_id: String,
    pub accepted_request_id: String,
    pub retry_key: String,
    pub attempts: i64,
    pub error: String,
    pub duration_ms: i64,
    pub at: DateTime<Utc>,
}

/// Records a call in its own statement: the log must survive the caller's
/// transaction failing, because LINE has acted on the call either way.
pub async fn log_api_call(db: &Db, channel: Channel, call: &NewApiCall) -> Result<i64> {
    let error: String = call.error.chars().take(500).collect();
    let id: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "INSERT INTO line_api_calls (channel, endpoint, purpose, status, request_id, \
         accepted_request_id, retry_key, attempts, error, duration_ms, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
    )
    .bind(channel.as_str())
    .bind(&call.endpoint)
    .bind(&call.purpose)
    .bind(call.status.map(i64::from))
    .bind(&call.request_id)
    .bind(&call.accepted_request_id)
    .bind(&call.retry_key)
    .bind(i64::from(call.attempts))
    .bind(&error)
    .bind(call.duration_ms)
    .bind(micros(Utc::now()))
    .fetch_one(pool)
    .await)?;
    Ok(id)
}

/// Records a call inside the caller's transaction (the delivery worker
/// records a batch's call with the batch's outcome).
pub async fn log_api_call_in(tx: &mut Tx, channel: Channel, call: &NewApiCall) -> Result<()> {
    let error: String = call.error.chars().take(500).collect();
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO line_api_calls (channel, endpoint, purpose, status, request_id, \
         accepted_request_id, retry_key, attempts, error, duration_ms, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )
    .bind(channel.as_str())
    .bind(&call.endpoint)
    .bind(&call.purpose)
    .bind(call.status.map(i64::from))
    .bind(&call.request_id)
    .bind(&call.accepted_request_id)
    .bind(&call.retry_key)
    .bind(i64::from(call.attempts))
    .bind(&error)
    .bind(call.duration_ms)
    .bind(micros(Utc::now()))
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The latest calls, newest first (the API log page).
pub async fn recent_api_calls(
    db: &Db,
    channel: Option<Channel>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ApiCall>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, channel, endpoint, purpose, status, request_id, accepted_request_id, \
         retry_key, attempts, error, duration_ms, at FROM line_api_calls \
         WHERE ($1 IS NULL OR channel = $1) ORDER BY id DESC LIMIT $2 OFFSET $3"
    )
    .bind(channel.map(Channel::as_str))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await)?)
}

pub async fn count_api_calls(db: &Db, channel: Option<Channel>) -> Result<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM line_api_calls WHERE ($1 IS NULL OR channel = $1)"
    )
    .bind(channel.map(Channel::as_str))
    .fetch_one(pool)
    .await)?)
}
