//! Staff reports (A26 利用件数集計, A27 帳票): aggregate SQL only, so a year
//! of a whole town's reservations is summed by the database, not loaded.
//!
//! Times stay integer minutes everywhere; the web layer formats them as
//! 3時間30分. A staff member's facility scope is passed as `Some(ids)` and
//! restricts every query; `None` means all facilities.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use hiroba_domain::calendar::{DayStatus, SlotState};

use crate::{Db, Result, catalogue_domain, on_pool};

/// Which reservations a count covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    Confirmed,
    Cancelled,
    All,
}

impl StatusFilter {
    pub fn code(self) -> &'static str {
        match self {
            StatusFilter::Confirmed => "confirmed",
            StatusFilter::Cancelled => "cancelled",
            StatusFilter::All => "all",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [
            StatusFilter::Confirmed,
            StatusFilter::Cancelled,
            StatusFilter::All,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    fn sql_value(self) -> Option<&'static str> {
        match self {
            StatusFilter::All => None,
            other => Some(other.code()),
        }
    }
}

/// The conditions of the 利用件数集計 (A26).
#[derive(Debug, Clone, Default)]
pub struct CountFilter {
    /// 年度: the fiscal year from April 1 of this year to March 31 of the next.
    pub fiscal_year: i32,
    pub facility_id: Option<i64>,
    pub room_id: Option<i64>,
    pub category_id: Option<i64>,
    /// Exact text of the 利用目的.
    pub purpose: Option<String>,
    pub status: StatusFilter,
    /// The staff member's facilities; `None` = all.
    pub scope: Option<Vec<i64>>,
}

/// Count, minutes, people and fees of a set of reservations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub count: i64,
    pub minutes: i64,
    pub people: i64,
    pub fees: i64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.count += o.count;
        self.minutes += o.minutes;
        self.people += o.people;
        self.fees += o.fees;
    }
}

/// One room's figures in a fiscal year, month by month (index 0 = April).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub facility_id: i64,
    pub facility_name: String,
    pub room_id: i64,
    pub room_name: String,
    pub months: [Figures; 12],
    pub total: Figures,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountResult {
    pub fiscal_year: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Rooms with at least one matching reservation, in catalogue order.
    pub rows: Vec<CountRow>,
    /// All rooms together, month by month (index 0 = April).
    pub months: [Figures; 12],
    pub total: Figures,
}

/// First and last day of fiscal year `fy` (April 1 .. March 31).
pub fn fiscal_year_range(fy: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(fy, 4, 1)?,
        NaiveDate::from_ymd_opt(fy + 1, 3, 31)?,
    ))
}

/// The fiscal year a date belongs to.
pub fn fiscal_year_of(date: NaiveDate) -> i32 {
    if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// First and last day of a calendar month.
pub fn month_range(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    Some((first, last))
}

/// `AND <column> IN (…)` for a facility scope. The ids are integers, so the
/// literal list is safe and the SQL stays one text for both databases.
fn scope_sql(column: &str, scope: Option<&[i64]>) -> String {
    match scope {
        None => String::new(),
        Some([]) => " AND 1 = 0".to_owned(),
        Some(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!(" AND {column} IN ({})", list.join(", "))
        }
    }
}

type CountSqlRow = (i64, String, i64, String, i64, i64, i64, i64, i64);

/// 利用件数集計 (A26): a fiscal year's reservations by room and by month.
pub async fn counts(db: &Db, filter: &CountFilter) -> Result<CountResult> {
    let (from, to) = fiscal_year_range(filter.fiscal_year).ok_or(crate::StoreError::NotFound)?;
    // Month index by comparing with the first days of May .. March: portable
    // (no strftime / EXTRACT) and grouped by the database.
    let mut bounds = Vec::with_capacity(11);
    for i in 1..12 {
        bounds.push(
            from.checked_add_months(Months::new(i))
                .ok_or(crate::StoreError::NotFound)?,
        );
    }
    let case: String = (0..11)
        .map(|i| format!(" WHEN r.use_date < ${} THEN {i}", i + 8))
        .collect();
    // Summed per room and month first; the names are joined to the few result rows.
    let sql = format!(
        "SELECT g.facility_id, f.name, g.room_id, rm.name, g.month_index, g.n, g.minutes, g.people, g.fees FROM (\
         SELECT r.facility_id, r.room_id, CAST(CASE{case} ELSE 11 END AS BIGINT) AS month_index, \
         COUNT(*) AS n, CAST(COALESCE(SUM(r.end_min - r.start_min), 0) AS BIGINT) AS minutes, \
         CAST(COALESCE(SUM(r.people), 0) AS BIGINT) AS people, CAST(COALESCE(SUM(r.fee_total), 0) AS BIGINT) AS fees \
         FROM reservations r \
         WHERE r.use_date >= $1 AND r.use_date <= $2 \
         AND ($3 IS NULL OR r.facility_id = $3) AND ($4 IS NULL OR r.room_id = $4) \
         AND ($5 IS NULL OR r.category_id = $5) AND ($6 IS NULL OR r.purpose = $6) \
         AND ($7 IS NULL OR r.status = $7){scope} \
         GROUP BY r.facility_id, r.room_id, month_index) g \
         JOIN facilities f ON f.id = g.facility_id JOIN rooms rm ON rm.id = g.room_id \
         ORDER BY f.sort_order, g.facility_id, rm.sort_order, g.room_id, g.month_index",
        scope = scope_sql("r.facility_id", filter.scope.as_deref()),
    );
    let rows: Vec<CountSqlRow> = on_pool!(db, pool => {
        let mut q = sqlx::query_as(&sql)
            .bind(from)
            .bind(to)
            .bind(filter.facility_id)
            .bind(filter.room_id)
            .bind(filter.category_id)
            .bind(filter.purpose.as_deref())
            .bind(filter.status.sql_value());
        for b in &bounds {
            q = q.bind(*b);
        }
        q.fetch_all(pool).await
    })?;
    let mut out = CountResult {
        fiscal_year: filter.fiscal_year,
        from,
        to,
        rows: Vec::new(),
        months: [Figures::default(); 12],
        total: Figures::default(),
    };
    for (facility_id, facility_name, room_id, room_name, month, count, minutes, people, fees) in
        rows
    {
        let figures = Figures {
            count,
            minutes,
            people,
            fees,
        };
        if out.rows.last().is_none_or(|r| r.room_id != room_id) {
            out.rows.push(CountRow {
                facility_id,
                facility_name,
                room_id,
                room_name,
                months: [Figures::default(); 12],
                total: Figures::default(),
            });
        }
        let i = usize::try_from(month).unwrap_or(0).min(11);
        if let Some(row) = out.rows.last_mut() {
            row.months[i].add(&figures);
            row.total.add(&figures);
        }
        out.months[i].add(&figures);
        out.total.add(&figures);
    }
    Ok(out)
}

/// One line of the 当日予約一覧.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DailyRow {
    pub id: i64,
    pub reference: String,
    pub facility_id: i64,
    pub facility_name: String,
    pub room_name: String,
    pub combination_name: String,
    pub start_min: i64,
    pub end_min: i64,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub people: i64,
    pub purpose: String,
    pub fee_total: i64,
    pub payment_status: String,
    pub receipt_no: String,
}

/// 当日予約一覧: the day's confirmed reservations by facility, room and start.
pub async fn daily_list(db: &Db, date: NaiveDate, scope: Option<&[i64]>) -> Result<Vec<DailyRow>> {
    let sql = format!(
        "SELECT r.id, r.reference, r.facility_id, f.name AS facility_name, rm.name AS room_name, \
         c.name AS combination_name, r.start_min, r.end_min, r.applicant_name, r.applicant_phone, r.people, \
         r.purpose, r.fee_total, r.payment_status, r.receipt_no \
         FROM reservations r JOIN facilities f ON f.id = r.facility_id JOIN rooms rm ON rm.id = r.room_id \
         JOIN combinations c ON c.id = r.combination_id \
         WHERE r.use_date = $1 AND r.status = 'confirmed'{} \
         ORDER BY f.sort_order, r.facility_id, rm.sort_order, r.room_id, r.start_min, r.id",
        scope_sql("r.facility_id", scope)
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(date).fetch_all(pool).await)?)
}

/// One room's line of the 月別利用状況.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub facility_id: i64,
    pub facility_name: String,
    pub room_id: i64,
    pub room_name: String,
    pub count: i64,
    /// Minutes of the confirmed reservations (the booked minutes).
    pub minutes: i64,
    pub people: i64,
    pub fees: i64,
    /// Minutes of the open slots of the open days of the month.
    pub available_minutes: i64,
}

impl UsageRow {
    /// 稼働率: booked minutes / available minutes, `None` when nothing was open.
    /// A room booked by halves (e.g. two half courts at once) can exceed 1.
    pub fn occupancy(&self) -> Option<f64> {
        (self.available_minutes > 0).then(|| self.minutes as f64 / self.available_minutes as f64)
    }
}

/// 月別利用状況: per room of the scope, the month's confirmed reservations
/// (one GROUP BY over the date range) and the open slot minutes of its calendar.
pub async fn monthly_usage(
    db: &Db,
    year: i32,
    month: u32,
    scope: Option<&[i64]>,
) -> Result<Vec<UsageRow>> {
    let (first, last) = month_range(year, month).ok_or(crate::StoreError::NotFound)?;
    let rooms_sql = format!(
        "SELECT f.id, f.name, rm.id, rm.name FROM rooms rm JOIN facilities f ON f.id = rm.facility_id \
         WHERE 1 = 1{} ORDER BY f.sort_order, f.id, rm.sort_order, rm.id",
        scope_sql("f.id", scope)
    );
    let rooms: Vec<(i64, String, i64, String)> =
        on_pool!(db, pool => sqlx::query_as(&rooms_sql).fetch_all(pool).await)?;
    let sums_sql = format!(
        "SELECT room_id, COUNT(*), CAST(COALESCE(SUM(end_min - start_min), 0) AS BIGINT), \
         CAST(COALESCE(SUM(people), 0) AS BIGINT), CAST(COALESCE(SUM(fee_total), 0) AS BIGINT) \
         FROM reservations WHERE use_date >= $1 AND use_date <= $2 AND status = 'confirmed'{} \
         GROUP BY room_id",
        scope_sql("facility_id", scope)
    );
    let sums: Vec<(i64, i64, i64, i64, i64)> = on_pool!(db, pool => sqlx::query_as(&sums_sql)
        .bind(first)
        .bind(last)
        .fetch_all(pool)
        .await)?;
    let sums: BTreeMap<i64, (i64, i64, i64, i64)> = sums
        .into_iter()
        .map(|(room, c, m, p, f)| (room, (c, m, p, f)))
        .collect();
    let mut out = Vec::with_capacity(rooms.len());
    for (facility_id, facility_name, room_id, room_name) in rooms {
        let available_minutes = available_minutes(db, room_id, year, month).await?;
        let (count, minutes, people, fees) = sums.get(&room_id).copied().unwrap_or_default();
        out.push(UsageRow {
            facility_id,
            facility_name,
            room_id,
            room_name,
            count,
            minutes,
            people,
            fees,
            available_minutes,
        });
    }
    Ok(out)
}

/// Minutes of the open slots on the open days of a room's month calendar.
pub async fn available_minutes(db: &Db, room_id: i64, year: i32, month: u32) -> Result<i64> {
    let days = catalogue_domain::month_calendar(db, room_id, None, year, month).await?;
    Ok(days
        .iter()
        .filter(|d| d.status == DayStatus::Open)
        .flat_map(|d| d.slots.iter())
        .filter(|s| s.state == SlotState::Open)
        .map(|s| i64::from(s.range.minutes()))
        .sum())
}

/// One reservation in a resident's history (利用者別予約履歴).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub reference: String,
    pub use_date: NaiveDate,
    pub start_min: i64,
    pub end_min: i64,
    pub facility_id: i64,
    pub facility_name: String,
    pub room_name: String,
    pub combination_name: String,
    pub purpose: String,
    pub people: i64,
    pub fee_total: i64,
    pub status: String,
    pub payment_status: String,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// A resident's reservations, newest first, limited to the scope's facilities.
pub async fn resident_history(
    db: &Db,
    resident_id: i64,
    scope: Option<&[i64]>,
) -> Result<Vec<HistoryRow>> {
    let sql = format!(
        "SELECT r.id, r.reference, r.use_date, r.start_min, r.end_min, r.facility_id, f.name AS facility_name, \
         rm.name AS room_name, c.name AS combination_name, r.purpose, r.people, r.fee_total, r.status, \
         r.payment_status, r.created_at, r.cancelled_at \
         FROM reservations r JOIN facilities f ON f.id = r.facility_id JOIN rooms rm ON rm.id = r.room_id \
         JOIN combinations c ON c.id = r.combination_id \
         WHERE r.resident_id = $1{} \
         ORDER BY r.use_date DESC, r.start_min DESC, r.id DESC",
        scope_sql("r.facility_id", scope)
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(resident_id).fetch_all(pool).await)?)
}

/// The distinct 利用目的 texts of a fiscal year, for the filter's suggestions.
pub async fn purposes(db: &Db, fiscal_year: i32, scope: Option<&[i64]>) -> Result<Vec<String>> {
    let Some((from, to)) = fiscal_year_range(fiscal_year) else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT DISTINCT purpose FROM reservations WHERE use_date >= $1 AND use_date <= $2 AND purpose <> ''{} \
         ORDER BY purpose LIMIT 200",
        scope_sql("facility_id", scope)
    );
    Ok(on_pool!(db, pool => sqlx::query_scalar(&sql).bind(from).bind(to).fetch_all(pool).await)?)
}
