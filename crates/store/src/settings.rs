//! System settings staff change from the admin (C03): the town's name and
//! contact shown on pages and mail, and the operation-log retention.

use hiroba_domain::retention::AuditRetention;

use crate::{Db, Result, Tx, on_pool, on_tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemSettings {
    pub town_name: String,
    pub town_contact: String,
    pub audit_retention: AuditRetention,
}

impl Default for SystemSettings {
    fn default() -> Self {
        Self {
            town_name: "国富町".into(),
            town_contact: "国富町役場 電話 0985-75-3111".into(),
            audit_retention: AuditRetention::default(),
        }
    }
}

pub async fn load(db: &Db) -> Result<SystemSettings> {
    let rows: Vec<(String, String)> = on_pool!(db, pool => sqlx::query_as("SELECT key, value FROM settings").fetch_all(pool).await)?;
    let mut settings = SystemSettings::default();
    for (key, value) in rows {
        match key.as_str() {
            "town_name" => settings.town_name = value,
            "town_contact" => settings.town_contact = value,
            "audit_retention_months" => {
                // A stored value below the legal minimum is never honoured.
                if let Some(r) = value
                    .parse()
                    .ok()
                    .and_then(|m| AuditRetention::months(m).ok())
                {
                    settings.audit_retention = r;
                }
            }
            _ => {}
        }
    }
    Ok(settings)
}

pub async fn save(tx: &mut Tx, settings: &SystemSettings) -> Result<()> {
    let months = settings.audit_retention.get().to_string();
    for (key, value) in [
        ("town_name", settings.town_name.as_str()),
        ("town_contact", settings.town_contact.as_str()),
        ("audit_retention_months", months.as_str()),
    ] {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        .bind(key)
        .bind(value)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// A random secret shared by every app instance (e.g. the CSRF signing key):
/// the first instance to start creates it, the others read the same value.
pub async fn shared_secret(db: &Db, name: &str) -> Result<[u8; 32]> {
    let key = format!("secret:{name}");
    let fresh = crate::DbKey::generate().map_err(|_| crate::StoreError::PasswordHash)?;
    on_pool!(db, pool => sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(&key)
        .bind(fresh.to_hex())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    let stored: String = on_pool!(db, pool => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(&key)
        .fetch_one(pool)
        .await)?;
    let bytes = hex::decode(stored.trim()).map_err(|_| crate::StoreError::NotFound)?;
    bytes.try_into().map_err(|_| crate::StoreError::NotFound)
}

/// A yes/no setting shared by every instance (e.g. whether deliveries need a
/// second staff member's approval); `false` until set.
pub async fn flag(db: &Db, key: &str) -> Result<bool> {
    let value: Option<String> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT value FROM settings WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(pool)
    .await)?;
    Ok(value.as_deref() == Some("1"))
}

pub async fn set_flag(tx: &mut Tx, key: &str, on: bool) -> Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
    .bind(key)
    .bind(if on { "1" } else { "0" })
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
