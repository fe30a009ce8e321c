//! 帳票・集計 (A26 利用件数集計, A27 帳票): each report is built once as
//! tables of typed cells, then shown as a page or downloaded as CSV (UTF-8
//! with BOM or Shift_JIS, CRLF), XLSX, or a print-ready A4 page. A staff
//! member limited to some facilities sees and exports only those; asking for
//! another facility is refused and logged.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use hiroba_domain::datetime::{JST, format_date, format_timestamp, format_wareki};
use hiroba_domain::fees::format_yen;
use hiroba_domain::permission::FacilityScope;
use hiroba_domain::time_of_day::format_minutes;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::reports::{self, CountFilter, Figures, StatusFilter};
use hiroba_store::{catalogue, facilities, residents};
use rust_xlsxwriter::{Format, Workbook};
use serde::Deserialize;

use super::{render, town_name};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

// ---------------------------------------------------------------------------
// The report model shared by every output

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Yen,
    Minutes,
    Percent,
}

#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Text(String),
    Int(i64),
    Yen(i64),
    Minutes(i64),
    /// A ratio (0.25 = 25%); `None` shows as —.
    Percent(Option<f64>),
}

impl Cell {
    fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }

    /// As shown on screen and on paper.
    pub(crate) fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => group_digits(*n),
            Cell::Yen(n) => format_yen(*n),
            Cell::Minutes(m) => format_minutes(u32::try_from(*m).unwrap_or(0)),
            Cell::Percent(Some(r)) => format!("{:.1}%", r * 100.0),
            Cell::Percent(None) => "—".to_owned(),
        }
    }

    /// As written to CSV: plain numbers that spreadsheets can sum.
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) | Cell::Yen(n) | Cell::Minutes(n) => n.to_string(),
            Cell::Percent(Some(r)) => format!("{:.1}", r * 100.0),
            Cell::Percent(None) => String::new(),
        }
    }

    pub(crate) fn is_num(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }
}

fn group_digits(n: i64) -> String {
    format_yen(n).trim_end_matches('円').to_owned()
}

pub(crate) struct Column {
    pub label: &'static str,
    kind: Kind,
}

impl Column {
    /// The header in CSV and XLSX, with the unit of the plain number.
    fn export_label(&self) -> String {
        match self.kind {
            Kind::Minutes => format!("{}（分）", self.label),
            Kind::Yen => format!("{}（円）", self.label),
            Kind::Percent => format!("{}（%）", self.label),
            Kind::Text | Kind::Int => self.label.to_owned(),
        }
    }
}

const fn col(label: &'static str, kind: Kind) -> Column {
    Column { label, kind }
}

pub(crate) struct Table {
    pub caption: String,
    sheet: &'static str,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub totals: Option<Vec<Cell>>,
}

pub(crate) struct Report {
    pub title: &'static str,
    /// ASCII file name without extension, e.g. counts-2026.
    file_stem: String,
    pub period: String,
    pub period_wareki: String,
    /// (label, value) of the conditions, shown above the tables.
    pub conditions: Vec<(String, String)>,
    pub tables: Vec<Table>,
}

// ---------------------------------------------------------------------------
// Outputs

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Page,
    Csv { sjis: bool },
    Xlsx,
    Print,
}

#[derive(Debug, Default, Deserialize)]
pub struct FormatQuery {
    #[serde(default)]
    format: String,
    #[serde(default)]
    encoding: String,
}

impl FormatQuery {
    fn output(&self) -> Result<Output, AppError> {
        match self.format.as_str() {
            "" | "html" => Ok(Output::Page),
            "csv" => match self.encoding.as_str() {
                "" | "utf8" | "utf-8" => Ok(Output::Csv { sjis: false }),
                "sjis" | "shift_jis" => Ok(Output::Csv { sjis: true }),
                _ => Err(AppError::BadRequest(
                    "文字コードは utf8 か sjis を指定してください。".into(),
                )),
            },
            "xlsx" => Ok(Output::Xlsx),
            "print" => Ok(Output::Print),
            _ => Err(AppError::BadRequest(
                "出力形式は csv・xlsx・print のいずれかを指定してください。".into(),
            )),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// The report as CSV: each table with its header row and its total, tables
/// separated by an empty line; CRLF line ends.
fn csv_text(report: &Report) -> Result<String, AppError> {
    let mut out = Vec::new();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .flexible(true)
            .from_writer(&mut out);
        for (i, table) in report.tables.iter().enumerate() {
            if i > 0 {
                w.write_record([""]).map_err(internal)?;
            }
            if report.tables.len() > 1 {
                w.write_record([table.caption.as_str()]).map_err(internal)?;
            }
            w.write_record(table.columns.iter().map(Column::export_label))
                .map_err(internal)?;
            for row in table.rows.iter().chain(table.totals.iter()) {
                w.write_record(row.iter().map(Cell::csv))
                    .map_err(internal)?;
            }
        }
        w.flush().map_err(internal)?;
    }
    String::from_utf8(out).map_err(internal)
}

/// UTF-8 with a BOM (Excel opens it cleanly) or Shift_JIS (Windows-31J, for
/// older tools); characters Shift_JIS lacks become numeric references.
fn csv_bytes(report: &Report, sjis: bool) -> Result<Vec<u8>, AppError> {
    let text = csv_text(report)?;
    if sjis {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
        Ok(bytes.into_owned())
    } else {
        let mut out = Vec::from("\u{feff}".as_bytes());
        out.extend_from_slice(text.as_bytes());
        Ok(out)
    }
}

fn xlsx_bytes(report: &Report, town: &str) -> Result<Vec<u8>, AppError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let header = Format::new()
        .set_bold()
        .set_background_color(rust_xlsxwriter::Color::RGB(0xE3F1EC))
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let yen = Format::new().set_num_format("#,##0\"円\"");
    let int = Format::new().set_num_format("#,##0");
    let pct = Format::new().set_num_format("0.0%");
    let title = Format::new().set_bold().set_font_size(14);
    for table in &report.tables {
        let sheet = book.add_worksheet();
        sheet.set_name(table.sheet).map_err(internal)?;
        sheet
            .write_string_with_format(0, 0, format!("{} {}", report.title, table.caption), &title)
            .map_err(internal)?;
        sheet
            .write_string(
                1,
                0,
                format!("{}　{}（{}）", town, report.period, report.period_wareki),
            )
            .map_err(internal)?;
        let mut r: u32 = 2;
        for (label, value) in &report.conditions {
            sheet
                .write_string(r, 0, format!("{label}: {value}"))
                .map_err(internal)?;
            r += 1;
        }
        r += 1;
        let head_row = r;
        for (c, column) in table.columns.iter().enumerate() {
            let c = u16::try_from(c).map_err(internal)?;
            sheet
                .write_string_with_format(r, c, column.export_label(), &header)
                .map_err(internal)?;
            let width = if column.kind == Kind::Text {
                18.0
            } else {
                12.0
            };
            sheet.set_column_width(c, width).map_err(internal)?;
        }
        for (i, row) in table.rows.iter().chain(table.totals.iter()).enumerate() {
            r += 1;
            let is_total = table.totals.is_some() && i == table.rows.len();
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(internal)?;
                let result = match cell {
                    Cell::Text(s) if is_total => sheet.write_string_with_format(r, c, s, &bold),
                    Cell::Text(s) => sheet.write_string(r, c, s),
                    Cell::Int(n) | Cell::Minutes(n) => {
                        sheet.write_number_with_format(r, c, *n as f64, &int)
                    }
                    Cell::Yen(n) => sheet.write_number_with_format(r, c, *n as f64, &yen),
                    Cell::Percent(Some(p)) => sheet.write_number_with_format(r, c, *p, &pct),
                    Cell::Percent(None) => sheet.write_string(r, c, ""),
                };
                result.map_err(internal)?;
            }
        }
        sheet.set_freeze_panes(head_row + 1, 0).map_err(internal)?;
    }
    book.save_to_buffer().map_err(internal)
}

#[derive(Template)]
#[template(path = "admin/report_print.html")]
struct PrintPage<'a> {
    report: &'a Report,
    town_name: String,
    generated_at: String,
}

/// `attachment` with an ASCII name and the Japanese one as RFC 5987 `filename*`.
fn content_disposition(ascii: &str, japanese: &str) -> String {
    let encoded: String = japanese
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Answers a report as a download or the print page (not the screen page).
async fn respond(
    state: &AppState,
    me: &CurrentStaff,
    output: Output,
    report: &Report,
) -> Result<Response, AppError> {
    let how = match output {
        Output::Page => {
            return Err(AppError::Internal(
                "page output handled by the caller".into(),
            ));
        }
        Output::Print => "印刷用ページ",
        Output::Csv { sjis: false } => "CSV（UTF-8）",
        Output::Csv { sjis: true } => "CSV（Shift_JIS）",
        Output::Xlsx => "Excel（XLSX）",
    };
    // Reports carry personal data (names, phone numbers): every export is logged.
    hiroba_store::audit::record(
        state.db(),
        &me.entry(
            "report.export",
            format!("report:{}", report.file_stem),
            format!("{}（{}）を{how}で出力", report.title, report.period),
        ),
    )
    .await?;
    let (kind, ext, body) = match output {
        Output::Page | Output::Print => {
            let html = PrintPage {
                report,
                town_name: town_name(state).await?,
                generated_at: format_timestamp(Utc::now()),
            }
            .render()?;
            return Ok(axum::response::Html(html).into_response());
        }
        Output::Csv { sjis } => (
            if sjis {
                "text/csv; charset=Shift_JIS"
            } else {
                "text/csv; charset=utf-8"
            },
            "csv",
            csv_bytes(report, sjis)?,
        ),
        Output::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            xlsx_bytes(report, &town_name(state).await?)?,
        ),
    };
    let stamp = Utc::now().with_timezone(&JST).format("%Y%m%d-%H%M");
    let ascii = format!("{}-{stamp}.{ext}", report.file_stem);
    let japanese = format!("{}_{}_{stamp}.{ext}", report.title, report.period_file());
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                content_disposition(&ascii, &japanese),
            ),
        ],
        body,
    )
        .into_response())
}

impl Report {
    /// The period without characters file systems dislike.
    fn period_file(&self) -> String {
        self.period
            .chars()
            .filter(|c| !matches!(c, '(' | ')' | '（' | '）' | ' ' | '/' | '〜'))
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Helpers

fn scope_ids(me: &CurrentStaff) -> Option<Vec<i64>> {
    match &me.staff.scope {
        FacilityScope::All => None,
        FacilityScope::Only(ids) => Some(ids.iter().copied().collect()),
    }
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&JST).date_naive()
}

fn hm(minutes: i64) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

fn time_range(start: i64, end: i64) -> String {
    format!("{}〜{}", hm(start), hm(end))
}

fn payment_label(code: &str) -> &str {
    match code {
        "unpaid" => "未納",
        "paid" => "納付済",
        "exempt" => "免除",
        other => other,
    }
}

fn status_label(code: &str) -> &str {
    match code {
        "confirmed" => "予約済",
        "cancelled" => "取消",
        other => other,
    }
}

fn status_filter_label(s: StatusFilter) -> &'static str {
    match s {
        StatusFilter::Confirmed => "予約済のみ",
        StatusFilter::Cancelled => "取消のみ",
        StatusFilter::All => "すべて（取消を含む）",
    }
}

/// 令和8年度 for fiscal year 2026.
fn wareki_fiscal_year(fy: i32) -> String {
    NaiveDate::from_ymd_opt(fy, 4, 1)
        .map(|d| {
            let w = format_wareki(d);
            format!("{}度", w.trim_end_matches("4月1日"))
        })
        .unwrap_or_default()
}

fn optional_id(raw: &str, field: &str, label: &str, errors: &mut FieldErrors) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i64>() {
        Ok(id) => Some(id),
        Err(_) => {
            errors.add(field, format!("{label}を一覧から選んでください。"));
            None
        }
    }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Facilities in the staff member's scope, in catalogue order.
async fn facilities_in_scope(
    state: &AppState,
    me: &CurrentStaff,
) -> Result<Vec<facilities::Facility>, AppError> {
    Ok(facilities::list(state.db())
        .await?
        .into_iter()
        .filter(|f| me.staff.scope.allows(f.id))
        .collect())
}

// ---------------------------------------------------------------------------
// Index

#[derive(Template)]
#[template(path = "admin/report_index.html")]
struct IndexPage {
    layout: Layout,
    fy: i32,
    today: String,
    month: String,
}

pub async fn index(State(state): State<AppState>, me: CurrentStaff) -> Result<Response, AppError> {
    let layout = me.page(&state, "帳票・集計", None).await?;
    let t = today();
    render(&IndexPage {
        layout,
        fy: reports::fiscal_year_of(t),
        today: t.format("%Y-%m-%d").to_string(),
        month: t.format("%Y-%m").to_string(),
    })
}

// ---------------------------------------------------------------------------
// A26 利用件数集計

#[derive(Debug, Default, Deserialize)]
pub struct CountsQuery {
    #[serde(default)]
    fy: String,
    #[serde(default)]
    facility: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    status: String,
    #[serde(flatten)]
    format: FormatQuery,
}

#[derive(Template)]
#[template(path = "admin/report_counts.html")]
struct CountsPage<'a> {
    layout: Layout,
    q: &'a CountsQuery,
    errors: FieldErrors,
    years: Vec<Choice>,
    facilities: Vec<Choice>,
    rooms: Vec<Choice>,
    categories: Vec<Choice>,
    statuses: Vec<Choice>,
    purposes: Vec<String>,
    report: Option<&'a Report>,
    query: String,
}

fn figures_cells(f: &Figures) -> [Cell; 4] {
    [
        Cell::Int(f.count),
        Cell::Minutes(f.minutes),
        Cell::Int(f.people),
        Cell::Yen(f.fees),
    ]
}

pub async fn counts(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<CountsQuery>,
) -> Result<Response, AppError> {
    let output = q.format.output()?;
    let db = state.db();
    let mut errors = FieldErrors::new();
    let fy = if q.fy.trim().is_empty() {
        reports::fiscal_year_of(today())
    } else {
        match q.fy.trim().parse::<i32>() {
            Ok(y) if (2000..=2100).contains(&y) => y,
            _ => {
                errors.add("fy", "年度は西暦4桁（例: 2026）で入力してください。");
                reports::fiscal_year_of(today())
            }
        }
    };
    let facility_id = optional_id(&q.facility, "facility", "施設", &mut errors);
    let room_id = optional_id(&q.room, "room", "部屋", &mut errors);
    let category_id = optional_id(&q.category, "category", "利用者区分", &mut errors);
    let status = if q.status.trim().is_empty() {
        StatusFilter::Confirmed
    } else {
        StatusFilter::parse(q.status.trim()).unwrap_or_else(|| {
            errors.add("status", "予約の状態を一覧から選んでください。");
            StatusFilter::Confirmed
        })
    };
    let purpose = Some(q.purpose.trim().to_owned()).filter(|p| !p.is_empty());
    // Scope: a facility or room outside it is refused (and logged).
    if let Some(id) = facility_id {
        me.require_facility(&state, id).await?;
        if facilities::get(db, id).await?.is_none() {
            errors.add("facility", "施設が見つかりません。一覧から選んでください。");
        }
    }
    let room = match room_id {
        Some(id) => match facilities::room(db, id).await? {
            Some(room) => {
                me.require_facility(&state, room.facility_id).await?;
                if facility_id.is_some_and(|f| f != room.facility_id) {
                    errors.add("room", "選んだ施設の部屋を選んでください。");
                }
                Some(room)
            }
            None => {
                errors.add("room", "部屋が見つかりません。一覧から選んでください。");
                None
            }
        },
        None => None,
    };
    let all_categories = catalogue::categories(db).await?;
    if let Some(c) = category_id
        && !all_categories.iter().any(|x| x.id == c)
    {
        errors.add("category", "利用者区分を一覧から選んでください。");
    }
    if output != Output::Page
        && let Some((_, message)) = errors.iter().next()
    {
        return Err(AppError::BadRequest(message.to_owned()));
    }
    let scope = scope_ids(&me);
    let in_scope = facilities_in_scope(&state, &me).await?;
    let report = if errors.is_empty() {
        let filter = CountFilter {
            fiscal_year: fy,
            facility_id,
            room_id,
            category_id,
            purpose: purpose.clone(),
            status,
            scope: scope.clone(),
        };
        let result = reports::counts(db, &filter).await?;
        let mut conditions = Vec::new();
        if let Some(id) = facility_id
            && let Some(f) = in_scope.iter().find(|f| f.id == id)
        {
            conditions.push(("施設".to_owned(), f.name.clone()));
        }
        if let Some(r) = &room {
            conditions.push(("部屋".to_owned(), r.name.clone()));
        }
        if let Some(c) = category_id.and_then(|c| all_categories.iter().find(|x| x.id == c)) {
            conditions.push(("利用者区分".to_owned(), c.name.clone()));
        }
        if let Some(p) = &purpose {
            conditions.push(("利用目的".to_owned(), p.clone()));
        }
        conditions.push((
            "予約の状態".to_owned(),
            status_filter_label(status).to_owned(),
        ));
        if scope.is_some() {
            conditions.push(("対象".to_owned(), "担当施設のみ".to_owned()));
        }
        Some(counts_report(&result, conditions))
    } else {
        None
    };
    if let Some(report) = &report
        && output != Output::Page
    {
        return respond(&state, &me, output, report).await;
    }
    let query = encode(&[
        ("fy", &fy.to_string()),
        ("facility", q.facility.trim()),
        ("room", q.room.trim()),
        ("category", q.category.trim()),
        ("purpose", q.purpose.trim()),
        ("status", status.code()),
    ]);
    let current_fy = reports::fiscal_year_of(today());
    let years = (current_fy - 5..=current_fy + 1)
        .rev()
        .map(|y| Choice {
            value: y.to_string(),
            label: format!("{y}年度（{}）", wareki_fiscal_year(y)),
            selected: y == fy,
        })
        .collect();
    let mut rooms = Vec::new();
    for f in &in_scope {
        for r in facilities::rooms(db, f.id).await? {
            rooms.push(Choice {
                value: r.id.to_string(),
                label: format!("{} / {}", f.name, r.name),
                selected: room_id == Some(r.id),
            });
        }
    }
    let purposes = reports::purposes(db, fy, scope.as_deref()).await?;
    let layout = me.page(&state, "利用件数集計", None).await?;
    render(&CountsPage {
        layout,
        q: &q,
        errors,
        years,
        facilities: in_scope
            .iter()
            .map(|f| Choice {
                value: f.id.to_string(),
                label: f.name.clone(),
                selected: facility_id == Some(f.id),
            })
            .collect(),
        rooms,
        categories: all_categories
            .iter()
            .map(|c| Choice {
                value: c.id.to_string(),
                label: c.name.clone(),
                selected: category_id == Some(c.id),
            })
            .collect(),
        statuses: [
            StatusFilter::Confirmed,
            StatusFilter::Cancelled,
            StatusFilter::All,
        ]
        .into_iter()
        .map(|s| Choice {
            value: s.code().to_owned(),
            label: status_filter_label(s).to_owned(),
            selected: s == status,
        })
        .collect(),
        purposes,
        report: report.as_ref(),
        query,
    })
}

fn counts_report(r: &reports::CountResult, conditions: Vec<(String, String)>) -> Report {
    let by_room = Table {
        caption: "施設・部屋別".to_owned(),
        sheet: "施設・部屋別",
        columns: vec![
            col("施設", Kind::Text),
            col("部屋", Kind::Text),
            col("件数", Kind::Int),
            col("利用時間", Kind::Minutes),
            col("人数", Kind::Int),
            col("使用料", Kind::Yen),
        ],
        rows: r
            .rows
            .iter()
            .map(|row| {
                let mut cells = vec![
                    Cell::text(row.facility_name.clone()),
                    Cell::text(row.room_name.clone()),
                ];
                cells.extend(figures_cells(&row.total));
                cells
            })
            .collect(),
        totals: Some({
            let mut cells = vec![Cell::text("合計"), Cell::text("")];
            cells.extend(figures_cells(&r.total));
            cells
        }),
    };
    let by_month = Table {
        caption: "月別".to_owned(),
        sheet: "月別",
        columns: vec![
            col("月", Kind::Text),
            col("件数", Kind::Int),
            col("利用時間", Kind::Minutes),
            col("人数", Kind::Int),
            col("使用料", Kind::Yen),
        ],
        rows: r
            .months
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let month = r
                    .from
                    .checked_add_months(chrono::Months::new(u32::try_from(i).unwrap_or(0)))
                    .unwrap_or(r.from);
                let mut cells = vec![Cell::text(format!("{}年{}月", month.year(), month.month()))];
                cells.extend(figures_cells(f));
                cells
            })
            .collect(),
        totals: Some({
            let mut cells = vec![Cell::text("合計")];
            cells.extend(figures_cells(&r.total));
            cells
        }),
    };
    Report {
        title: "利用件数集計",
        file_stem: format!("counts-fy{}", r.fiscal_year),
        period: format!(
            "{}年度（{}〜{}）",
            r.fiscal_year,
            format_date(r.from),
            format_date(r.to)
        ),
        period_wareki: format!(
            "{}（{}〜{}）",
            wareki_fiscal_year(r.fiscal_year),
            format_wareki(r.from),
            format_wareki(r.to)
        ),
        conditions,
        tables: vec![by_room, by_month],
    }
}

// ---------------------------------------------------------------------------
// 当日予約一覧

#[derive(Debug, Default, Deserialize)]
pub struct DailyQuery {
    #[serde(default)]
    date: String,
    #[serde(flatten)]
    format: FormatQuery,
}

#[derive(Template)]
#[template(path = "admin/report_daily.html")]
struct DailyPage<'a> {
    layout: Layout,
    date: String,
    errors: FieldErrors,
    report: Option<&'a Report>,
    query: String,
}

pub async fn daily(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DailyQuery>,
) -> Result<Response, AppError> {
    let output = q.format.output()?;
    let mut errors = FieldErrors::new();
    let date = if q.date.trim().is_empty() {
        today()
    } else {
        NaiveDate::parse_from_str(q.date.trim(), "%Y-%m-%d").unwrap_or_else(|_| {
            errors.add("date", "日付は 2026-04-01 の形で入力してください。");
            today()
        })
    };
    if output != Output::Page
        && let Some((_, message)) = errors.iter().next()
    {
        return Err(AppError::BadRequest(message.to_owned()));
    }
    let scope = scope_ids(&me);
    let report = if errors.is_empty() {
        let rows = reports::daily_list(state.db(), date, scope.as_deref()).await?;
        let people: i64 = rows.iter().map(|r| r.people).sum();
        let fees: i64 = rows.iter().map(|r| r.fee_total).sum();
        let count = rows.len();
        let table = Table {
            caption: format!("{}件", count),
            sheet: "当日予約一覧",
            columns: vec![
                col("時間", Kind::Text),
                col("施設", Kind::Text),
                col("部屋", Kind::Text),
                col("利用区分", Kind::Text),
                col("申込者", Kind::Text),
                col("電話番号", Kind::Text),
                col("人数", Kind::Int),
                col("利用目的", Kind::Text),
                col("使用料", Kind::Yen),
                col("支払", Kind::Text),
                col("領収書番号", Kind::Text),
                col("予約番号", Kind::Text),
            ],
            rows: rows
                .into_iter()
                .map(|r| {
                    vec![
                        Cell::text(time_range(r.start_min, r.end_min)),
                        Cell::text(r.facility_name),
                        Cell::text(r.room_name),
                        Cell::text(r.combination_name),
                        Cell::text(r.applicant_name),
                        Cell::text(r.applicant_phone),
                        Cell::Int(r.people),
                        Cell::text(r.purpose),
                        Cell::Yen(r.fee_total),
                        Cell::text(payment_label(&r.payment_status)),
                        Cell::text(r.receipt_no),
                        Cell::text(r.reference),
                    ]
                })
                .collect(),
            totals: Some(vec![
                Cell::text("合計"),
                Cell::text(format!("{count}件")),
                Cell::text(""),
                Cell::text(""),
                Cell::text(""),
                Cell::text(""),
                Cell::Int(people),
                Cell::text(""),
                Cell::Yen(fees),
                Cell::text(""),
                Cell::text(""),
                Cell::text(""),
            ]),
        };
        let mut conditions = Vec::new();
        if scope.is_some() {
            conditions.push(("対象".to_owned(), "担当施設のみ".to_owned()));
        }
        Some(Report {
            title: "当日予約一覧",
            file_stem: format!("daily-{}", date.format("%Y%m%d")),
            period: format_date(date),
            period_wareki: format_wareki(date),
            conditions,
            tables: vec![table],
        })
    } else {
        None
    };
    if let Some(report) = &report
        && output != Output::Page
    {
        return respond(&state, &me, output, report).await;
    }
    let date_text = date.format("%Y-%m-%d").to_string();
    let layout = me.page(&state, "当日予約一覧", None).await?;
    render(&DailyPage {
        layout,
        query: encode(&[("date", &date_text)]),
        date: if errors.is_empty() {
            date_text
        } else {
            q.date.clone()
        },
        errors,
        report: report.as_ref(),
    })
}

// ---------------------------------------------------------------------------
// 月別利用状況

#[derive(Debug, Default, Deserialize)]
pub struct MonthlyQuery {
    #[serde(default)]
    month: String,
    #[serde(flatten)]
    format: FormatQuery,
}

#[derive(Template)]
#[template(path = "admin/report_monthly.html")]
struct MonthlyPage<'a> {
    layout: Layout,
    month: String,
    errors: FieldErrors,
    report: Option<&'a Report>,
    query: String,
}

fn parse_month(raw: &str) -> Option<(i32, u32)> {
    let (y, m) = raw.trim().split_once('-')?;
    let y: i32 = y.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    ((2000..=2100).contains(&y) && (1..=12).contains(&m)).then_some((y, m))
}

pub async fn monthly(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<MonthlyQuery>,
) -> Result<Response, AppError> {
    let output = q.format.output()?;
    let mut errors = FieldErrors::new();
    let t = today();
    let (year, month) = if q.month.trim().is_empty() {
        (t.year(), t.month())
    } else {
        parse_month(&q.month).unwrap_or_else(|| {
            errors.add("month", "月は 2026-04 の形で入力してください。");
            (t.year(), t.month())
        })
    };
    if output != Output::Page
        && let Some((_, message)) = errors.iter().next()
    {
        return Err(AppError::BadRequest(message.to_owned()));
    }
    let scope = scope_ids(&me);
    let report = if errors.is_empty() {
        let rows = reports::monthly_usage(state.db(), year, month, scope.as_deref()).await?;
        let sum = |f: fn(&reports::UsageRow) -> i64| rows.iter().map(f).sum::<i64>();
        let (count, minutes, people, fees, available) = (
            sum(|r| r.count),
            sum(|r| r.minutes),
            sum(|r| r.people),
            sum(|r| r.fees),
            sum(|r| r.available_minutes),
        );
        let table = Table {
            caption: "施設・部屋別".to_owned(),
            sheet: "月別利用状況",
            columns: vec![
                col("施設", Kind::Text),
                col("部屋", Kind::Text),
                col("件数", Kind::Int),
                col("利用時間", Kind::Minutes),
                col("人数", Kind::Int),
                col("使用料", Kind::Yen),
                col("利用可能時間", Kind::Minutes),
                col("稼働率", Kind::Percent),
            ],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        Cell::text(r.facility_name.clone()),
                        Cell::text(r.room_name.clone()),
                        Cell::Int(r.count),
                        Cell::Minutes(r.minutes),
                        Cell::Int(r.people),
                        Cell::Yen(r.fees),
                        Cell::Minutes(r.available_minutes),
                        Cell::Percent(r.occupancy()),
                    ]
                })
                .collect(),
            totals: Some(vec![
                Cell::text("合計"),
                Cell::text(""),
                Cell::Int(count),
                Cell::Minutes(minutes),
                Cell::Int(people),
                Cell::Yen(fees),
                Cell::Minutes(available),
                Cell::Percent((available > 0).then(|| minutes as f64 / available as f64)),
            ]),
        };
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(t);
        let mut conditions = vec![(
            "稼働率".to_owned(),
            "予約済の利用時間 ÷ 開館日の予約枠の時間".to_owned(),
        )];
        if scope.is_some() {
            conditions.push(("対象".to_owned(), "担当施設のみ".to_owned()));
        }
        Some(Report {
            title: "月別利用状況",
            file_stem: format!("monthly-{year}{month:02}"),
            period: format!("{year}年{month}月"),
            period_wareki: format_wareki(first).trim_end_matches("1日").to_owned(),
            conditions,
            tables: vec![table],
        })
    } else {
        None
    };
    if let Some(report) = &report
        && output != Output::Page
    {
        return respond(&state, &me, output, report).await;
    }
    let month_text = format!("{year}-{month:02}");
    let layout = me.page(&state, "月別利用状況", None).await?;
    render(&MonthlyPage {
        layout,
        query: encode(&[("month", &month_text)]),
        month: if errors.is_empty() {
            month_text
        } else {
            q.month.clone()
        },
        errors,
        report: report.as_ref(),
    })
}

// ---------------------------------------------------------------------------
// 利用者別予約履歴

#[derive(Template)]
#[template(path = "admin/report_resident.html")]
struct ResidentPage<'a> {
    layout: Layout,
    base: String,
    report: &'a Report,
    query: String,
}

pub async fn resident(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let output = q.output()?;
    let db = state.db();
    let person = residents::get(db, id).await?.ok_or(AppError::NotFound)?;
    let scope = scope_ids(&me);
    let rows = reports::resident_history(db, id, scope.as_deref()).await?;
    let confirmed: Vec<_> = rows.iter().filter(|r| r.status == "confirmed").collect();
    let table = Table {
        caption: format!("{}件（うち予約済 {}件）", rows.len(), confirmed.len()),
        sheet: "予約履歴",
        columns: vec![
            col("利用日", Kind::Text),
            col("時間", Kind::Text),
            col("施設", Kind::Text),
            col("部屋", Kind::Text),
            col("利用区分", Kind::Text),
            col("利用目的", Kind::Text),
            col("人数", Kind::Int),
            col("使用料", Kind::Yen),
            col("状態", Kind::Text),
            col("支払", Kind::Text),
            col("予約番号", Kind::Text),
            col("申込日時", Kind::Text),
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::text(format_date(r.use_date)),
                    Cell::text(time_range(r.start_min, r.end_min)),
                    Cell::text(r.facility_name.clone()),
                    Cell::text(r.room_name.clone()),
                    Cell::text(r.combination_name.clone()),
                    Cell::text(r.purpose.clone()),
                    Cell::Int(r.people),
                    Cell::Yen(r.fee_total),
                    Cell::text(status_label(&r.status)),
                    Cell::text(payment_label(&r.payment_status)),
                    Cell::text(r.reference.clone()),
                    Cell::text(format_timestamp(r.created_at)),
                ]
            })
            .collect(),
        totals: Some(vec![
            Cell::text("合計（予約済）"),
            Cell::text(format!("{}件", confirmed.len())),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
            Cell::Int(confirmed.iter().map(|r| r.people).sum()),
            Cell::Yen(confirmed.iter().map(|r| r.fee_total).sum()),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
        ]),
    };
    let mut conditions = vec![
        (
            "利用者".to_owned(),
            format!("{}（{}）", person.name, person.kana),
        ),
        ("利用者番号".to_owned(), person.id.to_string()),
    ];
    if scope.is_some() {
        conditions.push(("対象".to_owned(), "担当施設のみ".to_owned()));
    }
    let report = Report {
        title: "利用者別予約履歴",
        file_stem: format!("resident-{id}"),
        period: format!("{}時点", format_date(today())),
        period_wareki: format!("{}時点", format_wareki(today())),
        conditions,
        tables: vec![table],
    };
    if output != Output::Page {
        return respond(&state, &me, output, &report).await;
    }
    let layout = me.page(&state, "利用者別予約履歴", None).await?;
    render(&ResidentPage {
        layout,
        base: format!("/admin/reports/resident/{id}"),
        report: &report,
        query: String::new(),
    })
}
