//! Failed-login throttling per account and per client IP (A01), kept in the
//! database so every app instance sees the same counts.

use chrono::{DateTime, Duration, Utc};

use crate::{Db, Result, on_pool};

/// Limits within a sliding window.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub window: Duration,
    pub per_account: i64,
    pub per_ip: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::minutes(15),
            per_account: 5,
            per_ip: 20,
        }
    }
}

pub async fn record_failure(db: &Db, login_id: &str, ip: &str) -> Result<()> {
    on_pool!(db, pool => sqlx::query("INSERT INTO login_failures (login_id, ip, at) VALUES ($1, $2, $3)")
        .bind(login_id.trim().to_ascii_lowercase())
        .bind(ip)
        .bind(Utc::now())
        .execute(pool)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// True when either the account or the IP has reached its limit in the window.
pub async fn is_throttled(
    db: &Db,
    login_id: &str,
    ip: &str,
    policy: ThrottlePolicy,
) -> Result<bool> {
    let since = Utc::now() - policy.window;
    let (by_login, by_ip): (i64, i64) = on_pool!(db, pool => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM login_failures WHERE login_id = $1 AND at >= $3), \
                (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at >= $3)"
    )
    .bind(login_id.trim().to_ascii_lowercase())
    .bind(ip)
    .bind(since)
    .fetch_one(pool)
    .await)?;
    Ok(by_login >= policy.per_account || by_ip >= policy.per_ip)
}

/// A successful login forgives the account's earlier failures.
pub async fn clear_account(db: &Db, login_id: &str) -> Result<()> {
    on_pool!(db, pool => sqlx::query("DELETE FROM login_failures WHERE login_id = $1")
        .bind(login_id.trim().to_ascii_lowercase())
        .execute(pool)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn purge(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    let done = on_pool!(db, pool => sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(before)
        .execute(pool)
        .await.map(|r| r.rows_affected()))?;
    Ok(done)
}
