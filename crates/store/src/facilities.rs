//! Facilities (施設) and their rooms (室場): the catalogue's top two levels.

use chrono::Utc;

use crate::{Db, Result, StoreError, Tx, is_unique_violation, on_pool, on_tx};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Facility {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub address: String,
    pub phone: String,
    pub info_url: String,
    pub contact: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub change_days_before: i64,
    pub resident_may_change: bool,
    /// The cancellation deadline (A21), set apart from the change deadline
    /// on the booking-rules page.
    pub cancel_days_before: i64,
    pub resident_may_cancel: bool,
    pub activity_free_text: bool,
    pub sort_order: i64,
}

impl Facility {
    /// Until when residents may change and cancel online (A21).
    pub fn deadlines(&self) -> hiroba_domain::booking_rules::Deadlines {
        deadlines(
            self.change_days_before,
            self.resident_may_change,
            self.cancel_days_before,
            self.resident_may_cancel,
        )
    }
}

/// The deadlines as stored (days are 0..=365 by the schema's checks).
pub fn deadlines(
    change_days: i64,
    may_change: bool,
    cancel_days: i64,
    may_cancel: bool,
) -> hiroba_domain::booking_rules::Deadlines {
    use hiroba_domain::booking_rules::{Deadline, Deadlines};
    Deadlines {
        change: Deadline {
            days_before: u32::try_from(change_days).unwrap_or(0),
            online: may_change,
        },
        cancel: Deadline {
            days_before: u32::try_from(cancel_days).unwrap_or(0),
            online: may_cancel,
        },
    }
}

/// Who may see a room and what (A09).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Details and availability.
    Public,
    /// Availability only, no booking details.
    Availability,
    /// Staff only.
    Private,
}

impl Visibility {
    pub const ALL: [Visibility; 3] = [
        Visibility::Public,
        Visibility::Availability,
        Visibility::Private,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Availability => "availability",
            Visibility::Private => "private",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Visibility::Public => "公開（詳細と空き状況）",
            Visibility::Availability => "空き状況のみ公開",
            Visibility::Private => "非公開（職員のみ）",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Room {
    pub id: i64,
    pub facility_id: i64,
    pub name: String,
    pub description: String,
    pub capacity: Option<i64>,
    pub visibility: String,
    pub min_minutes: i64,
    pub sort_order: i64,
}

impl Room {
    pub fn visibility(&self) -> Visibility {
        Visibility::parse(&self.visibility).unwrap_or(Visibility::Private)
    }
}

/// The editable fields of a facility.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FacilityChange {
    pub name: String,
    pub description: String,
    pub address: String,
    pub phone: String,
    pub info_url: String,
    pub contact: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub change_days_before: i64,
    pub resident_may_change: bool,
    pub activity_free_text: bool,
}

impl From<&Facility> for FacilityChange {
    fn from(f: &Facility) -> Self {
        Self {
            name: f.name.clone(),
            description: f.description.clone(),
            address: f.address.clone(),
            phone: f.phone.clone(),
            info_url: f.info_url.clone(),
            contact: f.contact.clone(),
            latitude: f.latitude,
            longitude: f.longitude,
            change_days_before: f.change_days_before,
            resident_may_change: f.resident_may_change,
            activity_free_text: f.activity_free_text,
        }
    }
}

/// The editable fields of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomChange {
    pub name: String,
    pub description: String,
    pub capacity: Option<i64>,
    pub visibility: Visibility,
    pub min_minutes: i64,
}

const SELECT_FACILITY: &str = "SELECT id, name, description, address, phone, info_url, contact, latitude, longitude, \
     change_days_before, resident_may_change, cancel_days_before, resident_may_cancel, activity_free_text, sort_order \
     FROM facilities";
const SELECT_ROOM: &str = "SELECT id, facility_id, name, description, capacity, visibility, min_minutes, sort_order FROM rooms";

pub async fn list(db: &Db) -> Result<Vec<Facility>> {
    let sql = format!("{SELECT_FACILITY} ORDER BY sort_order, id");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Facility>> {
    let sql = format!("{SELECT_FACILITY} WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

pub async fn rooms(db: &Db, facility_id: i64) -> Result<Vec<Room>> {
    let sql = format!("{SELECT_ROOM} WHERE facility_id = $1 ORDER BY sort_order, id");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(facility_id).fetch_all(pool).await)?)
}

pub async fn room(db: &Db, id: i64) -> Result<Option<Room>> {
    let sql = format!("{SELECT_ROOM} WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(
        on_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM facilities").fetch_one(pool).await)?,
    )
}

fn map_duplicate(err: sqlx::Error) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Duplicate("name")
    } else {
        err.into()
    }
}

pub async fn insert(tx: &mut Tx, change: &FacilityChange, sort_order: i64) -> Result<i64> {
    let now = Utc::now();
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO facilities (name, description, address, phone, info_url, sort_order, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id"
    )
    .bind(&change.name)
    .bind(&change.description)
    .bind(&change.address)
    .bind(&change.phone)
    .bind(&change.info_url)
    .bind(sort_order)
    .bind(now)
    .fetch_one(conn)
    .await)
    .map_err(map_duplicate)?;
    update(tx, id, change).await?;
    Ok(id)
}

pub async fn update(tx: &mut Tx, id: i64, c: &FacilityChange) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE facilities SET name = $1, description = $2, address = $3, phone = $4, info_url = $5, contact = $6, \
         latitude = $7, longitude = $8, change_days_before = $9, resident_may_change = $10, activity_free_text = $11, \
         updated_at = $12 WHERE id = $13"
    )
    .bind(&c.name)
    .bind(&c.description)
    .bind(&c.address)
    .bind(&c.phone)
    .bind(&c.info_url)
    .bind(&c.contact)
    .bind(c.latitude)
    .bind(c.longitude)
    .bind(c.change_days_before)
    .bind(c.resident_may_change)
    .bind(c.activity_free_text)
    .bind(Utc::now())
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))
    .map_err(map_duplicate)?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The cancellation deadline (A21): days before the use date, and whether
/// residents may cancel online at all.
pub async fn set_cancel_deadline(
    tx: &mut Tx,
    id: i64,
    days_before: i64,
    online: bool,
) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE facilities SET cancel_days_before = $1, resident_may_cancel = $2, updated_at = $3 WHERE id = $4"
    )
    .bind(days_before)
    .bind(online)
    .bind(Utc::now())
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes a facility and everything configured under it.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query("DELETE FROM facilities WHERE id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn insert_room(
    tx: &mut Tx,
    facility_id: i64,
    change: &RoomChange,
    sort_order: i64,
) -> Result<i64> {
    on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO rooms (facility_id, name, description, capacity, visibility, min_minutes, sort_order) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(facility_id)
    .bind(&change.name)
    .bind(&change.description)
    .bind(change.capacity)
    .bind(change.visibility.code())
    .bind(change.min_minutes)
    .bind(sort_order)
    .fetch_one(conn)
    .await)
    .map_err(map_duplicate)
}

pub async fn update_room(tx: &mut Tx, id: i64, change: &RoomChange) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE rooms SET name = $1, description = $2, capacity = $3, visibility = $4, min_minutes = $5 WHERE id = $6"
    )
    .bind(&change.name)
    .bind(&change.description)
    .bind(change.capacity)
    .bind(change.visibility.code())
    .bind(change.min_minutes)
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))
    .map_err(map_duplicate)?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn delete_room(tx: &mut Tx, id: i64) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query("DELETE FROM rooms WHERE id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn next_room_order(db: &Db, facility_id: i64) -> Result<i64> {
    let max: Option<i64> = on_pool!(db, pool => sqlx::query_scalar("SELECT MAX(sort_order) FROM rooms WHERE facility_id = $1")
        .bind(facility_id)
        .fetch_one(pool)
        .await)?;
    Ok(max.unwrap_or(0) + 10)
}
