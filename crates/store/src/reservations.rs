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
    // The invariant: one holder per unit and cell, enforced by the primary key.
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
    for (equipment_id, quantity, fee) in &r.equipment {
        reserve_equipment(tx, id, r, *equipment_id, *quantity, *fee).await?;
    }
    Ok((id, reference))
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
    pub status: String,
    pub payment_status: String,
    pub receipt_no: String,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: String,
}

const SELECT: &str = "SELECT id, reference, facility_id, room_id, combination_id, use_date, start_min, end_min, resident_id, \
     applicant_name, applicant_phone, category_id, purpose, activity, people, fee_total, status, payment_status, receipt_no, \
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

/// Confirmed reservations an applicant holds at a facility within a month.
pub async fn monthly_count(
    db: &Db,
    resident_id: i64,
    facility_id: i64,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM reservations WHERE resident_id = $1 AND facility_id = $2 AND status = 'confirmed' AND use_date >= $3 AND use_date <= $4"
    )
    .bind(resident_id)
    .bind(facility_id)
    .bind(first)
    .bind(last)
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
