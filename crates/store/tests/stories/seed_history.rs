//! The capacity seed (C05) on SQLite and PostgreSQL: a small synthetic
//! history has the asked counts, stays inside its date range, never double
//! books (A08: every confirmed reservation holds exactly its cells, cancelled
//! ones none), and refuses to run twice.

use chrono::NaiveDate;
use hiroba_store::seed_history::{HistoryOptions, seed_history};
use hiroba_store::testing::backends;
use hiroba_store::{Db, StoreError, on_pool, seed};

async fn scalar(db: &Db, sql: &str) -> i64 {
    on_pool!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

#[tokio::test]
async fn small_history_is_consistent_on_both_backends() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        seed::kunitomi_facilities(db).await.unwrap();
        hiroba_store::kunitomi_catalogue(db).await.unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let opts = HistoryOptions {
            residents: 200,
            reservations: 2_000,
            years: 1,
            future_days: 30,
            today,
            ..HistoryOptions::default()
        };
        let report = seed_history(db, &opts).await.unwrap();
        assert_eq!(report.residents, 200, "{label}");
        assert_eq!(report.reservations, 2_000, "{label}");
        assert_eq!(report.from, NaiveDate::from_ymd_opt(2025, 3, 15).unwrap());
        assert_eq!(report.to, NaiveDate::from_ymd_opt(2026, 4, 14).unwrap());

        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM residents WHERE status = 'active'").await,
            200,
            "{label}"
        );
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM reservations").await,
            2_000,
            "{label}"
        );
        let cancelled = scalar(
            db,
            "SELECT COUNT(*) FROM reservations WHERE status = 'cancelled'",
        )
        .await;
        assert_eq!(
            cancelled,
            i64::try_from(report.cancelled).unwrap(),
            "{label}"
        );
        assert!(
            (20..=200).contains(&cancelled),
            "{label}: about 5% cancelled, got {cancelled}"
        );
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM reservation_cells").await,
            i64::try_from(report.cells).unwrap(),
            "{label}"
        );

        // Every reservation lies in the range, on the facility of its room and combination.
        let (min, max): (NaiveDate, NaiveDate) = on_pool!(db, pool => sqlx::query_as(
            "SELECT MIN(use_date), MAX(use_date) FROM reservations"
        ).fetch_one(pool).await)
        .unwrap();
        assert!(
            min >= report.from && max <= report.to,
            "{label}: {min}..{max}"
        );
        assert!(max > today, "{label}: some reservations lie ahead");
        assert_eq!(
            scalar(
                db,
                "SELECT COUNT(*) FROM reservations r JOIN rooms m ON m.id = r.room_id \
                        JOIN combinations c ON c.id = r.combination_id \
                        WHERE m.facility_id <> r.facility_id OR c.room_id <> r.room_id"
            )
            .await,
            0,
            "{label}"
        );
        // Several facilities and payment states.
        assert!(
            scalar(db, "SELECT COUNT(DISTINCT facility_id) FROM reservations").await >= 15,
            "{label}"
        );
        assert_eq!(
            scalar(
                db,
                "SELECT COUNT(DISTINCT payment_status) FROM reservations"
            )
            .await,
            3,
            "{label}"
        );

        // Confirmed: exactly the cells of its combination's units over its time;
        // cancelled: none.
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM reservations r WHERE r.status = 'cancelled' \
                        AND EXISTS (SELECT 1 FROM reservation_cells c WHERE c.reservation_id = r.id)").await,
            0,
            "{label}"
        );
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM reservations r WHERE r.status = 'confirmed' AND \
                        (SELECT COUNT(*) FROM reservation_cells c WHERE c.reservation_id = r.id) <> \
                        (SELECT COUNT(*) FROM combination_units cu WHERE cu.combination_id = r.combination_id) \
                        * ((r.end_min + 14) / 15 - r.start_min / 15)").await,
            0,
            "{label}: a confirmed reservation without exactly its cells"
        );
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM reservation_cells c JOIN reservations r ON r.id = c.reservation_id \
                        WHERE c.use_date <> r.use_date OR c.cell < r.start_min / 15 OR c.cell >= (r.end_min + 14) / 15 \
                        OR c.unit_id NOT IN (SELECT unit_id FROM combination_units WHERE combination_id = r.combination_id)").await,
            0,
            "{label}: a cell outside its reservation"
        );
        // No two confirmed reservations overlap on a shared unit (the PK holds it; checked independently).
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM reservations a JOIN reservations b ON a.id < b.id AND a.use_date = b.use_date \
                        AND a.room_id = b.room_id AND a.start_min < b.end_min AND b.start_min < a.end_min \
                        WHERE a.status = 'confirmed' AND b.status = 'confirmed' AND EXISTS ( \
                          SELECT 1 FROM combination_units x JOIN combination_units y ON x.unit_id = y.unit_id \
                          WHERE x.combination_id = a.combination_id AND y.combination_id = b.combination_id)").await,
            0,
            "{label}: overlapping reservations"
        );

        // Seeded residents cannot sign in, and a second run is refused.
        assert!(
            hiroba_store::seed_history::refusal(db)
                .await
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            seed_history(db, &opts).await,
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM reservations").await,
            2_000,
            "{label}"
        );
    }
}

#[tokio::test]
async fn refuses_without_the_catalogue() {
    for t in backends().await {
        let reason = hiroba_store::seed_history::refusal(&t.db).await.unwrap();
        assert!(reason.is_some_and(|r| r.contains("デモ")), "{}", t.label());
    }
}
