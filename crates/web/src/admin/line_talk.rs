//! The talk log across friends (トークログ, M22): search by period, account,
//! friend and words, with a CSV export; and the log of Messaging API calls
//! with LINE's request ids (issue 5).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use hiroba_domain::datetime::{JST, format_timestamp};
use hiroba_domain::validation::FieldErrors;
use hiroba_store::line::{self, Channel, Direction, TalkFilter, TalkRow};
use serde::Deserialize;

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct TalkQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    friend: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    page: Option<i64>,
}

fn parse_day(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| errors.add(field, "日付は 2025-04-01 の形で入力してください。"))
        .ok()
}

fn jst_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    day.and_hms_opt(0, 0, 0)?
        .and_local_timezone(JST)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn filter_of(q: &TalkQuery, errors: &mut FieldErrors) -> TalkFilter {
    let from = parse_day(&q.from, "from", errors);
    let until = parse_day(&q.until, "until", errors);
    if let (Some(a), Some(b)) = (from, until)
        && a > b
    {
        errors.add(
            "until",
            "終了日は開始日と同じか、それより後にしてください。",
        );
    }
    let channel = match q.channel.as_str() {
        "" => None,
        c => match Channel::parse(c) {
            Some(c) => Some(c),
            None => {
                errors.add("channel", "アカウントを選び直してください。");
                None
            }
        },
    };
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    TalkFilter {
        channel,
        from: from.and_then(jst_midnight),
        until: until.and_then(|d| d.succ_opt()).and_then(jst_midnight),
        friend: some(&q.friend),
        text: some(&q.text),
    }
}

fn encode(q: &TalkQuery) -> String {
    serde_urlencoded::to_string([
        ("channel", q.channel.as_str()),
        ("from", q.from.as_str()),
        ("until", q.until.as_str()),
        ("friend", q.friend.as_str()),
        ("text", q.text.as_str()),
    ])
    .unwrap_or_default()
}

fn who(r: &TalkRow) -> String {
    match r.display_name.as_deref() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => "（名前未取得）".to_owned(),
    }
}

fn direction_label(d: Direction) -> &'static str {
    match d {
        Direction::In => "友だちから",
        Direction::Out => "町から",
    }
}

pub struct Row {
    at: String,
    channel: &'static str,
    friend_id: Option<i64>,
    name: String,
    direction: &'static str,
    outbound: bool,
    kind: String,
    text: String,
}

#[derive(Template)]
#[template(path = "admin/line_talk.html")]
struct SearchPage {
    layout: Layout,
    q: TalkQuery,
    errors: FieldErrors,
    channels: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    query_string: String,
}

pub async fn search(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<TalkQuery>,
) -> Result<Response, AppError> {
    let db = state.db();
    let mut errors = FieldErrors::new();
    let filter = filter_of(&q, &mut errors);
    let page = q.page.unwrap_or(1).max(1);
    let (rows, total) = if errors.is_empty() {
        let rows = line::search_talk(db, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
        (
            rows.into_iter()
                .map(|r| Row {
                    at: format_timestamp(r.at),
                    channel: r.channel.label_ja(),
                    friend_id: r.friend_id,
                    name: who(&r),
                    direction: direction_label(r.direction),
                    outbound: r.direction == Direction::Out,
                    kind: r.kind,
                    text: r.text,
                })
                .collect(),
            line::count_talk(db, &filter).await?,
        )
    } else {
        (Vec::new(), 0)
    };
    let layout = me.page(&state, "トークログ", None).await?;
    render(&SearchPage {
        layout,
        query_string: encode(&q),
        q,
        errors,
        channels: Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.label_ja()))
            .collect(),
        rows,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

/// CSV in UTF-8 with a BOM and CRLF line ends, which Excel opens cleanly.
pub async fn export(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<TalkQuery>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let filter = filter_of(&q, &mut errors);
    if let Some((_, message)) = errors.iter().next() {
        return Err(AppError::BadRequest(message.to_owned()));
    }
    let db = state.db();
    let mut out = Vec::from("\u{feff}".as_bytes());
    let mut count = 0usize;
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let fail = |e: csv::Error| AppError::Internal(e.to_string());
        w.write_record([
            "日時",
            "アカウント",
            "表示名",
            "LINEユーザーID",
            "方向",
            "種類",
            "内容",
        ])
        .map_err(fail)?;
        let mut offset = 0;
        loop {
            let batch = line::search_talk(db, &filter, 1000, offset).await?;
            if batch.is_empty() {
                break;
            }
            offset += batch.len() as i64;
            for r in batch {
                count += 1;
                w.write_record([
                    format_timestamp(r.at),
                    r.channel.label_ja().to_owned(),
                    who(&r),
                    r.user_id.clone(),
                    direction_label(r.direction).to_owned(),
                    r.kind.clone(),
                    r.text.clone(),
                ])
                .map_err(fail)?;
            }
        }
        w.flush().map_err(|e| AppError::Internal(e.to_string()))?;
    }
    hiroba_store::audit::record(
        db,
        &me.entry(
            "line.talk_export",
            "line:talk".into(),
            format!("トークログCSV {count}件 ({})", encode(&q)),
        ),
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"talk-log.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct CallQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    page: Option<i64>,
}

pub struct CallRow {
    at: String,
    channel: &'static str,
    endpoint: String,
    purpose: String,
    status: String,
    failed: bool,
    request_id: String,
    retry_key: String,
    attempts: i64,
    duration_ms: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "admin/line_api_log.html")]
struct CallPage {
    layout: Layout,
    channel: String,
    channels: Vec<(&'static str, &'static str)>,
    rows: Vec<CallRow>,
    total: i64,
    page: i64,
    pages: i64,
}

pub async fn api_log(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<CallQuery>,
) -> Result<Response, AppError> {
    let channel = match q.channel.as_str() {
        "" => None,
        c => Some(Channel::parse(c).ok_or(AppError::NotFound)?),
    };
    let page = q.page.unwrap_or(1).max(1);
    let db = state.db();
    let total = line::count_api_calls(db, channel).await?;
    let rows = line::recent_api_calls(db, channel, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?
        .into_iter()
        .map(|c| CallRow {
            at: format_timestamp(c.at),
            channel: c.channel.label_ja(),
            failed: !c.error.is_empty() || c.status.is_none_or(|s| s >= 400 && s != 409),
            status: c
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "応答なし".into()),
            endpoint: c.endpoint,
            purpose: c.purpose,
            request_id: c.request_id,
            retry_key: c.retry_key,
            attempts: c.attempts,
            duration_ms: c.duration_ms,
            error: c.error,
        })
        .collect();
    let layout = me.page(&state, "LINE API 呼び出し記録", None).await?;
    render(&CallPage {
        layout,
        channel: q.channel,
        channels: Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.label_ja()))
            .collect(),
        rows,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}
