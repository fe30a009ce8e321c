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
