//! Delivery statistics (配信の統計, M15, M23) with their CSV, the bulk
//! registration of scheduled and recurring deliveries from CSV (M13), and the
//! public click-counting redirect `/r/{token}`.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use hiroba_domain::datetime::{JST, format_date};
use hiroba_domain::delivery_csv::{DeliveryCsvError, parse_delivery_csv};
use hiroba_domain::permission::Permission;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::deliveries::{self, Audience, DeliveryDraft, Plan, StatsRow, Status};
use hiroba_store::line::{self, Channel};
use hiroba_store::segments;
use serde::Deserialize;

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

#[derive(Debug, Default, Deserialize)]
pub struct Period {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

fn jst_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(JST).single())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// The period asked for (default: the last 30 days), inclusive JST days.
fn period(q: &Period, errors: &mut FieldErrors) -> (NaiveDate, NaiveDate) {
    let today = crate::booking::today();
    let parse = |raw: &str, field: &str, default: NaiveDate, errors: &mut FieldErrors| {
        if raw.trim().is_empty() {
            return default;
        }
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").unwrap_or_else(|_| {
            errors.add(field, "日付は 2026-04-01 の形で入力してください。");
            default
        })
    };
    let from = parse(&q.from, "from", today - Duration::days(29), errors);
    let to = parse(&q.to, "to", today, errors);
    if from > to {
        errors.add("to", "終了日は開始日と同じか、それより後にしてください。");
    }
    (from, to)
}

/// A rate as LINE reports it: hidden below its threshold (None).
fn rate(part: Option<i64>, whole: Option<i64>) -> String {
    match (part, whole) {
        (Some(p), Some(w)) if w > 0 => format!("{:.1}%", p as f64 * 100.0 / w as f64),
        (None, _) => "—".to_owned(),
        _ => "—".to_owned(),
    }
}

fn kind_label(code: &str) -> &'static str {
    match code {
        "now" => "即時",
        "once" => "予約",
        "weekly" | "monthly_days" | "monthly_weekdays" => "定期",
        "reminder" => "リマインド",
        _ => "その他",
    }
}

pub struct Row {
    id: i64,
    date: String,
    time: String,
    title: String,
    kind: &'static str,
    runs: i64,
    recipients: i64,
    succeeded: i64,
    failed: i64,
    open_rate: String,
    click_rate: String,
    link_clicks: i64,
}

fn row(r: &StatsRow) -> Row {
    let at = r.first_at.with_timezone(&JST);
    Row {
        id: r.delivery_id,
        date: format_date(at.date_naive()),
        time: at.format("%H:%M").to_string(),
        title: r.title.clone(),
        kind: kind_label(&r.schedule_kind),
        runs: r.runs,
        recipients: r.recipients,
        succeeded: r.succeeded,
        failed: r.failed,
        open_rate: rate(r.unique_impressions, r.delivered.or(Some(r.succeeded))),
        click_rate: rate(r.unique_clicks, r.delivered.or(Some(r.succeeded))),
        link_clicks: r.link_clicks,
    }
}

#[derive(Template)]
#[template(path = "admin/line_stats.html")]
struct StatsPage {
    layout: Layout,
    from: String,
    to: String,
    errors: FieldErrors,
    rows: Vec<Row>,
    deliveries: usize,
    recipients: i64,
    succeeded: i64,
    failed: i64,
    follows: i64,
    blocks: i64,
    friends_end: i64,
    /// Forms with their number of responses: the way to their results for
    /// staff who may see statistics but not edit forms.
    forms: Vec<(i64, String, i64)>,
}

pub async fn stats(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<Period>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let (from, to) = period(&q, &mut errors);
    let rows: Vec<StatsRow> = if errors.is_empty() {
        deliveries::stats(
            state.db(),
            jst_midnight(from),
            jst_midnight(to + Duration::days(1)),
        )
        .await?
    } else {
        Vec::new()
    };
    let days = line::daily_friend_counts(state.db(), Channel::Production, from, to).await?;
    let layout = me.page(&state, "配信の統計", None).await?;
    render(&StatsPage {
        layout,
        from: from.to_string(),
        to: to.to_string(),
        errors,
        deliveries: rows.len(),
        recipients: rows.iter().map(|r| r.recipients).sum(),
        succeeded: rows.iter().map(|r| r.succeeded).sum(),
        failed: rows.iter().map(|r| r.failed).sum(),
        follows: days.iter().map(|d| d.new_friends).sum(),
        blocks: days.iter().map(|d| d.blocks).sum(),
        friends_end: days.last().map_or(0, |d| d.total),
        rows: rows.iter().map(row).collect(),
        forms: hiroba_store::forms::list(state.db())
            .await?
            .into_iter()
            .map(|f| (f.id, f.title, f.responses))
            .collect(),
    })
}

/// The statistics as CSV (UTF-8 with a BOM and CRLF, for Excel).
pub async fn stats_csv(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<Period>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let (from, to) = period(&q, &mut errors);
    if let Some((_, m)) = errors.iter().next() {
        return Err(AppError::BadRequest(m.to_owned()));
    }
    let rows = deliveries::stats(
        state.db(),
        jst_midnight(from),
        jst_midnight(to + Duration::days(1)),
    )
    .await?;
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let fail = |e: csv::Error| AppError::Internal(e.to_string());
        w.write_record([
            "配信日",
            "時刻",
            "タイトル",
            "種類",
            "配信回数",
            "宛先数",
            "成功",
            "失敗",
            "LINE配信数",
            "開封人数",
            "開封率",
            "クリック人数",
            "クリック率",
            "ひろば計測クリック人数",
        ])
        .map_err(fail)?;
        for r in &rows {
            let v = row(r);
            let opt = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
            w.write_record([
                v.date,
                v.time,
                v.title,
                v.kind.to_owned(),
                v.runs.to_string(),
                v.recipients.to_string(),
                v.succeeded.to_string(),
                v.failed.to_string(),
                opt(r.delivered),
                opt(r.unique_impressions),
                v.open_rate,
                opt(r.unique_clicks),
                v.click_rate,
                v.link_clicks.to_string(),
            ])
            .map_err(fail)?;
        }
        w.flush().map_err(|e| AppError::Internal(e.to_string()))?;
    }
    hiroba_store::audit::record(
        state.db(),
        &me.entry(
            "report.export",
            "line:stats".into(),
            format!("配信の統計CSV {from}〜{to}（{}件）", rows.len()),
        ),
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"line-stats.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

// ---- CSV bulk registration (M13) ---------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/delivery_import.html")]
struct ImportPage {
    layout: Layout,
    errors: FieldErrors,
    csv_errors: Vec<String>,
}

pub async fn import_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    let layout = me.page(&state, "配信予定のCSV取り込み", None).await?;
    render(&ImportPage {
        layout,
        errors: FieldErrors::new(),
        csv_errors: Vec::new(),
    })
}

/// All or nothing: every row is checked (and every segment name found)
/// before one transaction stores them all.
pub async fn import(
    State(state): State<AppState>,
    me: CurrentStaff,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let mut bytes = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("ファイルを読み取れませんでした。".into()))?
    {
        if field.name() == Some("file") {
            bytes =
                Some(field.bytes().await.map_err(|_| {
                    AppError::BadRequest("ファイルを読み取れませんでした。".into())
                })?);
        }
    }
    let page = |errors: FieldErrors, csv_errors: Vec<String>| async {
        let layout = me.page(&state, "配信予定のCSV取り込み", None).await?;
        render(&ImportPage {
            layout,
            errors,
            csv_errors,
        })
    };
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        let mut errors = FieldErrors::new();
        errors.add("file", "取り込むCSVファイルを選んでください。");
        return page(errors, Vec::new()).await;
    };
    let now = Utc::now().with_timezone(&JST).naive_local();
    let patterns = match parse_delivery_csv(&bytes, now) {
        Ok(p) => p,
        Err(problems) => {
            return page(
                FieldErrors::new(),
                problems.iter().map(DeliveryCsvError::to_string).collect(),
            )
            .await;
        }
    };
    // Segment names → ids; unknown names are errors at their row and column.
    let mut drafts = Vec::with_capacity(patterns.len());
    let mut missing = Vec::new();
    for p in &patterns {
        let audience = match &p.segment {
            None => Audience::All,
            Some(name) => match segments::by_name(state.db(), name).await? {
                Some(s) => Audience::Segment(s.id),
                None => {
                    missing.push(format!(
                        "{} 行目「セグメント」: 「{}」という名前のセグメントはありません。",
                        p.row,
                        name.as_str()
                    ));
                    continue;
                }
            },
        };
        drafts.push(DeliveryDraft {
            title: p.title.clone(),
            channel: Channel::Production,
            audience,
            messages: vec![serde_json::json!({"type": "text", "text": p.text})],
            plan: Plan::Scheduled(p.schedule),
            memo: p.memo.clone(),
            source: "csv".into(),
        });
    }
    if !missing.is_empty() {
        return page(FieldErrors::new(), missing).await;
    }
    let require = super::deliveries::require_approval(&state).await?;
    let confirm = me.staff.may(Permission::MessagingSend) && !require;
    let mut tx = state.db().begin().await?;
    for draft in &drafts {
        let id =
            deliveries::create(&mut tx, draft, Status::PendingApproval, Some(me.staff.id)).await?;
        if confirm && !deliveries::approve(&mut tx, id, me.staff.id, Utc::now()).await? {
            return Err(AppError::BadRequest(format!(
                "「{}」は配信日時が過ぎています。",
                draft.title
            )));
        }
    }
    me.commit_logged(
        tx,
        "delivery.import",
        "deliveries:csv".into(),
        format!(
            "CSVから{}件の配信予定を登録（{}）",
            drafts.len(),
            if confirm { "確定" } else { "承認待ち" }
        ),
    )
    .await?;
    Ok(Redirect::to("/admin/line/deliveries?done=imported").into_response())
}

// ---- /r/{token} ------------------------------------------------------------------------

/// A tracked link: counts the visitor once (a random cookie, no personal
/// data) and sends them on. Unknown tokens are 404.
pub async fn follow_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    const COOKIE: &str = "hiroba_v";
    let (visitor, fresh) = match crate::auth::cookie(&headers, COOKIE).filter(|v| {
        v.len() >= 16
            && v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) {
        Some(v) => (v, false),
        None => (hiroba_store::sessions::new_token()?, true),
    };
    let Some(url) = deliveries::click(state.db(), &token, &visitor, Utc::now()).await? else {
        return Err(AppError::NotFound);
    };
    let mut res = Redirect::to(&url).into_response();
    if fresh
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "{COOKIE}={visitor}; Path=/r; Max-Age=31536000; HttpOnly; SameSite=Lax{}",
            if state.config().https { "; Secure" } else { "" }
        ))
    {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}
