//! LINE friends (友だち, M23) and each friend's talk log (トークログ, M22) as a
//! chat-like view. Read-only; the friends come from the webhook worker.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use hiroba_domain::datetime::format_datetime;
use hiroba_store::line::{self, Channel, Direction, FriendStatus};

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

#[derive(serde::Deserialize)]
pub struct ChannelQuery {
    channel: Option<String>,
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

#[derive(Template)]
#[template(path = "admin/line_friends.html")]
struct ListPage {
    layout: Layout,
    channel: &'static str,
    channels: Vec<(&'static str, &'static str)>,
    friends: Vec<FriendRow>,
    friend_count: usize,
    blocked_count: usize,
}

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
    Query(q): Query<ChannelQuery>,
) -> Result<Response, AppError> {
    let channel = match q.channel.as_deref() {
        None | Some("") => Channel::Production,
        Some(c) => Channel::parse(c).ok_or(AppError::NotFound)?,
    };
    let friends: Vec<FriendRow> = line::list_friends(state.db(), channel)
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
    let blocked_count = friends.iter().filter(|f| f.blocked).count();
    let layout = me.page(&state, "LINE 友だち", None).await?;
    render(&ListPage {
        layout,
        channel: channel.as_str(),
        channels: Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.label_ja()))
            .collect(),
        friend_count: friends.len() - blocked_count,
        blocked_count,
        friends,
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
    name: String,
    user_id: String,
    channel: &'static str,
    channel_label: &'static str,
    status: &'static str,
    followed: String,
    blocked_at: String,
    bubbles: Vec<Bubble>,
}

pub async fn detail(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
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
        .page(&state, &format!("トークログ: {name}"), None)
        .await?;
    render(&DetailPage {
        layout,
        name,
        user_id: friend.user_id,
        channel: friend.channel.as_str(),
        channel_label: friend.channel.label_ja(),
        status: friend.status.label_ja(),
        followed: when(friend.followed_at),
        blocked_at: when(friend.blocked_at),
        bubbles,
    })
}
