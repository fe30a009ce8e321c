//! Processes the LINE webhook events the webhook stored (issue 5; M20, M22, M23).
//! Every instance may run it: a claim is a lease (`hiroba_store::line::claim_event`).
//!
//! - follow: the friend is registered or reactivated, with the display name and
//!   picture from the profile API (an unavailable profile leaves them empty or
//!   unchanged; no retry); when a form is set as the first-follow form (and
//!   open), the greeting reply (a push when there is no reply token) links to
//!   its LIFF page (`hiroba_store::forms::form_link`);
//! - unfollow: the friend is marked blocked with the date;
//! - message and postback: a talk-log entry ('in') with a one-line summary;
//! - every other event type is kept as stored and marked processed.
//!
//! Events are applied and marked processed in the same transaction, a batch
//! at a time (see [`process_pending`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use hiroba_line::webhook::MessageContent;
use hiroba_line::{Event, EventKind};
use hiroba_store::line::{self, Channel, Direction, NewTalk, StoredEvent};
use hiroba_store::{Db, SecretBox, StoreError};

use crate::line_api;

/// How long a claimed event stays with its worker (a profile call included).
fn lease() -> chrono::Duration {
    chrono::Duration::minutes(2)
}

/// Wait before a failed event (a storage error) is tried again.
fn retry_after() -> chrono::Duration {
    chrono::Duration::seconds(30)
}

pub use crate::line_api::ChannelClients;

/// The talk-log kind and one-line summary of a message.
pub fn message_summary(content: &MessageContent) -> (&'static str, String) {
    match content {
        MessageContent::Text { text, .. } => ("text", text.clone()),
        MessageContent::Location { title, address, .. } => {
            let place = title
                .as_deref()
                .filter(|t| !t.is_empty())
                .or(address.as_deref())
                .unwrap_or_default();
            ("location", format!("位置情報: {place}"))
        }
        MessageContent::Sticker { .. } => ("sticker", "スタンプ".to_owned()),
        MessageContent::Image { .. } => ("image", "画像".to_owned()),
        MessageContent::Video { .. } => ("video", "動画".to_owned()),
        MessageContent::Audio { .. } => ("audio", "音声".to_owned()),
        MessageContent::File { file_name, .. } => ("file", format!("ファイル: {file_name}")),
        MessageContent::Other => ("message", "メッセージ".to_owned()),
    }
}

fn event_time(event: &Event, fallback: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(event.timestamp).unwrap_or(fallback)
}

/// What one event does to friends and the talk log.
#[derive(Clone)]
enum Action {
    Follow { unblocked: bool },
    Unfollow,
    Talk { kind: &'static str, text: String },
    Nothing,
}

fn action_of(event: &Event) -> Action {
    match &event.kind {
        EventKind::Follow { is_unblocked } => Action::Follow {
            unblocked: *is_unblocked,
        },
        EventKind::Unfollow => Action::Unfollow,
        EventKind::Message(content) => {
            let (kind, text) = message_summary(content);
            Action::Talk { kind, text }
        }
        EventKind::Postback(p) => Action::Talk {
            kind: "postback",
            text: format!("ポストバック: {}", p.data),
        },
        _ => Action::Nothing,
    }
}

/// An event read and, for a follow, its profile fetched: everything the
/// network gives, before any transaction is opened.
#[derive(Clone)]
struct Prepared {
    id: i64,
    channel: Channel,
    user: String,
    at: DateTime<Utc>,
    action: Action,
    profile: Option<hiroba_line::request::Profile>,
    /// The greeting sent to a new friend, for the talk log.
    greeting: Option<String>,
}

async fn prepare(
    db: &Db,
    clients: &ChannelClients,
    stored: &StoredEvent,
    now: DateTime<Utc>,
) -> Prepared {
    let event = serde_json::from_str(&stored.raw)
        .map_err(|e| e.to_string())
        .and_then(|raw| Event::from_value(raw).map_err(|e| e.to_string()));
    let channel = stored.channel;
    let event = match event {
        Ok(event) => event,
        Err(error) => {
            // The webhook parsed it before storing; nothing to do but record it.
            tracing::warn!(event_id = stored.id, %error, "stored LINE event unreadable");
            return Prepared {
                id: stored.id,
                channel,
                user: String::new(),
                at: now,
                action: Action::Nothing,
                profile: None,
                greeting: None,
            };
        }
    };
    let at = event_time(&event, now);
    let user = event.user_id().map(str::to_owned);
    let action = match user {
        Some(_) => action_of(&event),
        None => Action::Nothing,
    };
    let user = user.unwrap_or_default();
    let profile = match (&action, clients.get(channel)) {
        (Action::Follow { .. }, Some(client)) => {
            let started = std::time::Instant::now();
            let result = client.get_profile(&user).await;
            line_api::log_call(
                db,
                channel,
                "GET /v2/bot/profile/{userId}",
                "友だち追加時のプロフィール取得",
                &result,
                started,
            )
            .await;
            match result {
                Ok(res) => Some(res.data),
                Err(e) => {
                    tracing::warn!(%channel, error = %e, "LINE profile unavailable");
                    None
                }
            }
        }
        _ => None,
    };
    let greeting = match (&action, clients.get(channel)) {
        (Action::Follow { .. }, Some(client)) => {
            greet(
                db,
                clients,
                &client,
                channel,
                &user,
                event.reply_token.as_deref(),
            )
            .await
        }
        _ => None,
    };
    Prepared {
        id: stored.id,
        channel,
        user,
        at,
        action,
        profile,
        greeting,
    }
}

/// The greeting with the first-follow form's link, sent as a reply (or a
/// push without a reply token); returns its text when it was sent. Nothing
/// is sent when no open form is set, or no link can be made.
async fn greet(
    db: &Db,
    clients: &ChannelClients,
    client: &hiroba_line::Client,
    channel: Channel,
    user: &str,
    reply_token: Option<&str>,
) -> Option<String> {
    let (form_id, title) = match hiroba_store::forms::first_follow_form(db).await {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "first-follow form unreadable");
            return None;
        }
    };
    let liff_id = clients
        .settings(channel)
        .map(|s| s.liff_id.as_str())
        .unwrap_or_default();
    if liff_id.is_empty() && clients.public_url().is_empty() {
        return None;
    }
    let link = hiroba_store::forms::form_link(liff_id, clients.public_url(), form_id);
    let text = format!(
        "友だち追加ありがとうございます。\nお知らせをお届けするために、はじめに「{title}」へのご回答をお願いします。\n{link}"
    );
    let messages = [hiroba_line::Message::text(text.clone())];
    let started = std::time::Instant::now();
    let (endpoint, result) = match reply_token {
        Some(token) => (
            "POST /v2/bot/message/reply",
            client.reply(token, &messages).await,
        ),
        None => (
            "POST /v2/bot/message/push",
            client.push(user, &messages).await,
        ),
    };
    line_api::log_call(
        db,
        channel,
        endpoint,
        "友だち追加時のあいさつ（登録フォーム）",
        &result,
        started,
    )
    .await;
    match result {
        Ok(_) => Some(text),
        Err(e) => {
            tracing::warn!(%channel, error = %e, "greeting not sent");
            None
        }
    }
}

/// A talk-log line an event adds, written with the others of its batch.
struct Talk {
    channel: Channel,
    user: String,
    direction: Direction,
    kind: &'static str,
    text: String,
    raw: String,
    at: DateTime<Utc>,
}

/// Applies one prepared event's changes to the friend (follow, block) and
/// collects the talk-log lines it adds, inside the caller's transaction.
async fn apply(
    tx: &mut hiroba_store::Tx,
    p: Prepared,
    raw: &str,
    talks: &mut Vec<Talk>,
) -> Result<(), StoreError> {
    let (channel, user, at) = (p.channel, p.user, p.at);
    let (kind, text) = match p.action {
        Action::Follow { unblocked } => {
            let (name, picture) = p
                .profile
                .map(|p| (p.display_name, p.picture_url.unwrap_or_default()))
                .unwrap_or_default();
            line::upsert_follow(tx, channel, &user, &name, &picture, at).await?;
            let text = if unblocked {
                "ブロック解除"
            } else {
                "友だち追加"
            };
            ("follow", text.to_owned())
        }
        Action::Unfollow => {
            line::mark_blocked(tx, channel, &user, at).await?;
            ("unfollow", "ブロック".to_owned())
        }
        Action::Talk { kind, text } => (kind, text),
        Action::Nothing => ("", String::new()),
    };
    if let Some(greeting) = p.greeting {
        talks.push(Talk {
            channel,
            user: user.clone(),
            direction: Direction::Out,
            kind: "text",
            text: greeting,
            raw: String::new(),
            at,
        });
    }
    if !kind.is_empty() {
        talks.push(Talk {
            channel,
            user,
            direction: Direction::In,
            kind,
            text,
            raw: raw.to_owned(),
            at,
        });
    }
    Ok(())
}

/// Writes the collected talk-log lines and marks the events processed: two
/// statements for a whole batch.
async fn finish(
    tx: &mut hiroba_store::Tx,
    talks: &[Talk],
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let lines: Vec<NewTalk<'_>> = talks
        .iter()
        .map(|t| NewTalk {
            channel: t.channel,
            user_id: &t.user,
            direction: t.direction,
            kind: t.kind,
            text: &t.text,
            raw: &t.raw,
            at: t.at,
        })
        .collect();
    line::append_talks(tx, &lines).await?;
    line::mark_processed_many(tx, ids, now).await
}

/// Applies prepared events (in the order of `events`, which they were made
/// from) and marks them processed, inside the caller's transaction.
async fn apply_all(
    tx: &mut hiroba_store::Tx,
    prepared: Vec<Prepared>,
    events: &[StoredEvent],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut talks = Vec::new();
    for (p, stored) in prepared.into_iter().zip(events) {
        apply(tx, p, &stored.raw, &mut talks).await?;
    }
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    finish(tx, &talks, &ids, now).await
}

/// Applies one prepared event and marks it processed, inside the caller's
/// transaction.
async fn write(
    tx: &mut hiroba_store::Tx,
    p: Prepared,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = p.id;
    let mut talks = Vec::new();
    apply(tx, p, raw, &mut talks).await?;
    finish(tx, &talks, &[id], now).await
}

/// Events claimed and applied together: one transaction for up to this many
/// (a burst of webhooks must not cost one commit per event on SQLite), few
/// enough that the webhook's own commits never wait long for the writer
/// (measured against 25, 50, 250 and 500 in docs/PERFORMANCE.md).
pub const BATCH: i64 = 100;

/// Processes every pending event, oldest first, in batches, and returns how
/// many were done.
///
/// Most events need no call to LINE (messages, postbacks, blocks): a batch is
/// claimed, applied and marked processed in one transaction, one commit. From
/// the first follow on (its profile and greeting go over the network, which
/// no transaction may wait for), the rest of the batch stays claimed under its
/// lease and is applied after the calls, in order. If the one-transaction path
/// fails, the batch is claimed again and applied event by event, so a single
/// bad event only fails itself (it is recorded and retried later). Only an
/// error claiming events ends the run.
pub async fn process_pending(
    db: &Db,
    clients: &ChannelClients,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut done = 0;
    loop {
        match apply_local(db, clients, now).await {
            Ok(None) => break,
            Ok(Some((applied, rest))) => {
                done += applied;
                done += process_claimed(db, clients, rest, now).await?;
            }
            Err(e) => {
                tracing::debug!(error = %e, "LINE event batch not applied together; one by one");
                let claimed = line::claim_events(db, now, lease(), BATCH).await?;
                if claimed.is_empty() {
                    break;
                }
                done += process_claimed(db, clients, claimed, now).await?;
            }
        }
    }
    Ok(done)
}

/// Claims a batch and, in the same transaction, applies its events up to the
/// first follow. Returns how many were applied and the claimed rest; `None`
/// when nothing is pending.
async fn apply_local(
    db: &Db,
    clients: &ChannelClients,
    now: DateTime<Utc>,
) -> Result<Option<(usize, Vec<StoredEvent>)>, StoreError> {
    let mut tx = db.begin().await?;
    let mut claimed = line::claim_events_in(&mut tx, now, lease(), BATCH).await?;
    if claimed.is_empty() {
        return Ok(None);
    }
    let split = claimed
        .iter()
        .position(|e| e.event_type == "follow")
        .unwrap_or(claimed.len());
    let rest = claimed.split_off(split);
    let mut prepared = Vec::with_capacity(claimed.len());
    for stored in &claimed {
        // No network here: only a follow's preparation calls LINE.
        prepared.push(prepare(db, clients, stored, now).await);
    }
    apply_all(&mut tx, prepared, &claimed, now).await?;
    tx.commit().await?;
    Ok(Some((claimed.len(), rest)))
}

/// Applies events already claimed: their network calls first, then one
/// transaction for all; if that fails, one by one.
async fn process_claimed(
    db: &Db,
    clients: &ChannelClients,
    claimed: Vec<StoredEvent>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if claimed.is_empty() {
        return Ok(0);
    }
    let mut prepared = Vec::with_capacity(claimed.len());
    for stored in &claimed {
        prepared.push(prepare(db, clients, stored, now).await);
    }
    let together = async {
        let mut tx = db.begin().await?;
        apply_all(&mut tx, prepared.clone(), &claimed, now).await?;
        tx.commit().await
    }
    .await;
    if together.is_ok() {
        return Ok(claimed.len());
    }
    let mut done = 0;
    for (p, stored) in prepared.into_iter().zip(&claimed) {
        let alone = async {
            let mut tx = db.begin().await?;
            write(&mut tx, p, &stored.raw, now).await?;
            tx.commit().await
        }
        .await;
        match alone {
            Ok(()) => done += 1,
            Err(e) => {
                tracing::warn!(event_id = stored.id, error = %e, "LINE event not processed; will retry");
                line::mark_event_failed(db, stored.id, now, retry_after(), &e.to_string()).await?;
            }
        }
    }
    Ok(done)
}

/// Processes pending events now and then every `every` until the task is aborted.
pub fn spawn(db: Db, secrets: SecretBox, every: Duration) -> tokio::task::JoinHandle<()> {
    spawn_with(db, secrets, String::new(), every)
}

/// [`spawn`], with the public address for links to LIFF pages.
pub fn spawn_with(
    db: Db,
    secrets: SecretBox,
    public_url: String,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut clients = ChannelClients::new();
        clients.set_public_url(&public_url);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = clients.refresh(&db, &secrets).await {
                tracing::error!(error = %e, "LINE channel settings unreadable");
                continue;
            }
            match process_pending(&db, &clients, Utc::now()).await {
                Ok(0) => {}
                Ok(done) => tracing::debug!(done, "LINE events processed"),
                Err(e) => tracing::error!(error = %e, "LINE event run failed; will retry"),
            }
        }
    })
}
