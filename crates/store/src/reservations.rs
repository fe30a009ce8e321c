//! Reservations (A22-A24, U06-U10). No double booking, ever (A08): a booking
//! inserts one `reservation_cells` row per unit and 15-minute cell inside its
//! transaction, and the primary key refuses a second holder on both databases.
//! Equipment stock is checked under a row lock on the equipment, so two
//! bookings can never together take more than the stock.

use chrono::{DateTime, NaiveDate, Utc};
use hiroba_domain::booking::cells;
use hiroba_domain::time_of_day::TimeRange;

use crate::{Db, Result, StoreError, Tx, is_unique_violation, on_pool, on_tx};

/// A request that passed the booking checks, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub facility_id: i64,
    pub room_id: i64,
    pub combination_id: i64,
    pub unit_ids: Vec<i64>,
    pub date: NaiveDate,
    /// The chosen slots, consecutive, in order.
    pub slots: Vec<TimeRange>,
    pub resident_id: Option<i64>,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub category_id: i64,
    pub purpose: String,
    pub activity: String,
    pub people: i64,
    pub fee_total: i64,
    pub reduction_id: Option<i64>,
    pub terms_version: Option<i64>,
    /// (equipment id, quantity, fee)
    pub equipment: Vec<(i64, i64, i64)>,
    pub created_by_staff: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// Someone else holds one of the units at one of the times.
    #[error("the slot was taken")]
    Taken,
    /// Not enough equipment left at that time.
    #[error("equipment {name}: only {available} left")]
    EquipmentShort { name: String, available: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for BookingError {
    fn from(e: sqlx::Error) -> Self {
        if is_unique_violation(&e) {
            BookingError::Taken
        } else {
            BookingError::Store(e.into())
        }
    }
}

impl BookingError {
    /// What the applicant reads.
    pub fn message(&self) -> String {
        match self {
            BookingError::Taken => "申し訳ありません。選んだ時間帯は、ほかの方が先に予約しました。空いている別の時間帯を選んでください。".into(),
            BookingError::EquipmentShort { name, available } => {
                format!("「{name}」はその時間帯に残り{available}しかありません。数を減らすか、別の時間帯を選んでください。")
            }
            BookingError::Store(_) => "予約を保存できませんでした。時間をおいてもう一度お試しください。".into(),
        }
    }
}

/// A new reference number residents can read out on the phone: R-XXXX-XXXX
/// without easily confused letters.
fn new_reference() -> Result<String> {
    use password_hash::rand_core::{OsRng, RngCore};
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 8];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| StoreError::PasswordHash)?;
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("R-{}-{}", &chars[..4], &chars[4..]))
}

/// Stores a reservation inside the caller's transaction. On `Taken` or
/// `EquipmentShort` the caller drops the transaction, so nothing is written.
pub async fn create(tx: &mut Tx, r: &NewReservation) -> Result<(i64, String), BookingError> {
    let (Some(first), Some(last)) = (r.slots.first(), r.slots.last()) else {
        return Err(BookingError::Taken);
    };
    let reference = new_reference()?;
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO reservations (reference, facility_id, room_id, combination_id, use_date, start_min, end_min, resident_id, \
         applicant_name, applicant_phone, category_id, purpose, activity, people, fee_total, reduction_id, terms_version, \
         created_by_staff, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id"
    )
    .bind(&reference)
    .bind(r.facility_id)
    .bind(r.room_id)
    .bind(r.combination_id)
    .bind(r.date)
    .bind(i64::from(first.start.minutes()))
    .bind(i64::from(last.end.minutes()))
    .bind(r.resident_id)
    .bind(&r.applicant_name)
    .bind(&r.applicant_phone)
    .bind(r.category_id)
    .bind(&r.purpose)
    .bind(&r.activity)
    .bind(r.people)
    .bind(r.fee_total)
    .bind(r.reduction_id)
    .bind(r.terms_version)
    .bind(r.created_by_staff)
    .bind(Utc::now())
    .fetch_one(conn)
    .await)?;
    hold_cells(tx, id, r).await?;
    for (equipment_id, quantity, fee) in &r.equipment {
        reserve_equipment(tx, id, r, *equipment_id, *quantity, *fee).await?;
    }
    Ok((id, reference))
}

/// Changes a confirmed reservation to what `r` describes (another day, time,
/// unit or full court, equipment, purpose, people ...) in the caller's
/// transaction, keeping its id and reference number. Its held cells and
/// equipment are written anew, so the same primary key that guards a new
/// booking decides here too (A08): on `Taken` or `EquipmentShort` the caller
/// drops the transaction and the reservation stays exactly as it was.
pub async fn change(tx: &mut Tx, id: i64, r: &NewReservation) -> Result<(), BookingError> {
    let (Some(first), Some(last)) = (r.slots.first(), r.slots.last()) else {
        return Err(BookingError::Taken);
    };
    let rows = on_tx!(tx, conn => sqlx::query(
        "UPDATE reservations SET facility_id = $1, room_id = $2, combination_id = $3, use_date = $4, start_min = $5, \
         end_min = $6, category_id = $7, purpose = $8, activity = $9, people = $10, fee_total = $11, reduction_id = $12, \
         terms_version = $13 WHERE id = $14 AND status = 'confirmed'"
    )
    .bind(r.facility_id)
    .bind(r.room_id)
    .bind(r.combination_id)
    .bind(r.date)
    .bind(i64::from(first.start.minutes()))
    .bind(i64::from(last.end.minutes()))
    .bind(r.category_id)
    .bind(&r.purpose)
    .bind(&r.activity)
    .bind(r.people)
    .bind(r.fee_total)
    .bind(r.reduction_id)
    .bind(r.terms_version)
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if rows == 0 {
        return Err(BookingError::Store(StoreError::NotFound));
    }
    // Its own cells go first, so keeping part of the old time (e.g. half A
    // to the full court at the same hour) is no clash with itself.
    on_tx!(tx, conn => sqlx::query("DELETE FROM reservation_cells WHERE reservation_id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    on_tx!(tx, conn => sqlx::query("DELETE FROM reservation_equipment WHERE reservation_id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    hold_cells(tx, id, r).await?;
    for (equipment_id, quantity, fee) in &r.equipment {
        reserve_equipment(tx, id, r, *equipment_id, *quantity, *fee).await?;
    }
    Ok(())
}

/// The invariant: one holder per unit and cell, enforced by the primary key.
async fn hold_cells(tx: &mut Tx, id: i64, r: &NewReservation) -> Result<(), BookingError> {
    for unit in &r.unit_ids {
        for slot in &r.slots {
            for cell in cells(slot) {
                on_tx!(tx, conn => sqlx::query("INSERT INTO reservation_cells (unit_id, use_date, cell, reservation_id) VALUES ($1, $2, $3, $4)")
                    .bind(unit)
                    .bind(r.date)
                    .bind(cell)
                    .bind(id)
                    .execute(conn)
                    .await
                    .map(|r| r.rows_affected()))?;
            }
        }
    }
    Ok(())
}

async fn reserve_equipment(
    tx: &mut Tx,
    id: i64,
    r: &NewReservation,
    equipment_id: i64,
    quantity: i64,
    fee: i64,
) -> Result<(), BookingError> {
    let (Some(first), Some(last)) = (r.slots.first(), r.slots.last()) else {
        return Ok(());
    };
    // Touching the row locks it (PostgreSQL) until commit, so concurrent
    // bookings of the same equipment count one after the other; SQLite has a
    // single writer already.
    let row: Option<(String, i64)> = on_tx!(tx, conn => sqlx::query_as("UPDATE equipment SET stock = stock WHERE id = $1 RETURNING name, stock")
        .bind(equipment_id)
        .fetch_optional(conn)
        .await)?;
    let Some((name, stock)) = row else {
        return Err(BookingError::Store(StoreError::NotFound));
    };
    let used: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(e.quantity), 0) AS BIGINT) FROM reservation_equipment e JOIN reservations r ON r.id = e.reservation_id \
         WHERE e.equipment_id = $1 AND r.status = 'confirmed' AND r.use_date = $2 AND r.start_min < $4 AND r.end_min > $3"
    )
    .bind(equipment_id)
    .bind(r.date)
    .bind(i64::from(first.start.minutes()))
    .bind(i64::from(last.end.minutes()))
    .fetch_one(conn)
    .await)?;
    if used + quantity > stock {
        return Err(BookingError::EquipmentShort {
            name,
            available: (stock - used).max(0),
        });
    }
    on_tx!(tx, conn => sqlx::query("INSERT INTO reservation_equipment (reservation_id, equipment_id, quantity, fee) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(equipment_id)
        .bind(quantity)
        .bind(fee)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reservation {
    pub id: i64,
    pub reference: String,
    pub facility_id: i64,
    pub room_id: i64,
    pub combination_id: i64,
    pub use_date: NaiveDate,
    pub start_min: i64,
    pub end_min: i64,
    pub resident_id: Option<i64>,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub category_id: i64,
    pub purpose: String,
    pub activity: String,
    pub people: i64,
    pub fee_total: i64,
    pub reduction_id: Option<i64>,
    pub terms_version: Option<i64>,
    pub status: String,
    pub payment_status: String,
    pub receipt_no: String,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: String,
}

const SELECT: &str = "SELECT id, reference, facility_id, room_id, combination_id, use_date, start_min, end_min, resident_id, \
     applicant_name, applicant_phone, category_id, purpose, activity, people, fee_total, reduction_id, terms_version, status, \
     payment_status, receipt_no, \
     created_at, cancelled_at, cancel_reason FROM reservations";

pub async fn get(db: &Db, id: i64) -> Result<Option<Reservation>> {
    let sql = format!("{SELECT} WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

pub async fn for_room(
    db: &Db,
    room_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Reservation>> {
    let sql = format!(
        "{SELECT} WHERE room_id = $1 AND use_date >= $2 AND use_date <= $3 AND status = 'confirmed' ORDER BY use_date, start_min"
    );
    Ok(
        on_pool!(db, pool => sqlx::query_as(&sql).bind(room_id).bind(from).bind(to).fetch_all(pool).await)?,
    )
}

/// (date, unit, cell) of every held cell of a room's units in a date range,
/// for the availability views. The database folds each unit's day into two
/// 48-bit masks (cells 0-47 and 48-95; the primary key makes SUM an OR), so a
/// busy month is a few dozen rows rather than thousands (C05).
pub async fn held_cells(
    db: &Db,
    room_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, i64, i64)>> {
    let days: Vec<(NaiveDate, i64, i64, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT c.use_date, c.unit_id, \
         CAST(SUM(CASE WHEN c.cell < 48 THEN CAST(1 AS BIGINT) << CAST(c.cell AS INTEGER) ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN c.cell >= 48 THEN CAST(1 AS BIGINT) << CAST(c.cell - 48 AS INTEGER) ELSE 0 END) AS BIGINT) \
         FROM reservation_cells c JOIN units u ON u.id = c.unit_id \
         WHERE u.room_id = $1 AND c.use_date >= $2 AND c.use_date <= $3 GROUP BY c.use_date, c.unit_id"
    )
    .bind(room_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?;
    let mut out = Vec::new();
    for (date, unit, low, high) in days {
        for (base, bits) in [(0, low), (48, high)] {
            for cell in 0..48 {
                if bits & (1 << cell) != 0 {
                    out.push((date, unit, base + cell));
                }
            }
        }
    }
    Ok(out)
}

/// (date, unit, cell) a reservation holds: what a change of it may reuse.
pub async fn cells_of(db: &Db, id: i64) -> Result<Vec<(NaiveDate, i64, i64)>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT use_date, unit_id, cell FROM reservation_cells WHERE reservation_id = $1"
    )
    .bind(id)
    .fetch_all(pool)
    .await)?)
}

/// (equipment id, quantity) booked with a reservation, for the change forms.
pub async fn equipment_quantities(db: &Db, id: i64) -> Result<Vec<(i64, i64)>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT equipment_id, quantity FROM reservation_equipment WHERE reservation_id = $1 ORDER BY equipment_id"
    )
    .bind(id)
    .fetch_all(pool)
    .await)?)
}

/// Confirmed reservations an applicant holds at a facility within a month,
/// leaving out `except` (the reservation being changed).
pub async fn monthly_count(
    db: &Db,
    resident_id: i64,
    facility_id: i64,
    first: NaiveDate,
    last: NaiveDate,
    except: Option<i64>,
) -> Result<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM reservations WHERE resident_id = $1 AND facility_id = $2 AND status = 'confirmed' \
         AND use_date >= $3 AND use_date <= $4 AND id <> $5"
    )
    .bind(resident_id)
    .bind(facility_id)
    .bind(first)
    .bind(last)
    .bind(except.unwrap_or(0))
    .fetch_one(pool)
    .await)?)
}

/// Cancels a reservation and frees its cells at once.
pub async fn cancel(tx: &mut Tx, id: i64, reason: &str) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query(
        "UPDATE reservations SET status = 'cancelled', cancelled_at = $1, cancel_reason = $2 WHERE id = $3 AND status = 'confirmed'"
    )
    .bind(Utc::now())
    .bind(reason)
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if rows == 0 {
        return Err(StoreError::NotFound);
    }
    on_tx!(tx, conn => sqlx::query("DELETE FROM reservation_cells WHERE reservation_id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether a facility (or one of its rooms) has confirmed reservations from `today` on.
pub async fn has_future(
    db: &Db,
    facility_id: i64,
    room_id: Option<i64>,
    today: NaiveDate,
) -> Result<bool> {
    let n: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM reservations WHERE facility_id = $1 AND ($2 IS NULL OR room_id = $2) AND use_date >= $3 AND status = 'confirmed'"
    )
    .bind(facility_id)
    .bind(room_id)
    .bind(today)
    .fetch_one(pool)
    .await)?;
    Ok(n > 0)
}

/// A reservation with the names residents and staff read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReservationView {
    #[sqlx(flatten)]
    pub r: Reservation,
    pub facility_name: String,
    pub facility_phone: String,
    pub room_name: String,
    pub combination_name: String,
    pub category_name: String,
    pub change_days_before: i64,
    pub resident_may_change: bool,
    pub cancel_days_before: i64,
    pub resident_may_cancel: bool,
}

impl ReservationView {
    /// The facility's change and cancellation deadlines (A21).
    pub fn deadlines(&self) -> hiroba_domain::booking_rules::Deadlines {
        crate::facilities::deadlines(
            self.change_days_before,
            self.resident_may_change,
            self.cancel_days_before,
            self.resident_may_cancel,
        )
    }
}

const SELECT_VIEW: &str = "SELECT r.id, r.reference, r.facility_id, r.room_id, r.combination_id, r.use_date, r.start_min, r.end_min, \
     r.resident_id, r.applicant_name, r.applicant_phone, r.category_id, r.purpose, r.activity, r.people, r.fee_total, \
     r.reduction_id, r.terms_version, r.status, r.payment_status, r.receipt_no, r.created_at, r.cancelled_at, r.cancel_reason, \
     f.name AS facility_name, f.phone AS facility_phone, m.name AS room_name, c.name AS combination_name, \
     k.name AS category_name, f.change_days_before, f.resident_may_change, f.cancel_days_before, f.resident_may_cancel \
     FROM reservations r JOIN facilities f ON f.id = r.facility_id JOIN rooms m ON m.id = r.room_id \
     JOIN combinations c ON c.id = r.combination_id JOIN user_categories k ON k.id = r.category_id";

pub async fn view(db: &Db, id: i64) -> Result<Option<ReservationView>> {
    let sql = format!("{SELECT_VIEW} WHERE r.id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

pub async fn view_by_reference(db: &Db, reference: &str) -> Result<Option<ReservationView>> {
    let sql = format!("{SELECT_VIEW} WHERE r.reference = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(reference).fetch_optional(pool).await)?)
}

/// A resident's reservations, newest use date first ("my reservations", U10).
pub async fn for_resident(db: &Db, resident_id: i64) -> Result<Vec<ReservationView>> {
    let sql = format!(
        "{SELECT_VIEW} WHERE r.resident_id = $1 ORDER BY r.use_date DESC, r.start_min DESC LIMIT 500"
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(resident_id).fetch_all(pool).await)?)
}

/// (name, quantity, unit label, fee) of the equipment booked with a reservation.
pub async fn equipment_of(db: &Db, id: i64) -> Result<Vec<(String, i64, String, i64)>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT e.name, re.quantity, e.unit_label, re.fee FROM reservation_equipment re JOIN equipment e ON e.id = re.equipment_id \
         WHERE re.reservation_id = $1 ORDER BY e.sort_order, e.id"
    )
    .bind(id)
    .fetch_all(pool)
    .await)?)
}

/// Search for the staff's reservation list (A22).
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Reference, applicant name or phone (substring).
    pub text: String,
    pub facility_ids: Option<Vec<i64>>,
    pub facility_id: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// confirmed / cancelled; None = both.
    pub status: Option<String>,
    pub payment_status: Option<String>,
    pub limit: i64,
}

pub async fn search(db: &Db, s: &Search) -> Result<Vec<ReservationView>> {
    // The facility scope is a short list of ids; they are bound one by one.
    let scope = s.facility_ids.as_ref().map(|ids| {
        if ids.is_empty() {
            "0 = 1".to_owned()
        } else {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!("r.facility_id IN ({})", list.join(", "))
        }
    });
    let sql = format!(
        "{SELECT_VIEW} WHERE ($1 = '' OR r.reference LIKE $2 OR r.applicant_name LIKE $2 OR r.applicant_phone LIKE $2) \
         AND ($3 IS NULL OR r.facility_id = $3) AND ($4 IS NULL OR r.use_date >= $4) AND ($5 IS NULL OR r.use_date <= $5) \
         AND ($6 IS NULL OR r.status = $6) AND ($7 IS NULL OR r.payment_status = $7) AND {} \
         ORDER BY r.use_date, r.start_min, r.id LIMIT $8",
        scope.unwrap_or_else(|| "1 = 1".to_owned())
    );
    let text = s.text.trim();
    let like = format!("%{}%", text.replace(['%', '_'], ""));
    let limit = if s.limit > 0 { s.limit } else { 200 };
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(text)
        .bind(&like)
        .bind(s.facility_id)
        .bind(s.from)
        .bind(s.to)
        .bind(&s.status)
        .bind(&s.payment_status)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
}

/// Changes what may change without touching the time: people, purpose,
/// activity (residents within the deadline, staff any time).
pub async fn update_details(
    tx: &mut Tx,
    id: i64,
    people: i64,
    purpose: &str,
    activity: &str,
) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query(
        "UPDATE reservations SET people = $1, purpose = $2, activity = $3 WHERE id = $4 AND status = 'confirmed'"
    )
    .bind(people)
    .bind(purpose)
    .bind(activity)
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if rows == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Staff's changes at the counter (A22): applicant name, payment status
/// (未納/納付済/減免) and receipt number.
pub async fn update_by_staff(
    tx: &mut Tx,
    id: i64,
    applicant_name: &str,
    applicant_phone: &str,
    payment_status: &str,
    receipt_no: &str,
) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query(
        "UPDATE reservations SET applicant_name = $1, applicant_phone = $2, payment_status = $3, receipt_no = $4 WHERE id = $5"
    )
    .bind(applicant_name)
    .bind(applicant_phone)
    .bind(payment_status)
    .bind(receipt_no)
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if rows == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Confirmed reservations of the given rooms in a date range, for the desk calendar.
pub async fn for_rooms(
    db: &Db,
    room_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ReservationView>> {
    if room_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = room_ids.iter().map(i64::to_string).collect();
    let sql = format!(
        "{SELECT_VIEW} WHERE r.room_id IN ({}) AND r.use_date >= $1 AND r.use_date <= $2 AND r.status = 'confirmed' \
         ORDER BY r.use_date, r.start_min",
        list.join(", ")
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await)?)
}

/// Payment status labels (A22).
pub fn payment_label(code: &str) -> &'static str {
    match code {
        "paid" => "納付済",
        "exempt" => "減免",
        _ => "未納",
    }
}
