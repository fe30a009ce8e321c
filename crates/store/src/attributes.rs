//! Friend attributes (属性, M09) and friends' answers (M05, M08, M11).
//!
//! The catalogue (`attributes`, `attribute_options`) holds the domain's
//! [`Attribute`]s as staff define them; nothing is ever deleted and no key,
//! kind or option index ever changes (triggers refuse it), so a retired
//! attribute or option keeps its answers and their meaning.
//!
//! # Where answers live, and why
//!
//! A delivery's segment must count 1,000,000 friends with 25 answers each in
//! well under half a second on SQLite and on PostgreSQL (issue 6). One row per
//! (friend, attribute) with an `EXISTS` per condition needs a million index
//! probes per condition; that misses the target by an order of magnitude. So
//! answers are kept *wide*: one `friend_answers` row per friend, scanned once,
//! with typed columns per attribute:
//!
//! | kind            | column(s)                      | value                                   |
//! |-----------------|--------------------------------|-----------------------------------------|
//! | single choice   | `a{id}` INTEGER                | the option's stable `index`             |
//! | multiple choice | `a{id}`, `a{id}_1` .. `_3` BIGINT | 63-bit masks per [`ChoiceOption::bit`] |
//! | number          | `a{id}` BIGINT                 | the number                              |
//! | date            | `a{id}` DATE (TEXT in SQLite)  | the date                                |
//! | date list       | `a{id}` INTEGER                | how many dates; the dates themselves are rows of `friend_answer_dates` |
//! | text            | `a{id}` TEXT                   | the text                                |
//!
//! NULL is "not answered" (an empty set, list or text is stored as NULL, as the
//! domain counts it). A multiple choice's `a{id}` is never NULL when answered
//! (0 if all its bits are in later columns); `a{id}_k` is NULL when zero, so
//! PostgreSQL stores nothing for it.
//!
//! The columns are added with `ALTER TABLE ... ADD COLUMN` when staff create
//! an attribute (and a mask column when an option needs the next 63 bits),
//! inside the same transaction, named from the attribute's id only. We chose
//! this over a fixed set of generic typed slot columns because
//! - both databases add a nullable column without rewriting the table
//!   (metadata only), and rows written before it simply read NULL;
//! - unused slots are not free: every SQLite record carries a header byte per
//!   column, so 300 spare slots would add ~300 MB to a million friends and
//!   slow every scan, while a small slot pool would cap how many attributes of
//!   a kind staff may add;
//! - each column has its real type and CHECK, so both planners and the
//!   database's constraints see what it holds.
//!
//! The cost is DDL at run time: PostgreSQL holds an exclusive lock on
//! `friend_answers` until the creating transaction commits (a staff action of
//! a few milliseconds), and the table is limited to [`MAX_ANSWER_COLUMNS`]
//! answer columns (PostgreSQL allows 1,600 columns, SQLite 2,000).
//!
//! The friend's channel and status are copied into `friend_answers` by
//! triggers on `line_friends`, and the test-account flag (M12) lives there, so
//! the scan never joins.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, Utc};
use hiroba_domain::attributes::{
    Attribute, AttributeCatalog, AttributeKey, AttributeKind, AttributeName, AttributeParts,
    AttributeValue, BITS_PER_COLUMN, ChoiceOption, MULTIPLE_CHOICE_COLUMNS, NumberRange, OptionKey,
    OptionLabel, default_attributes,
};
use hiroba_domain::segment::{FriendFacts, FriendStatus};

use crate::audit::micros;
use crate::{Db, Result, StoreError, Tx, is_unique_violation, on_pool, on_tx};

/// Most answer columns `friend_answers` may hold, well inside both databases'
/// column limits (the four fixed columns come on top).
pub const MAX_ANSWER_COLUMNS: usize = 1_000;

/// A value bound to a dynamic statement (answers, segment conditions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Int(Option<i64>),
    Text(Option<String>),
    Date(Option<NaiveDate>),
    Bool(bool),
}

/// Binds every value in order to a sqlx query (`query`, `query_as` or
/// `query_scalar`) of either backend.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                $crate::attributes::SqlValue::Int(v) => query.bind(*v),
                $crate::attributes::SqlValue::Text(v) => query.bind(v.as_deref()),
                $crate::attributes::SqlValue::Date(v) => query.bind(*v),
                $crate::attributes::SqlValue::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}
pub(crate) use bind_values;

/// The catalogue with the database id of each attribute (its columns are
/// named from it).
#[derive(Debug, Clone, Default)]
pub struct StoredCatalog {
    catalog: AttributeCatalog,
    ids: BTreeMap<AttributeKey, i64>,
}

impl StoredCatalog {
    pub fn catalog(&self) -> &AttributeCatalog {
        &self.catalog
    }

    pub fn into_catalog(self) -> AttributeCatalog {
        self.catalog
    }

    /// The attribute and its id.
    pub fn get(&self, key: &AttributeKey) -> Option<(i64, &Attribute)> {
        let id = *self.ids.get(key)?;
        self.catalog.get(key).map(|a| (id, a))
    }

    fn answer_columns(&self) -> usize {
        self.catalog.iter().map(|a| columns_of(a).len()).sum()
    }
}

/// How one attribute's answer is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    /// INTEGER: a single choice's option index, a date list's count.
    Int32,
    /// BIGINT: numbers and masks.
    Int64,
    Date,
    Text,
}

/// The answer column of attribute `id` (the first mask of a multiple choice).
pub fn answer_column(id: i64) -> String {
    format!("a{id}")
}

/// Mask column `k` (0-based) of a multiple-choice attribute.
pub fn mask_column(id: i64, k: usize) -> String {
    if k == 0 {
        answer_column(id)
    } else {
        format!("a{id}_{k}")
    }
}

/// How many mask columns a multiple choice needs: enough for its highest bit.
fn mask_count(attribute: &Attribute) -> usize {
    let highest = attribute
        .options()
        .iter()
        .map(|o| o.index)
        .max()
        .unwrap_or(0);
    (usize::from(highest / BITS_PER_COLUMN) + 1).min(MULTIPLE_CHOICE_COLUMNS)
}

/// The columns of one attribute, with their types and constraints; `{c}`
/// stands for the column's name.
fn columns_of(attribute: &Attribute) -> Vec<(ColumnType, &'static str)> {
    match attribute.kind() {
        AttributeKind::SingleChoice => vec![(ColumnType::Int32, "CHECK ({c} >= 0)")],
        AttributeKind::MultipleChoice => (0..mask_count(attribute))
            .map(|k| {
                if k == 0 {
                    (ColumnType::Int64, "CHECK ({c} >= 0)")
                } else {
                    (ColumnType::Int64, "CHECK ({c} > 0)")
                }
            })
            .collect(),
        AttributeKind::Number => vec![(ColumnType::Int64, "")],
        AttributeKind::Date => vec![(ColumnType::Date, "")],
        AttributeKind::DateList => vec![(ColumnType::Int32, "CHECK ({c} > 0)")],
        AttributeKind::Text => vec![(ColumnType::Text, "CHECK ({c} <> '')")],
    }
}

fn column_name(id: i64, attribute: &Attribute, k: usize) -> String {
    if attribute.kind() == AttributeKind::MultipleChoice {
        mask_column(id, k)
    } else {
        answer_column(id)
    }
}

/// Adds columns `from..` of an attribute (all of a new one, or the new mask
/// columns of a multiple choice whose options outgrew the old ones).
async fn add_columns(tx: &mut Tx, id: i64, attribute: &Attribute, from: usize) -> Result<()> {
    let postgres = matches!(tx, Tx::Postgres(_));
    for (k, (ty, check)) in columns_of(attribute).into_iter().enumerate().skip(from) {
        let name = column_name(id, attribute, k);
        let ty = match (ty, postgres) {
            (ColumnType::Int32, _) => "INTEGER",
            (ColumnType::Int64, _) => "BIGINT",
            (ColumnType::Date, true) => "DATE",
            (ColumnType::Date, false) => "TEXT",
            (ColumnType::Text, _) => "TEXT",
        };
        let check = check.replace("{c}", &name);
        let sql = format!("ALTER TABLE friend_answers ADD COLUMN {name} {ty} {check}");
        on_tx!(&mut *tx, conn => sqlx::query(&sql).execute(conn).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

// ---- The catalogue ------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct AttributeRow {
    id: i64,
    key: String,
    name: String,
    kind: String,
    position: i64,
    retired: bool,
    number_min: Option<i64>,
    number_max: Option<i64>,
    number_unit: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OptionRow {
    attribute_id: i64,
    option_index: i32,
    key: String,
    label: String,
    position: i64,
    retired: bool,
}

const ATTRIBUTE_SQL: &str = "SELECT id, key, name, kind, position, retired, number_min, \
     number_max, number_unit FROM attributes ORDER BY position, key";
const OPTION_SQL: &str = "SELECT attribute_id, option_index, key, label, position, retired \
     FROM attribute_options ORDER BY attribute_id, position, option_index";

fn corrupt(what: &str, detail: String) -> StoreError {
    StoreError::Invalid(format!("保存されている{what}が読めません: {detail}"))
}

fn build_catalog(rows: Vec<AttributeRow>, options: Vec<OptionRow>) -> Result<StoredCatalog> {
    let mut by_attribute: BTreeMap<i64, Vec<ChoiceOption>> = BTreeMap::new();
    for o in options {
        let option = ChoiceOption {
            key: OptionKey::parse(&o.key).map_err(|e| corrupt("選択肢", e))?,
            index: u16::try_from(o.option_index)
                .map_err(|_| corrupt("選択肢", o.option_index.to_string()))?,
            label: OptionLabel::parse(&o.label).map_err(|e| corrupt("選択肢", e))?,
            position: u32::try_from(o.position).unwrap_or(u32::MAX),
            retired: o.retired,
        };
        by_attribute.entry(o.attribute_id).or_default().push(option);
    }
    let mut attributes = Vec::with_capacity(rows.len());
    let mut ids = BTreeMap::new();
    for row in rows {
        let kind = AttributeKind::from_code(&row.kind)
            .ok_or_else(|| corrupt("項目", format!("kind {}", row.kind)))?;
        let number = match (row.number_min, row.number_max, row.number_unit) {
            (Some(min), Some(max), Some(unit)) => {
                Some(NumberRange::new(min, max, &unit).map_err(|e| corrupt("項目", e))?)
            }
            _ => None,
        };
        let key = AttributeKey::parse(&row.key).map_err(|e| corrupt("項目", e))?;
        let attribute = Attribute::new(AttributeParts {
            key: key.clone(),
            name: AttributeName::parse(&row.name).map_err(|e| corrupt("項目", e))?,
            kind,
            options: by_attribute.remove(&row.id).unwrap_or_default(),
            number,
            position: u32::try_from(row.position).unwrap_or(u32::MAX),
            retired: row.retired,
        })
        .map_err(|e| corrupt("項目", e))?;
        ids.insert(key, row.id);
        attributes.push(attribute);
    }
    let catalog = AttributeCatalog::new(attributes).map_err(|e| corrupt("項目", e))?;
    Ok(StoredCatalog { catalog, ids })
}

/// Every attribute, retired ones included, with its id.
pub async fn load(db: &Db) -> Result<StoredCatalog> {
    let rows: Vec<AttributeRow> =
        on_pool!(db, pool => sqlx::query_as(ATTRIBUTE_SQL).fetch_all(pool).await)?;
    let options: Vec<OptionRow> =
        on_pool!(db, pool => sqlx::query_as(OPTION_SQL).fetch_all(pool).await)?;
    build_catalog(rows, options)
}

/// [`load`] inside a transaction (sees its own changes).
pub async fn load_tx(tx: &mut Tx) -> Result<StoredCatalog> {
    let rows: Vec<AttributeRow> =
        on_tx!(&mut *tx, conn => sqlx::query_as(ATTRIBUTE_SQL).fetch_all(conn).await)?;
    let options: Vec<OptionRow> =
        on_tx!(&mut *tx, conn => sqlx::query_as(OPTION_SQL).fetch_all(conn).await)?;
    build_catalog(rows, options)
}

/// The attribute catalogue as the domain uses it.
pub async fn catalog(db: &Db) -> Result<AttributeCatalog> {
    Ok(load(db).await?.into_catalog())
}

/// Seeds the default attributes ([`default_attributes`], 28 of them) into a
/// database that has none; does nothing otherwise (staff may have renamed or
/// retired them since). Returns how many were created.
pub async fn seed_defaults(db: &Db) -> Result<usize> {
    let mut tx = db.begin().await?;
    let existing: i64 = on_tx!(&mut tx, conn => sqlx::query_scalar(
        "SELECT COUNT(*) FROM attributes"
    )
    .fetch_one(conn)
    .await)?;
    if existing > 0 {
        return Ok(0);
    }
    let defaults = default_attributes();
    for attribute in &defaults {
        create(&mut tx, attribute).await?;
    }
    tx.commit().await?;
    Ok(defaults.len())
}

/// Creates an attribute with its options and answer columns. The caller adds
/// the operation-log entry and commits. A key or name already in use is
/// [`StoreError::Duplicate`] (`"key"` or `"name"`).
pub async fn create(tx: &mut Tx, attribute: &Attribute) -> Result<i64> {
    let current = load_tx(tx).await?;
    if current.catalog.get(attribute.key()).is_some() {
        return Err(StoreError::Duplicate("key"));
    }
    if current.catalog.iter().any(|a| a.name() == attribute.name()) {
        return Err(StoreError::Duplicate("name"));
    }
    if current.answer_columns() + columns_of(attribute).len() > MAX_ANSWER_COLUMNS {
        return Err(StoreError::Invalid(
            "項目が多すぎるため、これ以上追加できません。使わない項目を整理してください。"
                .to_owned(),
        ));
    }
    let now = micros(Utc::now());
    let range = attribute.number_range();
    let id: i64 = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "INSERT INTO attributes (key, name, kind, position, retired, number_min, number_max, \
         number_unit, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id"
    )
    .bind(attribute.key().as_str())
    .bind(attribute.name().as_str())
    .bind(attribute.kind().code())
    .bind(i64::from(attribute.position()))
    .bind(attribute.is_retired())
    .bind(range.map(NumberRange::min))
    .bind(range.map(NumberRange::max))
    .bind(range.map(NumberRange::unit))
    .bind(now)
    .fetch_one(conn)
    .await)
    .map_err(|e| duplicate_or(e, "attribute"))?;
    for option in attribute.options() {
        insert_option(tx, id, option).await?;
    }
    add_columns(tx, id, attribute, 0).await?;
    Ok(id)
}

fn duplicate_or(err: sqlx::Error, what: &'static str) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Duplicate(what)
    } else {
        StoreError::Sql(err)
    }
}

async fn insert_option(tx: &mut Tx, attribute_id: i64, option: &ChoiceOption) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO attribute_options (attribute_id, option_index, key, label, position, retired) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(attribute_id)
    .bind(i32::from(option.index))
    .bind(option.key.as_str())
    .bind(option.label.as_str())
    .bind(i64::from(option.position))
    .bind(option.retired)
    .execute(conn)
    .await.map(|r| r.rows_affected()))
    .map_err(|e| duplicate_or(e, "option"))?;
    Ok(())
}

/// Locks an attribute's row for the rest of the transaction (an `UPDATE`, so
/// the same SQL locks on both databases) and reads it.
async fn lock(tx: &mut Tx, key: &AttributeKey) -> Result<(i64, Attribute)> {
    let id: Option<i64> = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "UPDATE attributes SET updated_at = $2 WHERE key = $1 RETURNING id"
    )
    .bind(key.as_str())
    .bind(micros(Utc::now()))
    .fetch_optional(conn)
    .await)?;
    let id = id.ok_or(StoreError::NotFound)?;
    let current = load_tx(tx).await?;
    let attribute = current
        .catalog
        .get(key)
        .cloned()
        .ok_or(StoreError::NotFound)?;
    Ok((id, attribute))
}

/// Applies a domain edit to one attribute and writes what changed: the
/// attribute's row, changed and new options, and new mask columns.
async fn modify<T>(
    tx: &mut Tx,
    key: &AttributeKey,
    edit: impl FnOnce(&mut Attribute) -> Result<T, String>,
) -> Result<T> {
    let (id, before) = lock(tx, key).await?;
    let mut after = before.clone();
    let out = edit(&mut after).map_err(StoreError::Invalid)?;
    on_tx!(&mut *tx, conn => sqlx::query(
        "UPDATE attributes SET name = $2, position = $3, retired = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(after.name().as_str())
    .bind(i64::from(after.position()))
    .bind(after.is_retired())
    .execute(conn)
    .await.map(|r| r.rows_affected()))
    .map_err(|e| duplicate_or(e, "name"))?;
    for option in after.options() {
        match before.option_by_index(option.index) {
            Some(old) if old == option => {}
            Some(_) => {
                on_tx!(&mut *tx, conn => sqlx::query(
                    "UPDATE attribute_options SET label = $3, position = $4, retired = $5 \
                     WHERE attribute_id = $1 AND option_index = $2"
                )
                .bind(id)
                .bind(i32::from(option.index))
                .bind(option.label.as_str())
                .bind(i64::from(option.position))
                .bind(option.retired)
                .execute(conn)
                .await.map(|r| r.rows_affected()))
                .map_err(|e| duplicate_or(e, "option"))?;
            }
            None => insert_option(tx, id, option).await?,
        }
    }
    let had = columns_of(&before).len();
    if columns_of(&after).len() > had {
        add_columns(tx, id, &after, had).await?;
    }
    Ok(out)
}

/// Renames an attribute (項目名); a name in use is `Duplicate("name")`.
pub async fn rename(tx: &mut Tx, key: &AttributeKey, name: AttributeName) -> Result<()> {
    modify(tx, key, |a| {
        a.rename(name);
        Ok(())
    })
    .await
}

/// Retires (hides from new forms and segments) or restores an attribute; its
/// answers stay.
pub async fn set_retired(tx: &mut Tx, key: &AttributeKey, retired: bool) -> Result<()> {
    modify(tx, key, |a| {
        a.set_retired(retired);
        Ok(())
    })
    .await
}

/// Puts the attributes in the given order; every attribute, retired ones
/// included, must be listed once.
pub async fn reorder(tx: &mut Tx, keys: &[AttributeKey]) -> Result<()> {
    let current = load_tx(tx).await?;
    let listed: BTreeSet<&AttributeKey> = keys.iter().collect();
    let all: BTreeSet<&AttributeKey> = current.catalog.iter().map(Attribute::key).collect();
    if listed != all || keys.len() != all.len() {
        return Err(StoreError::Invalid(
            "並べ替えにはすべての項目を1回ずつ指定してください。".to_owned(),
        ));
    }
    for (key, position) in keys.iter().zip((10u32..).step_by(10)) {
        modify(tx, key, |a| {
            a.set_position(position);
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Adds an option at the end with the next unused index (and key `o{index}`
/// when none is given); returns it.
pub async fn add_option(
    tx: &mut Tx,
    key: &AttributeKey,
    option_key: Option<OptionKey>,
    label: OptionLabel,
) -> Result<ChoiceOption> {
    modify(tx, key, |a| a.add_option(option_key, label).cloned()).await
}

pub async fn rename_option(
    tx: &mut Tx,
    key: &AttributeKey,
    option: &OptionKey,
    label: OptionLabel,
) -> Result<()> {
    modify(tx, key, |a| a.rename_option(option, label)).await
}

/// Puts the options in the given order; every option must be listed once.
pub async fn reorder_options(tx: &mut Tx, key: &AttributeKey, options: &[OptionKey]) -> Result<()> {
    modify(tx, key, |a| a.reorder_options(options)).await
}

/// Retires or restores an option; answers that chose it keep it.
pub async fn set_option_retired(
    tx: &mut Tx,
    key: &AttributeKey,
    option: &OptionKey,
    retired: bool,
) -> Result<()> {
    modify(tx, key, |a| a.set_option_retired(option, retired)).await
}

// ---- Friends' answers ------------------------------------------------------------

/// One column of a friend's row to read, and the attribute it answers.
struct ReadPlan<'a> {
    attribute: &'a Attribute,
    columns: Vec<(String, ColumnType)>,
}

fn read_plans(stored: &StoredCatalog) -> Vec<ReadPlan<'_>> {
    stored
        .catalog
        .iter()
        .filter_map(|a| {
            let id = *stored.ids.get(a.key())?;
            let columns = columns_of(a)
                .into_iter()
                .enumerate()
                .map(|(k, (ty, _))| (column_name(id, a, k), ty))
                .collect();
            Some(ReadPlan {
                attribute: a,
                columns,
            })
        })
        .collect()
}

/// A column's value as read.
enum Raw {
    Int(Option<i64>),
    Date(Option<NaiveDate>),
    Text(Option<String>),
}

/// Reads the answer columns `from..` of a row in the order of the plans.
macro_rules! read_raw {
    ($row:expr, $plans:expr, $from:expr) => {{
        use sqlx::Row as _;
        let mut out = Vec::new();
        let mut i = $from;
        for plan in $plans {
            for (_, ty) in &plan.columns {
                out.push(match ty {
                    ColumnType::Int32 => {
                        Raw::Int($row.try_get::<Option<i32>, _>(i)?.map(i64::from))
                    }
                    ColumnType::Int64 => Raw::Int($row.try_get::<Option<i64>, _>(i)?),
                    ColumnType::Date => Raw::Date($row.try_get::<Option<NaiveDate>, _>(i)?),
                    ColumnType::Text => Raw::Text($row.try_get::<Option<String>, _>(i)?),
                });
                i += 1;
            }
        }
        out
    }};
}

/// One friend's status, test flag and answers, exactly as the segment
/// evaluator sees them. `NotFound` for an unknown friend.
pub async fn facts(db: &Db, friend_id: i64) -> Result<FriendFacts> {
    let stored = load(db).await?;
    let plans = read_plans(&stored);
    let columns: Vec<&str> = plans
        .iter()
        .flat_map(|p| p.columns.iter().map(|(c, _)| c.as_str()))
        .collect();
    let mut select = String::from("SELECT status, is_test");
    for c in &columns {
        select.push_str(", ");
        select.push_str(c);
    }
    select.push_str(" FROM friend_answers WHERE friend_id = $1");
    let read = on_pool!(db, pool => {
        match sqlx::query(&select).bind(friend_id).persistent(false).fetch_optional(pool).await? {
            None => None,
            Some(row) => {
                use sqlx::Row as _;
                let status: String = row.try_get(0)?;
                let is_test: bool = row.try_get(1)?;
                Some((status, is_test, read_raw!(row, &plans, 2)))
            }
        }
    });
    let (status, is_test, raw) = read.ok_or(StoreError::NotFound)?;
    let dates: Vec<(i64, NaiveDate)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT attribute_id, value FROM friend_answer_dates WHERE friend_id = $1 \
         ORDER BY attribute_id, seq"
    )
    .bind(friend_id)
    .fetch_all(pool)
    .await)?;
    let mut lists: BTreeMap<i64, Vec<NaiveDate>> = BTreeMap::new();
    for (attribute_id, date) in dates {
        lists.entry(attribute_id).or_default().push(date);
    }
    let mut answers = BTreeMap::new();
    let mut raw = raw.into_iter();
    for plan in &plans {
        let values: Vec<Raw> = raw.by_ref().take(plan.columns.len()).collect();
        let attribute = plan.attribute;
        let id = stored.ids.get(attribute.key()).copied().unwrap_or_default();
        let value = match (attribute.kind(), values.as_slice()) {
            (AttributeKind::SingleChoice, [Raw::Int(Some(index))]) => u16::try_from(*index)
                .ok()
                .and_then(|i| attribute.option_by_index(i))
                .map(|o| AttributeValue::Choice(o.key.clone())),
            (AttributeKind::MultipleChoice, [Raw::Int(Some(_)), ..]) => {
                let masks: Vec<i64> = values
                    .iter()
                    .map(|v| match v {
                        Raw::Int(m) => m.unwrap_or(0),
                        _ => 0,
                    })
                    .collect();
                Some(AttributeValue::Choices(
                    attribute.choices_from_masks(&masks),
                ))
            }
            (AttributeKind::Number, [Raw::Int(Some(n))]) => Some(AttributeValue::Number(*n)),
            (AttributeKind::Date, [Raw::Date(Some(d))]) => Some(AttributeValue::Date(*d)),
            (AttributeKind::DateList, [Raw::Int(Some(_))]) => {
                lists.remove(&id).map(AttributeValue::dates)
            }
            (AttributeKind::Text, [Raw::Text(Some(t))]) => Some(AttributeValue::Text(t.clone())),
            _ => None,
        };
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            answers.insert(attribute.key().clone(), value);
        }
    }
    Ok(FriendFacts {
        status: if status == "blocked" {
            FriendStatus::Blocked
        } else {
            FriendStatus::Friend
        },
        is_test,
        answers,
    })
}

/// One friend's answers by attribute key (retired attributes included).
pub async fn answers(db: &Db, friend_id: i64) -> Result<BTreeMap<AttributeKey, AttributeValue>> {
    Ok(facts(db, friend_id).await?.answers)
}

/// Replaces a friend's answers to the given attributes in the caller's
/// transaction (`None` or an empty value clears one). Every new answer is
/// checked with the domain's `check_answer` first, so a refusal writes
/// nothing: [`StoreError::Invalid`] with the Japanese message. Attributes not
/// given keep their answers. `NotFound` for an unknown friend.
pub async fn write_answers(
    tx: &mut Tx,
    friend_id: i64,
    answers: &BTreeMap<AttributeKey, Option<AttributeValue>>,
) -> Result<()> {
    let stored = load_tx(tx).await?;
    let mut sets: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = vec![SqlValue::Int(Some(friend_id))];
    let mut lists: Vec<(i64, Vec<NaiveDate>)> = Vec::new();
    for (key, value) in answers {
        let (id, attribute) = stored
            .get(key)
            .ok_or_else(|| StoreError::Invalid(format!("項目「{key}」が見つかりません。")))?;
        let value = value.as_ref().filter(|v| !v.is_empty());
        if let Some(v) = value {
            attribute.check_answer(v).map_err(StoreError::Invalid)?;
        }
        let mut set = |column: String, v: SqlValue| {
            values.push(v);
            sets.push(format!("{column} = ${}", values.len()));
        };
        match (attribute.kind(), value) {
            (AttributeKind::SingleChoice, Some(AttributeValue::Choice(k))) => {
                let index = attribute.option(k).map(|o| i64::from(o.index));
                set(answer_column(id), SqlValue::Int(index));
            }
            (AttributeKind::MultipleChoice, Some(AttributeValue::Choices(keys))) => {
                let masks = attribute.choice_masks(keys).map_err(StoreError::Invalid)?;
                for k in 0..mask_count(attribute) {
                    let mask = masks.get(k).copied().unwrap_or(0);
                    // The first column marks "answered"; later ones are NULL when empty.
                    let v = if k == 0 || mask != 0 {
                        Some(mask)
                    } else {
                        None
                    };
                    set(mask_column(id, k), SqlValue::Int(v));
                }
            }
            (AttributeKind::MultipleChoice, None) => {
                for k in 0..mask_count(attribute) {
                    set(mask_column(id, k), SqlValue::Int(None));
                }
            }
            (AttributeKind::Number, Some(AttributeValue::Number(n))) => {
                set(answer_column(id), SqlValue::Int(Some(*n)));
            }
            (AttributeKind::Date, Some(AttributeValue::Date(d))) => {
                set(answer_column(id), SqlValue::Date(Some(*d)));
            }
            (AttributeKind::DateList, value) => {
                let dates = match value {
                    Some(AttributeValue::Dates(dates)) => dates.clone(),
                    _ => Vec::new(),
                };
                let count = i64::try_from(dates.len()).ok().filter(|n| *n > 0);
                set(answer_column(id), SqlValue::Int(count));
                lists.push((id, dates));
            }
            (AttributeKind::Text, Some(AttributeValue::Text(t))) => {
                set(answer_column(id), SqlValue::Text(Some(t.clone())));
            }
            (AttributeKind::Date, None) => set(answer_column(id), SqlValue::Date(None)),
            (AttributeKind::Text, None) => set(answer_column(id), SqlValue::Text(None)),
            (_, None) => set(answer_column(id), SqlValue::Int(None)),
            // check_answer refused every other kind of value above.
            (_, Some(_)) => {
                return Err(StoreError::Invalid(format!(
                    "{}の回答の種類が違います。",
                    attribute.name()
                )));
            }
        }
    }
    let found = if sets.is_empty() {
        on_tx!(&mut *tx, conn => sqlx::query_scalar::<_, i64>(
            "SELECT friend_id FROM friend_answers WHERE friend_id = $1"
        )
        .bind(friend_id)
        .fetch_optional(conn)
        .await)?
        .is_some()
    } else {
        let sql = format!(
            "UPDATE friend_answers SET {} WHERE friend_id = $1",
            sets.join(", ")
        );
        on_tx!(&mut *tx, conn => bind_values!(sqlx::query(&sql).persistent(false), &values)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?
            > 0
    };
    if !found {
        return Err(StoreError::NotFound);
    }
    for (attribute_id, dates) in lists {
        on_tx!(&mut *tx, conn => sqlx::query(
            "DELETE FROM friend_answer_dates WHERE friend_id = $1 AND attribute_id = $2"
        )
        .bind(friend_id)
        .bind(attribute_id)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
        for (seq, date) in (0i32..).zip(dates) {
            on_tx!(&mut *tx, conn => sqlx::query(
                "INSERT INTO friend_answer_dates (friend_id, attribute_id, seq, value) \
                 VALUES ($1, $2, $3, $4)"
            )
            .bind(friend_id)
            .bind(attribute_id)
            .bind(seq)
            .bind(date)
            .execute(conn)
            .await.map(|r| r.rows_affected()))?;
        }
    }
    Ok(())
}

/// Marks or unmarks a friend as a test account (M12).
pub async fn set_test_account(tx: &mut Tx, friend_id: i64, is_test: bool) -> Result<()> {
    let changed = on_tx!(tx, conn => sqlx::query(
        "UPDATE friend_answers SET is_test = $2 WHERE friend_id = $1"
    )
    .bind(friend_id)
    .bind(is_test)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
