//! Server-side staff sessions, shared by every app instance through the database.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::{Db, Result, Tx, on_pool, on_tx};

/// How long a session lives: idle and absolute limits (A01).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

/// The token only ever lives in the cookie; the database keeps its hash.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 256 random bits, URL-safe.
pub fn new_token() -> Result<String> {
    use password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| crate::StoreError::PasswordHash)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Starts a session and returns its token (for the cookie).
pub async fn create(db: &Db, staff_id: i64, ip: &str, user_agent: &str) -> Result<String> {
    let token = new_token()?;
    let now = Utc::now();
    let agent: String = user_agent.chars().take(200).collect();
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen_at, ip, user_agent) \
         VALUES ($1, $2, $3, $3, $4, $5)"
    )
    .bind(token_hash(&token))
    .bind(staff_id)
    .bind(now)
    .bind(ip)
    .bind(agent)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(token)
}

/// Resolves a token to its staff id if the session is alive and the account
/// enabled; refreshes the idle timer at most once a minute to spare writes.
pub async fn resolve(db: &Db, token: &str, policy: SessionPolicy) -> Result<Option<i64>> {
    let hash = token_hash(token);
    let row: Option<(i64, DateTime<Utc>, DateTime<Utc>, bool)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT s.staff_id, s.created_at, s.last_seen_at, st.disabled FROM staff_sessions s \
         JOIN staff st ON st.id = s.staff_id WHERE s.token_hash = $1"
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await)?;
    let Some((staff_id, created, seen, disabled)) = row else {
        return Ok(None);
    };
    let now = Utc::now();
    if disabled || now - seen > policy.idle || now - created > policy.absolute {
        delete(db, token).await?;
        return Ok(None);
    }
    if now - seen > Duration::minutes(1) {
        on_pool!(db, pool => sqlx::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(pool)
            .await.map(|r| r.rows_affected()))?;
    }
    Ok(Some(staff_id))
}

pub async fn delete(db: &Db, token: &str) -> Result<()> {
    on_pool!(db, pool => sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(pool)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_for_staff(tx: &mut Tx, staff_id: i64) -> Result<()> {
    delete_for_staff_except(tx, staff_id, None).await
}

pub async fn delete_for_staff_except(
    tx: &mut Tx,
    staff_id: i64,
    keep_token: Option<&str>,
) -> Result<()> {
    let keep = keep_token.map(token_hash).unwrap_or_default();
    on_tx!(tx, conn => sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1 AND token_hash <> $2")
        .bind(staff_id)
        .bind(keep)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn count_for_staff(db: &Db, staff_id: i64) -> Result<i64> {
    Ok(
        on_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM staff_sessions WHERE staff_id = $1")
        .bind(staff_id)
        .fetch_one(pool)
        .await)?,
    )
}

/// Removes sessions past either limit; run by the maintenance job.
pub async fn purge_expired(db: &Db, policy: SessionPolicy) -> Result<u64> {
    let now = Utc::now();
    let done = on_pool!(db, pool => sqlx::query(
        "DELETE FROM staff_sessions WHERE last_seen_at < $1 OR created_at < $2"
    )
    .bind(now - policy.idle)
    .bind(now - policy.absolute)
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(done)
}
