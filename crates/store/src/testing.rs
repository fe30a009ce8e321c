//! Test databases for this and other crates' tests: every storage and HTTP
//! test runs once on an encrypted SQLite file and, when `TEST_POSTGRES_URL` is
//! set, once more on a fresh PostgreSQL schema that is dropped afterwards.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use crate::{Db, DbKey, DbTarget, on_pool};

pub struct TestDb {
    pub db: Db,
    pub target: DbTarget,
    _dir: Option<tempfile::TempDir>,
    pg_cleanup: Option<(String, String)>,
}

impl TestDb {
    pub fn label(&self) -> &'static str {
        self.db.backend_name()
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.target {
            DbTarget::Sqlite { path, .. } => Some(path.clone()),
            DbTarget::Postgres { .. } => None,
        }
    }
}

/// Every backend a test must cover. Fails loudly if `TEST_POSTGRES_URL` is set
/// but PostgreSQL cannot be reached, so CI never silently skips it.
pub async fn backends() -> Vec<TestDb> {
    let mut all = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        all.push(pg);
    }
    all
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let target = DbTarget::Sqlite {
        path: dir.path().join("hiroba.db"),
        key: DbKey::generate().expect("random key"),
    };
    let db = crate::open(&target)
        .await
        .expect("open test SQLite database");
    TestDb {
        db,
        target,
        _dir: Some(dir),
        pg_cleanup: None,
    }
}

pub async fn postgres() -> Option<TestDb> {
    let url = std::env::var("TEST_POSTGRES_URL").ok()?;
    let schema = format!(
        "hiroba_test_{}",
        crate::sessions::new_token()
            .expect("random")
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
    );
    let schema: String = schema.chars().take(40).collect();
    let admin =
        crate::connect::pg_pool(PgConnectOptions::from_str(&url).expect("TEST_POSTGRES_URL"))
            .await
            .unwrap_or_else(|e| {
                panic!("TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}")
            });
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create test schema");
    admin.close().await;
    let scoped = with_search_path(&url, &schema);
    let target = DbTarget::Postgres { url: scoped };
    let db = crate::open(&target)
        .await
        .expect("open test PostgreSQL schema");
    Some(TestDb {
        db,
        target,
        _dir: None,
        pg_cleanup: Some((url, schema)),
    })
}

fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Close SQLite connections before the test process can exit: a
        // connection thread still closing while the process's exit handlers
        // tear down the crypto library behind SQLCipher aborted a run
        // ("double free or corruption"). Same separate-runtime trick as below.
        if let Db::Sqlite(..) = &self.db {
            let db = self.db.clone();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    tokio::time::timeout(std::time::Duration::from_secs(3), db.close())
                        .await
                        .ok()
                })
            })
            .join();
        }
        let Some((url, schema)) = self.pg_cleanup.take() else {
            return;
        };
        // Drop runs inside the test's runtime; a separate thread with its own
        // runtime can still wait for the schema to be dropped.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await.ok()?;
                // A failed test may leave transactions open in its own (now
                // blocked) runtime; never wait on their locks for long.
                sqlx::query("SET lock_timeout = '3s'")
                    .execute(&mut conn)
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await
                    .ok()?;
                conn.close().await.ok()?;
                Some(())
            })
        })
        .join();
    }
}

/// Simulates an attacker with database access editing an operation-log row,
/// going around the append-only trigger.
pub async fn tamper_audit_summary(db: &Db, seq: i64, summary: &str) {
    match db {
        Db::Sqlite(pool, _) => {
            sqlx::query("DROP TRIGGER audit_log_no_update")
                .execute(pool)
                .await
                .unwrap();
        }
        Db::Postgres(pool) => {
            sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
                .execute(pool)
                .await
                .unwrap();
        }
    }
    on_pool!(db, pool => sqlx::query("UPDATE audit_log SET summary = $1 WHERE seq = $2")
        .bind(summary)
        .bind(seq)
        .execute(pool)
        .await.map(|r| r.rows_affected()))
    .unwrap();
}
