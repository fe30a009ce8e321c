//! The operation-log search page and its CSV export (A29, M22).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use hiroba_domain::datetime::{JST, format_timestamp};
use hiroba_domain::validation::FieldErrors;
use hiroba_store::audit::{self, Entry, Filter};
use serde::Deserialize;

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

const PAGE_SIZE: i64 = 50;

/// Japanese names of the recorded actions; unknown codes are shown as they are.
pub fn action_label(code: &str) -> &str {
    match code {
        "login" => "ログイン",
        "login.failed" => "ログイン失敗",
        "logout" => "ログアウト",
        "access.denied" => "アクセス拒否",
        "access.csrf_refused" => "不正な送信の拒否",
        "account.password" => "自分のパスワード変更",
        "staff.create" => "職員の作成",
        "staff.update" => "職員の変更",
        "staff.disable" => "職員の無効化",
        "staff.enable" => "職員の有効化",
        "staff.delete" => "職員の削除",
        "staff.password_reset" => "職員のパスワード再設定",
        "facility.update" => "施設の変更",
        "settings.update" => "システム設定の変更",
        "audit.export" => "操作ログの出力",
        "report.export" => "帳票の出力",
        "system.staff_create" => "職員の作成（コマンド）",
        "reservation.create" => "窓口での予約",
        "reservation.update" => "予約の変更（支払・申込者）",
        "reservation.cancel" => "予約の取消（職員）",
        "resident.create" => "利用者の窓口登録",
        "resident.update" => "利用者の変更",
        "resident.verify" => "利用者区分の確認",
        "resident.unverify" => "利用者区分の確認取り消し",
        "resident.suspend" => "利用者の利用停止",
        "resident.reactivate" => "利用者の利用再開",
        "resident.erase" => "利用者登録の削除",
        "resident.self_erase" => "利用者本人による登録削除",
        other => other,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    staff: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    page: Option<i64>,
}

pub struct Row {
    seq: i64,
    at: String,
    staff: String,
    ip: String,
    action: String,
    object: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct SearchPage {
    layout: Layout,
    q: SearchQuery,
    errors: FieldErrors,
    actions: Vec<(String, String)>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    query_string: String,
}

fn parse_day(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(field, "日付は 2025-04-01 の形で入力してください。");
            None
        }
    }
}

/// Start of a day in Japan, as UTC.
fn jst_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    day.and_hms_opt(0, 0, 0)?
        .and_local_timezone(JST)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn filter_of(q: &SearchQuery, errors: &mut FieldErrors) -> Filter {
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
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Filter {
        from: from.and_then(jst_midnight),
        until: until.and_then(|d| d.succ_opt()).and_then(jst_midnight),
        staff_login: some(&q.staff),
        action: some(&q.action),
        object: some(&q.object),
    }
}

fn row(e: Entry) -> Row {
    Row {
        seq: e.seq,
        at: format_timestamp(e.at),
        staff: if e.staff_login.is_empty() {
            "—".into()
        } else {
            e.staff_login
        },
        ip: e.ip,
        action: action_label(&e.action).to_owned(),
        object: e.object,
        summary: e.summary,
    }
}

fn encode(q: &SearchQuery) -> String {
    serde_urlencoded::to_string([
        ("from", q.from.as_str()),
        ("until", q.until.as_str()),
        ("staff", q.staff.as_str()),
        ("action", q.action.as_str()),
        ("object", q.object.as_str()),
    ])
    .unwrap_or_default()
}

pub async fn search(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let db = state.db();
    let mut errors = FieldErrors::new();
    let filter = filter_of(&q, &mut errors);
    let page = q.page.unwrap_or(1).max(1);
    let (rows, total) = if errors.is_empty() {
        let rows = audit::search(db, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
        (
            rows.into_iter().map(row).collect(),
            audit::count(db, &filter).await?,
        )
    } else {
        (Vec::new(), 0)
    };
    let actions = audit::actions(db)
        .await?
        .into_iter()
        .map(|a| (action_label(&a).to_owned(), a))
        .collect();
    let layout = me.page(&state, "操作ログ", None).await?;
    render(&SearchPage {
        layout,
        query_string: encode(&q),
        q,
        errors,
        actions,
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
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let filter = filter_of(&q, &mut errors);
    if let Some((_, message)) = errors.iter().next() {
        return Err(AppError::BadRequest(message.to_owned()));
    }
    let db = state.db();
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let header = [
            "連番",
            "日時",
            "職員ID",
            "ログインID",
            "IPアドレス",
            "操作",
            "操作コード",
            "対象",
            "内容",
            "ハッシュ",
        ];
        w.write_record(header)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut offset = 0;
        loop {
            let batch = audit::search(db, &filter, 1000, offset).await?;
            if batch.is_empty() {
                break;
            }
            offset += batch.len() as i64;
            for e in batch {
                w.write_record([
                    e.seq.to_string(),
                    format_timestamp(e.at),
                    e.staff_id.map(|i| i.to_string()).unwrap_or_default(),
                    e.staff_login.clone(),
                    e.ip.clone(),
                    action_label(&e.action).to_owned(),
                    e.action.clone(),
                    e.object.clone(),
                    e.summary.clone(),
                    e.hash.clone(),
                ])
                .map_err(|e| AppError::Internal(e.to_string()))?;
            }
        }
        w.flush().map_err(|e| AppError::Internal(e.to_string()))?;
    }
    audit::record(
        db,
        &me.entry(
            "audit.export",
            "audit_log".into(),
            format!("CSV出力 条件: {}", encode(&q)),
        ),
    )
    .await?;
    let name = format!(
        "operation-log-{}.csv",
        Utc::now().with_timezone(&JST).format("%Y%m%d-%H%M")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}
