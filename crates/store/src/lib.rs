//! Hiroba's storage. One SQL text (with `$1` placeholders) runs on both
//! backends: SQLite encrypted with SQLCipher (the embedded default) and
//! PostgreSQL (production, several app instances). Each repository function is
//! written once; the [`on_pool!`] and [`on_tx!`] macros compile its body for
//! each concrete driver. The little SQL that must differ lives in [`Db`]'s
//! dialect methods.

pub mod attributes;
pub mod audit;
pub mod booking;
pub mod catalogue;
pub mod catalogue_domain;
mod connect;
pub mod deliveries;
pub mod facilities;
pub mod forms;
pub mod line;
pub mod media;
pub mod outbox;
pub mod reports;
pub mod reservations;
pub mod residents;
pub mod secrets;
pub mod seed;
mod seed_catalogue;
pub mod seed_history;
pub mod segments;
pub use seed_catalogue::kunitomi_catalogue;
pub mod sessions;
pub mod settings;
pub mod staff;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;

pub use connect::{DbKey, DbTarget, open};
pub use secrets::SecretBox;

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// A connection pool to one of the two supported databases. SQLite has a
/// second, one-connection pool that every write transaction goes through
/// ([`SqliteWriter`]).
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, SqliteWriter),
    Postgres(PgPool),
}

/// The one connection through which this process's write transactions reach
/// an SQLite file, and the turn writers queue for.
///
/// Writers queue on an async mutex rather than in SQLite's busy handler,
/// whose sleeps (up to 100 ms each) made the slowest bookings wait far longer
/// than the lock was actually held (C05). Always the same connection, because
/// SQLite empties a connection's page cache whenever another connection has
/// written the file: with writes spread over the pool, every transaction
/// decrypted its pages again (SQLCipher), a third of the webhook's CPU time
/// (docs/PERFORMANCE.md).
#[derive(Clone, Debug)]
pub struct SqliteWriter {
    pool: SqlitePool,
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteWriter {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            turn: std::sync::Arc::default(),
        }
    }
}

/// A write transaction on either backend.
pub enum Tx {
    Sqlite(SqliteTx),
    Postgres(Transaction<'static, Postgres>),
}

/// An SQLite write transaction on the [`SqliteWriter`], holding its turn.
pub struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl std::ops::Deref for SqliteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Runs the same expression against whichever pool `db` holds.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool, _) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs the same expression against whichever transaction `tx` holds;
/// `$conn` is the `&mut` connection to pass to sqlx.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "データベースを開けません。暗号鍵が違うか、ファイルが壊れています (the database key is wrong or the file is not a Hiroba database)"
    )]
    WrongKey,
    #[error("the record was not found")]
    NotFound,
    #[error("a record with the same {0} already exists")]
    Duplicate(&'static str),
    /// The data breaks a rule; the message is in Japanese for the person who
    /// entered it (e.g. an answer the attribute refuses).
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Sql(sqlx::Error),
    /// A foreign key refused the change: the row is still referenced (e.g. a
    /// room with past reservations), or a reference points nowhere.
    #[error("the record is referenced by other records: {0}")]
    InUse(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("password hashing failed")]
    PasswordHash,
    #[error("secret: {0}")]
    Secret(String),
    #[error(
        "秘密鍵がこのデータベースのものと違います。すべてのインスタンスで同じ HIROBA_SECRET_KEY（または secret_key_file）を使ってください (the secret key differs from the one this database was set up with)"
    )]
    SecretKeyMismatch,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if matches!(&err, sqlx::Error::Database(e) if e.is_foreign_key_violation()) {
            StoreError::InUse(err)
        } else {
            StoreError::Sql(err)
        }
    }
}

/// True when an error is a UNIQUE constraint violation, on either backend.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Applies pending migrations. Safe with several app instances: PostgreSQL
    /// migrations take an advisory lock, and SQLite has one writer.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite(pool, _) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Starts a write transaction. SQLite takes its write lock up front
    /// (`BEGIN IMMEDIATE`) so that two writers wait for each other instead of
    /// failing when a read-then-write transaction tries to upgrade its lock.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(_, writer) => {
                let turn = writer.turn.clone().lock_owned().await;
                Tx::Sqlite(SqliteTx {
                    tx: writer.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: turn,
                })
            }
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// A cheap round trip used by `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Refreshes the planner's statistics: after a bulk load (a CSV import of
    /// friends, a benchmark's seed) rather than waiting for autovacuum, so
    /// paging by key does not fall back to scanning the table.
    pub async fn analyze(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("ANALYZE").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Db::Sqlite(_, writer) = self {
            writer.pool.close().await;
        }
        on_pool!(self, pool => pool.close().await)
    }

    /// Copies the SQLite write-ahead log into the database file without
    /// blocking writers (PASSIVE). The server runs it every 100 ms in the
    /// background so no booking's commit pays for a checkpoint; nothing to do
    /// on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        if let Db::Sqlite(pool, _) = self {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.tx.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}
