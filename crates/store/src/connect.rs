//! Opening a database: an SQLCipher-encrypted SQLite file, or PostgreSQL by URL.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Db, Result, StoreError};

/// A 256-bit SQLCipher key. Debug output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DbKey([u8; 32]);

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(***)")
    }
}

impl DbKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hexadecimal characters (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| "the database key must be 64 hexadecimal characters".to_owned())?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the database key must be 64 hexadecimal characters".to_owned())?;
        Ok(Self(array))
    }

    /// A new random key from the operating system.
    pub fn generate() -> Result<Self, String> {
        use password_hash::rand_core::{OsRng, RngCore};
        let mut bytes = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| format!("no random numbers from the operating system: {e}"))?;
        Ok(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw-key form of `PRAGMA key`, which skips SQLCipher's slow key
    /// derivation: the key is already 256 random bits.
    fn pragma_value(&self) -> String {
        format!("\"x'{}'\"", self.to_hex())
    }
}

/// The writer connection's page cache (negative: KiB, per SQLite), 32 MiB.
const WRITER_CACHE_KIB: &str = "-32768";

/// Where the data lives.
#[derive(Clone, Debug)]
pub enum DbTarget {
    Sqlite { path: PathBuf, key: DbKey },
    Postgres { url: String },
}

/// Opens (creating an SQLite file if needed) and migrates the database.
pub async fn open(target: &DbTarget) -> Result<Db> {
    let db = match target {
        DbTarget::Sqlite { path, key } => {
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .pragma("key", key.pragma_value())
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                // Checkpoints run in the background (`Db::checkpoint`, every
                // second in the server); this larger automatic threshold only
                // bounds the log when nothing else checkpoints (CLI commands).
                .pragma("wal_autocheckpoint", "20000")
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options.clone())
                .await
                .map_err(map_sqlite_open_error)?;
            // The writer keeps one connection open for good, with a larger
            // page cache: its pages stay decrypted between transactions.
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .test_before_acquire(false)
                .connect_lazy_with(options.pragma("cache_size", WRITER_CACHE_KIB));
            Db::Sqlite(pool, crate::SqliteWriter::new(writer))
        }
        DbTarget::Postgres { url } => {
            let options = PgConnectOptions::from_str(url)?;
            Db::Postgres(pg_pool(options).await?)
        }
    };
    db.migrate().await.map_err(|e| match e {
        StoreError::Migrate(sqlx::migrate::MigrateError::Execute(err)) => {
            map_sqlite_open_error(err)
        }
        other => other,
    })?;
    crate::seed::reference_data(&db).await?;
    Ok(db)
}

pub(crate) async fn pg_pool(options: PgConnectOptions) -> Result<sqlx::PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?)
}

/// SQLCipher reports a wrong key as "file is not a database" (SQLITE_NOTADB).
fn map_sqlite_open_error(err: sqlx::Error) -> StoreError {
    let not_a_db = match &err {
        sqlx::Error::Database(e) => {
            e.code().as_deref() == Some("26") || e.message().contains("file is not a database")
        }
        _ => false,
    };
    if not_a_db {
        StoreError::WrongKey
    } else {
        StoreError::Sql(err)
    }
}
