//! Registration forms and surveys (issue 6; M05, M06, M08, M26).
//!
//! `forms` holds the header, `form_items` the items in order (each with a key
//! unique within its form and never reused), `form_responses` one row per
//! submission with its answers as JSON by item key. A 更新型 (preference)
//! submission replaces the friend's previous response to the form and writes
//! the friend's attributes through [`attributes::write_answers`] in the same
//! transaction; a 追加型 survey and a staff entry append.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hiroba_domain::attributes::AttributeCatalog;
use hiroba_domain::forms::{
    Answers, FormHeader, FormItem, FormKind, ItemSource, Submission, counted_labels, describe,
};

use crate::audit::micros;
use crate::{Db, Result, StoreError, Tx, attributes, on_pool, on_tx};

/// A form with its items in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredForm {
    pub id: i64,
    pub header: FormHeader,
    pub is_open: bool,
    pub first_follow: bool,
    pub items: Vec<FormItem>,
    pub updated_at: DateTime<Utc>,
}

/// A line of the forms list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormSummary {
    pub id: i64,
    pub title: String,
    pub kind: FormKind,
    pub is_open: bool,
    pub first_follow: bool,
    pub items: i64,
    pub responses: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct FormRow {
    id: i64,
    title: String,
    description: String,
    kind: String,
    is_open: bool,
    first_follow: bool,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    key: String,
    label: String,
    help: String,
    required: bool,
    source: String,
}

fn corrupt(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("保存されているフォームが読めません: {detail}"))
}

fn kind_of(code: &str) -> Result<FormKind> {
    FormKind::from_code(code).ok_or_else(|| corrupt(format!("kind {code}")))
}

fn item_of(row: ItemRow) -> Result<FormItem> {
    Ok(FormItem {
        key: row.key,
        label: row.label,
        help: row.help,
        required: row.required,
        source: serde_json::from_str::<ItemSource>(&row.source).map_err(corrupt)?,
    })
}

fn source_json(item: &FormItem) -> Result<String> {
    serde_json::to_string(&item.source).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Creates a closed form without items.
pub async fn create(tx: &mut Tx, header: &FormHeader) -> Result<i64> {
    let now = micros(Utc::now());
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO forms (title, description, kind, is_open, first_follow, next_item, \
         created_at, updated_at) VALUES ($1, $2, $3, FALSE, FALSE, 1, $4, $4) RETURNING id"
    )
    .bind(&header.title)
    .bind(&header.description)
    .bind(header.kind.code())
    .bind(now)
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

async fn touch(tx: &mut Tx, id: i64) -> Result<()> {
    let n = on_tx!(tx, conn => sqlx::query("UPDATE forms SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(micros(Utc::now()))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Changes title, description and kind. A staff-only form cannot stay the
/// first-follow form.
pub async fn update_header(tx: &mut Tx, id: i64, header: &FormHeader) -> Result<()> {
    let n = on_tx!(tx, conn => sqlx::query(
        "UPDATE forms SET title = $2, description = $3, kind = $4, \
         first_follow = CASE WHEN $4 = 'staff' THEN FALSE ELSE first_follow END, \
         updated_at = $5 WHERE id = $1"
    )
    .bind(id)
    .bind(&header.title)
    .bind(&header.description)
    .bind(header.kind.code())
    .bind(micros(Utc::now()))
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Opens (residents may answer) or closes a form.
pub async fn set_open(tx: &mut Tx, id: i64, open: bool) -> Result<()> {
    let n = on_tx!(tx, conn => sqlx::query(
        "UPDATE forms SET is_open = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(open)
    .bind(micros(Utc::now()))
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Makes `id` the form linked in the greeting to new friends (`None`: no
/// form). At most one form holds the flag (a unique index makes sure).
pub async fn set_first_follow(tx: &mut Tx, id: Option<i64>) -> Result<()> {
    on_tx!(&mut *tx, conn => sqlx::query(
        "UPDATE forms SET first_follow = FALSE WHERE first_follow"
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if let Some(id) = id {
        let n = on_tx!(&mut *tx, conn => sqlx::query(
            "UPDATE forms SET first_follow = TRUE, updated_at = $2 WHERE id = $1 AND kind <> 'staff'"
        )
        .bind(id)
        .bind(micros(Utc::now()))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::Invalid(
                "職員入力用のフォームは友だち追加時のフォームにできません。".to_owned(),
            ));
        }
    }
    Ok(())
}

/// The open form to link in the greeting a new friend receives, if any.
pub async fn first_follow_form(db: &Db) -> Result<Option<(i64, String)>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT id, title FROM forms WHERE first_follow AND is_open AND kind <> 'staff'"
    )
    .fetch_optional(pool)
    .await)?)
}

/// Every form, newest first.
pub async fn list(db: &Db) -> Result<Vec<FormSummary>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        title: String,
        kind: String,
        is_open: bool,
        first_follow: bool,
        items: i64,
        responses: i64,
        updated_at: DateTime<Utc>,
    }
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(
        "SELECT f.id, f.title, f.kind, f.is_open, f.first_follow, \
         (SELECT COUNT(*) FROM form_items i WHERE i.form_id = f.id) AS items, \
         (SELECT COUNT(*) FROM form_responses r WHERE r.form_id = f.id) AS responses, \
         f.updated_at FROM forms f ORDER BY f.id DESC"
    )
    .fetch_all(pool)
    .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(FormSummary {
                id: r.id,
                title: r.title,
                kind: kind_of(&r.kind)?,
                is_open: r.is_open,
                first_follow: r.first_follow,
                items: r.items,
                responses: r.responses,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

const FORM_SQL: &str = "SELECT id, title, description, kind, is_open, first_follow, updated_at \
     FROM forms WHERE id = $1";
const ITEMS_SQL: &str = "SELECT key, label, help, required, source FROM form_items \
     WHERE form_id = $1 ORDER BY position, id";

fn assemble(row: FormRow, items: Vec<ItemRow>) -> Result<StoredForm> {
    Ok(StoredForm {
        id: row.id,
        header: FormHeader {
            title: row.title,
            description: row.description,
            kind: kind_of(&row.kind)?,
        },
        is_open: row.is_open,
        first_follow: row.first_follow,
        items: items.into_iter().map(item_of).collect::<Result<_>>()?,
        updated_at: row.updated_at,
    })
}

/// One form with its items; `NotFound` for an unknown id.
pub async fn get(db: &Db, id: i64) -> Result<StoredForm> {
    let row: Option<FormRow> = on_pool!(db, pool => sqlx::query_as(FORM_SQL)
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    let row = row.ok_or(StoreError::NotFound)?;
    let items: Vec<ItemRow> = on_pool!(db, pool => sqlx::query_as(ITEMS_SQL)
        .bind(id)
        .fetch_all(pool)
        .await)?;
    assemble(row, items)
}

async fn get_tx(tx: &mut Tx, id: i64) -> Result<StoredForm> {
    let row: Option<FormRow> = on_tx!(&mut *tx, conn => sqlx::query_as(FORM_SQL)
        .bind(id)
        .fetch_optional(conn)
        .await)?;
    let row = row.ok_or(StoreError::NotFound)?;
    let items: Vec<ItemRow> = on_tx!(&mut *tx, conn => sqlx::query_as(ITEMS_SQL)
        .bind(id)
        .fetch_all(conn)
        .await)?;
    assemble(row, items)
}

/// Takes the next item key of a form (`i1`, `i2` ...; never reused).
pub async fn next_item_key(tx: &mut Tx, form_id: i64) -> Result<String> {
    let n: Option<i64> = on_tx!(tx, conn => sqlx::query_scalar(
        "UPDATE forms SET next_item = next_item + 1 WHERE id = $1 RETURNING next_item - 1"
    )
    .bind(form_id)
    .fetch_optional(conn)
    .await)?;
    n.map(|n| format!("i{n}")).ok_or(StoreError::NotFound)
}

/// Adds an item at the end (its key from [`next_item_key`]).
pub async fn add_item(tx: &mut Tx, form_id: i64, item: &FormItem) -> Result<()> {
    let mut form = get_tx(tx, form_id).await?;
    form.items.push(item.clone());
    hiroba_domain::forms::check_items(&form.items).map_err(StoreError::Invalid)?;
    let source = source_json(item)?;
    on_tx!(&mut *tx, conn => sqlx::query(
        "INSERT INTO form_items (form_id, key, position, label, help, required, source) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(position), 0) + 10 FROM form_items WHERE form_id = $1), \
         $3, $4, $5, $6)"
    )
    .bind(form_id)
    .bind(&item.key)
    .bind(&item.label)
    .bind(&item.help)
    .bind(item.required)
    .bind(source)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    touch(tx, form_id).await
}

/// Replaces an item's label, help, required flag and source.
pub async fn update_item(tx: &mut Tx, form_id: i64, item: &FormItem) -> Result<()> {
    let mut form = get_tx(tx, form_id).await?;
    let slot = form
        .items
        .iter_mut()
        .find(|i| i.key == item.key)
        .ok_or(StoreError::NotFound)?;
    *slot = item.clone();
    hiroba_domain::forms::check_items(&form.items).map_err(StoreError::Invalid)?;
    let source = source_json(item)?;
    on_tx!(&mut *tx, conn => sqlx::query(
        "UPDATE form_items SET label = $3, help = $4, required = $5, source = $6 \
         WHERE form_id = $1 AND key = $2"
    )
    .bind(form_id)
    .bind(&item.key)
    .bind(&item.label)
    .bind(&item.help)
    .bind(item.required)
    .bind(source)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    touch(tx, form_id).await
}

/// Moves an item one place up or down (nothing at either end).
pub async fn move_item(tx: &mut Tx, form_id: i64, key: &str, up: bool) -> Result<()> {
    let form = get_tx(tx, form_id).await?;
    let mut keys: Vec<&str> = form.items.iter().map(|i| i.key.as_str()).collect();
    let at = keys
        .iter()
        .position(|k| *k == key)
        .ok_or(StoreError::NotFound)?;
    let other = if up { at.checked_sub(1) } else { Some(at + 1) };
    if let Some(other) = other.filter(|o| *o < keys.len()) {
        keys.swap(at, other);
    }
    for (key, position) in keys.iter().zip((10i64..).step_by(10)) {
        on_tx!(&mut *tx, conn => sqlx::query(
            "UPDATE form_items SET position = $3 WHERE form_id = $1 AND key = $2"
        )
        .bind(form_id)
        .bind(*key)
        .bind(position)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    touch(tx, form_id).await
}

/// Removes an item; answers already given to it stay in the responses (and
/// in the CSV under their key) but are no longer counted.
pub async fn remove_item(tx: &mut Tx, form_id: i64, key: &str) -> Result<()> {
    let n = on_tx!(&mut *tx, conn => sqlx::query(
        "DELETE FROM form_items WHERE form_id = $1 AND key = $2"
    )
    .bind(form_id)
    .bind(key)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    touch(tx, form_id).await
}

/// Who submitted a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitter {
    /// The friend the answers are about (the resident, or the friend staff
    /// entered them for); `None` for a staff entry about nobody.
    pub friend_id: Option<i64>,
    /// The staff member who entered it.
    pub staff_id: Option<i64>,
}

/// Stores a checked submission in the caller's transaction: for a 更新型
/// form it replaces the friend's previous response and writes the friend's
/// attributes (a refused answer is `Invalid` and nothing is written once the
/// caller drops the transaction). Returns the response id.
pub async fn submit(
    tx: &mut Tx,
    form_id: i64,
    kind: FormKind,
    who: Submitter,
    submission: &Submission,
    at: DateTime<Utc>,
) -> Result<i64> {
    let answers = serde_json::to_string(&submission.answers)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    if kind.writes_attributes() {
        let friend = who.friend_id.ok_or_else(|| {
            StoreError::Invalid("登録フォームは友だちについてだけ回答できます。".to_owned())
        })?;
        if !submission.attributes.is_empty() {
            attributes::write_answers(tx, friend, &submission.attributes).await?;
        }
        on_tx!(&mut *tx, conn => sqlx::query(
            "DELETE FROM form_responses WHERE form_id = $1 AND friend_id = $2"
        )
        .bind(form_id)
        .bind(friend)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    let id: i64 = on_tx!(&mut *tx, conn => sqlx::query_scalar(
        "INSERT INTO form_responses (form_id, friend_id, staff_id, submitted_at, answers) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id"
    )
    .bind(form_id)
    .bind(who.friend_id)
    .bind(who.staff_id)
    .bind(micros(at))
    .bind(answers)
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

/// The friend's latest response to a form (to show and change, M08).
pub async fn latest_response(
    db: &Db,
    form_id: i64,
    friend_id: i64,
) -> Result<Option<(DateTime<Utc>, Answers)>> {
    let row: Option<(DateTime<Utc>, String)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT submitted_at, answers FROM form_responses WHERE form_id = $1 AND friend_id = $2 \
         ORDER BY submitted_at DESC, id DESC LIMIT 1"
    )
    .bind(form_id)
    .bind(friend_id)
    .fetch_optional(pool)
    .await)?;
    row.map(|(at, json)| Ok((at, serde_json::from_str(&json).map_err(corrupt)?)))
        .transpose()
}

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: i64,
    pub friend_id: Option<i64>,
    pub friend_name: String,
    pub staff_id: Option<i64>,
    pub submitted_at: DateTime<Utc>,
    pub answers: Answers,
}

/// Every response to a form, oldest first.
pub async fn responses(db: &Db, form_id: i64) -> Result<Vec<Response>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        friend_id: Option<i64>,
        friend_name: Option<String>,
        staff_id: Option<i64>,
        submitted_at: DateTime<Utc>,
        answers: String,
    }
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(
        "SELECT r.id, r.friend_id, f.display_name AS friend_name, r.staff_id, r.submitted_at, \
         r.answers FROM form_responses r LEFT JOIN line_friends f ON f.id = r.friend_id \
         WHERE r.form_id = $1 ORDER BY r.submitted_at, r.id"
    )
    .bind(form_id)
    .fetch_all(pool)
    .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(Response {
                id: r.id,
                friend_id: r.friend_id,
                friend_name: r.friend_name.unwrap_or_default(),
                staff_id: r.staff_id,
                submitted_at: r.submitted_at,
                answers: serde_json::from_str(&r.answers).map_err(corrupt)?,
            })
        })
        .collect()
}

/// The counts of one item on the results page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCounts {
    pub key: String,
    pub label: String,
    /// Responses that answered the item.
    pub answered: i64,
    /// For choice items: every option shown (in order) with its count, then
    /// any answered option no longer offered.
    pub options: Vec<(String, i64)>,
}

/// Per-question counts over every response (M26: survey results).
pub fn counts(
    form: &StoredForm,
    catalog: &AttributeCatalog,
    responses: &[Response],
) -> Vec<ItemCounts> {
    form.items
        .iter()
        .map(|item| {
            let mut options: Vec<(String, i64)> = hiroba_domain::forms::presentation(item, catalog)
                .map(|(_, choices)| choices.into_iter().map(|c| (c.label, 0)).collect())
                .unwrap_or_default();
            let mut answered = 0;
            for r in responses {
                let Some(answer) = r.answers.get(&item.key) else {
                    continue;
                };
                answered += 1;
                for label in counted_labels(item, answer, catalog) {
                    match options.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, n)) => *n += 1,
                        None => options.push((label, 1)),
                    }
                }
            }
            ItemCounts {
                key: item.key.clone(),
                label: item.label.clone(),
                answered,
                options,
            }
        })
        .collect()
}

/// The CSV of a form's responses: a Japanese header row, then one row per
/// response (回答日時, 友だち, then one column per item).
pub fn csv_rows(
    form: &StoredForm,
    catalog: &AttributeCatalog,
    responses: &[Response],
) -> Vec<Vec<String>> {
    let mut out = Vec::with_capacity(responses.len() + 1);
    let mut header = vec![
        "回答番号".to_owned(),
        "回答日時".to_owned(),
        "友だち".to_owned(),
    ];
    header.extend(form.items.iter().map(|i| i.label.clone()));
    out.push(header);
    let japan = chrono::FixedOffset::east_opt(9 * 3600);
    for r in responses {
        let at = japan.map_or_else(
            || r.submitted_at.format("%Y-%m-%d %H:%M").to_string(),
            |tz| {
                r.submitted_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            },
        );
        let who = match (r.friend_id, r.friend_name.is_empty()) {
            (None, _) => "（職員入力）".to_owned(),
            (Some(id), true) => format!("友だち{id}"),
            (Some(_), false) => r.friend_name.clone(),
        };
        let mut row = vec![r.id.to_string(), at, csv_cell(who)];
        row.extend(form.items.iter().map(|item| {
            r.answers
                .get(&item.key)
                .map(|a| csv_cell(describe(item, a, catalog)))
                .unwrap_or_default()
        }));
        out.push(row);
    }
    out
}

/// A cell Excel will not run as a formula: text residents typed that starts
/// with `=`, `+`, `-`, `@` or a tab gets a leading `'` (plain numbers stay).
fn csv_cell(text: String) -> String {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && text.parse::<i64>().is_err() {
        format!("'{text}")
    } else {
        text
    }
}

/// How many responses each form has, by form id (for the friend page).
pub async fn friend_responses(db: &Db, friend_id: i64) -> Result<BTreeMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT form_id, COUNT(*) FROM form_responses WHERE friend_id = $1 GROUP BY form_id"
    )
    .bind(friend_id)
    .fetch_all(pool)
    .await)?;
    Ok(rows.into_iter().collect())
}

/// The URL a LINE message links a form with: through LINE
/// (`https://liff.line.me/{liffId}/forms/{id}`, which opens the LIFF app's
/// endpoint `{public_url}/liff` plus `/forms/{id}`) when the channel has a
/// LIFF app, else the page on the public address.
pub fn form_link(liff_id: &str, public_url: &str, form_id: i64) -> String {
    if liff_id.is_empty() {
        format!("{}/liff/forms/{form_id}", public_url.trim_end_matches('/'))
    } else {
        format!("https://liff.line.me/{liff_id}/forms/{form_id}")
    }
}

// ---- LIFF sessions -----------------------------------------------------------

/// Opens a LIFF session for a friend whose ID token LINE verified; returns
/// the token for the cookie (only its hash is stored). Expired sessions are
/// removed on the way.
pub async fn create_liff_session(db: &Db, friend_id: i64, ttl: chrono::Duration) -> Result<String> {
    let token = crate::sessions::new_token()?;
    let now = micros(Utc::now());
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => sqlx::query("DELETE FROM liff_sessions WHERE expires_at < $1")
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO liff_sessions (token_hash, friend_id, expires_at) VALUES ($1, $2, $3)"
    )
    .bind(crate::sessions::token_hash(&token))
    .bind(friend_id)
    .bind(now + ttl)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(token)
}

/// The friend of a LIFF session that has not expired.
pub async fn resolve_liff_session(db: &Db, token: &str) -> Result<Option<i64>> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT friend_id FROM liff_sessions WHERE token_hash = $1 AND expires_at > $2"
    )
    .bind(crate::sessions::token_hash(token))
    .bind(micros(Utc::now()))
    .fetch_optional(pool)
    .await)?)
}

// ---- Demo -------------------------------------------------------------------

/// The demo's forms, into a database without any: 「はじめにご登録ください」
/// (更新型: district and children's birth dates, open, linked in the greeting
/// to new friends) and a satisfaction survey (追加型, M26). Returns whether
/// they were created.
pub async fn seed_demo(db: &Db) -> Result<bool> {
    use hiroba_domain::attributes::AttributeKey;
    use hiroba_domain::forms::QuestionKind;

    let mut tx = db.begin().await?;
    let existing: i64 = on_tx!(&mut tx, conn => sqlx::query_scalar("SELECT COUNT(*) FROM forms")
        .fetch_one(conn)
        .await)?;
    if existing > 0 {
        return Ok(false);
    }
    let catalog = attributes::load_tx(&mut tx).await?;
    let attr = |key: &str, label: &str, help: &str, required: bool| -> Result<FormItem> {
        let key = AttributeKey::parse(key).map_err(StoreError::Invalid)?;
        if catalog.get(&key).is_none() {
            return Err(StoreError::Invalid(format!("属性「{key}」がありません。")));
        }
        Ok(FormItem {
            key: String::new(),
            label: label.to_owned(),
            help: help.to_owned(),
            required,
            source: ItemSource::Attribute { key },
        })
    };
    let question = |label: &str, kind: QuestionKind, options: &[&str], required: bool| FormItem {
        key: String::new(),
        label: label.to_owned(),
        help: String::new(),
        required,
        source: ItemSource::Question {
            kind,
            options: options.iter().map(|o| (*o).to_owned()).collect(),
        },
    };
    let registration = (
        FormHeader {
            title: "はじめにご登録ください".to_owned(),
            description: "お住まいの地区やお子さんの生年月日に合わせて、必要なお知らせだけをお届けします。登録した内容は、いつでもこのページから確認・変更できます。".to_owned(),
            kind: FormKind::Preference,
        },
        vec![
            attr("area", "お住まいの地区", "", true)?,
            attr(
                "child_birth_dates",
                "お子さんの生年月日",
                "お子さんがいらっしゃる方は、健診や予防接種のお知らせをお届けします。",
                false,
            )?,
        ],
        true,
    );
    let survey = (
        FormHeader {
            title: "施設利用の満足度アンケート".to_owned(),
            description:
                "町の公共施設をご利用いただいた感想をお聞かせください（1分ほどで終わります）。"
                    .to_owned(),
            kind: FormKind::Survey,
        },
        vec![
            question(
                "ご利用になった施設",
                QuestionKind::SingleChoice,
                &[
                    "アリーナくにとみ",
                    "武道館",
                    "テニスコート",
                    "キャンプ場",
                    "その他",
                ],
                false,
            ),
            question(
                "全体の満足度",
                QuestionKind::SingleChoice,
                &["満足", "やや満足", "普通", "やや不満", "不満"],
                true,
            ),
            question("ご意見・ご要望", QuestionKind::Text, &[], false),
        ],
        false,
    );
    for (header, items, first_follow) in [registration, survey] {
        let id = create(&mut tx, &header).await?;
        for mut item in items {
            item.key = next_item_key(&mut tx, id).await?;
            add_item(&mut tx, id, &item).await?;
        }
        set_open(&mut tx, id, true).await?;
        if first_follow {
            set_first_follow(&mut tx, Some(id)).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}
