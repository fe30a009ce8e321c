//! Daily housekeeping: operation-log retention (A29, never below 24 months),
//! expired staff sessions and old failed-login records.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hiroba_store::sessions::{self, SessionPolicy};
use hiroba_store::{Db, Result, audit, settings, throttle};

/// What one run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub audit_removed: u64,
    pub sessions_removed: u64,
    pub login_failures_removed: u64,
}

/// One pass of housekeeping as of `now` (passed in so tests can look ahead).
pub async fn run_once(db: &Db, now: DateTime<Utc>, session: SessionPolicy) -> Result<Report> {
    let retention = settings::load(db).await?.audit_retention;
    let audit_removed = audit::prune(db, retention.cutoff(now)).await?;
    let sessions_removed = sessions::purge_expired(db, session).await?;
    // Throttling looks back 15 minutes; a day of history is plenty for review.
    let login_failures_removed = throttle::purge(db, now - chrono::Duration::days(1)).await?;
    Ok(Report {
        audit_removed,
        sessions_removed,
        login_failures_removed,
    })
}

/// Runs housekeeping now and then every `every` until the task is aborted.
pub fn spawn(db: Db, session: SessionPolicy, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match run_once(&db, Utc::now(), session).await {
                Ok(report) => tracing::info!(?report, "maintenance done"),
                Err(e) => tracing::error!(error = %e, "maintenance failed; will retry next time"),
            }
        }
    })
}

/// Checkpoints the SQLite write-ahead log every `every` (see `Db::checkpoint`).
pub fn spawn_checkpointer(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = db.checkpoint().await {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hiroba_store::audit::NewEntry;
    use hiroba_store::testing::backends;

    #[tokio::test]
    async fn retention_keeps_24_months_and_removes_older_entries() {
        for t in backends().await {
            let db = &t.db;
            let entry = NewEntry {
                action: "login".into(),
                ..Default::default()
            };
            audit::record(db, &entry).await.unwrap();
            let policy = SessionPolicy::default();

            // 23 months on: the default retention (60 months) and the minimum keep it.
            let soon = Utc::now() + chrono::Months::new(23);
            assert_eq!(
                run_once(db, soon, policy).await.unwrap().audit_removed,
                0,
                "{}",
                t.label()
            );

            // Set the minimum (24 months); 25 months on, the entry goes.
            let mut s = settings::load(db).await.unwrap();
            s.audit_retention = hiroba_domain::retention::AuditRetention::months(24).unwrap();
            let mut tx = db.begin().await.unwrap();
            settings::save(&mut tx, &s).await.unwrap();
            tx.commit().await.unwrap();
            let later = Utc::now() + chrono::Months::new(25);
            assert_eq!(
                run_once(db, later, policy).await.unwrap().audit_removed,
                1,
                "{}",
                t.label()
            );
            assert!(audit::verify(db).await.unwrap().is_ok());
        }
    }
}
