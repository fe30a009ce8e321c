//! Staff accounts (A01, A02, M21): login, permissions and facility scope.

use argon2::Argon2;
use chrono::{DateTime, Utc};
use hiroba_domain::permission::{FacilityScope, Permission, PermissionSet};
use hiroba_domain::staff::{LoginId, NewPassword, StaffName};
use password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::{Db, Result, StoreError, Tx, is_unique_violation, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
struct StaffRow {
    id: i64,
    login_id: String,
    name: String,
    all_facilities: bool,
    disabled: bool,
    password_changed_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A staff member with everything needed to decide what they may do.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: i64,
    pub login_id: String,
    pub name: String,
    pub disabled: bool,
    pub permissions: PermissionSet,
    pub scope: FacilityScope,
    pub password_changed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Staff {
    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }
}

/// The editable part of an account.
#[derive(Debug, Clone)]
pub struct StaffChange {
    pub name: StaffName,
    pub permissions: PermissionSet,
    pub scope: FacilityScope,
}

const SELECT_STAFF: &str = "SELECT id, login_id, name, all_facilities, disabled, password_changed_at, created_at, updated_at FROM staff";

/// Argon2id with the library's defaults (19 MiB, 2 passes), OWASP's recommendation.
/// Hashing runs on the blocking pool so it never stalls request handling.
pub async fn hash_password(password: &NewPassword) -> Result<String> {
    let secret = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| StoreError::PasswordHash)
    })
    .await
    .map_err(|_| StoreError::PasswordHash)?
}

/// Checks a password against a stored hash. With `None` it verifies against a
/// fixed dummy hash, so an unknown login ID costs the same time as a known one.
pub async fn verify_password(stored: Option<String>, attempt: &str) -> bool {
    let attempt = attempt.to_owned();
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(attempt.as_bytes(), &parsed)
            .is_ok();
        ok && stored != DUMMY_HASH
    })
    .await
    .unwrap_or(false)
}

// The Argon2id hash of a random string nobody knows; only used for timing.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1ESp3YLbTPJ4Ku+pONeBsX2nVN0QVZ4ThLYRfydO7/A";

/// The stored hash and state of a login ID, for the login check.
pub struct LoginRecord {
    pub id: i64,
    pub password_hash: String,
    pub disabled: bool,
}

pub async fn find_for_login(db: &Db, login: &str) -> Result<Option<LoginRecord>> {
    let row: Option<(i64, String, bool)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT id, password_hash, disabled FROM staff WHERE login_id = $1"
    )
    .bind(login.trim().to_ascii_lowercase())
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(|(id, password_hash, disabled)| LoginRecord {
        id,
        password_hash,
        disabled,
    }))
}

/// Creates an account; a taken login ID is `Duplicate("login_id")`.
pub async fn create(
    tx: &mut Tx,
    login: &LoginId,
    change: &StaffChange,
    password_hash: &str,
) -> Result<i64> {
    let now = Utc::now();
    let inserted: std::result::Result<i64, sqlx::Error> = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO staff (login_id, name, password_hash, all_facilities, disabled, password_changed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, FALSE, $5, $5, $5) RETURNING id"
    )
    .bind(login.as_str())
    .bind(change.name.as_str())
    .bind(password_hash)
    .bind(change.scope.is_all())
    .bind(now)
    .fetch_one(conn)
    .await);
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(StoreError::Duplicate("login_id")),
        Err(e) => return Err(e.into()),
    };
    write_grants(tx, id, change).await?;
    Ok(id)
}

async fn write_grants(tx: &mut Tx, id: i64, change: &StaffChange) -> Result<()> {
    on_tx!(tx, conn => sqlx::query("DELETE FROM staff_permissions WHERE staff_id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    for permission in change.permissions.iter() {
        on_tx!(tx, conn => sqlx::query("INSERT INTO staff_permissions (staff_id, permission) VALUES ($1, $2)")
            .bind(id)
            .bind(permission.code())
            .execute(conn)
            .await.map(|r| r.rows_affected()))?;
    }
    on_tx!(tx, conn => sqlx::query("DELETE FROM staff_facilities WHERE staff_id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    if let FacilityScope::Only(ids) = &change.scope {
        for facility in ids {
            on_tx!(tx, conn => sqlx::query("INSERT INTO staff_facilities (staff_id, facility_id) VALUES ($1, $2)")
                .bind(id)
                .bind(facility)
                .execute(conn)
                .await.map(|r| r.rows_affected()))?;
        }
    }
    Ok(())
}

pub async fn update(tx: &mut Tx, id: i64, change: &StaffChange) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE staff SET name = $1, all_facilities = $2, updated_at = $3 WHERE id = $4"
    )
    .bind(change.name.as_str())
    .bind(change.scope.is_all())
    .bind(Utc::now())
    .bind(id)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    write_grants(tx, id, change).await
}

/// Disabling also ends every session of the account.
pub async fn set_disabled(tx: &mut Tx, id: i64, disabled: bool) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query("UPDATE staff SET disabled = $1, updated_at = $2 WHERE id = $3")
        .bind(disabled)
        .bind(Utc::now())
        .bind(id)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    if disabled {
        crate::sessions::delete_for_staff(tx, id).await?;
    }
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    let done = on_tx!(tx, conn => sqlx::query("DELETE FROM staff WHERE id = $1").bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Sets a new password hash; other sessions of the account end, the current one
/// (if given) stays.
pub async fn set_password(
    tx: &mut Tx,
    id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let now = Utc::now();
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE staff SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3"
    )
    .bind(password_hash)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    crate::sessions::delete_for_staff_except(tx, id, keep_session).await
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Staff>> {
    let sql = format!("{SELECT_STAFF} WHERE id = $1");
    let row: Option<StaffRow> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    match row {
        Some(row) => Ok(Some(load_grants(db, row).await?)),
        None => Ok(None),
    }
}

pub async fn get_by_login(db: &Db, login: &str) -> Result<Option<Staff>> {
    let sql = format!("{SELECT_STAFF} WHERE login_id = $1");
    let row: Option<StaffRow> = on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(login.trim().to_ascii_lowercase())
        .fetch_optional(pool)
        .await)?;
    match row {
        Some(row) => Ok(Some(load_grants(db, row).await?)),
        None => Ok(None),
    }
}

pub async fn list(db: &Db) -> Result<Vec<Staff>> {
    let sql = format!("{SELECT_STAFF} ORDER BY login_id");
    let rows: Vec<StaffRow> = on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(load_grants(db, row).await?);
    }
    Ok(out)
}

/// How many enabled accounts can still manage staff, not counting `except`.
pub async fn count_active_admins(db: &Db, except: i64) -> Result<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM staff s JOIN staff_permissions p ON p.staff_id = s.id \
         WHERE p.permission = $1 AND s.disabled = FALSE AND s.id <> $2"
    )
    .bind(Permission::StaffAdmin.code())
    .bind(except)
    .fetch_one(pool)
    .await)?)
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(
        on_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM staff").fetch_one(pool).await)?,
    )
}

async fn load_grants(db: &Db, row: StaffRow) -> Result<Staff> {
    let codes: Vec<String> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT permission FROM staff_permissions WHERE staff_id = $1"
    )
    .bind(row.id)
    .fetch_all(pool)
    .await)?;
    // Codes this version does not know (from a newer version) are ignored, never granted.
    let permissions = codes.iter().filter_map(|c| c.parse().ok()).collect();
    let scope = if row.all_facilities {
        FacilityScope::All
    } else {
        let ids: Vec<i64> = on_pool!(db, pool => sqlx::query_scalar(
            "SELECT facility_id FROM staff_facilities WHERE staff_id = $1"
        )
        .bind(row.id)
        .fetch_all(pool)
        .await)?;
        FacilityScope::Only(ids.into_iter().collect())
    };
    Ok(Staff {
        id: row.id,
        login_id: row.login_id,
        name: row.name,
        disabled: row.disabled,
        permissions,
        scope,
        password_changed_at: row.password_changed_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
