//! Segment delivery (issue 6; M07, M12-M15): deliveries staff prepare, the
//! runs each one produces (one for a one-time delivery, one per occurrence of
//! a recurring one, one per day for a reminder), and the batches a run is cut
//! into.
//!
//! Exactly once, across crashes and several app instances:
//! - the planner creates a run with `UNIQUE (delivery_id, scheduled_at, test)`
//!   and advances `next_run_at` with a conditional update, so two instances
//!   planning at once create one run;
//! - a run is prepared by whoever holds its lease: recipients are read in
//!   friend-id order and written as batches of at most 500 together with the
//!   run's cursor (`prepared_after`), so a preparation cut off resumes where
//!   its last transaction ended and never batches a friend twice;
//! - each batch carries the `X-Line-Retry-Key` it is sent with, stored before
//!   the first call; a batch whose answer was lost is sent again with the same
//!   key, and LINE (or the simulator) answers 409 instead of delivering twice.
//!   LINE keeps a key for 24 hours: a batch still unsent after that is marked
//!   failed rather than risk a second copy.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use hiroba_domain::datetime::JST;
use hiroba_domain::reminder::{Offset, ReminderRule};
use hiroba_domain::schedule::{MonthDaySet, NthSet, Pattern, Schedule, SendTime, WeekdaySet};

use crate::audit::micros;
use crate::line::Channel;
use crate::{Db, Result, StoreError, Tx, on_pool, on_tx};

/// Who a delivery goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every friend of the channel (blocked friends are skipped).
    All,
    /// The friends matching a saved segment on the run's date.
    Segment(i64),
    /// The friends staff marked as testers.
    Testers,
}

impl Audience {
    fn code(self) -> &'static str {
        match self {
            Audience::All => "all",
            Audience::Segment(_) => "segment",
            Audience::Testers => "testers",
        }
    }

    pub fn segment_id(self) -> Option<i64> {
        match self {
            Audience::Segment(id) => Some(id),
            _ => None,
        }
    }
}

/// When a delivery goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// As soon as it is approved.
    Now,
    Scheduled(Schedule),
    /// Every day at the rule's time from `start` (to `end`), to the friends whose
    /// registered date makes the rule fire that day (M14).
    Reminder {
        rule: ReminderRule,
        start: NaiveDate,
        end: Option<NaiveDate>,
    },
}

impl Plan {
    /// The first time at or after `now` the plan fires (JST wall clock in,
    /// UTC out); `None` when it never will again.
    pub fn first_at_or_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Plan::Now => Some(now),
            Plan::Scheduled(s) => s
                .first_at_or_after(now.with_timezone(&JST).naive_local())
                .and_then(to_utc),
            Plan::Reminder { rule, start, end } => {
                let local = now.with_timezone(&JST).naive_local();
                let mut day = local.date().max(*start);
                loop {
                    if end.is_some_and(|e| day > e) {
                        return None;
                    }
                    let at = day.and_time(rule.time().naive_time());
                    if at >= local {
                        return to_utc(at);
                    }
                    day = day.succ_opt()?;
                }
            }
        }
    }

    /// The occurrence after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Plan::Now => None,
            Plan::Scheduled(s) => s.next_after_utc(after),
            Plan::Reminder { .. } => self.first_at_or_after(after + Duration::seconds(1)),
        }
    }

    pub fn is_recurring(&self) -> bool {
        match self {
            Plan::Now => false,
            Plan::Scheduled(s) => s.is_recurring(),
            Plan::Reminder { .. } => true,
        }
    }
}

fn to_utc(local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    local
        .and_local_timezone(JST)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// A delivery's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft,
    /// Waiting for a second staff member with the send permission.
    PendingApproval,
    /// Scheduled: the planner creates its runs.
    Approved,
    Cancelled,
    /// Every run planned (a one-time delivery sent, a recurring one ended).
    Finished,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::PendingApproval => "pending_approval",
            Status::Approved => "approved",
            Status::Cancelled => "cancelled",
            Status::Finished => "finished",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => Status::Draft,
            "pending_approval" => Status::PendingApproval,
            "approved" => Status::Approved,
            "cancelled" => Status::Cancelled,
            "finished" => Status::Finished,
            _ => return None,
        })
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Status::Draft => "下書き",
            Status::PendingApproval => "承認待ち",
            Status::Approved => "配信予定",
            Status::Cancelled => "取り消し",
            Status::Finished => "配信済み",
        }
    }
}

/// What staff prepare.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryDraft {
    pub title: String,
    pub channel: Channel,
    pub audience: Audience,
    /// 1 to 5 LINE message objects, validated by the caller.
    pub messages: Vec<serde_json::Value>,
    pub plan: Plan,
    pub memo: String,
    /// `manual`, `csv` (bulk registration) ...
    pub source: String,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub draft: DeliveryDraft,
    pub status: Status,
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_by: Option<i64>,
    pub approved_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    title: String,
    channel: String,
    audience: String,
    segment_id: Option<i64>,
    messages: String,
    schedule_kind: String,
    schedule_minutes: i64,
    schedule_start: Option<NaiveDate>,
    schedule_end: Option<NaiveDate>,
    schedule_bits: i64,
    schedule_nth: i64,
    reminder_attribute: String,
    reminder_offset: String,
    reminder_n: i64,
    status: String,
    next_run_at: Option<DateTime<Utc>>,
    source: String,
    memo: String,
    created_by: Option<i64>,
    approved_by: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "id, title, channel, audience, segment_id, messages, schedule_kind, \
     schedule_minutes, schedule_start, schedule_end, schedule_bits, schedule_nth, \
     reminder_attribute, reminder_offset, reminder_n, status, next_run_at, source, memo, \
     created_by, approved_by, created_at, updated_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Invalid(format!("配信の記録を読めません ({what})"))
}

/// The plan's columns: kind, minutes, start, end, bits, nth, reminder attribute,
/// offset kind, offset n.
type PlanColumns = (
    &'static str,
    i64,
    Option<NaiveDate>,
    Option<NaiveDate>,
    i64,
    i64,
    String,
    &'static str,
    i64,
);

fn plan_columns(plan: &Plan) -> PlanColumns {
    match plan {
        Plan::Now => ("now", 0, None, None, 0, 0, String::new(), "", 0),
        Plan::Scheduled(s) => {
            let (bits, nth) = match s.pattern() {
                Pattern::Once => (0, 0),
                Pattern::Weekly(w) => (i64::from(w.bits()), 0),
                Pattern::MonthlyDays(d) => (i64::from(d.bits()), 0),
                Pattern::MonthlyWeekdays { nths, weekdays } => {
                    (i64::from(weekdays.bits()), i64::from(nths.bits()))
                }
            };
            (
                s.pattern().code(),
                i64::from(s.time().minutes()),
                Some(s.start()),
                s.end(),
                bits,
                nth,
                String::new(),
                "",
                0,
            )
        }
        Plan::Reminder { rule, start, end } => {
            let (offset, n) = match rule.offset() {
                Offset::DaysAfter(n) => ("days_after", n),
                Offset::MonthsAfter(n) => ("months_after", n),
                Offset::DaysBefore(n) => ("days_before", n),
            };
            (
                "reminder",
                i64::from(rule.time().minutes()),
                Some(*start),
                *end,
                0,
                0,
                rule.attribute().as_str().to_owned(),
                offset,
                i64::from(n),
            )
        }
    }
}

fn plan_of(r: &DeliveryRow) -> Result<Plan> {
    let minutes = u16::try_from(r.schedule_minutes).map_err(|_| corrupt("time"))?;
    let time = SendTime::from_minutes(minutes).map_err(|_| corrupt("time"))?;
    let start = || r.schedule_start.ok_or_else(|| corrupt("start"));
    let bits8 = |v: i64| u8::try_from(v).map_err(|_| corrupt("bits"));
    let plan = match r.schedule_kind.as_str() {
        "now" => Plan::Now,
        "once" => Plan::Scheduled(Schedule::once(start()?, time).map_err(|e| corrupt(&e))?),
        "weekly" => Plan::Scheduled(
            Schedule::weekly(
                WeekdaySet::from_bits(bits8(r.schedule_bits)?),
                time,
                start()?,
                r.schedule_end,
            )
            .map_err(|e| corrupt(&e))?,
        ),
        "monthly_days" => Plan::Scheduled(
            Schedule::monthly_days(
                MonthDaySet::from_bits(
                    u32::try_from(r.schedule_bits).map_err(|_| corrupt("bits"))?,
                ),
                time,
                start()?,
                r.schedule_end,
            )
            .map_err(|e| corrupt(&e))?,
        ),
        "monthly_weekdays" => Plan::Scheduled(
            Schedule::monthly_weekdays(
                NthSet::from_bits(bits8(r.schedule_nth)?),
                WeekdaySet::from_bits(bits8(r.schedule_bits)?),
                time,
                start()?,
                r.schedule_end,
            )
            .map_err(|e| corrupt(&e))?,
        ),
        "reminder" => {
            let n = u32::try_from(r.reminder_n).map_err(|_| corrupt("offset"))?;
            let offset = match r.reminder_offset.as_str() {
                "days_after" => Offset::DaysAfter(n),
                "months_after" => Offset::MonthsAfter(n),
                "days_before" => Offset::DaysBefore(n),
                _ => return Err(corrupt("offset")),
            };
            let attribute = hiroba_domain::attributes::AttributeKey::parse(&r.reminder_attribute)
                .map_err(|e| corrupt(&e))?;
            Plan::Reminder {
                rule: ReminderRule::restore(attribute, offset, time).map_err(|e| corrupt(&e))?,
                start: start()?,
                end: r.schedule_end,
            }
        }
        other => return Err(corrupt(other)),
    };
    Ok(plan)
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(r: DeliveryRow) -> Result<Self> {
        let plan = plan_of(&r)?;
        let audience = match (r.audience.as_str(), r.segment_id) {
            ("all", _) => Audience::All,
            ("testers", _) => Audience::Testers,
            ("segment", Some(id)) => Audience::Segment(id),
            _ => return Err(corrupt("audience")),
        };
        Ok(Delivery {
            id: r.id,
            draft: DeliveryDraft {
                title: r.title,
                channel: Channel::parse(&r.channel).ok_or_else(|| corrupt("channel"))?,
                audience,
                messages: serde_json::from_str(&r.messages).map_err(|_| corrupt("messages"))?,
                plan,
                memo: r.memo,
                source: r.source,
            },
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            next_run_at: r.next_run_at,
            created_by: r.created_by,
            approved_by: r.approved_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Stores a new delivery in `status` (draft or pending approval).
pub async fn create(
    tx: &mut Tx,
    draft: &DeliveryDraft,
    status: Status,
    staff_id: Option<i64>,
) -> Result<i64> {
    let (kind, minutes, start, end, bits, nth, attribute, offset, n) = plan_columns(&draft.plan);
    let now = micros(Utc::now());
    let messages = serde_json::Value::Array(draft.messages.clone()).to_string();
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO deliveries (title, channel, audience, segment_id, messages, schedule_kind, \
         schedule_minutes, schedule_start, schedule_end, schedule_bits, schedule_nth, \
         reminder_attribute, reminder_offset, reminder_n, status, source, memo, created_by, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $19) RETURNING id"
    )
    .bind(&draft.title)
    .bind(draft.channel.as_str())
    .bind(draft.audience.code())
    .bind(draft.audience.segment_id())
    .bind(&messages)
    .bind(kind)
    .bind(minutes)
    .bind(start)
    .bind(end)
    .bind(bits)
    .bind(nth)
    .bind(&attribute)
    .bind(offset)
    .bind(n)
    .bind(status.as_str())
    .bind(&draft.source)
    .bind(&draft.memo)
    .bind(staff_id)
    .bind(now)
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

/// Replaces the content and plan of a delivery that has not started (draft,
/// waiting for approval, or approved with no run yet); it goes back to
/// `status` (an edit needs a new approval when approval is required).
/// `Ok(false)` when the delivery may no longer be changed.
pub async fn update(tx: &mut Tx, id: i64, draft: &DeliveryDraft, status: Status) -> Result<bool> {
    let (kind, minutes, start, end, bits, nth, attribute, offset, n) = plan_columns(&draft.plan);
    let messages = serde_json::Value::Array(draft.messages.clone()).to_string();
    let changed = on_tx!(tx, conn => sqlx::query(
        "UPDATE deliveries SET title = $2, channel = $3, audience = $4, segment_id = $5, \
         messages = $6, schedule_kind = $7, schedule_minutes = $8, schedule_start = $9, \
         schedule_end = $10, schedule_bits = $11, schedule_nth = $12, reminder_attribute = $13, \
         reminder_offset = $14, reminder_n = $15, status = $16, memo = $17, next_run_at = NULL, \
         approved_by = NULL, updated_at = $18 \
         WHERE id = $1 AND status IN ('draft', 'pending_approval', 'approved') \
         AND NOT EXISTS (SELECT 1 FROM delivery_runs r WHERE r.delivery_id = $1 AND r.test = $19)"
    )
    .bind(id)
    .bind(&draft.title)
    .bind(draft.channel.as_str())
    .bind(draft.audience.code())
    .bind(draft.audience.segment_id())
    .bind(&messages)
    .bind(kind)
    .bind(minutes)
    .bind(start)
    .bind(end)
    .bind(bits)
    .bind(nth)
    .bind(&attribute)
    .bind(offset)
    .bind(n)
    .bind(status.as_str())
    .bind(&draft.memo)
    .bind(micros(Utc::now()))
    .bind(false)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// Schedules a delivery: approved by `staff_id`, first run at the plan's first
/// time at or after `now`. `Ok(false)` when it was not waiting (already
/// approved, cancelled ...) or the plan never fires again.
pub async fn approve(tx: &mut Tx, id: i64, staff_id: i64, now: DateTime<Utc>) -> Result<bool> {
    let delivery = get_in(tx, id).await?;
    if !matches!(delivery.status, Status::Draft | Status::PendingApproval) {
        return Ok(false);
    }
    let Some(first) = delivery.draft.plan.first_at_or_after(now) else {
        return Ok(false);
    };
    let changed = on_tx!(tx, conn => sqlx::query(
        "UPDATE deliveries SET status = 'approved', approved_by = $2, next_run_at = $3, \
         updated_at = $4 WHERE id = $1 AND status IN ('draft', 'pending_approval')"
    )
    .bind(id)
    .bind(staff_id)
    .bind(micros(first))
    .bind(micros(now))
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// Marks a draft as waiting for approval.
pub async fn request_approval(tx: &mut Tx, id: i64) -> Result<bool> {
    let changed = on_tx!(tx, conn => sqlx::query(
        "UPDATE deliveries SET status = 'pending_approval', updated_at = $2 \
         WHERE id = $1 AND status = 'draft'"
    )
    .bind(id)
    .bind(micros(Utc::now()))
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(changed == 1)
}

/// Cancels a delivery: no further runs; runs not yet being prepared are
/// cancelled, and so are the unsent batches of runs already going out (what
/// LINE already accepted cannot be called back). Returns the runs stopped.
pub async fn cancel(tx: &mut Tx, id: i64) -> Result<u64> {
    let now = micros(Utc::now());
    on_tx!(&mut *tx, conn => sqlx::query(
        "UPDATE deliveries SET status = 'cancelled', next_run_at = NULL, updated_at = $2 \
         WHERE id = $1 AND status <> 'cancelled'"
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    on_tx!(&mut *tx, conn => sqlx::query(
        "UPDATE delivery_batches SET status = 'cancelled', locked_until = NULL \
         WHERE status = 'pending' AND run_id IN (SELECT id FROM delivery_runs WHERE delivery_id = $1)"
    )
    .bind(id)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    let runs = on_tx!(&mut *tx, conn => sqlx::query(
        "UPDATE delivery_runs SET status = 'cancelled', finished_at = $2, locked_until = NULL \
         WHERE delivery_id = $1 AND status IN ('scheduled', 'preparing', 'sending') \
         AND request_id = ''"
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(runs)
}

pub async fn get(db: &Db, id: i64) -> Result<Delivery> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1");
    let row: Option<DeliveryRow> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// A delivery read inside the caller's transaction.
pub async fn get_in(tx: &mut Tx, id: i64) -> Result<Delivery> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1");
    let row: Option<DeliveryRow> =
        on_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_optional(conn).await)?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// Deliveries newest first, optionally of one status.
pub async fn list(
    db: &Db,
    status: Option<Status>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE ($1 IS NULL OR status = $1) \
         ORDER BY id DESC LIMIT $2 OFFSET $3"
    );
    let rows: Vec<DeliveryRow> = on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(status.map(Status::as_str))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(Delivery::try_from).collect()
}

pub async fn count(db: &Db, status: Option<Status>) -> Result<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE ($1 IS NULL OR status = $1)"
    )
    .bind(status.map(Status::as_str))
    .fetch_one(pool)
    .await)?)
}

/// A run's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Scheduled,
    Preparing,
    Sending,
    Done,
    Cancelled,
    /// Planned too late (the server was down over its time); not sent.
    Skipped,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Scheduled => "scheduled",
            RunStatus::Preparing => "preparing",
            RunStatus::Sending => "sending",
            RunStatus::Done => "done",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Skipped => "skipped",
            RunStatus::Failed => "failed",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            RunStatus::Scheduled => "配信予定",
            RunStatus::Preparing => "準備中",
            RunStatus::Sending => "配信中",
            RunStatus::Done => "配信済み",
            RunStatus::Cancelled => "取り消し",
            RunStatus::Skipped => "見送り（予定時刻を過ぎていた）",
            RunStatus::Failed => "失敗",
        }
    }
}

impl TryFrom<String> for RunStatus {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(match s.as_str() {
            "scheduled" => RunStatus::Scheduled,
            "preparing" => RunStatus::Preparing,
            "sending" => RunStatus::Sending,
            "done" => RunStatus::Done,
            "cancelled" => RunStatus::Cancelled,
            "skipped" => RunStatus::Skipped,
            "failed" => RunStatus::Failed,
            other => return Err(format!("unknown run status {other:?}")),
        })
    }
}

/// One sending of a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub delivery_id: i64,
    pub scheduled_at: DateTime<Utc>,
    pub test: bool,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    pub method: String,
    pub prepared_after: i64,
    pub recipients: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub note: String,
    /// Narrowcast runs: the uploaded audience, the retry key of the call
    /// (stored before it) and LINE's request id once accepted.
    pub audience_group_id: Option<i64>,
    pub retry_key: String,
    pub request_id: String,
}

impl Run {
    pub fn is_narrowcast(&self) -> bool {
        self.method == METHOD_NARROWCAST
    }
}

/// The run's `method` of a narrowcast to an uploaded audience.
pub const METHOD_NARROWCAST: &str = "narrowcast";

const RUN_COLUMNS: &str = "id, delivery_id, scheduled_at, test, channel, status, method, \
     prepared_after, recipients, succeeded, failed, started_at, finished_at, note, \
     audience_group_id, retry_key, request_id";

/// Late runs older than this are skipped, not sent: "every Monday 9:00" must
/// not arrive on Wednesday because the server was down.
pub fn stale_after() -> Duration {
    Duration::hours(1)
}

/// Creates the runs that are due: for each approved delivery whose
/// `next_run_at` has come, one run at that time (skipped if it is older than
/// [`stale_after`]) and the next time, or `finished` when there is none.
/// Safe with several instances (unique runs, conditional advance). Returns
/// the number of runs created to be sent (skipped ones are not counted).
pub async fn plan_due(db: &Db, now: DateTime<Utc>) -> Result<usize> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = 'approved' \
         AND next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at LIMIT 100"
    );
    let due: Vec<DeliveryRow> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(micros(now)).fetch_all(pool).await)?;
    let mut created = 0;
    for row in due {
        let delivery = Delivery::try_from(row)?;
        let Some(at) = delivery.next_run_at else {
            continue;
        };
        let next = delivery.draft.plan.next_after(at);
        let status = if at < now - stale_after() {
            RunStatus::Skipped
        } else {
            RunStatus::Scheduled
        };
        let mut tx = db.begin().await?;
        let advanced = on_tx!(&mut tx, conn => sqlx::query(
            "UPDATE deliveries SET next_run_at = $3, \
             status = CASE WHEN $3 IS NULL THEN 'finished' ELSE status END, updated_at = $4 \
             WHERE id = $1 AND status = 'approved' AND next_run_at = $2"
        )
        .bind(delivery.id)
        .bind(micros(at))
        .bind(next.map(micros))
        .bind(micros(now))
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
        if advanced == 0 {
            continue; // another instance planned it
        }
        let inserted = insert_run(&mut tx, &delivery, at, false, status).await?;
        tx.commit().await?;
        created += usize::from(inserted.is_some() && status == RunStatus::Scheduled);
    }
    Ok(created)
}

async fn insert_run(
    tx: &mut Tx,
    delivery: &Delivery,
    at: DateTime<Utc>,
    test: bool,
    status: RunStatus,
) -> Result<Option<i64>> {
    let channel = if test {
        Channel::Test
    } else {
        delivery.draft.channel
    };
    let note = if status == RunStatus::Skipped {
        "予定時刻を1時間以上過ぎてから計画されたため、送りませんでした。"
    } else {
        ""
    };
    let id: Option<i64> = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO delivery_runs (delivery_id, scheduled_at, test, channel, status, note, \
         finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (delivery_id, scheduled_at, test) DO NOTHING RETURNING id"
    )
    .bind(delivery.id)
    .bind(micros(at))
    .bind(test)
    .bind(channel.as_str())
    .bind(status.as_str())
    .bind(note)
    .bind((status == RunStatus::Skipped).then(|| micros(at)))
    .fetch_optional(conn)
    .await)?;
    Ok(id)
}

/// A test send (M12): a run of the delivery's messages on the test channel to
/// its testers (or every friend of the test channel), outside the statistics.
pub async fn create_test_run(tx: &mut Tx, delivery_id: i64, now: DateTime<Utc>) -> Result<i64> {
    let delivery = get_in(tx, delivery_id).await?;
    insert_run(tx, &delivery, now, true, RunStatus::Scheduled)
        .await?
        .ok_or(StoreError::Duplicate("test run"))
}

pub async fn runs_of(db: &Db, delivery_id: i64) -> Result<Vec<Run>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM delivery_runs WHERE delivery_id = $1 ORDER BY scheduled_at DESC, id DESC"
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(delivery_id).fetch_all(pool).await)?)
}

pub async fn run(db: &Db, id: i64) -> Result<Run> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM delivery_runs WHERE id = $1");
    on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?
        .ok_or(StoreError::NotFound)
}

/// Claims a run to prepare (a due scheduled run, or one whose preparer's
/// lease ran out) for `lease`.
pub async fn claim_run_to_prepare(
    db: &Db,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<Run>> {
    const DUE: &str = "((status = 'scheduled' AND scheduled_at <= $1) \
         OR (status = 'preparing' AND (locked_until IS NULL OR locked_until < $1)))";
    let sql = format!(
        "UPDATE delivery_runs SET status = 'preparing', locked_until = $2, \
         started_at = COALESCE(started_at, $1) \
         WHERE id = (SELECT id FROM delivery_runs WHERE {DUE} ORDER BY scheduled_at, id LIMIT 1) \
         AND {DUE} RETURNING {RUN_COLUMNS}"
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(micros(now))
        .bind(micros(now + lease))
        .fetch_optional(pool)
        .await)?)
}

/// One batch to write: its position in the run, the LINE user ids and the
/// retry key it will be sent with.
pub struct NewBatch {
    pub seq: i64,
    pub user_ids: Vec<String>,
    pub retry_key: String,
}

/// Writes batches and moves the run's cursor past the last friend batched, in
/// the caller's transaction (both land or neither). `Ok(false)` when the run
/// is no longer being prepared (cancelled meanwhile): nothing is written.
pub async fn add_batches(
    tx: &mut Tx,
    run_id: i64,
    batches: &[NewBatch],
    prepared_after: i64,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    let moved = on_tx!(&mut *tx, conn => sqlx::query(
        "UPDATE delivery_runs SET prepared_after = $2, locked_until = $3 \
         WHERE id = $1 AND status = 'preparing' AND prepared_after < $2"
    )
    .bind(run_id)
    .bind(prepared_after)
    .bind(micros(lease_until))
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    if moved == 0 {
        return Ok(false);
    }
    for b in batches {
        let recipients = serde_json::to_string(&b.user_ids).map_err(|_| corrupt("recipients"))?;
        on_tx!(&mut *tx, conn => sqlx::query(
            "INSERT INTO delivery_batches (run_id, seq, recipients, size, retry_key, status) \
             VALUES ($1, $2, $3, $4, $5, 'pending')"
        )
        .bind(run_id)
        .bind(b.seq)
        .bind(&recipients)
        .bind(i64::try_from(b.user_ids.len()).unwrap_or(i64::MAX))
        .bind(&b.retry_key)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    }
    Ok(true)
}

/// The next batch number of a run (after a resumed preparation).
pub async fn next_seq(db: &Db, run_id: i64) -> Result<i64> {
    let max: Option<i64> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT MAX(seq) FROM delivery_batches WHERE run_id = $1"
    )
    .bind(run_id)
    .fetch_one(pool)
    .await)?;
    Ok(max.map_or(0, |m| m + 1))
}

/// Every recipient is batched: the run starts sending (or is done at once when
/// nobody matched).
pub async fn finish_preparing(db: &Db, run_id: i64, now: DateTime<Utc>) -> Result<()> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_runs SET \
         recipients = (SELECT COALESCE(SUM(size), 0) FROM delivery_batches WHERE run_id = $1), \
         status = CASE WHEN EXISTS (SELECT 1 FROM delivery_batches WHERE run_id = $1) \
                  THEN 'sending' ELSE 'done' END, \
         finished_at = CASE WHEN EXISTS (SELECT 1 FROM delivery_batches WHERE run_id = $1) \
                  THEN NULL ELSE $2 END, \
         locked_until = NULL \
         WHERE id = $1 AND status = 'preparing'"
    )
    .bind(run_id)
    .bind(micros(now))
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A batch claimed for sending, with what the call needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Batch {
    pub id: i64,
    pub run_id: i64,
    pub seq: i64,
    pub recipients: String,
    pub size: i64,
    pub retry_key: String,
    pub attempts: i64,
    pub first_sent_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub delivery_id: i64,
    pub test: bool,
}

impl Batch {
    pub fn user_ids(&self) -> Result<Vec<String>> {
        serde_json::from_str(&self.recipients).map_err(|_| corrupt("recipients"))
    }
}

/// Claims up to `limit` unsent batches of runs that are sending (or still
/// being prepared: their first batches go out meanwhile), oldest first, for
/// `lease`. Each claim counts an attempt.
pub async fn claim_batches(
    db: &Db,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Batch>> {
    const READY: &str = "(status = 'pending' AND (locked_until IS NULL OR locked_until < $1))";
    const READY_B: &str =
        "(b.status = 'pending' AND (b.locked_until IS NULL OR b.locked_until < $1))";
    let sql = format!(
        "UPDATE delivery_batches SET locked_until = $2, attempts = attempts + 1, \
         first_sent_at = COALESCE(first_sent_at, $1) \
         WHERE id IN (SELECT b.id FROM delivery_batches b JOIN delivery_runs r ON r.id = b.run_id \
                      WHERE {READY_B} AND r.status IN ('preparing', 'sending') \
                      ORDER BY b.id LIMIT $3) \
         AND {READY} RETURNING id"
    );
    let ids: Vec<i64> = on_pool!(db, pool => sqlx::query_scalar(&sql)
        .bind(micros(now))
        .bind(micros(now + lease))
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT b.id, b.run_id, b.seq, b.recipients, b.size, b.retry_key, b.attempts, \
         b.first_sent_at, r.channel, r.delivery_id, r.test \
         FROM delivery_batches b JOIN delivery_runs r ON r.id = b.run_id \
         WHERE b.id IN ({}) ORDER BY b.id",
        placeholders.join(", ")
    );
    Ok(on_pool!(db, pool => {
        let mut q = sqlx::query_as(&sql);
        for id in &ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

/// LINE accepted the batch (200, or 409 for a key it had already accepted).
pub async fn mark_batch_sent(
    tx: &mut Tx,
    batch_id: i64,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE delivery_batches SET status = 'sent', sent_at = $2, request_id = $3, \
         locked_until = NULL, error = '' WHERE id = $1 AND status = 'pending'"
    )
    .bind(batch_id)
    .bind(micros(now))
    .bind(request_id)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A failed attempt: tried again after `retry_at`, or failed for good when
/// `permanent` (LINE refused the request; a retry would be refused too).
pub async fn mark_batch_failed(
    db: &Db,
    batch_id: i64,
    error: &str,
    permanent: bool,
    retry_at: DateTime<Utc>,
) -> Result<()> {
    let error: String = error.chars().take(500).collect();
    on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_batches SET status = CASE WHEN $3 THEN 'failed' ELSE status END, \
         locked_until = $4, error = $2 WHERE id = $1 AND status = 'pending'"
    )
    .bind(batch_id)
    .bind(&error)
    .bind(permanent)
    .bind(micros(retry_at))
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Closes runs that are sending and have no batch left to send: the counts
/// are summed from their batches. Returns the runs closed.
pub async fn complete_runs(db: &Db, now: DateTime<Utc>) -> Result<u64> {
    Ok(on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_runs SET status = 'done', finished_at = $1, \
         succeeded = (SELECT COALESCE(SUM(size), 0) FROM delivery_batches b \
                      WHERE b.run_id = delivery_runs.id AND b.status = 'sent'), \
         failed = (SELECT COALESCE(SUM(size), 0) FROM delivery_batches b \
                   WHERE b.run_id = delivery_runs.id AND b.status = 'failed') \
         WHERE status = 'sending' AND method = 'multicast' AND NOT EXISTS (SELECT 1 FROM delivery_batches b \
               WHERE b.run_id = delivery_runs.id AND b.status = 'pending')"
    )
    .bind(micros(now))
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?)
}

// ---- Narrowcast runs ----------------------------------------------------------------

/// Turns a run being prepared into a narrowcast of `recipients` friends.
/// `Ok(false)`: no longer ours (cancelled, or another worker took over).
pub async fn set_narrowcast(
    db: &Db,
    run_id: i64,
    recipients: i64,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_runs SET method = 'narrowcast', recipients = $2, locked_until = $3 \
         WHERE id = $1 AND status = 'preparing' AND audience_group_id IS NULL"
    )
    .bind(run_id)
    .bind(recipients)
    .bind(micros(lease_until))
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The audience is uploaded: stores its id and the retry key the narrowcast
/// will carry, and the run starts sending. `Ok(false)`: no longer ours.
pub async fn narrowcast_prepared(
    db: &Db,
    run_id: i64,
    audience_group_id: i64,
    retry_key: &str,
) -> Result<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_runs SET audience_group_id = $2, retry_key = $3, status = 'sending', \
         locked_until = NULL WHERE id = $1 AND status = 'preparing' AND method = 'narrowcast'"
    )
    .bind(run_id)
    .bind(audience_group_id)
    .bind(retry_key)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Claims a narrowcast run that is sending (its audience uploaded) for
/// `lease`: to send it, or to ask LINE how far it has got.
pub async fn claim_narrowcast(db: &Db, now: DateTime<Utc>, lease: Duration) -> Result<Option<Run>> {
    const DUE: &str = "(status = 'sending' AND method = 'narrowcast' \
         AND (locked_until IS NULL OR locked_until < $1))";
    let sql = format!(
        "UPDATE delivery_runs SET locked_until = $2 \
         WHERE id = (SELECT id FROM delivery_runs WHERE {DUE} ORDER BY id LIMIT 1) \
         AND {DUE} RETURNING {RUN_COLUMNS}"
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(micros(now))
        .bind(micros(now + lease))
        .fetch_optional(pool)
        .await)?)
}

/// LINE accepted the narrowcast (200, or 409 for the stored key).
pub async fn narrowcast_accepted(db: &Db, run_id: i64, request_id: &str) -> Result<()> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_runs SET request_id = $2 WHERE id = $1 AND request_id = ''"
    )
    .bind(run_id)
    .bind(request_id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Looks at the run again after `at` (the audience is being processed, the
/// narrowcast is under way, or a call failed), with a note for staff.
pub async fn narrowcast_wait(db: &Db, run_id: i64, at: DateTime<Utc>, note: &str) -> Result<()> {
    let note: String = note.chars().take(500).collect();
    on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_runs SET locked_until = $2, note = $3 \
         WHERE id = $1 AND status = 'sending'"
    )
    .bind(run_id)
    .bind(micros(at))
    .bind(&note)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The narrowcast has finished (or failed for good): LINE's counts.
pub async fn narrowcast_finished(
    db: &Db,
    run_id: i64,
    status: RunStatus,
    succeeded: i64,
    failed: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE delivery_runs SET status = $2, succeeded = $3, failed = $4, note = $5, \
         finished_at = $6, locked_until = NULL WHERE id = $1 AND status = 'sending'"
    )
    .bind(run_id)
    .bind(status.as_str())
    .bind(succeeded)
    .bind(failed)
    .bind(note)
    .bind(micros(now))
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The request ids of a delivery's production narrowcasts (statistics by
/// request id, M15).
pub async fn narrowcast_request_ids(db: &Db, delivery_id: i64) -> Result<Vec<String>> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT request_id FROM delivery_runs WHERE delivery_id = $1 AND test = $2 \
         AND method = 'narrowcast' AND request_id <> '' ORDER BY id"
    )
    .bind(delivery_id)
    .bind(false)
    .fetch_all(pool)
    .await)?)
}

/// Progress of a run while it is sent: batches and recipients by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub batches: i64,
    pub sent_batches: i64,
    pub recipients: i64,
    pub sent: i64,
    pub failed: i64,
    pub pending: i64,
}

pub async fn progress(db: &Db, run_id: i64) -> Result<Progress> {
    let rows: Vec<(String, i64, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT status, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(size), 0) AS BIGINT) \
         FROM delivery_batches WHERE run_id = $1 GROUP BY status"
    )
    .bind(run_id)
    .fetch_all(pool)
    .await)?;
    let mut p = Progress::default();
    for (status, batches, size) in rows {
        p.batches += batches;
        p.recipients += size;
        match status.as_str() {
            "sent" => {
                p.sent_batches += batches;
                p.sent += size;
            }
            "failed" => p.failed += size,
            "pending" => p.pending += size,
            _ => {}
        }
    }
    Ok(p)
}

/// LINE's figures for a delivery (M15), as LINE reports them: `None` where
/// LINE hides a count below its threshold or has none yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Insight {
    pub delivered: Option<i64>,
    pub unique_impressions: Option<i64>,
    pub unique_clicks: Option<i64>,
    pub fetched_at: Option<DateTime<Utc>>,
}

pub async fn save_insight(
    db: &Db,
    delivery_id: i64,
    insight: &Insight,
    now: DateTime<Utc>,
) -> Result<()> {
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO delivery_insights (delivery_id, delivered, unique_impressions, unique_clicks, \
         fetched_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (delivery_id) DO UPDATE SET \
         delivered = EXCLUDED.delivered, unique_impressions = EXCLUDED.unique_impressions, \
         unique_clicks = EXCLUDED.unique_clicks, fetched_at = EXCLUDED.fetched_at"
    )
    .bind(delivery_id)
    .bind(insight.delivered)
    .bind(insight.unique_impressions)
    .bind(insight.unique_clicks)
    .bind(micros(now))
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Production deliveries sent between `from` and `to` whose insight is
/// missing or older than `stale` (LINE's numbers settle over about two weeks).
pub async fn needing_insight(
    db: &Db,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    stale: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>)>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT r.delivery_id, MIN(r.scheduled_at) FROM delivery_runs r \
         LEFT JOIN delivery_insights i ON i.delivery_id = r.delivery_id \
         WHERE r.test = $4 AND r.status = 'done' AND r.scheduled_at >= $1 AND r.scheduled_at < $2 \
         AND (i.fetched_at IS NULL OR i.fetched_at < $3) \
         GROUP BY r.delivery_id ORDER BY r.delivery_id LIMIT 200"
    )
    .bind(micros(from))
    .bind(micros(to))
    .bind(micros(stale))
    .bind(false)
    .fetch_all(pool)
    .await)?)
}

/// One line of the statistics (M15): a delivery with its production runs
/// summed (test sends are not counted), LINE's figures and Hiroba's clicks.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatsRow {
    pub delivery_id: i64,
    pub title: String,
    pub schedule_kind: String,
    pub first_at: DateTime<Utc>,
    pub runs: i64,
    pub recipients: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub delivered: Option<i64>,
    pub unique_impressions: Option<i64>,
    pub unique_clicks: Option<i64>,
    pub link_clicks: i64,
}

/// Deliveries that went out between `from` and `to`, newest first.
pub async fn stats(db: &Db, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<StatsRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT d.id AS delivery_id, d.title, d.schedule_kind, MIN(r.scheduled_at) AS first_at, \
         CAST(COUNT(r.id) AS BIGINT) AS runs, \
         CAST(COALESCE(SUM(r.recipients), 0) AS BIGINT) AS recipients, \
         CAST(COALESCE(SUM(r.succeeded), 0) AS BIGINT) AS succeeded, \
         CAST(COALESCE(SUM(r.failed), 0) AS BIGINT) AS failed, \
         MAX(i.delivered) AS delivered, MAX(i.unique_impressions) AS unique_impressions, \
         MAX(i.unique_clicks) AS unique_clicks, \
         CAST(COALESCE((SELECT COUNT(*) FROM delivery_clicks c JOIN delivery_links l \
             ON l.id = c.link_id WHERE l.delivery_id = d.id), 0) AS BIGINT) AS link_clicks \
         FROM deliveries d JOIN delivery_runs r ON r.delivery_id = d.id \
         LEFT JOIN delivery_insights i ON i.delivery_id = d.id \
         WHERE r.test = $3 AND r.status = 'done' AND r.scheduled_at >= $1 AND r.scheduled_at < $2 \
         GROUP BY d.id, d.title, d.schedule_kind ORDER BY MIN(r.scheduled_at) DESC, d.id DESC"
    )
    .bind(micros(from))
    .bind(micros(to))
    .bind(false)
    .fetch_all(pool)
    .await)?)
}

/// A link of a delivery rewritten to `/r/{token}`: the token for `url`,
/// created once per delivery and URL.
pub async fn link_token(
    tx: &mut Tx,
    delivery_id: i64,
    url: &str,
    new_token: &str,
) -> Result<String> {
    let existing: Option<String> = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "SELECT token FROM delivery_links WHERE delivery_id = $1 AND url = $2"
    )
    .bind(delivery_id)
    .bind(url)
    .fetch_optional(conn)
    .await)?;
    if let Some(token) = existing {
        return Ok(token);
    }
    on_tx!(&mut *tx, conn => sqlx::query(
        "INSERT INTO delivery_links (delivery_id, token, url) VALUES ($1, $2, $3)"
    )
    .bind(delivery_id)
    .bind(new_token)
    .bind(url)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(new_token.to_owned())
}

/// Follows a tracked link: records the visitor's click once (a repeat click
/// by the same visitor is not counted again) and returns the target URL.
pub async fn click(
    db: &Db,
    token: &str,
    visitor: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let link: Option<(i64, String)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT id, url FROM delivery_links WHERE token = $1"
    )
    .bind(token)
    .fetch_optional(pool)
    .await)?;
    let Some((id, url)) = link else {
        return Ok(None);
    };
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO delivery_clicks (link_id, visitor, at) VALUES ($1, $2, $3) \
         ON CONFLICT (link_id, visitor) DO NOTHING"
    )
    .bind(id)
    .bind(visitor)
    .bind(micros(now))
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(Some(url))
}

/// Unique clicks per link of a delivery.
pub async fn link_clicks(db: &Db, delivery_id: i64) -> Result<Vec<(String, i64)>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT l.url, CAST(COUNT(c.visitor) AS BIGINT) FROM delivery_links l \
         LEFT JOIN delivery_clicks c ON c.link_id = l.id WHERE l.delivery_id = $1 \
         GROUP BY l.id, l.url ORDER BY l.id"
    )
    .bind(delivery_id)
    .fetch_all(pool)
    .await)?)
}

/// Whether a segment is the audience of a delivery that may still go out.
pub async fn segment_in_use(db: &Db, segment_id: i64) -> Result<bool> {
    let n: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE segment_id = $1 \
         AND status IN ('draft', 'pending_approval', 'approved')"
    )
    .bind(segment_id)
    .fetch_one(pool)
    .await)?;
    Ok(n > 0)
}

/// Replaces a delivery's messages (its links rewritten at confirmation).
pub async fn set_messages(tx: &mut Tx, id: i64, messages: &[serde_json::Value]) -> Result<()> {
    let json = serde_json::Value::Array(messages.to_vec()).to_string();
    on_tx!(tx, conn => sqlx::query("UPDATE deliveries SET messages = $2 WHERE id = $1")
        .bind(id)
        .bind(&json)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
