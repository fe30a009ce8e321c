//! LINE friends (友だち, M23) with their daily follows and blocks, and each
//! friend's talk log (トークログ, M22) as a chat-like view from which staff with
//! the send permission can answer (1対1チャット). The friends come from the
//! webhook worker.

use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::datetime::format_datetime;
use hiroba_domain::permission::Permission;
use hiroba_domain::validation::FieldErrors;
use hiroba_line::Message;
use hiroba_store::line::{self, Channel, Direction, FriendFilter, FriendStatus, NewTalk};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<i64>,
}

pub struct FriendRow {
    id: i64,
    name: String,
    user_id: String,
    status: &'static str,
    blocked: bool,
    followed: String,
    blocked_at: String,
}

pub struct DayRow {
    date: String,
    new_friends: i64,
    blocks: i64,
    total: i64,
}

#[derive(Template)]
#[template(path = "admin/line_friends.html")]
struct ListPage {
    layout: Layout,
    channel: &'static str,
    channels: Vec<(&'static str, &'static str)>,
    q: String,
    status: String,
    friends: Vec<FriendRow>,
    friend_count: i64,
    blocked_count: i64,
    matching: i64,
    page: i64,
    pages: i64,
    query_string: String,
    days: Vec<DayRow>,
}

const PAGE_SIZE: i64 = 50;

/// Days of follows and blocks shown under the list.
const RECENT_DAYS: i64 = 14;

fn display_name(name: &str) -> String {
    if name.is_empty() {
        "（名前未取得）".to_owned()
    } else {
        name.to_owned()
    }
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(format_datetime).unwrap_or_default()
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let channel = match q.channel.as_str() {
        "" => Channel::Production,
        c => Channel::parse(c).ok_or(AppError::NotFound)?,
    };
    let status = match q.status.as_str() {
        "friend" => Some(FriendStatus::Friend),
        "blocked" => Some(FriendStatus::Blocked),
        _ => None,
    };
    let filter = FriendFilter {
        name: Some(q.q.trim().to_owned()).filter(|s| !s.is_empty()),
        status,
    };
    let db = state.db();
    let page = q.page.unwrap_or(1).max(1);
    let matching = line::count_friends(db, channel, &filter).await?;
    let friends: Vec<FriendRow> =
        line::search_friends(db, channel, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
            .await?
            .into_iter()
            .map(|f| FriendRow {
                id: f.id,
                name: display_name(&f.display_name),
                user_id: f.user_id,
                status: f.status.label_ja(),
                blocked: f.status == FriendStatus::Blocked,
                followed: when(f.followed_at),
                blocked_at: when(f.blocked_at),
            })
            .collect();
    let friends_only = FriendFilter {
        name: None,
        status: Some(FriendStatus::Friend),
    };
    let blocked_only = FriendFilter {
        name: None,
        status: Some(FriendStatus::Blocked),
    };
    let friend_count = line::count_friends(db, channel, &friends_only).await?;
    let blocked_count = line::count_friends(db, channel, &blocked_only).await?;
    let today = crate::booking::today();
    let days = line::daily_friend_counts(
        db,
        channel,
        today - chrono::Duration::days(RECENT_DAYS - 1),
        today,
    )
    .await?
    .into_iter()
    .rev()
    .map(|d| DayRow {
        date: hiroba_domain::datetime::format_date(d.date),
        new_friends: d.new_friends,
        blocks: d.blocks,
        total: d.total,
    })
    .collect();
    let query_string = serde_urlencoded::to_string([
        ("channel", channel.as_str()),
        ("q", q.q.as_str()),
        ("status", q.status.as_str()),
    ])
    .unwrap_or_default();
    let layout = me.page(&state, "LINE 友だち", None).await?;
    render(&ListPage {
        layout,
        channel: channel.as_str(),
        channels: Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.label_ja()))
            .collect(),
        q: q.q,
        status: q.status,
        friends,
        friend_count,
        blocked_count,
        matching,
        page,
        pages: ((matching + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        query_string,
        days,
    })
}

pub struct Bubble {
    mine: bool,
    event: bool,
    text: String,
    at: String,
}

#[derive(Template)]
#[template(path = "admin/line_friend.html")]
struct DetailPage {
    layout: Layout,
    id: i64,
    name: String,
    user_id: String,
    channel: &'static str,
    channel_label: &'static str,
    status: &'static str,
    blocked: bool,
    followed: String,
    blocked_at: String,
    bubbles: Vec<Bubble>,
    may_send: bool,
    errors: FieldErrors,
    text: String,
    answers: Vec<super::friend_attributes::AnswerRow>,
    tester: bool,
    /// Forms staff may fill in for this friend (窓口・電話で聞き取った内容).
    entry_forms: Vec<(i64, String)>,
}

async fn detail_page(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
    errors: FieldErrors,
    text: String,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let friend = line::find_friend(state.db(), id).await?;
    let bubbles = line::talk_log(state.db(), friend.channel, &friend.user_id)
        .await?
        .into_iter()
        .map(|e| Bubble {
            mine: e.direction == Direction::Out,
            event: matches!(e.kind.as_str(), "follow" | "unfollow"),
            text: e.text,
            at: format_datetime(e.at),
        })
        .collect();
    let name = display_name(&friend.display_name);
    let layout = me
        .page(state, &format!("トークログ: {name}"), notice_text)
        .await?;
    render(&DetailPage {
        layout,
        id,
        name,
        user_id: friend.user_id,
        channel: friend.channel.as_str(),
        channel_label: friend.channel.label_ja(),
        status: friend.status.label_ja(),
        blocked: friend.status == FriendStatus::Blocked,
        followed: when(friend.followed_at),
        blocked_at: when(friend.blocked_at),
        bubbles,
        may_send: me.staff.may(Permission::MessagingSend),
        errors,
        text,
        answers: super::friend_attributes::summary(state, id).await?,
        tester: hiroba_store::attributes::facts(state.db(), id)
            .await?
            .is_test,
        entry_forms: if me.staff.may(Permission::Forms) {
            hiroba_store::forms::list(state.db())
                .await?
                .into_iter()
                .map(|f| (f.id, f.title))
                .collect()
        } else {
            Vec::new()
        },
    })
}

pub async fn detail(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let notice_text = match q.done.as_deref() {
        Some("sent") => Some("送信しました。".to_owned()),
        other => notice(other),
    };
    detail_page(
        &state,
        &me,
        id,
        FieldErrors::new(),
        String::new(),
        notice_text,
    )
    .await
}

/// 1対1チャット: a push of one text message to this friend. The call and its
/// request id go to the API log, the message to the talk log and the operation
/// log. LINE's answer decides: nothing is recorded as sent unless LINE took it.
pub async fn send(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let friend = line::find_friend(state.db(), id).await?;
    let text = form.get("text").trim().to_owned();
    let mut errors = FieldErrors::new();
    let message = Message::text(text.clone());
    if text.is_empty() {
        errors.add("text", "送る内容を入力してください。");
    } else if let Err(e) = message.validate() {
        errors.add("text", e.ja);
    } else if friend.status == FriendStatus::Blocked {
        errors.add(
            "text",
            "この友だちはアカウントをブロックしているため、メッセージを送れません。",
        );
    }
    let settings = line::load_channel(state.db(), state.secrets(), friend.channel)
        .await?
        .filter(|s| !s.access_token.is_empty());
    if errors.is_empty() && settings.is_none() {
        errors.add(
            "text",
            "このアカウントの接続設定（チャネルアクセストークン）がありません。システム設定の「LINE公式アカウントの接続」で設定してください。",
        );
    }
    let (Some(settings), true) = (settings, errors.is_empty()) else {
        return detail_page(&state, &me, id, errors, text, None).await;
    };
    let client = hiroba_jobs::line_api::client_for(&settings, Duration::from_secs(10), 2)
        .map_err(AppError::Internal)?;
    let started = Instant::now();
    let result = client
        .push(&friend.user_id, std::slice::from_ref(&message))
        .await;
    hiroba_jobs::line_api::log_call(
        state.db(),
        friend.channel,
        "POST /v2/bot/message/push",
        &format!("1対1チャット 友だち#{id}"),
        &result,
        started,
    )
    .await;
    if let Err(e) = result {
        let reason = match e.status() {
            Some(400) => "LINEがこのメッセージを受け付けませんでした（400）。内容を見直してください。".to_owned(),
            Some(401) => "チャネルアクセストークンが正しくありません（401）。接続設定を確認してください。".to_owned(),
            Some(429) => "LINEの送信数の上限に達しました（429）。時間をおいて送ってください。".to_owned(),
            Some(status) => format!("LINEがエラーを返しました（{status}）。時間をおいて送ってください。"),
            None => "LINEに接続できませんでした。送信されていない可能性があります。時間をおいて送ってください。".to_owned(),
        };
        errors.add("text", reason);
        return detail_page(&state, &me, id, errors, text, None).await;
    }
    let raw = message.to_json().to_string();
    let mut tx = state.db().begin().await?;
    line::append_talk(
        &mut tx,
        &NewTalk {
            channel: friend.channel,
            user_id: &friend.user_id,
            direction: Direction::Out,
            kind: "text",
            text: &text,
            raw: &raw,
            at: chrono::Utc::now(),
        },
    )
    .await?;
    let summary: String = text.chars().take(100).collect();
    me.commit_logged(
        tx,
        "line.chat_send",
        format!("line_friend:{id}"),
        format!("1対1チャット: {summary}"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/friends/{id}?done=sent#talk-form")).into_response())
}
