//! Registered residents (U01-U05, A19): accounts, e-mail verification and
//! password-reset tokens (single use, hashed), and server-side sessions.

use chrono::{DateTime, Duration, Utc};
use hiroba_domain::resident::Profile;

use crate::sessions::{new_token, token_hash};
use crate::{Db, Result, StoreError, Tx, is_unique_violation, on_pool, on_tx};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Resident {
    pub id: i64,
    pub email: Option<String>,
    pub password_hash: String,
    pub name: String,
    pub kana: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub category_id: i64,
    pub category_verified: bool,
    pub group_name: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl Resident {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

const SELECT: &str = "SELECT id, email, password_hash, name, kana, postal_code, address, phone, category_id, category_verified, \
     group_name, email_verified_at, status, created_at FROM residents";

/// Registers a resident awaiting e-mail verification. A taken address is
/// `Duplicate("email")`; the caller must not reveal that to the visitor.
pub async fn register(
    tx: &mut Tx,
    p: &Profile,
    category_id: i64,
    category_verified: bool,
    password_hash: &str,
) -> Result<i64> {
    let now = Utc::now();
    on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO residents (email, password_hash, name, kana, postal_code, address, phone, category_id, group_name, category_verified, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, 'pending', $10, $10) RETURNING id"
    )
    .bind(&p.email)
    .bind(password_hash)
    .bind(&p.name)
    .bind(&p.kana)
    .bind(&p.postal_code)
    .bind(&p.address)
    .bind(&p.phone)
    .bind(category_id)
    .bind(&p.group_name)
    .bind(now)
    .bind(category_verified)
    .fetch_one(conn)
    .await)
    .map_err(|e| if is_unique_violation(&e) { StoreError::Duplicate("email") } else { e.into() })
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Resident>> {
    let sql = format!("{SELECT} WHERE id = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<Resident>> {
    let sql = format!("{SELECT} WHERE email = $1");
    Ok(
        on_pool!(db, pool => sqlx::query_as(&sql).bind(email.trim().to_lowercase()).fetch_optional(pool).await)?,
    )
}

/// Marks the address verified and the account usable.
pub async fn activate(tx: &mut Tx, id: i64) -> Result<()> {
    let now = Utc::now();
    on_tx!(tx, conn => sqlx::query("UPDATE residents SET email_verified_at = $1, status = 'active', updated_at = $1 WHERE id = $2 AND status = 'pending'")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// What a mailed token is for, and how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// E-mail verification at registration: 24 hours.
    Verify,
    /// Forgotten password: 30 minutes.
    Reset,
}

impl TokenPurpose {
    fn code(self) -> &'static str {
        match self {
            TokenPurpose::Verify => "verify",
            TokenPurpose::Reset => "reset",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            TokenPurpose::Verify => Duration::hours(24),
            TokenPurpose::Reset => Duration::minutes(30),
        }
    }
}

/// Issues a single-use token for a mail link; only its hash is stored.
pub async fn issue_token(tx: &mut Tx, resident_id: i64, purpose: TokenPurpose) -> Result<String> {
    let token = new_token()?;
    on_tx!(tx, conn => sqlx::query("INSERT INTO resident_tokens (token_hash, resident_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(resident_id)
        .bind(purpose.code())
        .bind(Utc::now() + purpose.lifetime())
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(token)
}

/// Uses a token once: the resident it belongs to, or `None` if it is unknown,
/// expired, already used or for another purpose.
pub async fn consume_token(tx: &mut Tx, token: &str, purpose: TokenPurpose) -> Result<Option<i64>> {
    let now = Utc::now();
    Ok(on_tx!(tx, conn => sqlx::query_scalar(
        "UPDATE resident_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING resident_id"
    )
    .bind(now)
    .bind(token_hash(token))
    .bind(purpose.code())
    .fetch_optional(conn)
    .await)?)
}

/// Starts a resident session; returns the cookie token.
pub async fn create_session(db: &Db, resident_id: i64) -> Result<String> {
    let token = new_token()?;
    let now = Utc::now();
    on_pool!(db, pool => sqlx::query("INSERT INTO resident_sessions (token_hash, resident_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)")
        .bind(token_hash(&token))
        .bind(resident_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(token)
}

/// The resident of a live session (idle 60 minutes, 24 hours in all).
pub async fn resolve_session(db: &Db, token: &str) -> Result<Option<Resident>> {
    let hash = token_hash(token);
    let row: Option<(i64, DateTime<Utc>, DateTime<Utc>)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT resident_id, created_at, last_seen_at FROM resident_sessions WHERE token_hash = $1"
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await)?;
    let Some((id, created, seen)) = row else {
        return Ok(None);
    };
    let now = Utc::now();
    if now - seen > Duration::minutes(60) || now - created > Duration::hours(24) {
        delete_session(db, token).await?;
        return Ok(None);
    }
    if now - seen > Duration::minutes(1) {
        on_pool!(db, pool => sqlx::query("UPDATE resident_sessions SET last_seen_at = $1 WHERE token_hash = $2").bind(now).bind(&hash).execute(pool).await.map(|r| r.rows_affected()))?;
    }
    Ok(get(db, id).await?.filter(Resident::is_active))
}

pub async fn delete_session(db: &Db, token: &str) -> Result<()> {
    on_pool!(db, pool => sqlx::query("DELETE FROM resident_sessions WHERE token_hash = $1").bind(token_hash(token)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets a new password and ends every session of the resident (reset or change).
pub async fn set_password(
    tx: &mut Tx,
    id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let now = Utc::now();
    let rows = on_tx!(tx, conn => sqlx::query("UPDATE residents SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if rows == 0 {
        return Err(StoreError::NotFound);
    }
    let keep = keep_session.map(token_hash).unwrap_or_default();
    on_tx!(tx, conn => sqlx::query("DELETE FROM resident_sessions WHERE resident_id = $1 AND token_hash <> $2")
        .bind(id)
        .bind(keep)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Changes the contact details a resident may edit themselves (U05). The
/// e-mail address and the user category are changed through other routes
/// (re-verification, and staff confirmation of the category).
pub async fn update_contact(tx: &mut Tx, id: i64, p: &Profile) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query(
        "UPDATE residents SET name = $1, kana = $2, postal_code = $3, address = $4, phone = $5, group_name = $6, updated_at = $7 WHERE id = $8"
    )
    .bind(&p.name)
    .bind(&p.kana)
    .bind(&p.postal_code)
    .bind(&p.address)
    .bind(&p.phone)
    .bind(&p.group_name)
    .bind(Utc::now())
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Staff administration of residents (A19) and erasure of a registration (A30).
// ---------------------------------------------------------------------------

/// What erasure leaves in place of the name, on the resident and on their
/// reservations (A30).
pub const ERASED_NAME: &str = "削除済み利用者";

/// A password hash no password matches: it is not a valid PHC string, so
/// verification fails before any comparison.
fn unusable_password_hash() -> Result<String> {
    Ok(format!("!unusable!{}", new_token()?))
}

/// Search conditions of the staff residents list; `None`/`false` mean "any".
#[derive(Debug, Clone, Default)]
pub struct ResidentQuery {
    /// Substring of name, kana, e-mail, phone or group name.
    pub text: Option<String>,
    pub status: Option<String>,
    pub category_id: Option<i64>,
    /// Only residents whose category still awaits staff confirmation.
    pub unverified_only: bool,
    /// Erased registrations are left out unless asked for (or the status filter is 'erased').
    pub include_erased: bool,
    pub limit: i64,
    pub offset: i64,
}

/// One row of the staff residents list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ResidentSummary {
    pub id: i64,
    pub name: String,
    pub kana: String,
    pub email: Option<String>,
    pub phone: String,
    pub group_name: String,
    pub category_id: i64,
    pub category_name: String,
    pub category_verified: bool,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

fn like_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Hiragana and katakana spellings of a term, so either finds either.
fn kana_variants(term: &str) -> (String, String) {
    let hira = term
        .chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        })
        .collect();
    let kata = term
        .chars()
        .map(|c| match c {
            'ぁ'..='ゖ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c,
        })
        .collect();
    (hira, kata)
}

const SEARCH_FROM: &str = "FROM residents r JOIN user_categories c ON c.id = r.category_id \
     WHERE ($1 IS NULL OR LOWER(r.name) LIKE $1 ESCAPE '\\' OR r.kana LIKE $2 ESCAPE '\\' OR r.kana LIKE $3 ESCAPE '\\' \
            OR LOWER(r.email) LIKE $1 ESCAPE '\\' OR r.phone LIKE $1 ESCAPE '\\' \
            OR ($4 IS NOT NULL AND REPLACE(r.phone, '-', '') LIKE $4) OR LOWER(r.group_name) LIKE $1 ESCAPE '\\') \
       AND ($5 IS NULL OR r.status = $5) \
       AND ($6 IS NULL OR r.category_id = $6) \
       AND ($7 = FALSE OR r.category_verified = FALSE) \
       AND ($8 = TRUE OR r.status <> 'erased')";

/// The bind values of [`SEARCH_FROM`].
struct SearchBinds {
    text: Option<String>,
    hira: Option<String>,
    kata: Option<String>,
    digits: Option<String>,
    status: Option<String>,
    category: Option<i64>,
    unverified: bool,
    erased: bool,
}

fn search_binds(q: &ResidentQuery) -> SearchBinds {
    let term = q
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase);
    let (hira, kata) = term.as_deref().map(kana_variants).unzip();
    let digits = term.as_deref().and_then(|t| {
        let d: String = t.chars().filter(char::is_ascii_digit).collect();
        // Only digits and hyphens: a phone number typed with or without hyphens.
        (d.len() >= 3 && t.chars().all(|c| c.is_ascii_digit() || c == '-'))
            .then(|| format!("%{d}%"))
    });
    let status = q.status.clone().filter(|s| !s.is_empty());
    SearchBinds {
        text: term.as_deref().map(like_escape),
        hira: hira.as_deref().map(like_escape),
        kata: kata.as_deref().map(like_escape),
        digits,
        erased: q.include_erased || status.as_deref() == Some("erased"),
        status,
        category: q.category_id,
        unverified: q.unverified_only,
    }
}

/// Residents matching the query, newest first, one page of them.
pub async fn search(db: &Db, q: &ResidentQuery) -> Result<Vec<ResidentSummary>> {
    let b = search_binds(q);
    let sql = format!(
        "SELECT r.id, r.name, r.kana, r.email, r.phone, r.group_name, r.category_id, c.name AS category_name, \
         r.category_verified, r.status, r.created_at {SEARCH_FROM} ORDER BY r.id DESC LIMIT $9 OFFSET $10"
    );
    let limit = if q.limit > 0 { q.limit } else { 50 };
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(&b.text)
        .bind(&b.hira)
        .bind(&b.kata)
        .bind(&b.digits)
        .bind(&b.status)
        .bind(b.category)
        .bind(b.unverified)
        .bind(b.erased)
        .bind(limit)
        .bind(q.offset.max(0))
        .fetch_all(pool)
        .await)?)
}

/// How many residents match the query (ignoring limit and offset).
pub async fn count(db: &Db, q: &ResidentQuery) -> Result<i64> {
    let b = search_binds(q);
    let sql = format!("SELECT COUNT(*) {SEARCH_FROM}");
    Ok(on_pool!(db, pool => sqlx::query_scalar(&sql)
        .bind(&b.text)
        .bind(&b.hira)
        .bind(&b.kata)
        .bind(&b.digits)
        .bind(&b.status)
        .bind(b.category)
        .bind(b.unverified)
        .bind(b.erased)
        .fetch_one(pool)
        .await)?)
}

fn duplicate_email(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate("email")
    } else {
        e.into()
    }
}

/// Registers a resident at the counter: active at once, perhaps without an
/// e-mail address, and with a password nobody knows; they sign in only after
/// setting one through the forgotten-password mail. `p.email` is ignored.
pub async fn create_by_staff(
    tx: &mut Tx,
    p: &Profile,
    email: Option<&str>,
    category_id: i64,
    category_verified: bool,
) -> Result<i64> {
    let now = Utc::now();
    let email = email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let hash = unusable_password_hash()?;
    on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO residents (email, password_hash, name, kana, postal_code, address, phone, category_id, group_name, category_verified, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, 'active', $10, $10) RETURNING id"
    )
    .bind(&email)
    .bind(&hash)
    .bind(&p.name)
    .bind(&p.kana)
    .bind(&p.postal_code)
    .bind(&p.address)
    .bind(&p.phone)
    .bind(category_id)
    .bind(&p.group_name)
    .bind(now)
    .bind(category_verified)
    .fetch_one(conn)
    .await)
    .map_err(duplicate_email)
}

/// Staff edit every field of a registration, the e-mail address and the
/// category included (`p.email` is ignored; `email` may be `None`). An
/// erased registration cannot be edited.
pub async fn update_by_staff(
    tx: &mut Tx,
    id: i64,
    p: &Profile,
    email: Option<&str>,
    category_id: i64,
    category_verified: bool,
) -> Result<()> {
    let email = email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let rows = on_tx!(tx, conn => sqlx::query(
        "UPDATE residents SET email = $1, name = $2, kana = $3, postal_code = $4, address = $5, phone = $6, group_name = $7, \
         category_id = $8, category_verified = $9, updated_at = $10 WHERE id = $11 AND status <> 'erased'"
    )
    .bind(&email)
    .bind(&p.name)
    .bind(&p.kana)
    .bind(&p.postal_code)
    .bind(&p.address)
    .bind(&p.phone)
    .bind(&p.group_name)
    .bind(category_id)
    .bind(category_verified)
    .bind(Utc::now())
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))
    .map_err(duplicate_email)?;
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

async fn update_status_field(tx: &mut Tx, sql: &str, id: i64) -> Result<()> {
    let rows = on_tx!(tx, conn => sqlx::query(sql)
        .bind(Utc::now())
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Staff confirmed (or withdrew confirmation of) the proof of the category.
pub async fn set_category_verified(tx: &mut Tx, id: i64, verified: bool) -> Result<()> {
    let sql = if verified {
        "UPDATE residents SET category_verified = TRUE, updated_at = $1 WHERE id = $2 AND status <> 'erased'"
    } else {
        "UPDATE residents SET category_verified = FALSE, updated_at = $1 WHERE id = $2 AND status <> 'erased'"
    };
    update_status_field(tx, sql, id).await
}

async fn end_sessions(tx: &mut Tx, id: i64) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM resident_sessions WHERE resident_id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Suspends an active (or pending) registration and ends its sessions.
pub async fn suspend(tx: &mut Tx, id: i64) -> Result<()> {
    update_status_field(
        tx,
        "UPDATE residents SET status = 'suspended', updated_at = $1 WHERE id = $2 AND status IN ('active', 'pending')",
        id,
    )
    .await?;
    end_sessions(tx, id).await
}

/// Lifts a suspension.
pub async fn reactivate(tx: &mut Tx, id: i64) -> Result<()> {
    update_status_field(
        tx,
        "UPDATE residents SET status = 'active', updated_at = $1 WHERE id = $2 AND status = 'suspended'",
        id,
    )
    .await
}

/// What erasure did, for the caller's log and messages (no personal data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Future confirmed reservations that were cancelled.
    pub cancelled: Vec<i64>,
    /// Reservations whose applicant details were anonymised.
    pub anonymised: u64,
}

/// Erases a registration irreversibly (A30): blanks every personal field,
/// ends sessions and deletes tokens, cancels the resident's confirmed
/// reservations from today (Japan time) on, anonymises the applicant on all
/// their reservations (dates, rooms, categories, people and fees stay for the
/// statistics), and deletes mails to and failed sign-ins of their address.
/// Erasing an erased registration changes nothing.
pub async fn erase(tx: &mut Tx, id: i64) -> Result<Erasure> {
    let row: Option<(Option<String>, String)> = on_tx!(tx, conn => sqlx::query_as(
        "SELECT email, status FROM residents WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(conn)
    .await)?;
    let Some((email, status)) = row else {
        return Err(StoreError::NotFound);
    };
    if status == "erased" {
        return Ok(Erasure::default());
    }
    let today = Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive();
    let future: Vec<i64> = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT id FROM reservations WHERE resident_id = $1 AND status = 'confirmed' AND use_date >= $2 ORDER BY id"
    )
    .bind(id)
    .bind(today)
    .fetch_all(conn)
    .await)?;
    for reservation in &future {
        crate::reservations::cancel(tx, *reservation, "利用者登録の削除").await?;
    }
    let anonymised = on_tx!(tx, conn => sqlx::query(
        "UPDATE reservations SET applicant_name = $1, applicant_phone = '' WHERE resident_id = $2"
    )
    .bind(ERASED_NAME)
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    let hash = unusable_password_hash()?;
    on_tx!(tx, conn => sqlx::query(
        "UPDATE residents SET name = $1, kana = '', postal_code = '', address = '', phone = '', group_name = '', \
         email = NULL, login_id = NULL, password_hash = $2, email_verified_at = NULL, status = 'erased', updated_at = $3 \
         WHERE id = $4"
    )
    .bind(ERASED_NAME)
    .bind(&hash)
    .bind(Utc::now())
    .bind(id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    end_sessions(tx, id).await?;
    on_tx!(tx, conn => sqlx::query("DELETE FROM resident_tokens WHERE resident_id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if let Some(email) = email {
        // Every stored mail to the address (a mail being sent right now is
        // simply not marked sent afterwards), and failed sign-ins keyed by it.
        on_tx!(tx, conn => sqlx::query("DELETE FROM mail_outbox WHERE LOWER(to_address) = $1")
            .bind(email.to_lowercase())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        on_tx!(tx, conn => sqlx::query("DELETE FROM login_failures WHERE login_id = $1")
            .bind(format!("resident:{}", email.to_lowercase()))
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(Erasure {
        cancelled: future,
        anonymised,
    })
}

/// One reservation of a resident, for the staff detail page.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ResidentReservation {
    pub id: i64,
    pub reference: String,
    pub use_date: chrono::NaiveDate,
    pub start_min: i64,
    pub end_min: i64,
    pub facility_name: String,
    pub room_name: String,
    pub status: String,
}

/// A resident's reservations, newest date first.
pub async fn reservations_of(db: &Db, id: i64, limit: i64) -> Result<Vec<ResidentReservation>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT v.id, v.reference, v.use_date, v.start_min, v.end_min, f.name AS facility_name, m.name AS room_name, v.status \
         FROM reservations v JOIN facilities f ON f.id = v.facility_id JOIN rooms m ON m.id = v.room_id \
         WHERE v.resident_id = $1 ORDER BY v.use_date DESC, v.start_min DESC LIMIT $2"
    )
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await)?)
}
