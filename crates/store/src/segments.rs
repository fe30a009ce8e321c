//! Segments (セグメント, issue 6): saved conditions, and the compiler from the
//! domain's [`Condition`] to one SQL `WHERE` fragment over `friend_answers`
//! (see [`crate::attributes`] for the layout), used to count the matching
//! friends and to page through them for a delivery.
//!
//! The SQL must agree exactly with the domain's evaluator
//! ([`hiroba_domain::segment::matches`]): a predicate is false for a friend who
//! has not answered (NULL), so its negation includes that friend. The compiler
//! pushes every NOT down to the leaves (De Morgan), which leaves AND and OR
//! above positive leaves only; there a NULL behaves as false, because AND and
//! OR are monotone and `WHERE` drops NULL. Each leaf therefore has a plain
//! positive form (`a3 IN (…)`, NULL when unanswered, which the planners like)
//! and an explicit negative form that is TRUE for the unanswered
//! (`(a3 IS NULL OR a3 NOT IN (…))`). Conditions on attributes or options the
//! catalogue does not know, or that do not suit the attribute's kind, compile
//! to what the evaluator answers for them: false (true for "not answered").

use chrono::{DateTime, NaiveDate, Utc};
use hiroba_domain::attributes::{Attribute, AttributeKind, MULTIPLE_CHOICE_COLUMNS};
use hiroba_domain::segment::{Condition, FriendStatus, Predicate, Segment, SegmentName};

use crate::attributes::{SqlValue, StoredCatalog, answer_column, bind_values, mask_column};
use crate::audit::micros;
use crate::line::Channel;
use crate::{Db, Result, StoreError, Tx, attributes, is_unique_violation, on_pool, on_tx};

// ---- Saved segments ---------------------------------------------------------------

/// A saved segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSegment {
    pub id: i64,
    pub name: SegmentName,
    pub condition: Condition,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SegmentRow {
    id: i64,
    name: String,
    condition: String,
    created_by: Option<i64>,
    created_at: DateTime<Utc>,
    updated_by: Option<i64>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SegmentRow> for SavedSegment {
    type Error = StoreError;

    fn try_from(row: SegmentRow) -> Result<Self> {
        let unreadable = |e: String| {
            StoreError::Invalid(format!(
                "保存されているセグメント「{}」が読めません: {e}",
                row.name
            ))
        };
        Ok(SavedSegment {
            id: row.id,
            name: SegmentName::parse(&row.name).map_err(unreadable)?,
            condition: serde_json::from_str(&row.condition)
                .map_err(|e| unreadable(e.to_string()))?,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
        })
    }
}

const SEGMENT_COLUMNS: &str = "id, name, condition, created_by, created_at, updated_by, updated_at";

fn condition_json(segment: &Segment) -> Result<String> {
    serde_json::to_string(segment.condition())
        .map_err(|e| StoreError::Invalid(format!("条件を保存できません: {e}")))
}

fn name_taken(err: sqlx::Error) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Duplicate("name")
    } else {
        StoreError::Sql(err)
    }
}

/// Saves a new segment (checked by [`Segment::new`]); a name in use is
/// `Duplicate("name")`. The caller adds the operation-log entry and commits.
pub async fn create(tx: &mut Tx, segment: &Segment, staff_id: i64) -> Result<i64> {
    let json = condition_json(segment)?;
    let now = micros(Utc::now());
    on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO segments (name, condition, created_by, created_at, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $3, $4) RETURNING id"
    )
    .bind(segment.name().as_str())
    .bind(&json)
    .bind(staff_id)
    .bind(now)
    .fetch_one(conn)
    .await)
    .map_err(name_taken)
}

/// Replaces a segment's name and condition.
pub async fn update(tx: &mut Tx, id: i64, segment: &Segment, staff_id: i64) -> Result<()> {
    let json = condition_json(segment)?;
    let changed = on_tx!(tx, conn => sqlx::query(
        "UPDATE segments SET name = $2, condition = $3, updated_by = $4, updated_at = $5 \
         WHERE id = $1"
    )
    .bind(id)
    .bind(segment.name().as_str())
    .bind(&json)
    .bind(staff_id)
    .bind(micros(Utc::now()))
    .execute(conn)
    .await.map(|r| r.rows_affected()))
    .map_err(name_taken)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    let changed = on_tx!(tx, conn => sqlx::query("DELETE FROM segments WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Every saved segment, by name.
pub async fn list(db: &Db) -> Result<Vec<SavedSegment>> {
    let sql = format!("SELECT {SEGMENT_COLUMNS} FROM segments ORDER BY name, id");
    let rows: Vec<SegmentRow> = on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
    rows.into_iter().map(SavedSegment::try_from).collect()
}

pub async fn get(db: &Db, id: i64) -> Result<SavedSegment> {
    let sql = format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE id = $1");
    let row: Option<SegmentRow> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The segment a delivery CSV names.
pub async fn by_name(db: &Db, name: &SegmentName) -> Result<Option<SavedSegment>> {
    let sql = format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE name = $1");
    let row: Option<SegmentRow> = on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(name.as_str())
        .fetch_optional(pool)
        .await)?;
    row.map(SavedSegment::try_from).transpose()
}

// ---- The compiler -----------------------------------------------------------------

/// A compiled condition: a boolean SQL expression over `friend_answers fa`
/// and the values its placeholders take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSql {
    pub sql: String,
    /// Bound to `$first ..` in order, `first` as given to [`compile`].
    pub values: Vec<SqlValue>,
}

const TRUE: &str = "(1 = 1)";
const FALSE: &str = "(1 = 0)";

struct Compiler<'a> {
    catalog: &'a StoredCatalog,
    on: NaiveDate,
    first: usize,
    values: Vec<SqlValue>,
}

/// Compiles `condition` for a delivery on `on` (the date ages are counted on)
/// into one expression over `friend_answers fa`, numbering its placeholders
/// from `$first`.
pub fn compile(
    catalog: &StoredCatalog,
    condition: &Condition,
    on: NaiveDate,
    first: usize,
) -> SegmentSql {
    let mut compiler = Compiler {
        catalog,
        on,
        first,
        values: Vec::new(),
    };
    let sql = compiler.condition(condition, false);
    SegmentSql {
        sql,
        values: compiler.values,
    }
}

impl Compiler<'_> {
    fn param(&mut self, value: SqlValue) -> String {
        self.values.push(value);
        format!("${}", self.first + self.values.len() - 1)
    }

    fn int(&mut self, value: i64) -> String {
        self.param(SqlValue::Int(Some(value)))
    }

    fn date(&mut self, value: NaiveDate) -> String {
        self.param(SqlValue::Date(Some(value)))
    }

    /// `negated`: compile NOT of the condition (pushed down to the leaves).
    fn condition(&mut self, condition: &Condition, negated: bool) -> String {
        match condition {
            Condition::And(of) => self.group(of, negated, !negated),
            Condition::Or(of) => self.group(of, negated, negated),
            Condition::Not(of) => self.condition(of, !negated),
            Condition::Leaf(p) => self.predicate(p, negated),
        }
    }

    /// A group joined by AND (`all`) or OR, its members negated or not. An
    /// empty AND is true, an empty OR false.
    fn group(&mut self, of: &[Condition], negated: bool, all: bool) -> String {
        if of.is_empty() {
            return if all { TRUE } else { FALSE }.to_owned();
        }
        let parts: Vec<String> = of.iter().map(|c| self.condition(c, negated)).collect();
        format!("({})", parts.join(if all { " AND " } else { " OR " }))
    }

    /// `positive` when the answer is known to hold (may be NULL when
    /// unanswered); the negation is TRUE for the unanswered.
    fn with_answer(answered: &str, positive: String, negated: bool) -> String {
        if negated {
            format!("({answered} IS NULL OR NOT ({positive}))")
        } else {
            positive
        }
    }

    fn constant(value: bool, negated: bool) -> String {
        if value != negated { TRUE } else { FALSE }.to_owned()
    }

    fn predicate(&mut self, p: &Predicate, negated: bool) -> String {
        match p {
            Predicate::FriendStatus { status } => {
                let code = match status {
                    FriendStatus::Friend => "friend",
                    FriendStatus::Blocked => "blocked",
                };
                let v = self.param(SqlValue::Text(Some(code.to_owned())));
                if negated {
                    format!("fa.status <> {v}")
                } else {
                    format!("fa.status = {v}")
                }
            }
            Predicate::TestAccount => if negated {
                "NOT fa.is_test"
            } else {
                "fa.is_test"
            }
            .to_owned(),
            _ => {
                let found = p.attribute().and_then(|key| self.catalog.get(key));
                match found {
                    // Nobody has answered an attribute the catalogue lacks.
                    None => Self::constant(matches!(p, Predicate::NotAnswered { .. }), negated),
                    Some((id, attribute)) => self.attribute_predicate(p, id, attribute, negated),
                }
            }
        }
    }

    fn attribute_predicate(
        &mut self,
        p: &Predicate,
        id: i64,
        attribute: &Attribute,
        negated: bool,
    ) -> String {
        let kind = attribute.kind();
        let column = format!("fa.{}", answer_column(id));
        match p {
            Predicate::NotAnswered { .. } => {
                if negated {
                    format!("{column} IS NOT NULL")
                } else {
                    format!("{column} IS NULL")
                }
            }
            Predicate::ChoiceIn { options, .. } if kind == AttributeKind::SingleChoice => {
                let indexes: Vec<i64> = options
                    .iter()
                    .filter_map(|k| attribute.option(k))
                    .map(|o| i64::from(o.index))
                    .collect();
                if indexes.is_empty() {
                    return Self::constant(false, negated);
                }
                let list: Vec<String> = indexes.into_iter().map(|i| self.int(i)).collect();
                let list = list.join(", ");
                if negated {
                    format!("({column} IS NULL OR {column} NOT IN ({list}))")
                } else {
                    format!("{column} IN ({list})")
                }
            }
            Predicate::IncludesAny { options, .. } | Predicate::IncludesAll { options, .. }
                if kind == AttributeKind::MultipleChoice =>
            {
                let all = matches!(p, Predicate::IncludesAll { .. });
                let known: Vec<_> = options.iter().filter_map(|k| attribute.option(k)).collect();
                if all && known.len() < options.len() {
                    // Nobody's answer includes an option that does not exist.
                    return Self::constant(false, negated);
                }
                let mut masks = [0i64; MULTIPLE_CHOICE_COLUMNS];
                for option in known {
                    let (k, bit) = option.bit();
                    if let Some(mask) = masks.get_mut(k) {
                        *mask |= bit;
                    }
                }
                let tests: Vec<String> = masks
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| **m != 0)
                    .map(|(k, m)| {
                        let mask = self.int(*m);
                        let c = format!("COALESCE(fa.{}, 0)", mask_column(id, k));
                        if all {
                            format!("({c} & {mask}) = {mask}")
                        } else {
                            format!("({c} & {mask}) <> 0")
                        }
                    })
                    .collect();
                if tests.is_empty() {
                    // IncludesAll of nothing holds for any answer; IncludesAny never.
                    return if all {
                        Self::with_answer(&column, format!("{column} IS NOT NULL"), negated)
                    } else {
                        Self::constant(false, negated)
                    };
                }
                let positive = format!(
                    "({column} IS NOT NULL AND ({}))",
                    tests.join(if all { " AND " } else { " OR " })
                );
                Self::with_answer(&column, positive, negated)
            }
            Predicate::NumberBetween { min, max, .. } if kind == AttributeKind::Number => {
                let mut tests = Vec::new();
                if let Some(min) = min {
                    tests.push(format!("{column} >= {}", self.int(*min)));
                }
                if let Some(max) = max {
                    tests.push(format!("{column} <= {}", self.int(*max)));
                }
                self.range(&column, tests, negated)
            }
            Predicate::AgeBetween { age, .. } if kind.is_date() => {
                match age.birth_date_bounds(self.on) {
                    None => Self::constant(false, negated),
                    Some(bounds) => {
                        self.dates(id, kind, bounds.earliest, Some(bounds.latest), negated)
                    }
                }
            }
            Predicate::DateBetween { from, to, .. } if kind.is_date() => {
                self.dates(id, kind, *from, *to, negated)
            }
            Predicate::TextEquals { text, .. } if kind == AttributeKind::Text => {
                let v = self.param(SqlValue::Text(Some(text.clone())));
                if negated {
                    format!("({column} IS NULL OR {column} <> {v})")
                } else {
                    format!("{column} = {v}")
                }
            }
            Predicate::TextContains { text, .. } if kind == AttributeKind::Text => {
                if text.is_empty() {
                    // Every answered text contains the empty string.
                    return Self::with_answer(&column, format!("{column} IS NOT NULL"), negated);
                }
                let pattern = format!(
                    "%{}%",
                    text.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                let pattern = self.param(SqlValue::Text(Some(pattern)));
                let needle = self.param(SqlValue::Text(Some(text.clone())));
                // LIKE narrows cheaply; replace() makes it exact and
                // case-sensitive on both databases (SQLite's LIKE folds ASCII case).
                let positive = format!(
                    "({column} LIKE {pattern} ESCAPE '\\' AND replace({column}, {needle}, '') <> {column})"
                );
                Self::with_answer(&column, positive, negated)
            }
            // A predicate that does not suit the attribute's kind: the
            // evaluator finds no answer of the kind it tests.
            _ => Self::constant(false, negated),
        }
    }

    /// `tests` all hold for an answered value; none means "answered".
    fn range(&mut self, column: &str, tests: Vec<String>, negated: bool) -> String {
        if tests.is_empty() {
            return Self::with_answer(column, format!("{column} IS NOT NULL"), negated);
        }
        Self::with_answer(column, format!("({})", tests.join(" AND ")), negated)
    }

    /// A date, or at least one date of a list, within `from..=to`.
    fn dates(
        &mut self,
        id: i64,
        kind: AttributeKind,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        negated: bool,
    ) -> String {
        let column = format!("fa.{}", answer_column(id));
        if kind == AttributeKind::Date {
            let mut tests = Vec::new();
            if let Some(from) = from {
                tests.push(format!("{column} >= {}", self.date(from)));
            }
            if let Some(to) = to {
                tests.push(format!("{column} <= {}", self.date(to)));
            }
            return self.range(&column, tests, negated);
        }
        if from.is_none() && to.is_none() {
            // Any date at all: the list's count column says whether there is one.
            return Self::with_answer(&column, format!("{column} IS NOT NULL"), negated);
        }
        // One pass over the range index, not a look-up per friend.
        let mut sql = format!(
            "fa.friend_id {}IN (SELECT d.friend_id FROM friend_answer_dates d WHERE d.attribute_id = {}",
            if negated { "NOT " } else { "" },
            self.int(id)
        );
        if let Some(from) = from {
            sql.push_str(&format!(" AND d.value >= {}", self.date(from)));
        }
        if let Some(to) = to {
            sql.push_str(&format!(" AND d.value <= {}", self.date(to)));
        }
        sql.push(')');
        sql
    }
}

// ---- Counting and paging -----------------------------------------------------------

/// How many friends of `channel` match `condition` for a delivery on `on`.
pub async fn count(db: &Db, channel: Channel, condition: &Condition, on: NaiveDate) -> Result<i64> {
    let catalog = attributes::load(db).await?;
    let compiled = compile(&catalog, condition, on, 2);
    let sql = format!(
        "SELECT COUNT(*) FROM friend_answers fa WHERE fa.channel = $1 AND {}",
        compiled.sql
    );
    Ok(on_pool!(db, pool => bind_values!(
        sqlx::query_scalar(&sql).persistent(false).bind(channel.as_str()),
        &compiled.values
    )
    .fetch_one(pool)
    .await)?)
}

/// One matching friend: who to send to.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Recipient {
    pub friend_id: i64,
    /// The LINE user id.
    pub user_id: String,
}

/// The next `limit` matching friends of `channel` after friend id `after_id`
/// (0 to start), by id: a delivery walks the segment page by page (batches of
/// 500) and never sees a friend twice or skips one, whatever changes between
/// pages.
pub async fn page_after(
    db: &Db,
    channel: Channel,
    condition: &Condition,
    on: NaiveDate,
    after_id: i64,
    limit: i64,
) -> Result<Vec<Recipient>> {
    let catalog = attributes::load(db).await?;
    let compiled = compile(&catalog, condition, on, 4);
    // `f.id > $2` repeats the cursor for the other side of the join: without
    // it PostgreSQL merge-joins from the first friend on every page.
    let sql = format!(
        "SELECT fa.friend_id, f.user_id FROM friend_answers fa \
         JOIN line_friends f ON f.id = fa.friend_id \
         WHERE fa.channel = $1 AND fa.friend_id > $2 AND f.id > $2 AND {} \
         ORDER BY fa.friend_id LIMIT $3",
        compiled.sql
    );
    Ok(on_pool!(db, pool => bind_values!(
        sqlx::query_as(&sql)
            .persistent(false)
            .bind(channel.as_str())
            .bind(after_id)
            .bind(limit),
        &compiled.values
    )
    .fetch_all(pool)
    .await)?)
}
