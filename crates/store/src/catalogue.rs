//! Everything staff configure under a facility (issue 3): units and their
//! combinations (片面), user categories and booking windows, purposes,
//! activities, equipment, fees, reductions, opening hours, slots, closed days,
//! closures, blocks and terms. Rows mirror the tables; `calendar_input`
//! (in `catalogue_domain`) turns them into the domain's types.

use chrono::{NaiveDate, Utc};

use crate::{Db, Result, StoreError, Tx, is_unique_violation, on_pool, on_tx};

fn dup(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |err| {
        if is_unique_violation(&err) {
            StoreError::Duplicate(what)
        } else {
            err.into()
        }
    }
}

fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Deletes one row of a catalogue table that belongs to `facility_id`, so a
/// forged id of another facility cannot be deleted through this facility's page.
pub async fn delete_owned(tx: &mut Tx, table: OwnedTable, id: i64, facility_id: i64) -> Result<()> {
    let sql = format!(
        "DELETE FROM {} WHERE id = $1 AND facility_id = $2",
        table.name()
    );
    let rows = on_tx!(tx, conn => sqlx::query(&sql).bind(id).bind(facility_id).execute(conn).await.map(|r| r.rows_affected()))?;
    found(rows)
}

/// Catalogue tables that carry a `facility_id` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnedTable {
    Purposes,
    Activities,
    Equipment,
    OpeningRules,
    ClosedRules,
    Closures,
    Blocks,
    Photos,
}

impl OwnedTable {
    fn name(self) -> &'static str {
        match self {
            OwnedTable::Purposes => "purposes",
            OwnedTable::Activities => "activities",
            OwnedTable::Equipment => "equipment",
            OwnedTable::OpeningRules => "opening_rules",
            OwnedTable::ClosedRules => "closed_rules",
            OwnedTable::Closures => "closures",
            OwnedTable::Blocks => "blocks",
            OwnedTable::Photos => "facility_photos",
        }
    }
}

// ---- units and combinations -------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Unit {
    pub id: i64,
    pub room_id: i64,
    pub name: String,
    pub sort_order: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combination {
    pub id: i64,
    pub room_id: i64,
    pub name: String,
    pub sort_order: i64,
    pub unit_ids: Vec<i64>,
}

pub async fn units(db: &Db, room_id: i64) -> Result<Vec<Unit>> {
    Ok(
        on_pool!(db, pool => sqlx::query_as("SELECT id, room_id, name, sort_order FROM units WHERE room_id = $1 ORDER BY sort_order, id")
        .bind(room_id)
        .fetch_all(pool)
        .await)?,
    )
}

pub async fn combinations(db: &Db, room_id: i64) -> Result<Vec<Combination>> {
    let heads: Vec<(i64, i64, String, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT id, room_id, name, sort_order FROM combinations WHERE room_id = $1 ORDER BY sort_order, id"
    )
    .bind(room_id)
    .fetch_all(pool)
    .await)?;
    let members: Vec<(i64, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT cu.combination_id, cu.unit_id FROM combination_units cu JOIN combinations c ON c.id = cu.combination_id \
         WHERE c.room_id = $1 ORDER BY cu.unit_id"
    )
    .bind(room_id)
    .fetch_all(pool)
    .await)?;
    Ok(heads
        .into_iter()
        .map(|(id, room_id, name, sort_order)| Combination {
            id,
            room_id,
            name,
            sort_order,
            unit_ids: members
                .iter()
                .filter(|(c, _)| *c == id)
                .map(|(_, u)| *u)
                .collect(),
        })
        .collect())
}

pub async fn combination(db: &Db, id: i64) -> Result<Option<Combination>> {
    let room: Option<i64> = on_pool!(db, pool => sqlx::query_scalar("SELECT room_id FROM combinations WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    let Some(room) = room else { return Ok(None) };
    Ok(combinations(db, room)
        .await?
        .into_iter()
        .find(|c| c.id == id))
}

pub async fn insert_unit(tx: &mut Tx, room_id: i64, name: &str, sort_order: i64) -> Result<i64> {
    on_tx!(tx, conn => sqlx::query_scalar("INSERT INTO units (room_id, name, sort_order) VALUES ($1, $2, $3) RETURNING id")
        .bind(room_id)
        .bind(name)
        .bind(sort_order)
        .fetch_one(conn)
        .await)
    .map_err(dup("unit"))
}

pub async fn rename_unit(tx: &mut Tx, room_id: i64, id: i64, name: &str) -> Result<()> {
    let rows =
        on_tx!(tx, conn => sqlx::query("UPDATE units SET name = $1 WHERE id = $2 AND room_id = $3")
        .bind(name)
        .bind(id)
        .bind(room_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(dup("unit"))?;
    found(rows)
}

pub async fn delete_unit(tx: &mut Tx, room_id: i64, id: i64) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query("DELETE FROM units WHERE id = $1 AND room_id = $2").bind(id).bind(room_id).execute(conn).await.map(|r| r.rows_affected()))?;
    found(rows)
}

/// Replaces a room's combinations with `combos` (name, unit ids) in order.
/// Fee rules hang off combinations, so combinations keep their ids by name.
pub async fn save_combinations(
    tx: &mut Tx,
    room_id: i64,
    combos: &[(String, Vec<i64>)],
) -> Result<()> {
    let existing: Vec<(i64, String)> = on_tx!(tx, conn => sqlx::query_as("SELECT id, name FROM combinations WHERE room_id = $1")
        .bind(room_id)
        .fetch_all(conn)
        .await)?;
    for (id, name) in &existing {
        if !combos.iter().any(|(n, _)| n == name) {
            on_tx!(tx, conn => sqlx::query("DELETE FROM combinations WHERE id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
        }
    }
    for (order, (name, unit_ids)) in (1_i64..).zip(combos) {
        let id = match existing.iter().find(|(_, n)| n == name) {
            Some((id, _)) => {
                on_tx!(tx, conn => sqlx::query("UPDATE combinations SET sort_order = $1 WHERE id = $2").bind(order * 10).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
                *id
            }
            None => on_tx!(tx, conn => sqlx::query_scalar(
                "INSERT INTO combinations (room_id, name, sort_order) VALUES ($1, $2, $3) RETURNING id"
            )
            .bind(room_id)
            .bind(name)
            .bind(order * 10)
            .fetch_one(conn)
            .await)
            .map_err(dup("combination"))?,
        };
        on_tx!(tx, conn => sqlx::query("DELETE FROM combination_units WHERE combination_id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
        for unit in unit_ids {
            on_tx!(tx, conn => sqlx::query("INSERT INTO combination_units (combination_id, unit_id) VALUES ($1, $2)")
                .bind(id)
                .bind(unit)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
    }
    Ok(())
}

// ---- user categories and booking windows ---------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserCategory {
    pub id: i64,
    pub name: String,
    pub needs_proof: bool,
    pub sort_order: i64,
}

pub async fn categories(db: &Db) -> Result<Vec<UserCategory>> {
    Ok(
        on_pool!(db, pool => sqlx::query_as("SELECT id, name, needs_proof, sort_order FROM user_categories ORDER BY sort_order, id")
        .fetch_all(pool)
        .await)?,
    )
}

pub async fn insert_category(
    tx: &mut Tx,
    name: &str,
    needs_proof: bool,
    sort_order: i64,
) -> Result<i64> {
    on_tx!(tx, conn => sqlx::query_scalar("INSERT INTO user_categories (name, needs_proof, sort_order) VALUES ($1, $2, $3) RETURNING id")
        .bind(name)
        .bind(needs_proof)
        .bind(sort_order)
        .fetch_one(conn)
        .await)
    .map_err(dup("name"))
}

pub async fn update_category(tx: &mut Tx, id: i64, name: &str, needs_proof: bool) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query("UPDATE user_categories SET name = $1, needs_proof = $2 WHERE id = $3")
        .bind(name)
        .bind(needs_proof)
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
    .map_err(dup("name"))?;
    found(rows)
}

pub async fn delete_category(tx: &mut Tx, id: i64) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query("DELETE FROM user_categories WHERE id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    found(rows)
}

/// Which categories may book a facility, and how (A14).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FacilityCategory {
    pub facility_id: i64,
    pub category_id: i64,
    pub window_kind: String,
    pub window_n: i64,
    pub opens_on_day: i64,
    pub monthly_limit: Option<i64>,
}

pub async fn facility_categories(db: &Db, facility_id: i64) -> Result<Vec<FacilityCategory>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT facility_id, category_id, window_kind, window_n, opens_on_day, monthly_limit FROM facility_categories WHERE facility_id = $1 ORDER BY category_id"
    )
    .bind(facility_id)
    .fetch_all(pool)
    .await)?)
}

pub async fn save_facility_categories(
    tx: &mut Tx,
    facility_id: i64,
    rows: &[FacilityCategory],
) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM facility_categories WHERE facility_id = $1").bind(facility_id).execute(conn).await.map(|r| r.rows_affected()))?;
    for r in rows {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO facility_categories (facility_id, category_id, window_kind, window_n, opens_on_day, monthly_limit) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(facility_id)
        .bind(r.category_id)
        .bind(&r.window_kind)
        .bind(r.window_n)
        .bind(r.opens_on_day)
        .bind(r.monthly_limit)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

// ---- purposes and activities ------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Purpose {
    pub id: i64,
    pub facility_id: i64,
    pub room_id: Option<i64>,
    pub combination_id: Option<i64>,
    pub name: String,
}

pub async fn purposes(db: &Db, facility_id: i64) -> Result<Vec<Purpose>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, facility_id, room_id, combination_id, name FROM purposes WHERE facility_id = $1 ORDER BY sort_order, id"
    )
    .bind(facility_id)
    .fetch_all(pool)
    .await)?)
}

pub async fn insert_purpose(
    tx: &mut Tx,
    facility_id: i64,
    room_id: Option<i64>,
    combination_id: Option<i64>,
    name: &str,
) -> Result<i64> {
    Ok(on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO purposes (facility_id, room_id, combination_id, name, sort_order) \
         VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(sort_order), 0) + 10 FROM purposes WHERE facility_id = $1)) RETURNING id"
    )
    .bind(facility_id)
    .bind(room_id)
    .bind(combination_id)
    .bind(name)
    .fetch_one(conn)
    .await)?)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Activity {
    pub id: i64,
    pub facility_id: i64,
    pub name: String,
}

pub async fn activities(db: &Db, facility_id: i64) -> Result<Vec<Activity>> {
    Ok(
        on_pool!(db, pool => sqlx::query_as("SELECT id, facility_id, name FROM activities WHERE facility_id = $1 ORDER BY sort_order, id")
        .bind(facility_id)
        .fetch_all(pool)
        .await)?,
    )
}

pub async fn insert_activity(tx: &mut Tx, facility_id: i64, name: &str) -> Result<i64> {
    on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO activities (facility_id, name, sort_order) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(sort_order), 0) + 10 FROM activities WHERE facility_id = $1)) RETURNING id"
    )
    .bind(facility_id)
    .bind(name)
    .fetch_one(conn)
    .await)
    .map_err(dup("name"))
}

// ---- equipment ----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Equipment {
    pub id: i64,
    pub facility_id: i64,
    pub room_id: Option<i64>,
    pub name: String,
    pub stock: i64,
    pub unit_label: String,
    pub fee: i64,
    pub per_hour: bool,
    pub with_room: bool,
}

/// A new or changed piece of equipment (備品・附属設備).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquipmentChange {
    pub room_id: Option<i64>,
    pub name: String,
    pub stock: i64,
    pub unit_label: String,
    pub fee: i64,
    pub per_hour: bool,
    pub with_room: bool,
}

pub async fn equipment(db: &Db, facility_id: i64) -> Result<Vec<Equipment>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, facility_id, room_id, name, stock, unit_label, fee, per_hour, with_room FROM equipment WHERE facility_id = $1 ORDER BY sort_order, id"
    )
    .bind(facility_id)
    .fetch_all(pool)
    .await)?)
}

pub async fn insert_equipment(tx: &mut Tx, facility_id: i64, e: &EquipmentChange) -> Result<i64> {
    Ok(on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO equipment (facility_id, room_id, name, stock, unit_label, fee, per_hour, with_room, sort_order) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, (SELECT COALESCE(MAX(sort_order), 0) + 10 FROM equipment WHERE facility_id = $1)) RETURNING id"
    )
    .bind(facility_id)
    .bind(e.room_id)
    .bind(&e.name)
    .bind(e.stock)
    .bind(&e.unit_label)
    .bind(e.fee)
    .bind(e.per_hour)
    .bind(e.with_room)
    .fetch_one(conn)
    .await)?)
}

pub async fn update_equipment(
    tx: &mut Tx,
    facility_id: i64,
    id: i64,
    e: &EquipmentChange,
) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query(
        "UPDATE equipment SET room_id = $1, name = $2, stock = $3, unit_label = $4, fee = $5, per_hour = $6, with_room = $7 \
         WHERE id = $8 AND facility_id = $9"
    )
    .bind(e.room_id)
    .bind(&e.name)
    .bind(e.stock)
    .bind(&e.unit_label)
    .bind(e.fee)
    .bind(e.per_hour)
    .bind(e.with_room)
    .bind(id)
    .bind(facility_id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    found(rows)
}

// ---- fees and reductions --------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeeRuleRow {
    pub id: i64,
    pub combination_id: i64,
    pub category_id: Option<i64>,
    pub days: i64,
    pub start_min: i64,
    pub end_min: i64,
    pub per_hour: bool,
    pub amount: i64,
}

pub async fn fee_rules(db: &Db, combination_id: i64) -> Result<Vec<FeeRuleRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, combination_id, category_id, days, start_min, end_min, per_hour, amount FROM fee_rules WHERE combination_id = $1 ORDER BY start_min, id"
    )
    .bind(combination_id)
    .fetch_all(pool)
    .await)?)
}

/// Replaces the fee table of one combination.
pub async fn save_fee_rules(tx: &mut Tx, combination_id: i64, rules: &[FeeRuleRow]) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM fee_rules WHERE combination_id = $1").bind(combination_id).execute(conn).await.map(|r| r.rows_affected()))?;
    for r in rules {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO fee_rules (combination_id, category_id, days, start_min, end_min, per_hour, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(combination_id)
        .bind(r.category_id)
        .bind(r.days)
        .bind(r.start_min)
        .bind(r.end_min)
        .bind(r.per_hour)
        .bind(r.amount)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReductionRow {
    pub id: i64,
    pub name: String,
    pub percent: i64,
    pub include_equipment: bool,
}

pub async fn reductions(db: &Db) -> Result<Vec<ReductionRow>> {
    Ok(
        on_pool!(db, pool => sqlx::query_as("SELECT id, name, percent, include_equipment FROM reductions ORDER BY sort_order, id")
        .fetch_all(pool)
        .await)?,
    )
}

pub async fn insert_reduction(
    tx: &mut Tx,
    name: &str,
    percent: i64,
    include_equipment: bool,
) -> Result<i64> {
    on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO reductions (name, percent, include_equipment, sort_order) \
         VALUES ($1, $2, $3, (SELECT COALESCE(MAX(sort_order), 0) + 10 FROM reductions)) RETURNING id"
    )
    .bind(name)
    .bind(percent)
    .bind(include_equipment)
    .fetch_one(conn)
    .await)
    .map_err(dup("name"))
}

pub async fn delete_reduction(tx: &mut Tx, id: i64) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query("DELETE FROM reductions WHERE id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    found(rows)
}

// ---- time: opening hours, slots, closed days, closures, blocks -------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpeningRow {
    pub id: i64,
    pub facility_id: i64,
    pub days: i64,
    pub season_from: Option<String>,
    pub season_to: Option<String>,
    pub start_min: i64,
    pub end_min: i64,
}

pub async fn opening_rules(db: &Db, facility_id: i64) -> Result<Vec<OpeningRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, facility_id, days, season_from, season_to, start_min, end_min FROM opening_rules WHERE facility_id = $1 ORDER BY sort_order, id"
    )
    .bind(facility_id)
    .fetch_all(pool)
    .await)?)
}

/// Replaces a facility's opening rules, in the given order (first match wins).
pub async fn save_opening_rules(tx: &mut Tx, facility_id: i64, rows: &[OpeningRow]) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM opening_rules WHERE facility_id = $1").bind(facility_id).execute(conn).await.map(|r| r.rows_affected()))?;
    for (order, r) in (1_i64..).zip(rows) {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO opening_rules (facility_id, days, season_from, season_to, start_min, end_min, sort_order) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(facility_id)
        .bind(r.days)
        .bind(&r.season_from)
        .bind(&r.season_to)
        .bind(r.start_min)
        .bind(r.end_min)
        .bind(order * 10)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPatternRow {
    pub id: i64,
    pub room_id: i64,
    pub days: i64,
    pub season_from: Option<String>,
    pub season_to: Option<String>,
    /// (label, start minute, end minute)
    pub slots: Vec<(String, i64, i64)>,
}

/// id, room, days, season from, season to.
type PatternHead = (i64, i64, i64, Option<String>, Option<String>);

pub async fn slot_patterns(db: &Db, room_id: i64) -> Result<Vec<SlotPatternRow>> {
    let heads: Vec<PatternHead> = on_pool!(db, pool => sqlx::query_as(
        "SELECT id, room_id, days, season_from, season_to FROM slot_patterns WHERE room_id = $1 ORDER BY sort_order, id"
    )
    .bind(room_id)
    .fetch_all(pool)
    .await)?;
    let defs: Vec<(i64, String, i64, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT d.pattern_id, d.label, d.start_min, d.end_min FROM slot_defs d JOIN slot_patterns p ON p.id = d.pattern_id \
         WHERE p.room_id = $1 ORDER BY d.sort_order, d.start_min"
    )
    .bind(room_id)
    .fetch_all(pool)
    .await)?;
    Ok(heads
        .into_iter()
        .map(
            |(id, room_id, days, season_from, season_to)| SlotPatternRow {
                id,
                room_id,
                days,
                season_from,
                season_to,
                slots: defs
                    .iter()
                    .filter(|d| d.0 == id)
                    .map(|d| (d.1.clone(), d.2, d.3))
                    .collect(),
            },
        )
        .collect())
}

/// Replaces a room's slot patterns (予約枠), in order (first match wins).
pub async fn save_slot_patterns(
    tx: &mut Tx,
    room_id: i64,
    patterns: &[SlotPatternRow],
) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM slot_patterns WHERE room_id = $1").bind(room_id).execute(conn).await.map(|r| r.rows_affected()))?;
    for (order, p) in (1_i64..).zip(patterns) {
        let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
            "INSERT INTO slot_patterns (room_id, days, season_from, season_to, sort_order) VALUES ($1, $2, $3, $4, $5) RETURNING id"
        )
        .bind(room_id)
        .bind(p.days)
        .bind(&p.season_from)
        .bind(&p.season_to)
        .bind(order * 10)
        .fetch_one(conn)
        .await)?;
        for (slot_order, (label, start, end)) in (1_i64..).zip(&p.slots) {
            on_tx!(tx, conn => sqlx::query(
                "INSERT INTO slot_defs (pattern_id, label, start_min, end_min, sort_order) VALUES ($1, $2, $3, $4, $5)"
            )
            .bind(id)
            .bind(label)
            .bind(start)
            .bind(end)
            .bind(slot_order * 10)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClosedRuleRow {
    pub id: i64,
    pub facility_id: i64,
    pub kind: String,
    pub weekday: Option<i64>,
    pub n: Option<i64>,
    pub shift_if_holiday: bool,
    pub season_from: Option<String>,
    pub season_to: Option<String>,
}

pub async fn closed_rules(db: &Db, facility_id: i64) -> Result<Vec<ClosedRuleRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, facility_id, kind, weekday, n, shift_if_holiday, season_from, season_to FROM closed_rules WHERE facility_id = $1 ORDER BY sort_order, id"
    )
    .bind(facility_id)
    .fetch_all(pool)
    .await)?)
}

pub async fn insert_closed_rule(tx: &mut Tx, facility_id: i64, r: &ClosedRuleRow) -> Result<i64> {
    Ok(on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO closed_rules (facility_id, kind, weekday, n, shift_if_holiday, season_from, season_to, sort_order) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT COALESCE(MAX(sort_order), 0) + 10 FROM closed_rules WHERE facility_id = $1)) RETURNING id"
    )
    .bind(facility_id)
    .bind(&r.kind)
    .bind(r.weekday)
    .bind(r.n)
    .bind(r.shift_if_holiday)
    .bind(&r.season_from)
    .bind(&r.season_to)
    .fetch_one(conn)
    .await)?)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClosureRow {
    pub id: i64,
    pub facility_id: i64,
    pub room_id: Option<i64>,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub reason: String,
}

pub async fn closures(db: &Db, facility_id: i64) -> Result<Vec<ClosureRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, facility_id, room_id, from_date, to_date, reason FROM closures WHERE facility_id = $1 ORDER BY from_date, id"
    )
    .bind(facility_id)
    .fetch_all(pool)
    .await)?)
}

pub async fn insert_closure(tx: &mut Tx, r: &ClosureRow) -> Result<i64> {
    Ok(on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO closures (facility_id, room_id, from_date, to_date, reason) VALUES ($1, $2, $3, $4, $5) RETURNING id"
    )
    .bind(r.facility_id)
    .bind(r.room_id)
    .bind(r.from_date)
    .bind(r.to_date)
    .bind(&r.reason)
    .fetch_one(conn)
    .await)?)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BlockRow {
    pub id: i64,
    pub facility_id: i64,
    pub room_id: Option<i64>,
    pub combination_id: Option<i64>,
    pub date: NaiveDate,
    pub start_min: Option<i64>,
    pub end_min: Option<i64>,
    pub reason: String,
}

pub async fn blocks(
    db: &Db,
    facility_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<BlockRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, facility_id, room_id, combination_id, date, start_min, end_min, reason FROM blocks \
         WHERE facility_id = $1 AND date >= $2 AND date <= $3 ORDER BY date, start_min, id"
    )
    .bind(facility_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?)
}

pub async fn insert_block(tx: &mut Tx, r: &BlockRow) -> Result<i64> {
    Ok(on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO blocks (facility_id, room_id, combination_id, date, start_min, end_min, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(r.facility_id)
    .bind(r.room_id)
    .bind(r.combination_id)
    .bind(r.date)
    .bind(r.start_min)
    .bind(r.end_min)
    .bind(&r.reason)
    .fetch_one(conn)
    .await)?)
}

// ---- terms of use ----------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Terms {
    pub id: i64,
    pub facility_id: i64,
    pub version: i64,
    pub body: String,
    pub effective_from: NaiveDate,
}

pub async fn terms(db: &Db, facility_id: i64) -> Result<Vec<Terms>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, facility_id, version, body, effective_from FROM facility_terms WHERE facility_id = $1 ORDER BY version DESC"
    )
    .bind(facility_id)
    .fetch_all(pool)
    .await)?)
}

/// The version in force on `date`: the newest whose effective date has come.
pub async fn terms_in_force(db: &Db, facility_id: i64, date: NaiveDate) -> Result<Option<Terms>> {
    Ok(terms(db, facility_id)
        .await?
        .into_iter()
        .find(|t| t.effective_from <= date))
}

/// Adds a new version (the next number); earlier versions stay as accepted.
pub async fn add_terms(
    tx: &mut Tx,
    facility_id: i64,
    body: &str,
    effective_from: NaiveDate,
) -> Result<i64> {
    on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO facility_terms (facility_id, version, body, effective_from, created_at) \
         VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM facility_terms WHERE facility_id = $1), $2, $3, $4) RETURNING version"
    )
    .bind(facility_id)
    .bind(body)
    .bind(effective_from)
    .bind(Utc::now())
    .fetch_one(conn)
    .await)
    .map_err(dup("version"))
}

// ---- holidays ----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HolidayOverride {
    pub date: NaiveDate,
    pub name: Option<String>,
    pub source: String,
}

pub async fn holiday_overrides(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<HolidayOverride>> {
    Ok(
        on_pool!(db, pool => sqlx::query_as("SELECT date, name, source FROM holiday_overrides WHERE date >= $1 AND date <= $2 ORDER BY date")
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await)?,
    )
}

pub async fn set_holiday_override(tx: &mut Tx, o: &HolidayOverride) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO holiday_overrides (date, name, source) VALUES ($1, $2, $3) \
         ON CONFLICT (date) DO UPDATE SET name = excluded.name, source = excluded.source"
    )
    .bind(o.date)
    .bind(&o.name)
    .bind(&o.source)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn clear_holiday_override(tx: &mut Tx, date: NaiveDate) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM holiday_overrides WHERE date = $1").bind(date).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- photos -------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PhotoMeta {
    pub id: i64,
    pub facility_id: i64,
    pub caption: String,
}

pub async fn photos(db: &Db, facility_id: i64) -> Result<Vec<PhotoMeta>> {
    Ok(
        on_pool!(db, pool => sqlx::query_as("SELECT id, facility_id, caption FROM facility_photos WHERE facility_id = $1 ORDER BY sort_order, id")
        .bind(facility_id)
        .fetch_all(pool)
        .await)?,
    )
}

/// The first photo of every facility that has one, for lists.
pub async fn cover_photos(db: &Db) -> Result<Vec<PhotoMeta>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT p.id, p.facility_id, p.caption FROM facility_photos p WHERE p.id = \
         (SELECT q.id FROM facility_photos q WHERE q.facility_id = p.facility_id ORDER BY q.sort_order, q.id LIMIT 1)"
    )
    .fetch_all(pool)
    .await)?)
}

/// (content type, bytes) of one photo.
pub async fn photo(db: &Db, id: i64) -> Result<Option<(String, Vec<u8>)>> {
    Ok(
        on_pool!(db, pool => sqlx::query_as("SELECT content_type, bytes FROM facility_photos WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await)?,
    )
}

pub async fn insert_photo(
    tx: &mut Tx,
    facility_id: i64,
    content_type: &str,
    bytes: &[u8],
    caption: &str,
) -> Result<i64> {
    Ok(on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO facility_photos (facility_id, content_type, bytes, caption, sort_order, created_at) \
         VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(sort_order), 0) + 10 FROM facility_photos WHERE facility_id = $1), $5) RETURNING id"
    )
    .bind(facility_id)
    .bind(content_type)
    .bind(bytes)
    .bind(caption)
    .bind(Utc::now())
    .fetch_one(conn)
    .await)?)
}
